// The rate limiter's decisions: a requests-per-minute and a tokens-per-minute bucket,
// a global pause after a 429, and adaptation to the upstream's x-ratelimit-* headers.
#pragma once

#include <cstdint>

#include "config/runtime_config.hpp"
#include "messages/rate_limit.hpp"
#include "src/policy/clock.hpp"
#include "src/policy/token_bucket.hpp"

namespace embedrt::policy {

class rate_limit_policy {
public:
  rate_limit_policy(const rate_limiter_config& cfg, time_point now);

  /// Takes one request and `tokens` tokens if both buckets have them and no pause is
  /// active; returns zero. Otherwise takes nothing and returns how long to wait before
  /// asking again (a lower bound, exact if nothing else happens).
  duration try_acquire(uint32_t tokens, time_point now);

  /// Adjusts the token bucket once the real usage is known.
  void reconcile(uint32_t reserved_tokens, int64_t actual_tokens, time_point now);

  /// Empties both buckets (they refill at their rate from `now`): a process that
  /// falls back from a shared budget to its local share starts without a burst.
  void drain(time_point now);

  /// A 429: grant nothing to anybody before `now + pause`.
  void pause(duration pause, time_point now);

  /// Caps the buckets to what the upstream says remains until its reset.
  void observe(const rate_limit_headers& headers, time_point now);

  /// Whether x-ratelimit-* headers are followed (`follow_upstream_headers`).
  bool follows_headers() const noexcept { return follow_headers_; }

  /// End of the current pause (in the past when none).
  time_point paused_until() const noexcept { return paused_until_; }

private:
  bool follow_headers_;
  token_bucket requests_;
  token_bucket tokens_;
  time_point paused_until_;
};

} // namespace embedrt::policy
