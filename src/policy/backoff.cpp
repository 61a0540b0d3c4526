// Exponential backoff with jitter.
//
// Assumptions and choices:
// * The jitter draws exactly one 64-bit value from the RNG per `delay` call in both
//   modes, and maps it to [0, 1) with the top 53 bits. `std::mt19937_64`'s output is
//   fixed by the standard while the distributions of <random> are not, so a seeded
//   schedule is the same with every standard library.
// * Full jitter is uniform over the whole nanoseconds in [0, cap_n].
// * Proportional jitter may exceed `max_delay` by up to `random_factor` (Akka does
//   the same); it saturates at `duration::max()`.
// * The cap is computed in floating point, so `multiplier^(n-1)` overflowing to
//   infinity simply yields `max_delay`.
#include "src/policy/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace embedrt::policy {

namespace {

/// Uniform in [0, 1) from one draw.
double unit(rng_type& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

duration saturate(double ns) {
  constexpr auto max_ns = static_cast<double>(duration::max().count());
  if (!(ns > 0))
    return duration::zero();
  if (ns >= max_ns)
    return duration::max();
  return duration{static_cast<int64_t>(ns)};
}

} // namespace

backoff_policy::backoff_policy(duration base, double multiplier, duration max_delay,
                               jitter_mode mode, double random_factor)
  : base_(std::max(base, duration::zero())), multiplier_(multiplier),
    max_delay_(std::max(max_delay, duration::zero())), mode_(mode),
    random_factor_(std::max(random_factor, 0.0)) {
  // nop
}

duration backoff_policy::ceiling(uint32_t n) const {
  if (n == 0)
    n = 1;
  if (base_ <= duration::zero())
    return duration::zero();
  auto cap = static_cast<double>(base_.count())
             * std::pow(multiplier_, static_cast<double>(n - 1));
  if (std::isnan(cap) || cap >= static_cast<double>(max_delay_.count()))
    return max_delay_;
  return saturate(cap);
}

duration backoff_policy::delay(uint32_t n, rng_type& rng) const {
  auto cap = ceiling(n);
  auto u = unit(rng);
  switch (mode_) {
    case jitter_mode::full: {
      // floor(u * (cap + 1)) is in [0, cap]; the min guards against rounding up.
      auto ns = std::floor(u * (static_cast<double>(cap.count()) + 1.0));
      return std::min(cap, saturate(ns));
    }
    case jitter_mode::proportional:
      return saturate(static_cast<double>(cap.count()) * (1.0 + u * random_factor_));
  }
  return cap;
}

} // namespace embedrt::policy
