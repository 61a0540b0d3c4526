// SIGINT/SIGTERM for the main job, without async-signal-unsafe handlers: the signals
// are blocked in every thread (threads started later inherit the mask, so create this
// before the runtime) and one thread waits for them with sigtimedwait.
#pragma once

#include <atomic>
#include <csignal>
#include <functional>
#include <mutex>
#include <thread>

namespace embedrt::cli {

class signal_watch {
public:
  signal_watch();
  /// Stops the waiting thread and restores the signal mask.
  ~signal_watch();
  signal_watch(const signal_watch&) = delete;
  signal_watch& operator=(const signal_watch&) = delete;

  /// `first` runs (on the watch thread) for the first signal, `second` for any later
  /// one; both get the signal number. Replaces earlier handlers.
  void on_signal(std::function<void(int)> first, std::function<void(int)> second);

  /// The first signal received, 0 if none.
  int received() const noexcept { return first_.load(); }

private:
  void run();

  sigset_t set_{};
  sigset_t old_{};
  std::atomic<bool> done_{false};
  std::atomic<int> first_{0};
  std::mutex mtx_; // guards the handlers and is held while one runs
  std::function<void(int)> on_first_;
  std::function<void(int)> on_second_;
  std::thread thread_;
};

} // namespace embedrt::cli
