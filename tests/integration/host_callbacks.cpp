#define CAF_SUITE integration.host_callbacks
#include <embedrt/runtime.hpp>

#include <caf/test/unit_test.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "tests/support/mock_runtime.hpp"
#include "tools/mock/mock_server.hpp"

// A callback never runs inside the call that started it (asio's rule), so hosts may
// resubmit from it: the closed loop of an event-driven host.

using namespace embedrt;
using namespace std::chrono_literals;

namespace {

constexpr auto max_wait = 60s;

/// Set while this thread is inside runtime::embed / bulk_session::submit.
thread_local bool in_embed_call = false;

struct call_guard {
  call_guard() { in_embed_call = true; }
  ~call_guard() { in_embed_call = false; }
};

struct fixture {
  mock::mock_server server;

  fixture() : server(options()) { server.start(); }

  static mock::mock_options options() {
    mock::mock_options opts;
    opts.dimension = 8;
    return opts;
  }

  runtime_config config() const { return test::config_for(server); }

  std::unique_ptr<runtime> start(const runtime_config& cfg) { return test::start(cfg); }
};

/// Counts answers and wakes a waiter at a target.
struct tally {
  std::mutex mtx;
  std::condition_variable cv;
  uint64_t answers = 0;
  uint64_t inline_answers = 0;
  uint64_t ok = 0;
  uint64_t shed = 0;
  uint64_t stopped = 0;
  int loops_done = 0;

  template<class Pred>
  bool wait(Pred pred) {
    std::unique_lock<std::mutex> guard{mtx};
    return cv.wait_for(guard, max_wait, pred);
  }
};

/// One closed-loop caller: submits, and from each answer submits again, until it has
/// `quota` answers or the runtime says it is shutting down.
struct closed_loop {
  runtime* rt;
  tally* t;
  int id;
  int quota;
  int answered = 0;

  void submit() {
    call_guard guard;
    rt->embed({"loop " + std::to_string(id) + " " + std::to_string(answered)}, {},
              [this](embed_outcome x) { on_answer(std::move(x)); });
  }

  void on_answer(embed_outcome x) {
    bool again;
    {
      std::lock_guard<std::mutex> guard{t->mtx};
      ++t->answers;
      if (in_embed_call)
        ++t->inline_answers;
      if (x.ok())
        ++t->ok;
      else if (x.error().code == embed_errc::overloaded)
        ++t->shed;
      else if (x.error().code == embed_errc::shutting_down)
        ++t->stopped;
      ++answered;
      again = answered < quota && (x.ok() || x.error().code == embed_errc::overloaded);
      if (!again)
        ++t->loops_done;
      // Under the lock: once the last loop is done the test may destroy `t`.
      t->cv.notify_all();
    }
    if (again)
      submit(); // from inside the callback: must not recurse into this callback
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(host_callback_tests, fixture)

CAF_TEST(answers decided at once never run inside embed) {
  std::string error;
  CAF_REQUIRE(server.load_script_json(R"([{"latency_ms":200}])", error));
  auto cfg = config();
  cfg.limits.interactive_capacity = 1;
  auto rt = start(cfg);
  tally t;
  auto count = [&t](embed_outcome x) {
    std::lock_guard<std::mutex> guard{t.mtx};
    ++t.answers;
    t.inline_answers += in_embed_call ? 1 : 0;
    t.shed += !x.ok() && x.error().code == embed_errc::overloaded ? 1 : 0;
    t.stopped += !x.ok() && x.error().code == embed_errc::shutting_down ? 1 : 0;
    t.cv.notify_all();
  };
  {
    call_guard guard;
    rt->embed({"holds the only slot"}, {}, count);
    for (int i = 0; i < 50; ++i)
      rt->embed({"shed " + std::to_string(i)}, {}, count);
  }
  CAF_REQUIRE(t.wait([&] { return t.answers == 51; }));
  CAF_CHECK_EQUAL(t.shed, 50u);
  rt->stop(1s);
  {
    call_guard guard;
    for (int i = 0; i < 10; ++i)
      rt->embed({"after stop"}, {}, count);
  }
  CAF_REQUIRE(t.wait([&] { return t.answers == 61; }));
  CAF_CHECK_EQUAL(t.stopped, 10u);
  CAF_CHECK_EQUAL(t.inline_answers, 0u);
}

CAF_TEST(closed loops that resubmit from the callback survive shedding and stop) {
  std::string error;
  CAF_REQUIRE(server.load_script_json(R"([{"latency_ms":2}])", error));
  auto cfg = config();
  cfg.limits.interactive_capacity = 8; // 64 callers: most submissions are shed
  auto rt = start(cfg);
  tally t;
  constexpr int callers = 64;
  constexpr int quota = 2000;
  std::vector<std::unique_ptr<closed_loop>> loops;
  for (int i = 0; i < callers; ++i)
    loops.push_back(std::make_unique<closed_loop>(closed_loop{rt.get(), &t, i, quota}));
  for (auto& l : loops)
    l->submit();
  // Stop from another thread once the loops are well under way (a signal, not a
  // timer): every loop then ends on shutting_down or its quota.
  CAF_REQUIRE(t.wait([&] { return t.ok >= 500 && t.shed >= 500; }));
  std::thread stopper{[&] { rt->stop(200ms); }};
  stopper.join();
  CAF_REQUIRE(t.wait([&] { return t.loops_done == callers; }));
  uint64_t answered = 0;
  for (auto& l : loops)
    answered += static_cast<uint64_t>(l->answered);
  std::lock_guard<std::mutex> guard{t.mtx};
  CAF_MESSAGE("answers " << t.answers << ", ok " << t.ok << ", shed " << t.shed
                         << ", shutting_down " << t.stopped);
  CAF_CHECK_EQUAL(answered, t.answers);
  CAF_CHECK_EQUAL(t.inline_answers, 0u);
  CAF_CHECK(t.stopped >= 1u);
}

CAF_TEST_FIXTURE_SCOPE_END()
