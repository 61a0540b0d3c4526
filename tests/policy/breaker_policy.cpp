#define CAF_SUITE policy.breaker_policy
#include <caf/test/unit_test.hpp>

#include <chrono>
#include <vector>

#include "src/policy/breaker_policy.hpp"

using namespace embedrt;
using namespace embedrt::policy;
using namespace std::chrono_literals;

namespace {

const time_point t0 = time_point{} + 1h;

/// Only the consecutive-failure rule, 3 in a row; 5 s open; 2 trials (so one failed
/// trial re-opens and two successes close).
circuit_breaker_config consecutive(uint32_t n = 3) {
  circuit_breaker_config cfg;
  cfg.consecutive_failures = n;
  cfg.failure_rate_percent = 0;
  cfg.evidence_sigmas = 0;
  cfg.open_duration_ms = 5000;
  cfg.open_duration_multiplier = 2.0;
  cfg.max_open_duration_ms = 60000;
  cfg.half_open_trials = 2;
  return cfg;
}

/// Only the failure-rate rule, plain resilience4j (no evidence margin).
circuit_breaker_config rate(uint32_t percent, uint32_t window, uint32_t minimum) {
  auto cfg = consecutive(0);
  cfg.failure_rate_percent = percent;
  cfg.window_calls = window;
  cfg.minimum_calls = minimum;
  return cfg;
}

/// Asks the breaker and reports the outcome in one go, as a closed-state caller does.
std::optional<breaker_transition> call(breaker_policy& b, call_result r, time_point now,
                                       duration wire = 10ms) {
  auto verdict = b.check(now);
  CAF_REQUIRE(verdict.decision == breaker_decision::allowed);
  return b.record(verdict.generation, false, r, wire, now);
}

/// Opens a `consecutive(3)` breaker at `now`.
void trip(breaker_policy& b, time_point now) {
  for (int i = 0; i < 3; ++i)
    call(b, call_result::failure, now);
  CAF_REQUIRE(b.state() == breaker_state::open);
}

} // namespace

CAF_TEST(a new breaker is closed and allows calls) {
  breaker_policy b{consecutive()};
  auto verdict = b.check(t0);
  CAF_CHECK(verdict.decision == breaker_decision::allowed);
  CAF_CHECK_EQUAL(verdict.generation, 0u);
  CAF_CHECK(!verdict.transition);
  CAF_CHECK(b.state() == breaker_state::closed);
}

CAF_TEST(a third consecutive 503 opens the breaker) {
  breaker_policy b{consecutive()};
  CAF_CHECK(!call(b, call_result::failure, t0));
  CAF_CHECK(!call(b, call_result::failure, t0));
  auto tr = call(b, call_result::failure, t0 + 1s);
  CAF_REQUIRE(tr);
  CAF_CHECK(tr->from == breaker_state::closed);
  CAF_CHECK(tr->to == breaker_state::open);
  CAF_CHECK_EQUAL(tr->at, t0 + 1s);
  CAF_CHECK_EQUAL(tr->open_for, duration{5s});
  CAF_CHECK(b.state() == breaker_state::open);
  CAF_CHECK_EQUAL(b.open_until(), t0 + 6s);
  CAF_CHECK_EQUAL(b.generation(), 1u);
}

CAF_TEST(a success in between resets the consecutive failure count) {
  breaker_policy b{consecutive()};
  for (int round = 0; round < 5; ++round) {
    call(b, call_result::failure, t0);
    call(b, call_result::failure, t0);
    call(b, call_result::success, t0);
  }
  CAF_CHECK(b.state() == breaker_state::closed);
}

CAF_TEST(ignored outcomes neither count nor reset the consecutive failures) {
  breaker_policy b{consecutive()};
  call(b, call_result::failure, t0);
  call(b, call_result::failure, t0);
  for (int i = 0; i < 10; ++i)
    CAF_CHECK(!call(b, call_result::ignored, t0));
  CAF_CHECK(b.state() == breaker_state::closed);
  CAF_CHECK(call(b, call_result::failure, t0));
  CAF_CHECK(b.state() == breaker_state::open);
}

