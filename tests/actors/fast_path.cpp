#define CAF_SUITE actors.fast_path
// The dispatcher shell's fast path with the real rate limiter and circuit breaker on
// the deterministic scheduler and clock: spies count what reaches the limiter and the
// breaker, a fake worker records the calls, and the test answers them.
#include "actors/circuit_breaker.hpp"
#include "actors/dispatcher.hpp"
#include "actors/rate_limiter.hpp"

#include "tests/support/actor_helpers.hpp"
#include "tests/support/fixture.hpp"

using namespace embedrt;
using namespace embedrt::test;
using namespace std::chrono_literals;

namespace {

struct counts {
  uint64_t permits = 0; // acquire_permit (slow path)
  uint64_t leases = 0;  // lease_request
  uint64_t checks = 0;  // breaker_check
  uint64_t outcome_reports = 0;
  std::vector<http_call> calls;
};

rate_limiter_actor::behavior_type spy_limiter(rate_limiter_actor::pointer self,
                                              rate_limiter_actor real,
                                              std::shared_ptr<counts> n) {
  return {
    [=](acquire_permit& x) {
      ++n->permits;
      return self->delegate(real, std::move(x));
    },
    [=](lease_request& x) {
      ++n->leases;
      return self->delegate(real, std::move(x));
    },
    [=](feedback_report& x) { return self->delegate(real, std::move(x)); },
    [=](caf::get_atom x) { return self->delegate(real, x); },
  };
}

circuit_breaker_actor::behavior_type spy_breaker(circuit_breaker_actor::pointer self,
                                                 circuit_breaker_actor real,
                                                 std::shared_ptr<counts> n) {
  return {
    [=](breaker_check& x) {
      ++n->checks;
      return self->delegate(real, std::move(x));
    },
    [=](outcome_report& x) {
      ++n->outcome_reports;
      return self->delegate(real, std::move(x));
    },
    [=](caf::subscribe_atom x) { return self->delegate(real, x); },
    [=](caf::get_atom x) { return self->delegate(real, x); },
  };
}

http_worker_actor::behavior_type fake_worker(http_worker_actor::pointer,
                                             std::shared_ptr<counts> n) {
  return {
    [=](http_call& c) { n->calls.push_back(std::move(c)); },
    [=](transfer_batch&) {},
    [=](crash_worker_for_test&) {},
  };
}

struct fast_fixture : fixture {
  std::shared_ptr<counts> n = std::make_shared<counts>();
  std::shared_ptr<std::vector<runtime_event>> events
    = std::make_shared<std::vector<runtime_event>>();
  runtime_config cfg;
  rate_limiter_actor limiter;
  circuit_breaker_actor breaker;
  embedder_actor disp;
  /// Calls answered so far (index into n->calls).
  size_t answered = 0;

  fast_fixture() {
    cfg.endpoint.dimensions = 4;
    cfg.batching.enabled = false; // one request, one attempt
    cfg.retry.max_attempts = 1;
    cfg.rate_limiter.requests_per_minute = 6'000'000;
    cfg.rate_limiter.tokens_per_minute = 600'000'000;
    cfg.circuit_breaker.consecutive_failures = 3;
    cfg.circuit_breaker.failure_rate_percent = 0;
    cfg.circuit_breaker.open_duration_ms = 30000;
    cfg.circuit_breaker.half_open_trials = 1;
  }

  void start(bool fast_on = true) {
    auto sink = collect_events(sys, events);
    auto real_limiter = caf::actor_cast<rate_limiter_actor>(
      sys.spawn(rate_limiter, cfg.rate_limiter, sink, caf::timespan{60s}));
    auto real_breaker = sys.spawn(circuit_breaker, cfg.circuit_breaker, sink);
    limiter = sys.spawn(spy_limiter, real_limiter, n);
    breaker = sys.spawn(spy_breaker, real_breaker, n);
    dispatch::fast_path_settings fast;
    fast.leases = fast_on;
    fast.breaker_push = fast_on;
    auto d = sys.spawn(dispatcher,
                       dispatcher_args{cfg, limiter, breaker, sink, {}, {}, fast});
    disp = caf::actor_cast<embedder_actor>(d);
    auto worker = sys.spawn(fake_worker, n);
    self->send(caf::actor_cast<call_sink_actor>(d),
               worker_joined{caf::actor_cast<caf::actor>(worker), 256, 0});
    sched.run();
  }

  std::shared_ptr<answer<embed_result>> embed(const std::string& text) {
    auto a = ask<embed_result>(sys, disp, embed_request{{text}, {}});
    sched.run();
    return a;
  }

  http_call_result good(const http_call& c) {
    http_call_result r;
    r.attempt_id = c.attempt_id;
    r.status = attempt_status::succeeded;
    r.http_status = 200;
    r.embeddings.assign(c.input_count, std::vector<float>{0.5f, 0.5f, 0.5f, 0.5f});
    r.usage = embedding_usage{c.input_count, c.input_count};
    r.wire_time = 1ms;
    return r;
  }

  http_call_result bad(const http_call& c, uint16_t status,
                       caf::timespan retry_after = caf::timespan{-1}) {
    http_call_result r;
    r.attempt_id = c.attempt_id;
    r.status = attempt_status::http_error;
    r.http_status = status;
    r.retry_after = retry_after;
    r.detail = "test";
    r.wire_time = 1ms;
    return r;
  }

  /// Answers every call not answered yet with `f`.
  template<class F>
  void answer_calls(F f) {
    http_call_results batch;
    for (; answered < n->calls.size(); ++answered)
      batch.results.push_back(f(n->calls[answered]));
    if (!batch.results.empty())
      self->send(caf::actor_cast<call_sink_actor>(disp), std::move(batch));
    sched.run();
  }

