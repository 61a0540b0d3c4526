// The dispatcher shell's fast path (plain C++, `now` passed in, tested without
// actors): while the rate limiter has lent it a block of permits and the circuit
// breaker of a model is known closed, an attempt's permit and verdict are answered
// locally instead of by a message round trip to each.
//
// * `permit_lease_holder`: the lease of limiter permits. Sized to recent demand
//   (policy::demand_rate over `lease_horizon`), one request in flight at a time, asked
//   for again when half spent or expired. A lease no longer used (replaced, expired,
//   dropped after a 429, revoked) is closed with its usage in the next lease request,
//   or in a closing-only request (the shell sends one at once after a 429 and at the
//   lease's expiry).
// * `breaker_view`: each model's breaker state as last pushed by the breaker
//   (`breaker_state_changed`) or seen in a verdict, generation-ordered. Only
//   "closed" is answered locally; open and half-open go the slow path.
//
// Everything the limiter or breaker must hear at once (a 429, a failed or slow call, a
// trial's outcome) is the shell's business; `urgent` says which outcomes those are.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "messages/circuit.hpp"
#include "messages/rate_limit.hpp"
#include "src/policy/clock.hpp"
#include "src/policy/demand_rate.hpp"

namespace embedrt::dispatch {

struct fast_path_settings {
  /// Off: every attempt asks the limiter (slow path only).
  bool leases = true;
  /// Off: every attempt asks the breaker.
  bool breaker_push = true;
  /// A lease covers this much recent demand.
  policy::duration lease_horizon = std::chrono::milliseconds{20};
  /// Time constant of the demand estimate.
  policy::duration demand_window = std::chrono::milliseconds{100};
  /// No lease is asked for below this demand (permits per horizon).
  double min_lease_demand = 1.0;
  /// Upper bound of one lease.
  uint32_t max_lease_requests = 4096;
  /// Calls slower than this count as failures for the breaker (0: off).
  policy::duration slow_call{0};
  /// Outcomes and feedback wait for at most this many before they are sent.
  uint32_t report_batch = 64;
};

class permit_lease_holder {
public:
  permit_lease_holder(const fast_path_settings& settings, policy::time_point now);

  /// Takes one permit for `tokens` from the lease; false: ask the limiter. Counts the
  /// demand either way.
  bool try_take(uint32_t tokens, policy::time_point now);

  /// The lease request due now, if any (marks it in flight; carries the closed
  /// leases).
  std::optional<lease_request> next_request(policy::time_point now);

  /// The answer to the request in flight.
  void on_granted(const permit_lease& x, policy::time_point now);
  /// The request in flight got no answer (the limiter died).
  void on_lost(policy::time_point now);

  /// Stops using the lease at once (a 429 seen here, or `lease_revoked` for `id`;
  /// id 0: whichever is current). Its usage waits in `closed`.
  void drop(uint64_t id = 0);
  /// Closes the lease if expired at `now`.
  void expire(policy::time_point now);
  /// Takes the closed leases to report (for a closing-only request).
  std::vector<lease_usage> take_closed();
  /// The limiter was replaced: its leases are gone with it.
  void forget();

  bool holding() const noexcept { return current_.id != 0; }
  bool in_flight() const noexcept { return in_flight_; }
  uint64_t lease_id() const noexcept { return current_.id; }
  policy::time_point expires() const noexcept { return current_.expires; }
  uint32_t requests_left() const noexcept { return current_.requests - used_.requests; }
  /// Permits given out of leases so far.
  uint64_t permits_taken() const noexcept { return taken_; }

  /// Leases closed and not yet reported.
  bool has_closed() const noexcept { return !closed_.empty(); }

private:
  void close_current();

  fast_path_settings settings_;
  policy::demand_rate demand_;
  permit_lease current_;
  lease_usage used_;
  std::vector<lease_usage> closed_;
  bool in_flight_ = false;
  /// The answer to the request in flight comes from before a drop: not used.
  bool discard_answer_ = false;
  policy::time_point retry_at_;
  uint64_t taken_ = 0;
};

class breaker_view {
public:
  /// The generation to quote when `model`'s breaker is known closed.
  std::optional<uint64_t> closed(const std::string& model) const;
  /// A verdict of the current breaker.
  void on_verdict(const std::string& model, const breaker_verdict& v);
  void on_push(const breaker_state_changed& x);
  /// The breaker was replaced.
  void forget() { models_.clear(); }

private:
  struct entry {
    breaker_state state;
    uint64_t generation;
  };
  void learn(const std::string& model, breaker_state state, uint64_t generation);
  std::unordered_map<std::string, entry> models_;
};

/// Whether the breaker must hear of this outcome at once: a failure, a slow call or a
/// trial's outcome (so it opens, re-opens or closes as fast as when every call asked).
bool urgent(const call_outcome& x, policy::duration slow_call) noexcept;

} // namespace embedrt::dispatch