CAF_TEST(zero consecutive failures turns that rule off) {
  breaker_policy b{consecutive(0)};
  for (int i = 0; i < 100; ++i)
    call(b, call_result::failure, t0);
  CAF_CHECK(b.state() == breaker_state::closed);
}

CAF_TEST(an open breaker rejects until open_until and names it as retry_at) {
  breaker_policy b{consecutive()};
  trip(b, t0);
  auto verdict = b.check(t0 + 5s - 1ns);
  CAF_CHECK(verdict.decision == breaker_decision::rejected_open);
  CAF_CHECK_EQUAL(verdict.retry_at, t0 + 5s);
  CAF_CHECK_EQUAL(verdict.generation, 1u);
  CAF_CHECK(!verdict.transition);
  CAF_CHECK(b.state() == breaker_state::open);
}

CAF_TEST(the first check after the open period half opens the breaker lazily) {
  breaker_policy b{consecutive()};
  trip(b, t0);
  // Nothing happens by itself: the state stays open until somebody asks.
  CAF_CHECK(b.state() == breaker_state::open);
  auto verdict = b.check(t0 + 5s);
  CAF_CHECK(verdict.decision == breaker_decision::allowed_trial);
  CAF_CHECK_EQUAL(verdict.generation, 2u);
  CAF_REQUIRE(verdict.transition);
  CAF_CHECK(verdict.transition->from == breaker_state::open);
  CAF_CHECK(verdict.transition->to == breaker_state::half_open);
  CAF_CHECK_EQUAL(verdict.transition->at, t0 + 5s);
  CAF_CHECK(b.state() == breaker_state::half_open);
}

CAF_TEST(half open hands out at most K trial permits) {
  breaker_policy b{consecutive()};
  trip(b, t0);
  CAF_CHECK(b.check(t0 + 5s).decision == breaker_decision::allowed_trial);
  auto second = b.check(t0 + 5s);
  CAF_CHECK(second.decision == breaker_decision::allowed_trial);
  CAF_CHECK(!second.transition);
  for (int i = 0; i < 5; ++i)
    CAF_CHECK(b.check(t0 + 6s).decision == breaker_decision::rejected_half_open_busy);
}

CAF_TEST(K trial successes close the breaker and clear its counters) {
  breaker_policy b{consecutive()};
  trip(b, t0);
  auto a = b.check(t0 + 5s);
  auto c = b.check(t0 + 5s);
  CAF_CHECK(!b.record(a.generation, true, call_result::success, 10ms, t0 + 6s));
  CAF_CHECK(b.state() == breaker_state::half_open);
  auto tr = b.record(c.generation, true, call_result::success, 10ms, t0 + 7s);
  CAF_REQUIRE(tr);
  CAF_CHECK(tr->from == breaker_state::half_open);
  CAF_CHECK(tr->to == breaker_state::closed);
  CAF_CHECK(b.state() == breaker_state::closed);
  CAF_CHECK_EQUAL(b.generation(), 3u);
  // The counters start from zero: two failures do not open it again.
  call(b, call_result::failure, t0 + 8s);
  call(b, call_result::failure, t0 + 8s);
  CAF_CHECK(b.state() == breaker_state::closed);
}

CAF_TEST(a successful trial keeps its permit so a half open period sends at most K) {
  breaker_policy b{consecutive()};
  trip(b, t0);
  auto a = b.check(t0 + 5s);
  b.check(t0 + 5s);
  CAF_REQUIRE(b.check(t0 + 5s).decision == breaker_decision::rejected_half_open_busy);
  // The first trial succeeds while the second is still out: no third trial.
  CAF_CHECK(!b.record(a.generation, true, call_result::success, 10ms, t0 + 5s));
  CAF_CHECK(b.check(t0 + 5s).decision == breaker_decision::rejected_half_open_busy);
  CAF_CHECK(b.state() == breaker_state::half_open);
}

