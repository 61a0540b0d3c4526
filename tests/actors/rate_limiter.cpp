#define CAF_SUITE actors.rate_limiter
#include "actors/rate_limiter.hpp"

#include <cmath>

#include "tests/support/actor_helpers.hpp"
#include "tests/support/fixture.hpp"

using namespace embedrt;
using namespace embedrt::test;
using namespace std::chrono_literals;

namespace {

struct limiter_fixture : fixture {
  std::shared_ptr<std::vector<runtime_event>> events
    = std::make_shared<std::vector<runtime_event>>();
  event_sink_actor sink;
  rate_limiter_actor limiter;

  void start(rate_limiter_config rl) {
    sink = collect_events(sys, events);
    limiter = sys.spawn(rate_limiter, rl, sink,
                        caf::timespan{std::chrono::seconds{60}});
    sched.run();
  }

  // -- message by message (CAF's expect/disallow) ------------------------------------

  /// `self` asks for a permit (an asynchronous send: the answer is a plain message to
  /// `self`); the limiter takes the request.
  void send_permit(uint64_t ticket, caf::timespan within = 60s) {
    acquire_permit req{ticket, 1, sys.clock().now() + within, {}};
    self->send(limiter, req);
    expect((acquire_permit), from(self).to(limiter).with(req));
  }

  void expect_decision(uint64_t ticket, permit_status status, caf::timespan waited) {
    expect((permit_decision),
           from(limiter).to(self).with(permit_decision{ticket, status, waited}));
  }

  /// Moves the clock by `d`, which fires the limiter's one pending timer.
  void expect_tick_after(caf::timespan d) {
    CAF_CHECK_EQUAL(advance_time(d), 1u);
    expect((caf::tick_atom), from(limiter).to(limiter));
  }

  /// No actor has work left and no answer waits for `self`.
  void expect_quiet() {
    CAF_CHECK(!sched.has_job());
    CAF_CHECK(self->mailbox().empty());
  }