  /// `count` requests one after the other, each answered with success.
  void closed_loop(int count) {
    for (int i = 0; i < count; ++i) {
      auto a = embed("text " + std::to_string(i));
      answer_calls([this](const http_call& c) { return good(c); });
      CAF_REQUIRE(a->done);
      CAF_REQUIRE(!a->error);
    }
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(fast_path_tests, fast_fixture)

CAF_TEST(with a lease and a closed breaker attempts ask neither limiter nor breaker) {
  start();
  closed_loop(200);
  CAF_CHECK_EQUAL(n->calls.size(), 200u);
  // A few permits and one check before the lease and the breaker state are known.
  CAF_CHECK_LESS(n->permits, 10u);
  CAF_CHECK_LESS_OR_EQUAL(n->checks, 1u);
  CAF_CHECK_GREATER(n->leases, 0u);
  CAF_CHECK_LESS(n->leases, 60u); // leases grow with the demand estimate
}

CAF_TEST(with the fast path off every attempt asks both) {
  start(false);
  closed_loop(50);
  CAF_CHECK_EQUAL(n->permits, 50u);
  CAF_CHECK_EQUAL(n->checks, 50u);
  CAF_CHECK_EQUAL(n->leases, 0u);
}

CAF_TEST(
  a third failure opens the breaker before the next call as without the fast path) {
  for (bool fast_on : {true, false}) {
    CAF_MESSAGE("fast path " << (fast_on ? "on" : "off"));
    *n = counts{};
    answered = 0;
    start(fast_on);
    closed_loop(20); // the breaker is known closed, the lease held
    auto before = n->calls.size();
    for (int i = 0; i < 3; ++i) {
      auto a = embed("failing " + std::to_string(i));
      answer_calls([this](const http_call& c) { return bad(c, 503); });
      CAF_REQUIRE(a->done);
      CAF_CHECK(a->error);
    }
    CAF_CHECK_EQUAL(n->calls.size(), before + 3);
    // The next request is turned away without a call.
    auto a = embed("after");
    CAF_REQUIRE(a->done);
    CAF_CHECK(to_failure(a->error).code == embed_errc::circuit_open);
    CAF_CHECK_EQUAL(n->calls.size(), before + 3);
    // Half-open after the open period: one trial closes it, and the fast path resumes.
    advance_time(30s);
    sched.run();
    auto trial = embed("trial");
    answer_calls([this](const http_call& c) { return good(c); });
    CAF_CHECK(trial->done && !trial->error);
    auto checks = n->checks;
    closed_loop(20);
    if (fast_on)
      CAF_CHECK_LESS_OR_EQUAL(n->checks, checks + 1);
    else
      CAF_CHECK_EQUAL(n->checks, checks + 20);
  }
}

CAF_TEST(a 429 drops the lease at once and nothing goes out during the pause) {
  start();
  closed_loop(50);
  CAF_REQUIRE_LESS(n->permits, 10u); // on leases now
  auto limited = embed("limited");
  answer_calls([this](const http_call& c) { return bad(c, 429, 2s); });
  CAF_REQUIRE(limited->done);
  auto before = n->calls.size();
  std::vector<std::shared_ptr<answer<embed_result>>> waiting;
  for (int i = 0; i < 5; ++i)
    waiting.push_back(embed("during pause " + std::to_string(i)));
  CAF_CHECK_EQUAL(n->calls.size(), before);
  advance_time(1900ms);
  sched.run();
  CAF_CHECK_EQUAL(n->calls.size(), before);
  advance_time(100ms);
  sched.run();
  CAF_CHECK_EQUAL(n->calls.size(), before + 5);
  answer_calls([this](const http_call& c) { return good(c); });
  for (auto& w : waiting)
    CAF_CHECK(w->done && !w->error);
}

CAF_TEST(a pause learnt elsewhere revokes the lease) {
  start();
  closed_loop(50);
  CAF_REQUIRE_LESS(n->permits, 10u);
  // As if another process's 429 reached the limiter through the shared budget.
  self->send(limiter, feedback_report{{permit_feedback{0, -1, {}, 2s}}});
  sched.run();
  auto before = n->calls.size();
  auto a = embed("during pause");
  CAF_CHECK_EQUAL(n->calls.size(), before);
  advance_time(2s);
  sched.run();
  CAF_CHECK_EQUAL(n->calls.size(), before + 1);
  answer_calls([this](const http_call& c) { return good(c); });
  CAF_CHECK(a->done && !a->error);
}

CAF_TEST(with leases on the requests per minute limit holds) {
  cfg.rate_limiter.requests_per_minute = 600; // 10 per second, burst 10
  cfg.rate_limiter.max_queued = 1000;
  start();
  std::vector<std::shared_ptr<answer<embed_result>>> all;
  size_t sent = 0;
  // 40 requests every 100 ms for 3 s: four times the limit.
  for (int tick = 0; tick < 30; ++tick) {
    for (int i = 0; i < 40; ++i)
      all.push_back(embed("t" + std::to_string(tick) + " " + std::to_string(i)));
    answer_calls([this](const http_call& c) { return good(c); });
    sent = n->calls.size();
    // Capacity 10 plus 10 per second.
    auto elapsed = 0.1 * tick;
    CAF_CHECK_LESS_OR_EQUAL(static_cast<double>(sent), 10 + 10 * elapsed + 1e-9);
    advance_time(100ms);
    sched.run();
  }
  CAF_CHECK_GREATER_OR_EQUAL(sent, 30u);
}

CAF_TEST_FIXTURE_SCOPE_END()
