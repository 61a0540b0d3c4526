// Exponential backoff with jitter; the RNG is injected so schedules are reproducible.
#pragma once

#include <cstdint>
#include <random>

#include "src/policy/clock.hpp"

namespace embedrt::policy {

/// The random source of all policies: seeded by the caller.
using rng_type = std::mt19937_64;

class backoff_policy {
public:
  enum class jitter_mode : uint8_t {
    /// AWS "full jitter": uniform in [0, cap_n] (retries).
    full,
    /// Akka BackoffSupervisor: cap_n * (1 + u * random_factor), u uniform in [0, 1]
    /// (restarts).
    proportional,
  };

  /// cap_n = min(max_delay, base * multiplier^(n-1)) for the n-th retry (n >= 1).
  backoff_policy(duration base, double multiplier, duration max_delay,
                 jitter_mode mode = jitter_mode::full, double random_factor = 0.0);

  /// The delay before retry `n` (n >= 1; n = 0 is treated as 1).
  duration delay(uint32_t n, rng_type& rng) const;

  /// cap_n without jitter.
  duration ceiling(uint32_t n) const;

private:
  duration base_;
  double multiplier_;
  duration max_delay_;
  jitter_mode mode_;
  double random_factor_;
};

} // namespace embedrt::policy
