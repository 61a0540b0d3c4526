// The per-process side of a budget shared through a store (Redis): small leases of
// requests and tokens sized to this process's recent demand, so a permit normally costs
// no round trip; signals (429 pauses, x-ratelimit-* observations, reconciled usage)
// ride on the next call; and a fallback to a local share when the store fails.
//
// Plain C++: the caller passes `now` and a seed; the actor (actors/rate_limiter.cpp)
// sends the calls this policy asks for and feeds the answers back. See
// src/shared/budget_script.hpp for the store's side (the token buckets themselves).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "messages/rate_limit.hpp"
#include "messages/shared_budget.hpp"
#include "src/policy/backoff.hpp"
#include "src/policy/clock.hpp"
#include "src/policy/demand_rate.hpp"

namespace embedrt::policy {

struct lease_settings {
  /// The global budget; 0: unlimited (nothing of that kind is leased).
  uint64_t requests_per_minute = 0;
  uint64_t tokens_per_minute = 0;
  /// A lease covers this much recent demand.
  duration horizon = std::chrono::milliseconds{100};
  /// Unused lease older than this goes back to the store.
  duration ttl = std::chrono::seconds{1};
  /// A call without an answer by then has failed.
  duration call_timeout = std::chrono::milliseconds{500};
  /// Probes of a failed store: backoff from `retry_min` up to `retry_max`.
  duration retry_min = std::chrono::milliseconds{100};
  duration retry_max = std::chrono::milliseconds{1000};
  /// Time constant of the demand estimate (exponentially weighted rate).
  duration demand_window = std::chrono::seconds{1};
};

class lease_policy {
public:
  enum class mode : uint8_t {
    /// The store answers: permits come out of leases.
    shared,
    /// The store failed: permits come from the local share until it answers again.
    fallback,
  };

  enum class change : uint8_t { none, fell_back, rejoined };

  /// Starts shared (optimistic: the first call decides).
  lease_policy(const lease_settings& settings, uint64_t seed, time_point now);

  /// Counts one permit request toward the demand estimate.
  void note_demand(uint32_t tokens, time_point now);

  /// Shared mode: takes one request and `tokens` tokens from the lease; returns zero.
  /// Otherwise takes nothing and returns a positive wait (the pause, or a hint: the
  /// answer of the store is what really wakes the caller).
  duration try_acquire(uint32_t tokens, time_point now);

  /// Feedback of one permit: reconciled usage goes to the store with the next call.
  void note_usage(uint32_t reserved_tokens, int64_t actual_tokens);
  /// A 429 here: pause at once locally and tell every process with the next call
  /// (which is due at once).
  void note_pause(duration pause, time_point now);
  /// Latest x-ratelimit-* observation; goes with the next call.
  void note_headers(const rate_limit_headers& headers);

  /// The call to make now, if one is due; marks it in flight. `waiting_requests` and
  /// `waiting_tokens`: permits queued behind an empty lease.
  std::optional<shared_budget_ask> next_ask(time_point now, uint64_t waiting_requests,
                                            uint64_t waiting_tokens);

  /// The store answered (stale answers are ignored).
  change on_answer(const shared_budget_grant& answer, time_point now);

  /// Fails a call that is overdue at `now`.
  change on_tick(time_point now);

  /// When `next_ask` or `on_tick` has something to do next (strictly after `now`),
  /// or time_point::max().
  time_point next_wakeup(time_point now, uint64_t waiting_requests) const;

  mode current() const noexcept { return mode_; }
  time_point paused_until() const noexcept { return paused_until_; }
  int64_t held_requests() const noexcept { return held_requests_; }
  int64_t held_tokens() const noexcept { return held_tokens_; }
  bool in_flight() const noexcept { return in_flight_; }
  /// Requests per second this process asked for recently.
  double demand_per_second(time_point now) const;
  /// Calls that failed (errors and timeouts), since the start.
  uint64_t failed_calls() const noexcept { return failed_calls_; }
  /// Why the last call failed (empty when it did not).
  const std::string& last_error() const noexcept { return last_error_; }

private:
  change fail(std::string why, time_point now);
  bool signals_pending() const;
  int64_t low_watermark(double rate_per_second, time_point now) const;

  lease_settings settings_;
  rng_type rng_;
  backoff_policy backoff_;
  mode mode_ = mode::shared;
  uint32_t failures_ = 0;
  uint64_t failed_calls_ = 0;
  std::string last_error_;
  // -- the lease -------------------------------------------------------------------
  int64_t held_requests_ = 0;
  int64_t held_tokens_ = 0;
  time_point lease_at_;
  // -- the call in flight ----------------------------------------------------------
  bool in_flight_ = false;
  uint64_t seq_ = 0;
  time_point sent_at_;
  int64_t asked_requests_ = 0;
  int64_t asked_tokens_ = 0;
  /// The pause carried by the call in flight (sent again if the call fails).
  int64_t pending_pause_sent_ = 0;
  /// No call before this (backoff after a failure, or the store's retry hint).
  time_point next_ask_at_;
  time_point last_sent_;
  // -- signals for the next call ---------------------------------------------------
  int64_t pending_usage_ = 0;
  int64_t pending_pause_ms_ = 0;
  std::optional<rate_limit_headers> pending_headers_;
  time_point paused_until_;
  // -- demand estimate ----------------------------------------------------------------
  demand_rate demand_;
};

} // namespace embedrt::policy