CAF_TEST(a failed trial reopens with a growing open time that is capped) {
  auto cfg = consecutive();
  cfg.open_duration_ms = 1000;
  cfg.open_duration_multiplier = 3.0;
  cfg.max_open_duration_ms = 5000;
  breaker_policy b{cfg};
  trip(b, t0);
  CAF_CHECK_EQUAL(b.current_open_duration(), duration{1s});
  auto now = t0;
  for (auto expected : {duration{3s}, duration{5s}, duration{5s}}) {
    now = b.open_until();
    auto trial = b.check(now);
    CAF_REQUIRE(trial.decision == breaker_decision::allowed_trial);
    auto tr = b.record(trial.generation, true, call_result::failure, 10ms, now + 1s);
    CAF_REQUIRE(tr);
    CAF_CHECK(tr->from == breaker_state::half_open);
    CAF_CHECK(tr->to == breaker_state::open);
    CAF_CHECK_EQUAL(tr->open_for, expected);
    CAF_CHECK_EQUAL(b.open_until(), now + 1s + expected);
    CAF_CHECK(b.state() == breaker_state::open);
  }
}

CAF_TEST(closing resets the open time to the configured first value) {
  auto cfg = consecutive();
  cfg.half_open_trials = 1;
  breaker_policy b{cfg};
  trip(b, t0);
  auto trial = b.check(b.open_until());
  b.record(trial.generation, true, call_result::failure, 10ms, b.open_until());
  CAF_REQUIRE_EQUAL(b.current_open_duration(), duration{10s});
  auto now = b.open_until();
  trial = b.check(now);
  CAF_REQUIRE(b.record(trial.generation, true, call_result::success, 10ms, now));
  CAF_REQUIRE(b.state() == breaker_state::closed);
  CAF_CHECK_EQUAL(b.current_open_duration(), duration{5s});
  trip(b, now + 1s);
  CAF_CHECK_EQUAL(b.open_until(), now + 6s);
}

CAF_TEST(outcomes from a stale generation are ignored) {
  breaker_policy b{consecutive()};
  // Three calls go out while closed; a fourth is still on the wire when it opens.
  auto late = b.check(t0);
  trip(b, t0);
  CAF_CHECK(!b.record(late.generation, false, call_result::success, 10ms, t0));
  CAF_CHECK(b.state() == breaker_state::open);
  // A late closed-state success cannot close a half-open breaker either.
  auto trial = b.check(t0 + 5s);
  CAF_REQUIRE(b.state() == breaker_state::half_open);
  for (int i = 0; i < 5; ++i)
    CAF_CHECK(!b.record(late.generation, false, call_result::success, 10ms, t0 + 5s));
  CAF_CHECK(b.state() == breaker_state::half_open);
  // A trial failure reopens; the other trial's late success from that half-open
  // period is ignored too.
  auto other = b.check(t0 + 5s);
  CAF_REQUIRE(b.record(trial.generation, true, call_result::failure, 10ms, t0 + 5s));
  CAF_CHECK(!b.record(other.generation, true, call_result::success, 10ms, t0 + 5s));
  CAF_CHECK(b.state() == breaker_state::open);
  // A late failure from before does not reopen a closed breaker or count there.
  auto now = b.open_until();
  auto t1 = b.check(now);
  auto t2 = b.check(now);
  b.record(t1.generation, true, call_result::success, 10ms, now);
  b.record(t2.generation, true, call_result::success, 10ms, now);
  CAF_REQUIRE(b.state() == breaker_state::closed);
  for (int i = 0; i < 10; ++i)
    CAF_CHECK(!b.record(trial.generation, true, call_result::failure, 10ms, now));
  CAF_CHECK(b.state() == breaker_state::closed);
}

