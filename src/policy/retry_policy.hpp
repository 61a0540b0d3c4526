// What to do after a failed attempt: retry after a delay, or give up with the error the
// caller sees. Retry is the outermost layer: every retry takes a new limiter permit and
// breaker verdict.
#pragma once

#include <cstdint>
#include <string>

#include "messages/circuit.hpp"
#include "messages/http.hpp"
#include "src/policy/backoff.hpp"
#include "src/policy/clock.hpp"
#include "src/policy/retry_budget.hpp"
#include <embedrt/errors.hpp>
#include <embedrt/runtime_config.hpp>

namespace embedrt::policy {

/// Statuses that may succeed when tried again: 408, 409, 429, 500, 502, 503, 504.
bool is_retryable_status(uint16_t status) noexcept;

/// What the attempt's failure means for the breaker.
call_result classify_for_breaker(attempt_status status, uint16_t http_status) noexcept;

struct retry_decision {
  bool retry = false;
  /// When retrying: wait this long first (Retry-After or jittered backoff).
  duration delay{0};
  /// When giving up: what the caller gets.
  embed_errc error = embed_errc::none;
  std::string reason;
  /// Giving up because the retry budget is spent.
  bool budget_exhausted = false;
  /// The delay came from the upstream (Retry-After / retry-after-ms).
  bool from_retry_after = false;
};

class retry_policy {
public:
  retry_policy(const retry_config& retry, const request_config& request, uint64_t seed);

  /// Records a first attempt (feeds the budget).
  void on_first_attempt(time_point now);

  /// Decides after failed attempt number `attempts_made` (1 = the first) of a request
  /// whose deadline is `deadline`. Never retries 4xx other than 408/409/429, bad
  /// responses or `expired`; honours Retry-After up to `max_retry_after_ms`; never
  /// schedules an attempt that would start later than `deadline - min_attempt_ms`.
  retry_decision decide(const http_call_result& result, uint32_t attempts_made,
                        time_point now, time_point deadline);

private:
  retry_config cfg_;
  duration min_attempt_;
  backoff_policy backoff_;
  retry_budget budget_;
  rng_type rng_;
};

} // namespace embedrt::policy