  std::shared_ptr<answer<permit_decision>> permit(uint64_t ticket, uint32_t tokens,
                                                  caf::timespan within = 60s) {
    auto deadline = sys.clock().now() + within;
    auto a = ask<permit_decision>(sys, limiter,
                                  acquire_permit{ticket, tokens, deadline, {}});
    sched.run();
    return a;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(rate_limiter_tests, limiter_fixture)

CAF_TEST(an unlimited limiter grants at once) {
  start(rate_limiter_config{});
  auto a = permit(1, 1000);
  CAF_REQUIRE(a->done);
  CAF_CHECK(a->value.status == permit_status::granted);
  CAF_CHECK_EQUAL(a->value.ticket, 1u);
}

CAF_TEST(at 60 requests per minute the second permit waits one second) {
  rate_limiter_config rl;
  rl.requests_per_minute = 60;
  start(rl);
  auto a = permit(1, 1);
  auto b = permit(2, 1);
  auto c = permit(3, 1);
  CAF_CHECK(a->done && a->value.status == permit_status::granted);
  CAF_CHECK(!b->done);
  advance_time(999ms);
  sched.run();
  CAF_CHECK(!b->done);
  advance_time(1ms);
  sched.run();
  CAF_REQUIRE(b->done);
  CAF_CHECK(b->value.status == permit_status::granted);
  CAF_CHECK(b->value.waited == 1s);
  CAF_CHECK(!c->done); // FIFO: c is behind b
  advance_time(1s);
  sched.run();
  CAF_CHECK(c->done && c->value.status == permit_status::granted);
}

CAF_TEST(a permit that cannot be granted before its deadline is denied at once) {
  rate_limiter_config rl;
  rl.requests_per_minute = 6; // one per 10 s
  start(rl);
  permit(1, 1);
  auto b = permit(2, 1, 2s);
  CAF_REQUIRE(b->done);
  CAF_CHECK(b->value.status == permit_status::denied_deadline);
}

CAF_TEST(a full queue denies with queue_full) {
  rate_limiter_config rl;
  rl.requests_per_minute = 60;
  rl.max_queued = 1;
  start(rl);
  permit(1, 1);
  auto b = permit(2, 1);
  auto c = permit(3, 1);
  CAF_CHECK(!b->done);
  CAF_REQUIRE(c->done);
  CAF_CHECK(c->value.status == permit_status::denied_queue_full);
}

CAF_TEST(a 429 pause holds every grant and is published) {
  start(rate_limiter_config{});
  self->send(limiter, feedback_report{{permit_feedback{0, -1, {}, 2s}}});
  sched.run();
  auto a = permit(1, 1);
  CAF_CHECK(!a->done);
  advance_time(2s);
  sched.run();
  CAF_REQUIRE(a->done);
  CAF_CHECK(a->value.status == permit_status::granted);
  CAF_REQUIRE_EQUAL(events->size(), 1u);
  CAF_CHECK(events->at(0).kind == event_kind::grants_paused);
  CAF_CHECK_EQUAL(events->at(0).detail, "2000 ms");
  CAF_CHECK_EQUAL(
    request<runtime_counters>(limiter, caf::get_atom::value).grants_paused_rate_limited,
    1u);
}

CAF_TEST(permits are granted one by one in arrival order with one timer) {
  rate_limiter_config rl;
  rl.requests_per_minute = 60; // one per second, a burst of one
  start(rl);
  send_permit(1);
  expect_decision(1, permit_status::granted, 0s);
  for (uint64_t ticket = 2; ticket <= 5; ++ticket) {
    send_permit(ticket);
    expect_quiet(); // queued: no answer yet
  }
  CAF_CHECK_EQUAL(advance_time(999ms), 0u);
  expect_quiet();
  for (uint64_t ticket = 2; ticket <= 5; ++ticket) {
    expect_tick_after(ticket == 2 ? 1ms : 1s);
    expect_decision(ticket, permit_status::granted, std::chrono::seconds(ticket - 1));
    expect_quiet();
  }
  CAF_CHECK_EQUAL(advance_time(10s), 0u); // idle: no timer left
}

CAF_TEST(a 429 pauses every grant and the queue resumes in order after it) {
  rate_limiter_config rl;
  rl.requests_per_minute = 60;
  start(rl);
  send_permit(1);
  expect_decision(1, permit_status::granted, 0s);
  send_permit(2);
  send_permit(3);
  expect_quiet();
  // A 429 with Retry-After: 5 s arrives on the feedback of an earlier permit.
  feedback_report paused{{permit_feedback{1, -1, {}, 5s}}};
  self->send(limiter, paused);
  expect((feedback_report), from(self).to(limiter).with(paused));
  expect((runtime_event),
         from(limiter).to(sink).with(runtime_event{
           event_kind::grants_paused, "rate_limiter", "5000 ms", sys.clock().now()}));
  expect_quiet();
  // The tick armed before the pause comes and grants nothing.
  expect_tick_after(1s);
  disallow((permit_decision), from(limiter).to(self));
  expect_quiet();
  // A permit that cannot wait until the pause ends is denied when its deadline passes,
  // although it is behind others.
  send_permit(4, 2s);
  expect_quiet();
  expect_tick_after(2s);
  expect_decision(4, permit_status::denied_deadline, 2s);
  expect_quiet();
  // The pause ends 5 s after the 429: the queue resumes in arrival order. The tick
  // armed for the end of the pause before the deadline's tick was armed again after
  // it; the stale one arrives too and does nothing.
  CAF_CHECK_EQUAL(advance_time(2s), 2u);
  expect((caf::tick_atom), from(limiter).to(limiter));
  expect_decision(2, permit_status::granted, 5s);
  expect((caf::tick_atom), from(limiter).to(limiter));
  expect_quiet();
  expect_tick_after(1s);
  expect_decision(3, permit_status::granted, 6s);
  expect_quiet();
  CAF_CHECK_EQUAL(
    request<runtime_counters>(limiter, caf::get_atom::value).grants_paused_rate_limited,
    1u);
}

CAF_TEST(denials are answered at once without disturbing the queue) {
  rate_limiter_config rl;
  rl.requests_per_minute = 6; // one per 10 s
  rl.max_queued = 1;
  start(rl);
  send_permit(1);
  expect_decision(1, permit_status::granted, 0s);
  send_permit(2, 2s); // at the head, and the next grant is 10 s away
  expect_decision(2, permit_status::denied_deadline, 0s);
  expect_quiet();
  send_permit(3);
  expect_quiet();
  send_permit(4); // the FIFO holds one
  expect_decision(4, permit_status::denied_queue_full, 0s);
  expect_quiet();
  expect_tick_after(10s);
  expect_decision(3, permit_status::granted, 10s);
  expect_quiet();
}

CAF_TEST(the budget gauges show what is left of our buckets leases counted as used) {
  rate_limiter_config rl;
  rl.requests_per_minute = 600; // 10 per second, a burst of 10
  rl.tokens_per_minute = 60000; // 1000 per second, a burst of 1000
  auto metrics = std::make_shared<observability::runtime_metrics>(nullptr);
  sink = collect_events(sys, events);
  limiter = sys.spawn(carrying_rate_limiter, rl, std::optional<shared_budget_args>{},
                      sink, caf::timespan{60s}, std::make_shared<runtime_counters>(),
                      metrics);
  sched.run();
  CAF_CHECK_EQUAL(metrics->rate_budget_requests(), 10);
  CAF_CHECK_EQUAL(metrics->rate_budget_tokens(), 1000);
  for (uint64_t ticket = 1; ticket <= 3; ++ticket) {
    auto a = permit(ticket, 100);
    CAF_REQUIRE(a->done && a->value.status == permit_status::granted);
    CAF_CHECK_EQUAL(metrics->rate_budget_requests(), 10.0 - ticket);
    CAF_CHECK_EQUAL(metrics->rate_budget_tokens(), 1000.0 - 100.0 * ticket);
  }
  // A lease of 3 requests and 300 tokens to the fast path counts as used.
  auto lease = ask<permit_lease>(sys, limiter, lease_request{{}, 3, 300, {}});
  sched.run();
  CAF_REQUIRE(lease->done);
  CAF_CHECK_EQUAL(lease->value.requests, 3u);
  CAF_CHECK_EQUAL(metrics->rate_budget_requests(), 4);
  CAF_CHECK_EQUAL(metrics->rate_budget_tokens(), 400);
  // Half a second refills 5 requests and 500 tokens, up to the capacity less what is
  // lent (7 and 700); the next decision takes 1 and 100.
  advance_time(500ms);
  auto b = permit(4, 100);
  CAF_REQUIRE(b->done && b->value.status == permit_status::granted);
  CAF_CHECK_EQUAL(metrics->rate_budget_requests(), 6);
  CAF_CHECK_EQUAL(metrics->rate_budget_tokens(), 600);
}

CAF_TEST(without a limit the budget gauges are not reported) {
  auto metrics = std::make_shared<observability::runtime_metrics>(nullptr);
  sink = collect_events(sys, events);
  limiter = sys.spawn(carrying_rate_limiter, rate_limiter_config{},
                      std::optional<shared_budget_args>{}, sink, caf::timespan{60s},
                      std::make_shared<runtime_counters>(), metrics);
  sched.run();
  auto a = permit(1, 100);
  CAF_REQUIRE(a->done && a->value.status == permit_status::granted);
  CAF_CHECK(std::isnan(metrics->rate_budget_requests()));
  CAF_CHECK(std::isnan(metrics->rate_budget_tokens()));
  metrics->sync(runtime_counters{}, std::chrono::steady_clock::now());
  CAF_CHECK_EQUAL(metrics->text().find("embedrt_ratelimit_available_"),
                  std::string::npos);
}

CAF_TEST_FIXTURE_SCOPE_END()