CAF_TEST(a cancelled trial returns its permit without counting) {
  auto cfg = consecutive();
  cfg.half_open_trials = 1;
  breaker_policy b{cfg};
  trip(b, t0);
  auto trial = b.check(t0 + 5s);
  CAF_REQUIRE(trial.decision == breaker_decision::allowed_trial);
  CAF_CHECK(b.check(t0 + 5s).decision == breaker_decision::rejected_half_open_busy);
  CAF_CHECK(!b.record(trial.generation, true, call_result::cancelled, 0ns, t0 + 5s));
  CAF_CHECK(b.state() == breaker_state::half_open);
  auto again = b.check(t0 + 5s);
  CAF_CHECK(again.decision == breaker_decision::allowed_trial);
  CAF_CHECK_EQUAL(again.generation, trial.generation);
}

CAF_TEST(an ignored trial returns its permit and neither closes nor reopens) {
  auto cfg = consecutive();
  cfg.half_open_trials = 1;
  breaker_policy b{cfg};
  trip(b, t0);
  auto trial = b.check(t0 + 5s);
  CAF_CHECK(!b.record(trial.generation, true, call_result::ignored, 10ms, t0 + 5s));
  CAF_CHECK(b.state() == breaker_state::half_open);
  CAF_CHECK(b.check(t0 + 5s).decision == breaker_decision::allowed_trial);
}

CAF_TEST(cancelled calls count as nothing while closed) {
  breaker_policy b{consecutive()};
  call(b, call_result::failure, t0);
  call(b, call_result::failure, t0);
  CAF_CHECK(!call(b, call_result::cancelled, t0));
  CAF_CHECK(call(b, call_result::failure, t0));
}

CAF_TEST(slow calls open the breaker through the slow call rate not as failures) {
  auto cfg = rate(50, 4, 4);
  cfg.slow_call_ms = 1000;
  cfg.slow_call_rate_percent = 50;
  cfg.consecutive_failures = 2;
  breaker_policy b{cfg};
  // Exactly at the threshold is not slow.
  call(b, call_result::success, t0, 1000ms);
  call(b, call_result::success, t0, 1000ms);
  CAF_CHECK(b.state() == breaker_state::closed);
  // Slow successes are not failures: two in a row do not trip the consecutive rule.
  CAF_CHECK(!call(b, call_result::success, t0, 1001ms));
  CAF_CHECK(b.state() == breaker_state::closed);
  // Window n n s s: a slow-call rate of 50 % opens it.
  CAF_CHECK(call(b, call_result::success, t0, 1001ms));
  CAF_CHECK(b.state() == breaker_state::open);
}

CAF_TEST(a slow failure counts both as a failure and as a slow call) {
  auto cfg = rate(50, 4, 4);
  cfg.slow_call_ms = 1000;
  cfg.slow_call_rate_percent = 75;
  breaker_policy b{cfg};
  call(b, call_result::success, t0);
  call(b, call_result::success, t0);
  call(b, call_result::failure, t0, 2s);
  CAF_CHECK(b.state() == breaker_state::closed);
  // Failures 2 of 4 (50 %) open it; slow calls 2 of 4 would not (75 %).
  CAF_CHECK(call(b, call_result::failure, t0, 2s));
}

CAF_TEST(a slow trial success reopens the breaker) {
  auto cfg = consecutive();
  cfg.slow_call_ms = 1000;
  breaker_policy b{cfg};
  trip(b, t0);
  auto trial = b.check(t0 + 5s);
  auto tr = b.record(trial.generation, true, call_result::success, 2s, t0 + 7s);
  CAF_REQUIRE(tr);
  CAF_CHECK(tr->to == breaker_state::open);
}

CAF_TEST(slow calls are not judged when the threshold is zero) {
  auto cfg = consecutive(2);
  cfg.slow_call_ms = 0;
  breaker_policy b{cfg};
  for (int i = 0; i < 10; ++i)
    call(b, call_result::success, t0, 1h);
  CAF_CHECK(b.state() == breaker_state::closed);
}

CAF_TEST(the failure rate does not count before the minimum number of calls) {
  breaker_policy b{rate(50, 10, 4)};
  for (int i = 0; i < 3; ++i)
    CAF_CHECK(!call(b, call_result::failure, t0));
  CAF_CHECK(b.state() == breaker_state::closed);
  auto tr = call(b, call_result::failure, t0);
  CAF_REQUIRE(tr);
  CAF_CHECK(tr->to == breaker_state::open);
}

