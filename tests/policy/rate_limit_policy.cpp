#define CAF_SUITE policy.rate_limit_policy
#include <caf/test/unit_test.hpp>

#include <chrono>

#include "src/policy/rate_limit_policy.hpp"

using namespace embedrt;
using namespace embedrt::policy;
using namespace std::chrono_literals;

namespace {

const time_point t0 = time_point{} + 1h;

rate_limiter_config limits(uint32_t rpm, uint64_t tpm, uint32_t burst_seconds = 1) {
  rate_limiter_config cfg;
  cfg.requests_per_minute = rpm;
  cfg.tokens_per_minute = tpm;
  cfg.burst_seconds = burst_seconds;
  return cfg;
}

rate_limit_headers requests_left(int64_t remaining, duration reset) {
  rate_limit_headers h;
  h.remaining_requests = remaining;
  h.reset_requests = reset;
  return h;
}

} // namespace

CAF_TEST(the default configuration grants everything at once) {
  rate_limit_policy policy{rate_limiter_config{}, t0};
  for (int i = 0; i < 10000; ++i)
    CAF_REQUIRE_EQUAL(policy.try_acquire(8192, t0), duration::zero());
}

CAF_TEST(sixty requests per minute grants one per second after the burst) {
  rate_limit_policy policy{limits(60, 0), t0};
  CAF_CHECK_EQUAL(policy.try_acquire(1, t0), duration::zero());
  CAF_CHECK_EQUAL(policy.try_acquire(1, t0), duration{1s});
  auto now = t0;
  for (int i = 1; i <= 10; ++i) {
    CAF_CHECK_EQUAL(policy.try_acquire(1, now + 999ms), duration{1ms});
    now += 1s;
    CAF_CHECK_EQUAL(policy.try_acquire(1, now), duration::zero());
    CAF_CHECK_EQUAL(policy.try_acquire(1, now), duration{1s});
  }
}

CAF_TEST(burst seconds deepen the bucket) {
  rate_limit_policy policy{limits(60, 0, 5), t0};
  for (int i = 0; i < 5; ++i)
    CAF_CHECK_EQUAL(policy.try_acquire(1, t0), duration::zero());
  CAF_CHECK_EQUAL(policy.try_acquire(1, t0), duration{1s});
}

CAF_TEST(one request per minute still holds a whole request) {
  rate_limit_policy policy{limits(1, 0), t0};
  CAF_CHECK_EQUAL(policy.try_acquire(1, t0), duration::zero());
  CAF_CHECK_EQUAL(policy.try_acquire(1, t0), duration{60s});
  CAF_CHECK_EQUAL(policy.try_acquire(1, t0 + 60s), duration::zero());
}

CAF_TEST(the token bucket paces by estimated tokens) {
  // 6000 tokens per minute: 100 per second, 100 deep.
  rate_limit_policy policy{limits(0, 6000), t0};
  CAF_CHECK_EQUAL(policy.try_acquire(40, t0), duration::zero());
  CAF_CHECK_EQUAL(policy.try_acquire(40, t0), duration::zero());
  CAF_CHECK_EQUAL(policy.try_acquire(40, t0), duration{200ms});
  CAF_CHECK_EQUAL(policy.try_acquire(40, t0 + 200ms), duration::zero());
}

CAF_TEST(a request with more tokens than the bucket holds goes out and leaves debt) {
  rate_limit_policy policy{limits(0, 600), t0}; // 10 per second, 10 deep
  CAF_CHECK_EQUAL(policy.try_acquire(35, t0), duration::zero());
  // -25 tokens: 2.6 s until one more token is there.
  CAF_CHECK_EQUAL(policy.try_acquire(1, t0), duration{2600ms});
  CAF_CHECK_EQUAL(policy.try_acquire(35, t0), duration{3500ms});
  CAF_CHECK_EQUAL(policy.try_acquire(35, t0 + 3500ms), duration::zero());
}

