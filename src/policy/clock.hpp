// Time types of the policies: the same as CAF's actor clock, but without CAF. Policies
// never read a clock; the caller passes `now`.
//
// Everything here saturates instead of overflowing: durations and time points come
// from upstream headers (a year-long Retry-After, a reset near 2^63 ns) and signed
// overflow would be undefined behaviour, or turn "never" into "now".
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>

namespace embedrt::policy {

using time_point = std::chrono::steady_clock::time_point;
using duration = std::chrono::nanoseconds;

/// `a + b` for nanosecond counts, clamped to the int64 range.
constexpr int64_t saturating_add(int64_t a, int64_t b) noexcept {
  if (b > 0 && a > std::numeric_limits<int64_t>::max() - b)
    return std::numeric_limits<int64_t>::max();
  if (b < 0 && a < std::numeric_limits<int64_t>::min() - b)
    return std::numeric_limits<int64_t>::min();
  return a + b;
}

/// `t + d`, clamped to the representable range (time_point::max() means "never").
template<class Clock>
constexpr std::chrono::time_point<Clock, duration>
saturating_add(std::chrono::time_point<Clock, duration> t, duration d) noexcept {
  return std::chrono::time_point<Clock, duration>{
    duration{saturating_add(t.time_since_epoch().count(), d.count())}};
}

/// Any duration (ms, s, h, ...) in nanoseconds, clamped to the int64 range instead of
/// overflowing (the ms -> ns step of a huge `retry-after-ms` value).
template<class Rep, class Period>
constexpr duration
saturating_nanoseconds(std::chrono::duration<Rep, Period> d) noexcept {
  using from = std::chrono::duration<Rep, Period>;
  constexpr auto max_ns = duration::max();
  constexpr auto min_ns = duration::min();
  // The largest and smallest values of `from` that fit in nanoseconds.
  const auto hi = std::chrono::duration_cast<from>(max_ns);
  const auto lo = std::chrono::duration_cast<from>(min_ns);
  if (d >= hi)
    return max_ns;
  if (d <= lo)
    return min_ns;
  return std::chrono::duration_cast<duration>(d);
}

/// The one gate for durations taken from the upstream (Retry-After, x-ratelimit
/// resets, pauses): negative becomes zero, and nothing exceeds `cap`
/// (`retry.max_retry_after_ms`). A header can cost one request, never the process.
constexpr duration clamp_upstream_duration(duration d, duration cap) noexcept {
  if (d < duration::zero())
    return duration::zero();
  if (cap < duration::zero())
    cap = duration::zero();
  return d > cap ? cap : d;
}

} // namespace embedrt::policy
