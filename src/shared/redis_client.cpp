#include "src/shared/redis_client.hpp"

#include <memory>
#include <string>
#include <sys/time.h>
#include <vector>

#include <hiredis/hiredis.h>

namespace embedrt::shared {

namespace {

using clock_type = std::chrono::steady_clock;

struct reply_deleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

/// What is left until `deadline` as a timeval; false when nothing is left.
bool remaining(clock_type::time_point deadline, timeval& tv) {
  auto left = std::chrono::duration_cast<std::chrono::microseconds>(
    deadline - clock_type::now());
  if (left.count() <= 0)
    return false;
  tv.tv_sec = static_cast<time_t>(left.count() / 1000000);
  tv.tv_usec = static_cast<suseconds_t>(left.count() % 1000000);
  return true;
}

/// Sends one command with what is left until `deadline` as its timeout. Null (and
/// `error` set) when no time is left or the connection failed; otherwise the reply,
/// which may be a Redis error. The message names only the command, never its
/// arguments (AUTH carries the password).
reply_ptr run_command(redisContext* ctx, const std::vector<std::string>& argv,
                      clock_type::time_point deadline, std::string& error) {
  timeval left{};
  if (!remaining(deadline, left) || redisSetTimeout(ctx, left) != REDIS_OK) {
    error = argv[0] + ": deadline passed";
    return nullptr;
  }
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  for (auto& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  reply_ptr r{static_cast<redisReply*>(
    redisCommandArgv(ctx, static_cast<int>(ptrs.size()), ptrs.data(), lens.data()))};
  if (!r)
    error = argv[0] + " failed: " + std::string{ctx->errstr};
  return r;
}

} // namespace

redis_client::redis_client(redis_endpoint endpoint, std::string password)
  : endpoint_(std::move(endpoint)), password_(std::move(password)) {
  // nop
}

redis_client::~redis_client() {
  drop();
}

void redis_client::drop() {
  if (ctx_ != nullptr)
    redisFree(ctx_);
  ctx_ = nullptr;
}

bool redis_client::connect(clock_type::time_point deadline, std::string& error) {
  timeval tv{};
  if (!remaining(deadline, tv)) {
    error = "deadline passed before connecting";
    return false;
  }
  ctx_ = redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, tv);
  if (ctx_ == nullptr || ctx_->err != 0) {
    error = "connect to " + endpoint_.host + ":" + std::to_string(endpoint_.port)
            + " failed: " + (ctx_ != nullptr ? ctx_->errstr : "out of memory");
    drop();
    return false;
  }
  auto command = [&](std::vector<std::string> argv) -> bool {
    auto r = run_command(ctx_, argv, deadline, error);
    if (r && r->type == REDIS_REPLY_ERROR)
      error = argv[0] + " failed: " + std::string{r->str, r->len};
    return r && r->type != REDIS_REPLY_ERROR;
  };
  if ((!password_.empty() && !command({"AUTH", password_}))
      || (endpoint_.db != 0 && !command({"SELECT", std::to_string(endpoint_.db)}))) {
    drop();
    return false;
  }
  return true;
}

bool redis_client::eval(const char* script, const std::string& key,
                        const std::vector<std::string>& args,
                        std::chrono::milliseconds timeout, std::vector<int64_t>& out,
                        std::string& error) {
  auto deadline = clock_type::now() + timeout;
  if (ctx_ == nullptr && !connect(deadline, error))
    return false;
  auto run = [&](std::vector<std::string> argv) {
    return run_command(ctx_, argv, deadline, error);
  };
  auto load = [&]() {
    auto r = run({"SCRIPT", "LOAD", script});
    if (!r)
      return false;
    if (r->type != REDIS_REPLY_STRING) {
      error = "SCRIPT LOAD failed: "
              + (r->type == REDIS_REPLY_ERROR ? std::string{r->str, r->len}
                                              : std::string{"unexpected reply"});
      return false;
    }
    sha_.assign(r->str, r->len);
    return true;
  };
  auto evalsha = [&]() {
    std::vector<std::string> argv{"EVALSHA", sha_, "1", key};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(std::move(argv));
  };
  reply_ptr r;
  if (sha_.empty() && !load()) {
    drop();
    return false;
  }
  r = evalsha();
  if (r && r->type == REDIS_REPLY_ERROR
      && std::string_view{r->str, r->len}.substr(0, 8) == "NOSCRIPT") {
    // A restarted or flushed Redis forgot the script: load it again, once.
    if (!load()) {
      drop();
      return false;
    }
    r = evalsha();
  }
  if (!r) {
    drop();
    return false;
  }
  if (r->type == REDIS_REPLY_ERROR) {
    error = "EVALSHA failed: " + std::string{r->str, r->len};
    // The connection is fine (e.g. a script error or OOM); keep it.
    return false;
  }
  if (r->type != REDIS_REPLY_ARRAY) {
    error = "EVALSHA: unexpected reply type";
    return false;
  }
  out.clear();
  for (size_t i = 0; i < r->elements; ++i) {
    auto* e = r->element[i];
    out.push_back(e->type == REDIS_REPLY_INTEGER ? static_cast<int64_t>(e->integer)
                                                 : 0);
  }
  return true;
}

} // namespace embedrt::shared
