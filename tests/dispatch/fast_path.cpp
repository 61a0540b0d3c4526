#define CAF_SUITE dispatch.fast_path
#include <caf/test/unit_test.hpp>

#include <chrono>

#include "src/dispatch/fast_path.hpp"

using namespace embedrt;
using namespace embedrt::dispatch;
using namespace std::chrono_literals;
using policy::time_point;

namespace {

const time_point t0 = time_point{} + 1h;

fast_path_settings settings() {
  fast_path_settings s;
  s.lease_horizon = 100ms;
  s.min_lease_demand = 1.0;
  return s;
}

/// Notes `n` permits of `tokens` at 1 ms intervals from `at` (all miss: no lease).
time_point demand(permit_lease_holder& h, int n, uint32_t tokens, time_point at) {
  for (int i = 0; i < n; ++i, at += 1ms)
    h.try_take(tokens, at);
  return at;
}

} // namespace

CAF_TEST(no lease is asked for below the demand threshold) {
  auto s = settings();
  s.lease_horizon = 20ms; // one permit in 100 ms: 0.2 per horizon
  permit_lease_holder h{s, t0};
  h.try_take(10, t0);
  CAF_CHECK(!h.next_request(t0));
  demand(h, 10, 10, t0);
  CAF_CHECK(h.next_request(t0 + 10ms));
}

CAF_TEST(a lease is sized to recent demand and answers permits until spent) {
  permit_lease_holder h{settings(), t0};
  auto t = demand(h, 100, 10, t0); // ~1000 per second for 100 ms
  auto req = h.next_request(t);
  CAF_REQUIRE(req);
  CAF_CHECK(h.in_flight());
  CAF_CHECK(!h.next_request(t)); // one at a time
  CAF_CHECK_GREATER_OR_EQUAL(req->requests, 50u);
  CAF_CHECK_LESS_OR_EQUAL(req->requests, 200u);
  CAF_CHECK_EQUAL(req->tokens, uint64_t{req->requests} * 10);
  h.on_granted(permit_lease{7, 3, 25, t + 100ms}, t);
  CAF_CHECK(h.try_take(10, t));
  CAF_CHECK(h.try_take(10, t));
  CAF_CHECK(!h.try_take(10, t)); // 5 tokens left
  CAF_CHECK(h.try_take(5, t));
  CAF_CHECK(!h.try_take(0, t)); // 3 requests spent
  CAF_CHECK_EQUAL(h.permits_taken(), 3u);
}

CAF_TEST(an expired lease answers nothing and is closed with its usage) {
  permit_lease_holder h{settings(), t0};
  auto t = demand(h, 100, 1, t0);
  CAF_REQUIRE(h.next_request(t));
  h.on_granted(permit_lease{7, 10, unlimited_tokens, t + 100ms}, t);
  CAF_CHECK(h.try_take(1000, t));
  CAF_CHECK(!h.try_take(1, t + 100ms));
  h.expire(t + 100ms);
  auto closed = h.take_closed();
  CAF_REQUIRE_EQUAL(closed.size(), 1u);
  CAF_CHECK_EQUAL(closed[0], (lease_usage{7, 1, 1000}));
}

CAF_TEST(a replaced lease stays usable until its successor arrives) {
  permit_lease_holder h{settings(), t0};
  auto t = demand(h, 100, 1, t0);
  CAF_REQUIRE(h.next_request(t));
  h.on_granted(permit_lease{1, 4, 100, t + 100ms}, t);
  for (int i = 0; i < 3; ++i)
    CAF_CHECK(h.try_take(1, t));
  auto req = h.next_request(t); // 1 of 4 left: under half
  CAF_REQUIRE(req);
  CAF_CHECK(req->closed.empty());
  CAF_CHECK(h.try_take(1, t));
  h.on_granted(permit_lease{2, 50, 500, t + 100ms}, t);
  CAF_CHECK_EQUAL(h.lease_id(), 2u);
  auto next = h.take_closed();
  CAF_REQUIRE_EQUAL(next.size(), 1u);
  CAF_CHECK_EQUAL(next[0], (lease_usage{1, 4, 4}));
}

