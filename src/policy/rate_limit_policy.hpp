// The rate limiter's decisions: a requests-per-minute and a tokens-per-minute bucket,
// a global pause after a 429, and adaptation to the upstream's x-ratelimit-* headers.
#pragma once

#include <cstdint>

#include "messages/rate_limit.hpp"
#include "src/policy/clock.hpp"
#include "src/policy/token_bucket.hpp"
#include <embedrt/runtime_config.hpp>

namespace embedrt::policy {

class rate_limit_policy {
public:
  /// `max_upstream_hold` caps every pause and x-ratelimit reset the upstream asks
  /// for (`retry.max_retry_after_ms`): one response cannot stop the fleet for longer.
  rate_limit_policy(const rate_limiter_config& cfg, time_point now,
                    duration max_upstream_hold = default_max_upstream_hold);

  /// The default of `retry.max_retry_after_ms`.
  static constexpr duration default_max_upstream_hold = std::chrono::seconds{60};

  /// Reconciled usage is believed up to this many times the reservation (plus
  /// `usage_slack_tokens`); more is clamped and counted.
  static constexpr int64_t usage_factor = 4;
  static constexpr int64_t usage_slack_tokens = 1024;

  /// Takes one request and `tokens` tokens if both buckets have them and no pause is
  /// active; returns zero. Otherwise takes nothing and returns how long to wait before
  /// asking again (a lower bound, exact if nothing else happens).
  duration try_acquire(uint32_t tokens, time_point now);

  /// Adjusts the token bucket once the real usage is known. A reported usage above
  /// `usage_factor` times the reservation plus `usage_slack_tokens` is clamped there
  /// (and counted): a lying `usage.prompt_tokens` cannot put the bucket in debt for
  /// ever.
  void reconcile(uint32_t reserved_tokens, int64_t actual_tokens, time_point now);

  /// `actual_tokens` bounded as `reconcile` believes it (negative: unknown, kept).
  static int64_t bounded_usage(uint32_t reserved_tokens,
                               int64_t actual_tokens) noexcept;

  /// The cap on every upstream-given duration (`retry.max_retry_after_ms`).
  duration max_upstream_hold() const noexcept { return max_hold_; }

  /// Empties both buckets (they refill at their rate from `now`): a process that
  /// falls back from a shared budget to its local share starts without a burst.
  void drain(time_point now);

  /// A 429: grant nothing to anybody before `now + pause` (pause capped at
  /// `max_upstream_hold`).
  void pause(duration pause, time_point now);

  /// Caps the buckets to what the upstream says remains until its reset (a reset
  /// further away than `max_upstream_hold` counts as that far).
  void observe(const rate_limit_headers& headers, time_point now);

  /// Whether x-ratelimit-* headers are followed (`follow_upstream_headers`).
  bool follows_headers() const noexcept { return follow_headers_; }

  /// End of the current pause (in the past when none).
  time_point paused_until() const noexcept { return paused_until_; }

  /// Permits lent in one block (fast path: the holder grants them itself).
  /// `tokens == unlimited_tokens`: no tokens-per-minute limit applies.
  struct loan {
    uint32_t requests = 0;
    uint64_t tokens = 0;
  };

  /// Lends up to `want.requests` requests and `want.tokens` tokens, whole units that
  /// are available now (none while paused, none unless at least one request and
  /// `min_tokens` fit). While lent they count against the buckets' capacity, so a
  /// holder spending them late adds no burst: permits granted plus spent from loans
  /// stay within the limits over any window. Returns what was lent.
  loan lend(loan want, uint64_t min_tokens, time_point now);

  /// Ends a loan: `used` of `lent` were spent (each spent permit is reconciled as
  /// usual through `reconcile`); the rest goes back.
  void settle(loan lent, loan used, time_point now);

  /// What is left of the budget now: the requests and tokens the buckets could grant
  /// (lent loans count as used; negative in debt). NaN for a bucket without a limit.
  struct budget {
    double requests = 0;
    double tokens = 0;
  };
  budget available(time_point now) const;

  /// Usage reports clamped by `reconcile` so far.
  uint64_t usage_reports_clamped() const noexcept { return usage_reports_clamped_; }

private:
  bool follow_headers_;
  duration max_hold_;
  uint64_t usage_reports_clamped_ = 0;
  token_bucket requests_;
  token_bucket tokens_;
  time_point paused_until_;
};

} // namespace embedrt::policy