CAF_TEST(a failure rate exactly at the threshold opens the breaker) {
  breaker_policy b{rate(50, 10, 4)};
  call(b, call_result::success, t0);
  call(b, call_result::success, t0);
  call(b, call_result::failure, t0);
  CAF_CHECK(b.state() == breaker_state::closed);
  CAF_CHECK(call(b, call_result::failure, t0));
}

CAF_TEST(a success that completes the minimum calls can open the breaker) {
  breaker_policy b{rate(50, 10, 4)};
  call(b, call_result::failure, t0);
  call(b, call_result::failure, t0);
  call(b, call_result::success, t0);
  CAF_CHECK(b.state() == breaker_state::closed);
  CAF_CHECK(call(b, call_result::success, t0));
}

CAF_TEST(a failure rate below the threshold keeps the breaker closed) {
  breaker_policy b{rate(50, 10, 4)};
  // One failure in four: never more than 40 % in any window of up to ten calls.
  for (int i = 0; i < 100; ++i) {
    call(b, call_result::failure, t0);
    call(b, call_result::success, t0);
    call(b, call_result::success, t0);
    call(b, call_result::success, t0);
  }
  CAF_CHECK(b.state() == breaker_state::closed);
}

CAF_TEST(the failure rate counts only the last W calls) {
  breaker_policy b{rate(50, 4, 4)};
  // F S S S S: the first failure slides out of the window of four.
  call(b, call_result::failure, t0);
  for (int i = 0; i < 4; ++i)
    call(b, call_result::success, t0);
  // Over all 7 calls 3 failures would be 43 %; over the last 4 it is 50 %.
  call(b, call_result::failure, t0);
  CAF_CHECK(b.state() == breaker_state::closed);
  CAF_CHECK(call(b, call_result::failure, t0));
}

CAF_TEST(old failures slide out of the window) {
  breaker_policy b{rate(75, 4, 4)};
  // F F S: then S S S pushes both failures out, so two more failures make 2 / 4.
  call(b, call_result::failure, t0);
  call(b, call_result::failure, t0);
  for (int i = 0; i < 4; ++i)
    call(b, call_result::success, t0);
  call(b, call_result::failure, t0);
  call(b, call_result::failure, t0);
  CAF_CHECK(b.state() == breaker_state::closed);
  CAF_CHECK(call(b, call_result::failure, t0));
}

CAF_TEST(a zero failure rate turns that rule off) {
  breaker_policy b{rate(0, 4, 1)};
  for (int i = 0; i < 50; ++i)
    call(b, call_result::failure, t0);
  CAF_CHECK(b.state() == breaker_state::closed);
}

CAF_TEST(ignored calls are not part of the failure rate window) {
  breaker_policy b{rate(50, 4, 4)};
  call(b, call_result::failure, t0);
  for (int i = 0; i < 10; ++i)
    call(b, call_result::ignored, t0);
  call(b, call_result::success, t0);
  call(b, call_result::success, t0);
  CAF_CHECK(b.state() == breaker_state::closed);
  // Window F S S F: 50 %, the ignored calls did not push the first failure out.
  CAF_CHECK(call(b, call_result::failure, t0));
}

CAF_TEST(every transition increments the generation) {
  breaker_policy b{consecutive()};
  CAF_CHECK_EQUAL(b.generation(), 0u);
  trip(b, t0);
  CAF_CHECK_EQUAL(b.generation(), 1u);
  auto trial = b.check(t0 + 5s);
  CAF_CHECK_EQUAL(b.generation(), 2u);
  b.record(trial.generation, true, call_result::failure, 10ms, t0 + 5s);
  CAF_CHECK_EQUAL(b.generation(), 3u);
  auto now = b.open_until();
  auto a = b.check(now);
  auto c = b.check(now);
  CAF_CHECK_EQUAL(b.generation(), 4u);
  b.record(a.generation, true, call_result::success, 10ms, now);
  b.record(c.generation, true, call_result::success, 10ms, now);
  CAF_CHECK_EQUAL(b.generation(), 5u);
  CAF_CHECK(b.state() == breaker_state::closed);
}

