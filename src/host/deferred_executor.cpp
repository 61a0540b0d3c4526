#include "src/host/deferred_executor.hpp"

namespace embedrt::host {

namespace {

thread_local unsigned entry_depth = 0;

} // namespace

entry_scope::entry_scope() noexcept {
  ++entry_depth;
}

entry_scope::~entry_scope() {
  --entry_depth;
}

bool entry_scope::active() noexcept {
  return entry_depth > 0;
}

deferred_executor::~deferred_executor() {
  shutdown();
}

void deferred_executor::post(std::function<void()> f) {
  auto& st = *state_;
  {
    std::unique_lock<std::mutex> guard{st.mtx};
    if (!st.stopped) {
      st.queue.push_back(std::move(f));
      if (!st.stopping && !thread_.joinable())
        thread_ = std::thread{run, state_};
      guard.unlock();
      st.cv.notify_one();
      return;
    }
  }
  // After shutdown there is no thread left to hand it to (the host API does not
  // reach here: a stopped runtime's executor is shut down only in ~runtime).
  f();
}

void deferred_executor::shutdown() {
  auto& st = *state_;
  std::thread t;
  {
    std::lock_guard<std::mutex> guard{st.mtx};
    if (st.stopping)
      return;
    st.stopping = true;
    t = std::move(thread_);
  }
  st.cv.notify_one();
  if (t.joinable()) {
    if (t.get_id() == std::this_thread::get_id())
      t.detach(); // called from one of our callbacks: the thread drains and ends
    else
      t.join(); // drains the queue, including what its callbacks post
  }
  std::deque<std::function<void()>> rest;
  {
    std::lock_guard<std::mutex> guard{st.mtx};
    st.stopped = true;
    rest.swap(st.queue);
  }
  for (auto& f : rest)
    f();
}

void deferred_executor::run(std::shared_ptr<state> st) {
  std::unique_lock<std::mutex> guard{st->mtx};
  for (;;) {
    st->cv.wait(guard, [&] { return st->stopping || !st->queue.empty(); });
    if (st->queue.empty())
      return; // stopping and drained
    auto f = std::move(st->queue.front());
    st->queue.pop_front();
    guard.unlock();
    f();
    guard.lock();
  }
}

} // namespace embedrt::host
