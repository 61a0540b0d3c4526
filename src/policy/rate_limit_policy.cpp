// Two token buckets (requests and tokens per minute), a global pause after a 429, and
// the upstream's x-ratelimit-* headers.
//
// Assumptions and choices:
// * Request bucket capacity = rpm / 60 * burst_seconds, at least 1 request. Token
//   bucket capacity = tpm / 60 * burst_seconds without a floor: a request larger than
//   the capacity is granted from a full bucket and leaves it in debt.
// * A `remaining_*` header without its `reset_*` caps the bucket now but holds no
//   refill; a `reset_*` without `remaining_*` says nothing and is ignored.
#include "src/policy/rate_limit_policy.hpp"

#include <algorithm>

namespace embedrt::policy {

namespace {

double per_second(uint64_t per_minute) {
  return static_cast<double>(per_minute) / 60.0;
}

double burst(const rate_limiter_config& cfg) {
  return static_cast<double>(std::max<uint32_t>(cfg.burst_seconds, 1));
}

} // namespace

rate_limit_policy::rate_limit_policy(const rate_limiter_config& cfg, time_point now)
  : follow_headers_(cfg.follow_upstream_headers),
    requests_(per_second(cfg.requests_per_minute),
              std::max(1.0, per_second(cfg.requests_per_minute) * burst(cfg)), now),
    tokens_(per_second(cfg.tokens_per_minute),
            per_second(cfg.tokens_per_minute) * burst(cfg), now),
    paused_until_(now) {
  // nop
}

duration rate_limit_policy::try_acquire(uint32_t tokens, time_point now) {
  auto wait = std::max(requests_.time_until(1, now), tokens_.time_until(tokens, now));
  if (paused_until_ > now)
    wait = std::max(wait, paused_until_ - now);
  if (wait > duration::zero())
    return wait;
  // Both buckets said yes for this very `now`, so both takes succeed.
  requests_.try_take(1, now);
  tokens_.try_take(tokens, now);
  return duration::zero();
}

void rate_limit_policy::reconcile(uint32_t reserved_tokens, int64_t actual_tokens,
                                  time_point now) {
  if (actual_tokens < 0)
    return;
  auto reserved = static_cast<int64_t>(reserved_tokens);
  if (actual_tokens < reserved)
    tokens_.put_back(static_cast<double>(reserved - actual_tokens), now);
  else if (actual_tokens > reserved)
    tokens_.charge(static_cast<double>(actual_tokens - reserved), now);
}

void rate_limit_policy::drain(time_point now) {
  for (auto* bucket : {&requests_, &tokens_}) {
    if (bucket->unlimited())
      continue;
    auto level = bucket->available(now);
    if (level > 0)
      bucket->charge(level, now);
  }
}

void rate_limit_policy::pause(duration pause, time_point now) {
  if (pause <= duration::zero())
    return;
  paused_until_ = std::max(paused_until_, now + pause);
}

void rate_limit_policy::observe(const rate_limit_headers& headers, time_point now) {
  if (!follow_headers_)
    return;
  auto apply = [now](token_bucket& bucket, int64_t remaining, duration reset) {
    if (remaining < 0)
      return;
    auto reset_at = reset >= duration::zero() ? now + reset : now;
    bucket.limit_until(static_cast<double>(remaining), reset_at, now);
  };
  apply(requests_, headers.remaining_requests, headers.reset_requests);
  apply(tokens_, headers.remaining_tokens, headers.reset_tokens);
}

} // namespace embedrt::policy