CAF_TEST(
  a late failure from an earlier closed period does not count after closing again) {
  breaker_policy b{consecutive()};
  auto late = b.check(t0);
  CAF_REQUIRE_EQUAL(late.generation, 0u);
  trip(b, t0);
  auto now = b.open_until();
  auto t1 = b.check(now);
  auto t2 = b.check(now);
  b.record(t1.generation, true, call_result::success, 10ms, now);
  b.record(t2.generation, true, call_result::success, 10ms, now);
  CAF_REQUIRE(b.state() == breaker_state::closed);
  // Closed again, but in a new generation: the old call's failure says nothing now.
  call(b, call_result::failure, now);
  call(b, call_result::failure, now);
  CAF_CHECK(!b.record(late.generation, false, call_result::failure, 10ms, now));
  CAF_CHECK(b.state() == breaker_state::closed);
}

CAF_TEST(a late trial success from an earlier half open period does not help close) {
  breaker_policy b{consecutive()};
  trip(b, t0);
  auto old_a = b.check(t0 + 5s);
  auto old_b = b.check(t0 + 5s);
  CAF_REQUIRE(b.record(old_a.generation, true, call_result::failure, 10ms, t0 + 5s));
  auto now = b.open_until();
  auto fresh = b.check(now);
  CAF_REQUIRE(b.state() == breaker_state::half_open);
  CAF_REQUIRE_NOT_EQUAL(fresh.generation, old_b.generation);
  // The previous period's trial reports while this period's trial is still out.
  CAF_CHECK(!b.record(old_b.generation, true, call_result::success, 10ms, now));
  // It handed back no permit of this period: one of K = 2 is still out.
  CAF_CHECK(b.check(now).decision == breaker_decision::allowed_trial);
  CAF_CHECK(b.check(now).decision == breaker_decision::rejected_half_open_busy);
  // And it did not count as a success: one real success does not close it.
  CAF_CHECK(!b.record(fresh.generation, true, call_result::success, 10ms, now));
  CAF_CHECK(b.state() == breaker_state::half_open);
}

// -- evidence and half-open rates ---------------------------------------------------

CAF_TEST(the evidence rule asks for a margin of z standard deviations over the rate) {
  // Plain resilience4j: at the threshold counts.
  CAF_CHECK(rate_exceeds(5, 10, 50, 0.0));
  CAF_CHECK(!rate_exceeds(4, 10, 50, 0.0));
  // z = 3 at 50 %: n = 100 needs 50 + 3 * 5 = 65 failures, n = 1000 needs 548.
  CAF_CHECK(!rate_exceeds(64, 100, 50, 3.0));
  CAF_CHECK(rate_exceeds(65, 100, 50, 3.0));
  CAF_CHECK(!rate_exceeds(547, 1000, 50, 3.0));
  CAF_CHECK(rate_exceeds(548, 1000, 50, 3.0));
  // Off, empty, and 100 % (all calls must fail).
  CAF_CHECK(!rate_exceeds(10, 10, 0, 0.0));
  CAF_CHECK(!rate_exceeds(0, 0, 50, 3.0));
  CAF_CHECK(rate_exceeds(10, 10, 100, 3.0));
  CAF_CHECK(!rate_exceeds(9, 10, 100, 3.0));
}

CAF_TEST(the default breaker does not open at the threshold without evidence) {
  breaker_policy b{circuit_breaker_config{}};
  // 100 calls, 60 failing (never 30 in a row): 60 % is below the bar of 65 at n = 100.
  for (int i = 0; i < 20; ++i) {
    call(b, call_result::failure, t0);
    call(b, call_result::failure, t0);
    call(b, call_result::failure, t0);
    call(b, call_result::success, t0);
    call(b, call_result::success, t0);
  }
  CAF_CHECK(b.state() == breaker_state::closed);
}

