#define CAF_SUITE policy.upstream_caps
#include <caf/test/unit_test.hpp>

#include <chrono>
#include <limits>

#include "src/openai/response_bound.hpp"
#include "src/policy/clock.hpp"
#include "src/policy/http_headers.hpp"
#include "src/policy/rate_limit_policy.hpp"

// Issue 10: every number an upstream sends is clamped before use, and time arithmetic
// saturates. The values are the ones that broke the runtime (see the issue).

using namespace embedrt;
using namespace embedrt::policy;
using namespace std::chrono_literals;

namespace {

const time_point t0 = time_point{} + 1h;
const auto wall_2026 = std::chrono::system_clock::time_point{1'795'000'000s};
constexpr duration cap = 60s; // retry.max_retry_after_ms default

rate_limiter_config limits(uint32_t rpm, uint64_t tpm) {
  rate_limiter_config cfg;
  cfg.requests_per_minute = rpm;
  cfg.tokens_per_minute = tpm;
  cfg.burst_seconds = 1;
  return cfg;
}

} // namespace

CAF_TEST(saturating arithmetic clamps instead of overflowing) {
  constexpr auto max = std::numeric_limits<int64_t>::max();
  constexpr auto min = std::numeric_limits<int64_t>::min();
  CAF_CHECK_EQUAL(saturating_add(max - 1, 5), max);
  CAF_CHECK_EQUAL(saturating_add(min + 1, -5), min);
  CAF_CHECK_EQUAL(saturating_add(int64_t{40}, int64_t{2}), 42);
  CAF_CHECK(saturating_add(t0, duration::max()) == time_point::max());
  CAF_CHECK(saturating_add(time_point::max() - 1ns, 2ns) == time_point::max());
  CAF_CHECK(saturating_add(t0, 5s) == t0 + 5s);
  CAF_CHECK(saturating_add(t0, -5s) == t0 - 5s);
  CAF_CHECK_EQUAL(saturating_nanoseconds(std::chrono::milliseconds{9223372036855}),
                  duration::max());
  CAF_CHECK_EQUAL(saturating_nanoseconds(std::chrono::milliseconds{-9223372036855}),
                  duration::min());
  CAF_CHECK_EQUAL(saturating_nanoseconds(std::chrono::hours{8760}), duration{8760h});
  CAF_CHECK_EQUAL(saturating_nanoseconds(std::chrono::milliseconds{1500}),
                  duration{1500ms});
  CAF_CHECK_EQUAL(clamp_upstream_duration(duration{8760h}, cap), cap);
  CAF_CHECK_EQUAL(clamp_upstream_duration(duration::max(), cap), cap);
  CAF_CHECK_EQUAL(clamp_upstream_duration(-1s, cap), duration::zero());
  CAF_CHECK_EQUAL(clamp_upstream_duration(2s, cap), duration{2s});
  CAF_CHECK_EQUAL(clamp_upstream_duration(2s, -1s), duration::zero());
}

CAF_TEST(a year long retry after is parsed and capped) {
  auto year = parse_retry_after("", "31536000", wall_2026);
  CAF_REQUIRE(year.has_value());
  CAF_CHECK_EQUAL(*year, duration{31536000s});
  CAF_CHECK_EQUAL(clamp_upstream_duration(*year, cap), cap);
}

CAF_TEST(an http date in year 9999 is far away and never wraps to now) {
  for (auto text : {"Fri, 31 Dec 9999 23:59:59 GMT", "Sat, 01 Jan 2263 00:00:00 GMT",
                    "Fri Dec 31 23:59:59 9999"}) {
    CAF_MESSAGE(text);
    auto d = parse_retry_after("", text, wall_2026);
    CAF_REQUIRE(d.has_value());
    CAF_CHECK_EQUAL(*d, duration::max());
    CAF_CHECK_EQUAL(clamp_upstream_duration(*d, cap), cap);
  }
  // Just before the 64-bit nanosecond horizon (2262-04-11) it is exact.
  auto d = parse_retry_after("", "Sat, 01 Jan 2262 00:00:00 GMT", wall_2026);
  CAF_REQUIRE(d.has_value());
  CAF_CHECK_GREATER(*d, duration{24h * 365 * 235});
  CAF_CHECK_LESS(*d, duration::max());
  // Dates in the past (also before 1970) are "now".
  CAF_CHECK_EQUAL(parse_retry_after("", "Mon, 01 Jan 0001 00:00:00 GMT", wall_2026),
                  duration::zero());
}

CAF_TEST(retry after ms near two to the 63 nanoseconds survives the ms round trip) {
  auto d = parse_retry_after("9223372036854.7758", "", wall_2026);
  CAF_REQUIRE(d.has_value());
  CAF_CHECK_GREATER(*d, duration{9223372036854ms});
  // What the transport does (ceil to ms) and the worker (back to ns): saturates.
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(*d);
  CAF_CHECK_EQUAL(ms.count(), 9223372036855);
  CAF_CHECK_EQUAL(saturating_nanoseconds(ms), duration::max());
  CAF_CHECK_EQUAL(clamp_upstream_duration(saturating_nanoseconds(ms), cap), cap);
  // Larger still saturates (a very long wait, not an absent header), never wraps.
  CAF_CHECK_EQUAL(parse_retry_after("9223372036855", "", wall_2026), duration::max());
}

CAF_TEST(the fleet pause is at most the cap whatever the upstream asks) {
  for (auto asked : {duration{31536000s}, duration::max(), duration{8760h}}) {
    rate_limit_policy policy{rate_limiter_config{}, t0, cap};
    policy.pause(asked, t0);
    CAF_CHECK(policy.paused_until() == t0 + cap);
    CAF_CHECK_EQUAL(policy.try_acquire(1, t0 + cap - 1ms), duration{1ms});
    CAF_CHECK_EQUAL(policy.try_acquire(1, t0 + cap), duration::zero());
  }
  // A short pause is honoured exactly.
  rate_limit_policy policy{rate_limiter_config{}, t0, cap};
  policy.pause(2s, t0);
  CAF_CHECK(policy.paused_until() == t0 + 2s);
}

CAF_TEST(a reset of 8760h on remaining zero holds grants for at most the cap) {
  auto reset = parse_reset_duration("8760h");
  CAF_REQUIRE(reset.has_value());
  CAF_CHECK_EQUAL(*reset, duration{8760h});
  for (auto cfg : {rate_limiter_config{}, limits(600, 0)}) {
    rate_limit_policy policy{cfg, t0, cap};
    rate_limit_headers h;
    h.remaining_requests = 0;
    h.reset_requests = *reset;
    policy.observe(h, t0);
    auto wait = policy.try_acquire(1, t0);
    CAF_CHECK_GREATER(wait, duration::zero());
    CAF_CHECK_LESS_OR_EQUAL(wait, cap + 1s);
    CAF_CHECK_EQUAL(policy.try_acquire(1, t0 + cap + 1s), duration::zero());
  }
  // The token headers too, with a reset near 2^63 ns: no overflow, capped.
  rate_limit_policy policy{limits(0, 60000), t0, cap};
  rate_limit_headers h;
  h.remaining_tokens = 0;
  h.reset_tokens = duration::max();
  policy.observe(h, t0);
  CAF_CHECK_LESS_OR_EQUAL(policy.try_acquire(100, t0), cap + 1s);
  CAF_CHECK_EQUAL(policy.try_acquire(100, t0 + cap + 1s), duration::zero());
}

CAF_TEST(a usage of four quintillion tokens is clamped and counted) {
  // 60,000 tokens per minute: 1,000 per second, capacity 1,000.
  rate_limit_policy policy{limits(0, 60000), t0, cap};
  CAF_REQUIRE_EQUAL(policy.try_acquire(100, t0), duration::zero());
  policy.reconcile(100, 4000000000000000000, t0);
  CAF_CHECK_EQUAL(policy.usage_reports_clamped(), 1u);
  // Charged at most 4 x 100 + 1024 tokens: the debt is paid within seconds.
  auto bound = 100 * rate_limit_policy::usage_factor
               + rate_limit_policy::usage_slack_tokens;
  auto wait = policy.try_acquire(100, t0);
  CAF_CHECK_GREATER(wait, duration::zero());
  CAF_CHECK_LESS_OR_EQUAL(wait, std::chrono::milliseconds{bound + 1000});
  CAF_CHECK_EQUAL(policy.try_acquire(100, t0 + 3s), duration::zero());
  // A believable usage is not clamped.
  policy.reconcile(100, 300, t0 + 3s);
  CAF_CHECK_EQUAL(policy.usage_reports_clamped(), 1u);
  policy.reconcile(100, -1, t0 + 3s); // unknown
  policy.reconcile(100, std::numeric_limits<int64_t>::max(), t0 + 3s);
  CAF_CHECK_EQUAL(policy.usage_reports_clamped(), 2u);
}

CAF_TEST(the response bound follows the request and never passes the cap) {
  using openai::max_response_bytes;
  constexpr uint64_t cap_bytes = uint64_t{64} << 20;
  constexpr auto b64 = encoding_format::base64;
  constexpr auto flt = encoding_format::float_array;
  // One 1536-d base64 vector: (1536 x 6 + 256) x 2 + 64 KiB.
  CAF_CHECK_EQUAL(max_response_bytes(1, 1536, b64, cap_bytes),
                  (1536u * 6 + 256) * 2 + 65536);
  // Unknown dimension: 4096 assumed.
  CAF_CHECK_EQUAL(max_response_bytes(1, 0, b64, cap_bytes),
                  (4096u * 6 + 256) * 2 + 65536);
  CAF_CHECK_EQUAL(max_response_bytes(2, 16, flt, cap_bytes),
                  (16u * 26 + 256) * 2 * 2 + 65536);
  // Many inputs hit the cap; absurd counts saturate instead of wrapping.
  CAF_CHECK_EQUAL(max_response_bytes(2048, 3072, flt, cap_bytes), cap_bytes);
  CAF_CHECK_EQUAL(max_response_bytes(std::numeric_limits<uint64_t>::max(), 65536, flt,
                                     std::numeric_limits<uint64_t>::max()),
                  std::numeric_limits<uint64_t>::max());
  // The bound grows with the request: a real response always fits.
  for (uint64_t n : {1u, 2u, 10u, 100u})
    for (uint32_t dims : {8u, 256u, 1536u, 3072u}) {
      auto base64_body = n * (dims * 16 / 3 + 80) + 200;
      auto float_body = n * (dims * 22 + 80) + 200;
      CAF_CHECK_GREATER_OR_EQUAL(max_response_bytes(n, dims, b64, ~uint64_t{0}),
                                 base64_body);
      CAF_CHECK_GREATER_OR_EQUAL(max_response_bytes(n, dims, flt, ~uint64_t{0}),
                                 float_body);
    }
}
