// Two token buckets (requests and tokens per minute), a global pause after a 429, and
// the upstream's x-ratelimit-* headers.
//
// Assumptions and choices:
// * Request bucket capacity = rpm / 60 * burst_seconds, at least 1 request. Token
//   bucket capacity = tpm / 60 * burst_seconds without a floor: a request larger than
//   the capacity is granted from a full bucket and leaves it in debt.
// * Every duration from the upstream (pause, reset) passes clamp_upstream_duration
//   with `max_upstream_hold` and is added with saturation.
// * A `remaining_*` header without its `reset_*` caps the bucket now but holds no
//   refill; a `reset_*` without `remaining_*` says nothing and is ignored.
#include "src/policy/rate_limit_policy.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace embedrt::policy {

namespace {

double per_second(uint64_t per_minute) {
  return static_cast<double>(per_minute) / 60.0;
}

double burst(const rate_limiter_config& cfg) {
  return static_cast<double>(std::max<uint32_t>(cfg.burst_seconds, 1));
}

} // namespace

rate_limit_policy::rate_limit_policy(const rate_limiter_config& cfg, time_point now,
                                     duration max_upstream_hold)
  : follow_headers_(cfg.follow_upstream_headers),
    max_hold_(std::max(max_upstream_hold, duration::zero())),
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

int64_t rate_limit_policy::bounded_usage(uint32_t reserved_tokens,
                                         int64_t actual_tokens) noexcept {
  // reserved < 2^32, so the bound cannot overflow.
  auto bound = static_cast<int64_t>(reserved_tokens) * usage_factor
               + usage_slack_tokens;
  return std::min(actual_tokens, bound);
}

void rate_limit_policy::reconcile(uint32_t reserved_tokens, int64_t actual_tokens,
                                  time_point now) {
  if (actual_tokens < 0)
    return;
  auto reserved = static_cast<int64_t>(reserved_tokens);
  if (auto bounded = bounded_usage(reserved_tokens, actual_tokens);
      bounded < actual_tokens) {
    actual_tokens = bounded;
    ++usage_reports_clamped_;
  }
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
  pause = clamp_upstream_duration(pause, max_hold_);
  paused_until_ = std::max(paused_until_, saturating_add(now, pause));
}

void rate_limit_policy::observe(const rate_limit_headers& headers, time_point now) {
  if (!follow_headers_)
    return;
  auto apply = [this, now](token_bucket& bucket, int64_t remaining, duration reset) {
    if (remaining < 0)
      return;
    auto reset_at = saturating_add(now, clamp_upstream_duration(reset, max_hold_));
    bucket.limit_until(static_cast<double>(remaining), reset_at, now);
  };
  apply(requests_, headers.remaining_requests, headers.reset_requests);
  apply(tokens_, headers.remaining_tokens, headers.reset_tokens);
}

rate_limit_policy::loan rate_limit_policy::lend(loan want, uint64_t min_tokens,
                                                time_point now) {
  loan none;
  if (want.requests == 0 || paused_until_ > now)
    return none;
  // Whole units available now, at most what is wanted.
  auto whole = [now](const token_bucket& b, double want_n) {
    if (b.unlimited() && std::isinf(b.available(now)))
      return want_n;
    return std::min(want_n, std::floor(std::max(b.available(now), 0.0)));
  };
  auto requests = whole(requests_, static_cast<double>(want.requests));
  if (requests < 1)
    return none;
  loan result;
  result.requests = static_cast<uint32_t>(requests);
  if (tokens_.unlimited() && std::isinf(tokens_.available(now))) {
    result.tokens = unlimited_tokens;
  } else {
    auto tokens = whole(tokens_, static_cast<double>(want.tokens));
    if (tokens < static_cast<double>(min_tokens))
      return none;
    result.tokens = static_cast<uint64_t>(tokens);
  }
  requests_.lend(result.requests, now);
  if (result.tokens != unlimited_tokens)
    tokens_.lend(static_cast<double>(result.tokens), now);
  return result;
}

rate_limit_policy::budget rate_limit_policy::available(time_point now) const {
  auto level = [now](const token_bucket& b) {
    return b.unlimited() ? std::numeric_limits<double>::quiet_NaN() : b.available(now);
  };
  return {level(requests_), level(tokens_)};
}

void rate_limit_policy::settle(loan lent, loan used, time_point now) {
  requests_.settle(lent.requests, std::min(used.requests, lent.requests), now);
  if (lent.tokens != unlimited_tokens)
    tokens_.settle(static_cast<double>(lent.tokens),
                   static_cast<double>(std::min(used.tokens, lent.tokens)), now);
}

} // namespace embedrt::policy