namespace {

/// Rate rule at 50 % over 4 calls, K = 4 trials, 1 s open period doubling.
circuit_breaker_config four_trials() {
  auto cfg = rate(50, 4, 4);
  cfg.open_duration_ms = 1000;
  cfg.half_open_trials = 4;
  return cfg;
}

/// Opens `b` (configured by `four_trials`) at `now` and half-opens it with K checks.
std::vector<breaker_policy::check_result> half_open_with_trials(breaker_policy& b,
                                                                time_point now) {
  for (int i = 0; i < 4; ++i)
    call(b, call_result::failure, now);
  CAF_REQUIRE(b.state() == breaker_state::open);
  std::vector<breaker_policy::check_result> trials;
  for (int i = 0; i < 4; ++i) {
    trials.push_back(b.check(b.open_until()));
    CAF_REQUIRE(trials.back().decision == breaker_decision::allowed_trial);
  }
  return trials;
}

} // namespace

CAF_TEST(one failed trial of K does not reopen when the trials fail below the rate) {
  breaker_policy b{four_trials()};
  auto trials = half_open_with_trials(b, t0);
  auto now = b.open_until();
  CAF_CHECK(!b.record(trials[0].generation, true, call_result::failure, 10ms, now));
  CAF_CHECK(!b.record(trials[1].generation, true, call_result::success, 10ms, now));
  CAF_CHECK(!b.record(trials[2].generation, true, call_result::success, 10ms, now));
  CAF_CHECK(b.state() == breaker_state::half_open);
  // 1 failure of 4 trials: 25 % < 50 %.
  auto tr = b.record(trials[3].generation, true, call_result::success, 10ms, now);
  CAF_REQUIRE(tr);
  CAF_CHECK(tr->to == breaker_state::closed);
}

CAF_TEST(trials reopen as soon as their failure rate reaches the threshold) {
  breaker_policy b{four_trials()};
  auto trials = half_open_with_trials(b, t0);
  auto now = b.open_until();
  CAF_CHECK(!b.record(trials[0].generation, true, call_result::failure, 10ms, now));
  // 2 of 4 fail: 50 % whatever the other two do.
  auto tr = b.record(trials[1].generation, true, call_result::failure, 10ms, now);
  CAF_REQUIRE(tr);
  CAF_CHECK(tr->to == breaker_state::open);
  CAF_CHECK_EQUAL(tr->open_for, duration{2s});
  // The other two trials report late: ignored.
  CAF_CHECK(!b.record(trials[2].generation, true, call_result::success, 10ms, now));
  CAF_CHECK(b.state() == breaker_state::open);
}

CAF_TEST(trials close as soon as the rest cannot reach the threshold) {
  breaker_policy b{four_trials()};
  auto trials = half_open_with_trials(b, t0);
  auto now = b.open_until();
  CAF_CHECK(!b.record(trials[0].generation, true, call_result::success, 10ms, now));
  CAF_CHECK(!b.record(trials[1].generation, true, call_result::success, 10ms, now));
  // 3 successes: even if the last trial fails, 1 of 4 is below 50 %.
  auto tr = b.record(trials[2].generation, true, call_result::success, 10ms, now);
  CAF_REQUIRE(tr);
  CAF_CHECK(tr->to == breaker_state::closed);
  CAF_CHECK_EQUAL(b.current_open_duration(), duration{1s});
}

CAF_TEST(slow trials reopen at the slow call rate) {
  auto cfg = four_trials();
  cfg.slow_call_ms = 1000;
  cfg.slow_call_rate_percent = 50;
  breaker_policy b{cfg};
  auto trials = half_open_with_trials(b, t0);
  auto now = b.open_until();
  CAF_CHECK(!b.record(trials[0].generation, true, call_result::success, 2s, now));
  CAF_CHECK(b.state() == breaker_state::half_open);
  auto tr = b.record(trials[1].generation, true, call_result::success, 2s, now);
  CAF_REQUIRE(tr);
  CAF_CHECK(tr->to == breaker_state::open);
}