CAF_TEST(a request blocked by tokens takes no request permit) {
  // 10 requests deep at 1/s; 100 tokens deep at 10/s.
  rate_limit_policy policy{limits(60, 600, 10), t0};
  CAF_REQUIRE_EQUAL(policy.try_acquire(95, t0), duration::zero());
  for (int i = 0; i < 9; ++i)
    CAF_CHECK_EQUAL(policy.try_acquire(10, t0), duration{500ms});
  auto now = t0 + 500ms;
  CAF_CHECK_EQUAL(policy.try_acquire(10, now), duration::zero());
  // 9.5 requests were left, minus the one above: exactly 8 more go out now.
  for (int i = 0; i < 8; ++i)
    CAF_CHECK_EQUAL(policy.try_acquire(0, now), duration::zero());
  CAF_CHECK_EQUAL(policy.try_acquire(0, now), duration{500ms});
}

CAF_TEST(a request blocked by requests takes no tokens) {
  rate_limit_policy policy{limits(60, 600, 10), t0};
  for (int i = 0; i < 10; ++i)
    CAF_REQUIRE_EQUAL(policy.try_acquire(1, t0), duration::zero());
  for (int i = 0; i < 5; ++i)
    CAF_CHECK_EQUAL(policy.try_acquire(80, t0), duration{1s});
  CAF_CHECK_EQUAL(policy.try_acquire(80, t0 + 1s), duration::zero());
}

CAF_TEST(a pause grants nothing to anybody until it ends) {
  rate_limit_policy policy{rate_limiter_config{}, t0};
  policy.pause(30s, t0);
  CAF_CHECK_EQUAL(policy.paused_until(), t0 + 30s);
  CAF_CHECK_EQUAL(policy.try_acquire(1, t0), duration{30s});
  CAF_CHECK_EQUAL(policy.try_acquire(0, t0 + 29s), duration{1s});
  CAF_CHECK_EQUAL(policy.try_acquire(1, t0 + 30s - 1ns), duration{1ns});
  CAF_CHECK_EQUAL(policy.try_acquire(1, t0 + 30s), duration::zero());
}

CAF_TEST(a later shorter pause never shortens a longer one) {
  rate_limit_policy policy{rate_limiter_config{}, t0};
  policy.pause(30s, t0);
  policy.pause(5s, t0 + 1s);
  CAF_CHECK_EQUAL(policy.paused_until(), t0 + 30s);
  CAF_CHECK_EQUAL(policy.try_acquire(1, t0 + 10s), duration{20s});
  policy.pause(60s, t0 + 10s);
  CAF_CHECK_EQUAL(policy.paused_until(), t0 + 70s);
  policy.pause(duration::zero(), t0 + 10s);
  CAF_CHECK_EQUAL(policy.paused_until(), t0 + 70s);
}

CAF_TEST(the wait is the longest of the pause and both buckets) {
  rate_limit_policy policy{limits(60, 0), t0};
  CAF_REQUIRE_EQUAL(policy.try_acquire(1, t0), duration::zero());
  policy.pause(300ms, t0);
  CAF_CHECK_EQUAL(policy.try_acquire(1, t0), duration{1s});
  policy.pause(5s, t0);
  CAF_CHECK_EQUAL(policy.try_acquire(1, t0), duration{5s});
}

CAF_TEST(reconcile puts back unused tokens) {
  rate_limit_policy policy{limits(0, 6000), t0};
  CAF_REQUIRE_EQUAL(policy.try_acquire(80, t0), duration::zero());
  policy.reconcile(80, 30, t0);
  CAF_CHECK_EQUAL(policy.try_acquire(70, t0), duration::zero());
  CAF_CHECK_EQUAL(policy.try_acquire(1, t0), duration{10ms});
}

CAF_TEST(reconcile charges tokens used beyond the reservation) {
  rate_limit_policy policy{limits(0, 6000), t0};
  CAF_REQUIRE_EQUAL(policy.try_acquire(10, t0), duration::zero());
  policy.reconcile(10, 160, t0);
  // 100 - 10 - 150 = -60: 610 ms until one token.
  CAF_CHECK_EQUAL(policy.try_acquire(1, t0), duration{610ms});
}

