// A blocking hiredis connection where every call has one deadline (connect, AUTH,
// SELECT, SCRIPT LOAD and EVALSHA together). Owned by one thread: the shared-budget
// store actor, which is detached (its own thread), so no CAF scheduler thread ever
// blocks on Redis. A failed call drops the connection; the next call reconnects.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "src/shared/redis_url.hpp"

struct redisContext;

namespace embedrt::shared {

class redis_client {
public:
  /// `password`: empty for no AUTH. Never printed.
  redis_client(redis_endpoint endpoint, std::string password);
  ~redis_client();

  redis_client(const redis_client&) = delete;
  redis_client& operator=(const redis_client&) = delete;

  /// Runs `script` (EVALSHA; loaded on first use and again after NOSCRIPT) on one key
  /// with `args`; the reply must be an array of integers. False with `error` when it
  /// fails or the deadline `timeout` passes.
  bool eval(const char* script, const std::string& key,
            const std::vector<std::string>& args, std::chrono::milliseconds timeout,
            std::vector<int64_t>& out, std::string& error);

  bool connected() const noexcept { return ctx_ != nullptr; }

private:
  void drop();
  bool connect(std::chrono::steady_clock::time_point deadline, std::string& error);

  redis_endpoint endpoint_;
  std::string password_;
  redisContext* ctx_ = nullptr;
  std::string sha_;
};

} // namespace embedrt::shared
