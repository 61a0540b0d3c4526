// Runs host callbacks that must not run where they were produced: an answer decided
// inside `runtime::embed()` itself (shed at once, runtime stopped, message to a dead
// actor dropped) is handed to this executor's thread instead of being called on the
// caller's stack. A host that resubmits from its callback (a closed loop) would
// otherwise recurse until its stack overflows; completion handlers never run inside
// the call that started the operation (asio's rule).
//
// Host side only: never used by an actor. The thread starts on first use, so a
// runtime that never sheds never has it.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace embedrt::host {

class deferred_executor {
public:
  deferred_executor() = default;
  ~deferred_executor();

  deferred_executor(const deferred_executor&) = delete;
  deferred_executor& operator=(const deferred_executor&) = delete;

  /// Runs `f` soon on the executor's thread, in posting order.
  void post(std::function<void()> f);

  /// Runs what was posted (including what those callbacks post), then joins the
  /// thread. Later posts run on the calling thread of `post` (nothing is lost).
  void shutdown();

private:
  /// Shared with the thread, so a thread left to finish on its own (shutdown called
  /// from one of its callbacks) never touches a destroyed executor.
  struct state {
    std::mutex mtx;
    std::condition_variable cv;
    std::deque<std::function<void()>> queue;
    bool stopping = false;
    bool stopped = false;
  };

  static void run(std::shared_ptr<state> st);

  std::shared_ptr<state> state_ = std::make_shared<state>();
  std::thread thread_;
};

/// Marks the current thread as being inside a host entry point (`embed`, `submit`)
/// for the scope's lifetime.
class entry_scope {
public:
  entry_scope() noexcept;
  ~entry_scope();
  entry_scope(const entry_scope&) = delete;
  entry_scope& operator=(const entry_scope&) = delete;

  /// True while this thread is inside a host entry point.
  static bool active() noexcept;
};

/// Wraps `done` so that, when it would be called inside a host entry point on this
/// thread, it runs on `executor` instead.
template<class T>
std::function<void(T)>
never_inline(std::shared_ptr<deferred_executor> executor, std::function<void(T)> done) {
  return [executor = std::move(executor), f = std::move(done)](T x) {
    if (entry_scope::active())
      executor->post([f, x = std::move(x)]() mutable { f(std::move(x)); });
    else
      f(std::move(x));
  };
}

} // namespace embedrt::host