CAF_TEST(reconcile with unknown usage keeps the reservation) {
  rate_limit_policy policy{limits(0, 6000), t0};
  CAF_REQUIRE_EQUAL(policy.try_acquire(80, t0), duration::zero());
  policy.reconcile(80, -1, t0);
  CAF_CHECK_EQUAL(policy.try_acquire(21, t0), duration{10ms});
}

CAF_TEST(
  remaining zero until the reset grants nothing before the reset and paces after) {
  rate_limit_policy policy{limits(600, 0), t0}; // 10 per second, 10 deep
  policy.observe(requests_left(0, 2s), t0);
  CAF_CHECK_EQUAL(policy.try_acquire(1, t0), duration{2100ms});
  CAF_CHECK_EQUAL(policy.try_acquire(1, t0 + 2s), duration{100ms});
  CAF_CHECK_NOT_EQUAL(policy.try_acquire(1, t0 + 2100ms - 1ns), duration::zero());
  CAF_CHECK_EQUAL(policy.try_acquire(1, t0 + 2100ms), duration::zero());
  CAF_CHECK_EQUAL(policy.try_acquire(1, t0 + 2100ms), duration{100ms});
  CAF_CHECK_EQUAL(policy.try_acquire(1, t0 + 2200ms), duration::zero());
}

CAF_TEST(upstream headers limit an otherwise unlimited limiter until the reset) {
  rate_limit_policy policy{rate_limiter_config{}, t0};
  policy.observe(requests_left(2, 5s), t0);
  CAF_CHECK_EQUAL(policy.try_acquire(1, t0), duration::zero());
  CAF_CHECK_EQUAL(policy.try_acquire(1, t0), duration::zero());
  CAF_CHECK_EQUAL(policy.try_acquire(1, t0), duration{5s});
  for (int i = 0; i < 100; ++i)
    CAF_CHECK_EQUAL(policy.try_acquire(1, t0 + 5s), duration::zero());
}

CAF_TEST(remaining tokens cap the token bucket) {
  rate_limit_policy policy{limits(0, 6000), t0};
  rate_limit_headers h;
  h.remaining_tokens = 30;
  h.reset_tokens = 1s;
  policy.observe(h, t0);
  CAF_CHECK_EQUAL(policy.try_acquire(30, t0), duration::zero());
  CAF_CHECK_EQUAL(policy.try_acquire(1, t0), duration{1010ms});
  // The request side was not touched.
  CAF_CHECK_EQUAL(policy.try_acquire(0, t0), duration::zero());
}

CAF_TEST(absent header fields change nothing) {
  rate_limit_policy policy{limits(600, 6000), t0};
  policy.observe(rate_limit_headers{}, t0);
  rate_limit_headers reset_only;
  reset_only.reset_requests = 10s;
  reset_only.reset_tokens = 10s;
  policy.observe(reset_only, t0);
  for (int i = 0; i < 10; ++i)
    CAF_CHECK_EQUAL(policy.try_acquire(10, t0), duration::zero());
  CAF_CHECK_EQUAL(policy.try_acquire(10, t0), duration{100ms});
}

CAF_TEST(headers are ignored when following them is off) {
  auto cfg = limits(600, 0);
  cfg.follow_upstream_headers = false;
  rate_limit_policy policy{cfg, t0};
  policy.observe(requests_left(0, 60s), t0);
  CAF_CHECK_EQUAL(policy.try_acquire(1, t0), duration::zero());
}

CAF_TEST(remaining without a reset caps the bucket now and holds no refill) {
  rate_limit_policy policy{limits(600, 0), t0}; // 10 per second, 10 deep
  policy.observe(requests_left(1, duration{-1}), t0);
  CAF_CHECK_EQUAL(policy.try_acquire(1, t0), duration::zero());
  CAF_CHECK_EQUAL(policy.try_acquire(1, t0), duration{100ms});
}
