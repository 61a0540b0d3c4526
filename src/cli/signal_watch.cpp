#include "src/cli/signal_watch.hpp"

#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace embedrt::cli {

signal_watch::signal_watch() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set_, &old_);
  thread_ = std::thread([this] { run(); });
}

signal_watch::~signal_watch() {
  done_ = true;
  thread_.join();
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

void signal_watch::on_signal(std::function<void(int)> first,
                             std::function<void(int)> second) {
  std::lock_guard<std::mutex> guard{mtx_};
  on_first_ = std::move(first);
  on_second_ = std::move(second);
}

void signal_watch::run() {
  // Wakes every 100 ms to notice `done_`; a signal is handled at once.
  timespec slice{0, 100 * 1000 * 1000};
  while (!done_) {
    auto sig = sigtimedwait(&set_, nullptr, &slice);
    if (sig <= 0)
      continue;
    // Handlers run under the lock, so `on_signal` (which replaces them when the job
    // ends) waits for one that is running.
    std::lock_guard<std::mutex> guard{mtx_};
    int expected = 0;
    auto is_first = first_.compare_exchange_strong(expected, sig);
    auto& handler = is_first ? on_first_ : on_second_;
    // Without a handler the first signal is only recorded (the job looks at
    // `received()` when it starts); a second one ends the process at once.
    if (handler)
      handler(sig);
    else if (!is_first)
      ::_exit(128 + sig);
  }
}

} // namespace embedrt::cli
