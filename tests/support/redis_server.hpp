// A private redis-server for the shared-budget tests: on a free loopback port, no
// persistence (--save '' --appendonly no), started and stopped by the test. Also
// starts child processes (the embedrt CLI) for the multi-process tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

namespace embedrt::test {

class redis_server {
public:
  /// Whether `redis-server` is on the PATH (CI installs it via install-deps.sh).
  static bool installed();

  redis_server() = default;
  ~redis_server();

  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;

  /// Starts on a free port (or on the previous port after stop()) and waits until it
  /// answers PING, at most 5 s. False when it did not come up.
  bool start();
  /// SIGKILL and wait (the clients see their connections reset). Idempotent.
  void kill();
  /// SIGSTOP / SIGCONT: Redis hangs (accepts, never answers) / resumes.
  void freeze();
  void thaw();

  uint16_t port() const noexcept { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

  /// Clients connected, as CLIENT LIST counts them (this query included); -1 on error.
  int clients() const;

private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

/// Starts `argv` with stdout and stderr redirected to `log` (or /dev/null when empty).
pid_t spawn_process(const std::vector<std::string>& argv, const std::string& log = {});

/// Sends `sig` and waits up to `wait` for the exit; SIGKILL after that. Returns the
/// wait status (or -1).
int stop_process(pid_t pid, int sig, std::chrono::milliseconds wait);

/// Waits for a child to exit by itself, at most `wait`; -1 when it did not.
int wait_process(pid_t pid, std::chrono::milliseconds wait);

} // namespace embedrt::test