CAF_TEST(a drop stops the lease at once and discards the answer in flight) {
  permit_lease_holder h{settings(), t0};
  auto t = demand(h, 100, 1, t0);
  CAF_REQUIRE(h.next_request(t));
  h.on_granted(permit_lease{1, 10, 100, t + 100ms}, t);
  for (int i = 0; i < 6; ++i)
    CAF_CHECK(h.try_take(1, t));
  CAF_REQUIRE(h.next_request(t)); // in flight
  h.drop();                       // a 429
  CAF_CHECK(!h.holding());
  CAF_CHECK(!h.try_take(1, t));
  // The answer to the request sent before the drop may predate the pause: closed
  // unused, not handed out.
  h.on_granted(permit_lease{2, 50, 500, t + 100ms}, t);
  CAF_CHECK(!h.holding());
  CAF_CHECK(!h.try_take(1, t));
  auto closed = h.take_closed();
  CAF_REQUIRE_EQUAL(closed.size(), 2u);
  CAF_CHECK_EQUAL(closed[0], (lease_usage{1, 6, 6}));
  CAF_CHECK_EQUAL(closed[1], (lease_usage{2, 0, 0}));
  // No new ask before a horizon has passed.
  CAF_CHECK(!h.next_request(t + 50ms));
}

CAF_TEST(a revocation for another lease changes nothing) {
  permit_lease_holder h{settings(), t0};
  auto t = demand(h, 100, 1, t0);
  CAF_REQUIRE(h.next_request(t));
  h.on_granted(permit_lease{5, 10, 100, t + 100ms}, t);
  h.drop(4);
  CAF_CHECK(h.holding());
  h.drop(5);
  CAF_CHECK(!h.holding());
}

CAF_TEST(an empty answer holds the next ask for a horizon) {
  permit_lease_holder h{settings(), t0};
  auto t = demand(h, 100, 1, t0);
  CAF_REQUIRE(h.next_request(t));
  h.on_granted(permit_lease{}, t);
  CAF_CHECK(!h.next_request(t + 99ms));
  CAF_CHECK(h.next_request(t + 100ms));
}

CAF_TEST(leases off asks for none) {
  auto s = settings();
  s.leases = false;
  permit_lease_holder h{s, t0};
  auto t = demand(h, 100, 1, t0);
  CAF_CHECK(!h.next_request(t));
}

CAF_TEST(the breaker view answers only closed and follows generations) {
  breaker_view v;
  CAF_CHECK(!v.closed("m"));
  v.on_verdict("m", breaker_verdict{1, breaker_decision::allowed, 10, {}});
  CAF_CHECK_EQUAL(v.closed("m"), uint64_t{10});
  CAF_CHECK(!v.closed("other"));
  v.on_push(breaker_state_changed{"m", breaker_state::open, 11});
  CAF_CHECK(!v.closed("m"));
  // A verdict of an older generation does not reopen the fast path.
  v.on_verdict("m", breaker_verdict{2, breaker_decision::allowed, 10, {}});
  CAF_CHECK(!v.closed("m"));
  v.on_push(breaker_state_changed{"m", breaker_state::half_open, 12});
  v.on_verdict("m", breaker_verdict{3, breaker_decision::allowed_trial, 12, {}});
  CAF_CHECK(!v.closed("m"));
  v.on_push(breaker_state_changed{"m", breaker_state::closed, 13});
  CAF_CHECK_EQUAL(v.closed("m"), uint64_t{13});
  v.forget();
  CAF_CHECK(!v.closed("m"));
}

CAF_TEST(failures slow calls and trials are urgent) {
  call_outcome ok{"m", 1, false, call_result::success, 10ms};
  CAF_CHECK(!urgent(ok, policy::duration{0}));
  CAF_CHECK(!urgent(ok, 100ms));
  CAF_CHECK(urgent(ok, 5ms));
  auto failed = ok;
  failed.result = call_result::failure;
  CAF_CHECK(urgent(failed, policy::duration{0}));
  auto trial = ok;
  trial.trial = true;
  CAF_CHECK(urgent(trial, policy::duration{0}));
  auto ignored = ok;
  ignored.result = call_result::ignored;
  CAF_CHECK(!urgent(ignored, policy::duration{0}));
}
