// A token bucket with lazy refill (Seastar style): `rate` tokens per second up to
// `capacity`. A request larger than the capacity is granted when the bucket is full and
// leaves it in debt, so huge requests are slow, never starved.
#pragma once

#include "src/policy/clock.hpp"

namespace embedrt::policy {

class token_bucket {
public:
  /// `rate_per_second <= 0` makes an unlimited bucket. Starts full.
  token_bucket(double rate_per_second, double capacity, time_point now);

  bool unlimited() const noexcept { return rate_ <= 0; }

  /// Takes `n` tokens if available; returns true on success.
  bool try_take(double n, time_point now);

  /// Time until `try_take(n, ...)` would succeed (zero if it would now). Takes the hold
  /// set by `hold_until` into account.
  duration time_until(double n, time_point now) const;

  /// Gives back tokens that were reserved but not used (capped at capacity).
  void put_back(double n, time_point now);

  /// Charges tokens used beyond the reservation (may leave the bucket in debt).
  void charge(double n, time_point now);

  /// The upstream says only `remaining` are left until `reset_at`: never allow more
  /// than that before `reset_at`, and refill normally after it.
  void limit_until(double remaining, time_point reset_at, time_point now);

  /// Tokens available now (negative in debt).
  double available(time_point now) const;

  double capacity() const noexcept { return capacity_; }

  /// Lends `n` tokens (taken like `try_take`, only if available now): while lent they
  /// count against the capacity, so the level plus what is lent never exceeds it and
  /// a holder spending its loan late cannot add a burst. Returns false (nothing lent)
  /// when they are not available.
  bool lend(double n, time_point now);

  /// Ends a loan of `lent` tokens of which `used` were spent; the rest goes back.
  void settle(double lent, double used, time_point now);

  /// Tokens lent and not settled.
  double lent() const noexcept { return lent_; }

private:
  void refill(time_point now);
  double rate_;
  double capacity_;
  double tokens_;
  time_point last_;
  /// While `now < hold_until_`, refill stops (upstream window not yet reset).
  time_point hold_until_;
  /// Lent out (counts against the capacity while lent).
  double lent_ = 0;
};

} // namespace embedrt::policy
