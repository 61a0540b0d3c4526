// Token bucket with lazy refill. The state is (tokens_, last_): the level at `last_`.
// Only operations that change the level move `last_`; a failed `try_take` changes
// nothing, so `time_until(n, t)` followed by `try_take(n, t + wait)` sees exactly the
// same arithmetic and succeeds.
//
// Assumptions and choices:
// * `n <= 0` is always granted and takes nothing.
// * A time earlier than the last update refills nothing (time never flows back).
// * An unlimited bucket (rate <= 0) still honours `limit_until`: until `reset_at` it
//   grants at most `remaining`, then it is unlimited again. The upstream's own limit
//   applies even when none is configured locally.
// * Overlapping upstream holds keep the later reset (the conservative reading).
#include "src/policy/token_bucket.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace embedrt::policy {

namespace {

/// Waits are clamped here so `now + wait` cannot overflow (about 146 years).
constexpr double max_wait_ns = static_cast<double>(duration::max().count()) / 2;

double seconds(duration d) {
  return std::chrono::duration<double>(d).count();
}

} // namespace

token_bucket::token_bucket(double rate_per_second, double capacity, time_point now)
  : rate_(rate_per_second), capacity_(std::max(capacity, 0.0)),
    tokens_(rate_per_second > 0 ? capacity_ : 0.0), last_(now), hold_until_(now) {
  // A limited bucket must be able to hold something, or nothing is ever granted.
  if (rate_ > 0 && capacity_ <= 0) {
    capacity_ = rate_;
    tokens_ = capacity_;
  }
}

namespace {

/// The level of a limited bucket at `now`, given the level `tokens` at `last`.
double project(double tokens, time_point last, time_point hold_until, double rate,
               double capacity, time_point now) {
  auto start = std::max(last, hold_until);
  if (now <= start || tokens >= capacity)
    return tokens;
  return std::min(capacity, tokens + rate * seconds(now - start));
}

} // namespace

double token_bucket::available(time_point now) const {
  if (unlimited())
    return now < hold_until_ ? tokens_ : std::numeric_limits<double>::infinity();
  return project(tokens_, last_, hold_until_, rate_, capacity_ - lent_, now);
}

void token_bucket::refill(time_point now) {
  if (unlimited()) {
    // Outside a hold the count means nothing; inside it, it counts down `remaining`.
    return;
  }
  if (now <= last_)
    return;
  tokens_ = project(tokens_, last_, hold_until_, rate_, capacity_ - lent_, now);
  last_ = now;
}

bool token_bucket::try_take(double n, time_point now) {
  if (n <= 0)
    return true;
  if (time_until(n, now) != duration::zero())
    return false;
  if (unlimited()) {
    if (now < hold_until_)
      tokens_ -= n;
    return true;
  }
  refill(now);
  tokens_ -= n;
  return true;
}

duration token_bucket::time_until(double n, time_point now) const {
  if (n <= 0)
    return duration::zero();
  if (unlimited()) {
    if (now >= hold_until_ || tokens_ >= n)
      return duration::zero();
    return hold_until_ - now;
  }
  // More than the capacity is granted once the bucket is full (and leaves debt).
  auto needed = std::min(n, capacity_);
  if (lent_ > 0 && needed > capacity_ - lent_) {
    // Reachable only once loans are settled: the wait as if they were, at least 1 ms
    // (a hint, never zero: taking now could exceed the capacity with the loan).
    token_bucket whole(*this);
    whole.lent_ = 0;
    return std::max(whole.time_until(n, now), duration{std::chrono::milliseconds{1}});
  }
  auto level = [&](time_point t) {
    return project(tokens_, last_, hold_until_, rate_, capacity_ - lent_, t);
  };
  if (level(now) >= needed)
    return duration::zero();
  // Refill runs from the latest of now, the last update and the end of the hold.
  auto start = std::max({now, last_, hold_until_});
  auto ns = std::ceil((needed - level(start)) / rate_ * 1e9);
  if (!(ns < max_wait_ns))
    return (start - now) + duration{static_cast<int64_t>(max_wait_ns)};
  auto wait = (start - now) + duration{static_cast<int64_t>(ns)};
  // Floating-point rounding may leave the estimate a few ns off either way: step to
  // the first nanosecond at which the take really succeeds. Both loops are bounded
  // (the error is a few ns; 2^40 ns is 18 minutes).
  duration step{1};
  for (int i = 0; i < 40 && level(now + wait) < needed; ++i, step *= 2)
    wait += step;
  for (int i = 0;
       i < 64 && wait > duration{1} && level(now + wait - duration{1}) >= needed; ++i)
    wait -= duration{1};
  return wait;
}

void token_bucket::put_back(double n, time_point now) {
  if (n <= 0)
    return;
  if (unlimited()) {
    if (now < hold_until_)
      tokens_ += n;
    return;
  }
  refill(now);
  tokens_ = std::min(capacity_ - lent_, tokens_ + n);
}

void token_bucket::charge(double n, time_point now) {
  if (n <= 0)
    return;
  if (unlimited()) {
    if (now < hold_until_)
      tokens_ -= n;
    return;
  }
  refill(now);
  tokens_ -= n;
}

void token_bucket::limit_until(double remaining, time_point reset_at, time_point now) {
  remaining = std::max(remaining, 0.0);
  if (unlimited()) {
    tokens_ = now < hold_until_ ? std::min(tokens_, remaining) : remaining;
    hold_until_ = std::max(hold_until_, reset_at);
    return;
  }
  refill(now);
  tokens_ = std::min(tokens_, remaining);
  // Refill stops until the later of the two resets; `last_` stays at `now` so the
  // pause in refill is measured from here.
  hold_until_ = std::max(hold_until_, reset_at);
}

bool token_bucket::lend(double n, time_point now) {
  if (n <= 0)
    return true;
  if (unlimited()) {
    if (now >= hold_until_)
      return true; // nothing to count
    if (tokens_ < n)
      return false;
    tokens_ -= n;
    return true;
  }
  refill(now);
  if (tokens_ < n)
    return false;
  tokens_ -= n;
  lent_ += n;
  return true;
}

void token_bucket::settle(double lent, double used, time_point now) {
  if (lent <= 0)
    return;
  used = std::clamp(used, 0.0, lent);
  if (unlimited()) {
    if (now < hold_until_)
      tokens_ += lent - used;
    return;
  }
  refill(now);
  lent_ = std::max(0.0, lent_ - lent);
  tokens_ = std::min(capacity_ - lent_, tokens_ + (lent - used));
}

} // namespace embedrt::policy
