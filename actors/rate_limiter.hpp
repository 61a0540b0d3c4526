// Rate limiter: requests and tokens per minute for the whole runtime.
//
// Permits are answered in FIFO order from a bounded queue; a permit that cannot be
// granted before its deadline is denied at once instead of waiting in vain. A 429
// pauses grants for everybody (for at most `max_upstream_hold`, the
// `retry.max_retry_after_ms` cap), and the upstream's x-ratelimit-* headers cap the
// buckets (the policy decides; this actor only queues, times and replies).
//
// Fast path (`lease_request`): the dispatcher may hold a lease, a block of permits it
// grants itself until the lease expires (`loan_ttl`); while lent they count against
// the buckets (rate_limit_policy::lend), so leases never let more through than the
// limits. No lease is granted while permits wait in the FIFO (they go first) or with
// a shared budget; a permit that has to queue, a pause (a 429, wherever learnt) or
// upstream headers leaving less than is lent revoke the leases at once
// (`lease_revoked`). A lease not closed by `expires + loan_grace` counts as spent.
//
// Assumes one limiter per runtime (one API key). With `shared_store` set
// (`shared_rate_limiter`), the budget is shared with other processes through Redis:
// permits come out of leases (src/policy/lease_policy.hpp) and `policy` is the local
// share used while the store is away.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>

#include <caf/typed_response_promise.hpp>

#include "actors/shared_budget_store.hpp"
#include "messages/interfaces.hpp"
#include "src/observability/counter_carry.hpp"
#include "src/observability/metrics.hpp"
#include "src/policy/rate_limit_policy.hpp"
#include <embedrt/runtime_config.hpp>

namespace embedrt {

/// The limiter's full interface, including its own timer.
using rate_limiter_impl = rate_limiter_actor::extend<caf::reacts_to<caf::tick_atom>>;

struct rate_limiter_state {
  static inline const char* name = "rate_limiter";

  struct waiting {
    caf::typed_response_promise<permit_decision> promise;
    acquire_permit request;
    caf::actor_clock::time_point since;
  };

  std::unique_ptr<policy::rate_limit_policy> policy;
  std::deque<waiting> queue;
  uint32_t max_queued = 0;
  /// When the pending tick fires; max() when none is pending.
  caf::actor_clock::time_point tick_at = caf::actor_clock::time_point::max();
  event_sink_actor events;
  runtime_counters counters;
  /// Shared budget only: the leases and the store actor (null when local only).
  std::unique_ptr<policy::lease_policy> lease;
  caf::actor store;
  /// Fast path: the dispatcher's leases not yet closed, by id.
  struct loan_state {
    policy::rate_limit_policy::loan lent;
    caf::actor_clock::time_point expires;
    bool revoked = false;
  };
  std::map<uint64_t, loan_state> loans;
  uint64_t next_loan = 1;
  /// The holder (weak: the dispatcher holds the limiter, not the other way round).
  caf::actor_addr holder;
  /// The runtime's metrics: the budget left after each decision (null: none).
  std::shared_ptr<observability::runtime_metrics> metrics;
  /// Last member: hands `counters` back before they go (see counter_carry.hpp).
  observability::counter_carry carry;
};

/// How long a lease of the fast path lasts.
constexpr caf::timespan loan_ttl = std::chrono::milliseconds{100};
/// A lease not closed this long after it expired counts as spent.
constexpr caf::timespan loan_grace = std::chrono::milliseconds{500};
/// Upper bound of one lease.
constexpr uint32_t max_loan_requests = 65536;

rate_limiter_impl::behavior_type
rate_limiter(rate_limiter_impl::stateful_pointer<rate_limiter_state> self,
             rate_limiter_config cfg, event_sink_actor events,
             caf::timespan max_upstream_hold);

/// A rate limiter whose budget is shared through Redis (see shared_budget_store.hpp).
rate_limiter_impl::behavior_type
shared_rate_limiter(rate_limiter_impl::stateful_pointer<rate_limiter_state> self,
                    rate_limiter_config cfg, shared_budget_args shared,
                    event_sink_actor events, caf::timespan max_upstream_hold);

/// As `rate_limiter` / `shared_rate_limiter` (with `shared`), its counters starting
/// from and handed back to `carried` (they survive restarts). With `metrics`, a
/// local budget sets `runtime_metrics::rate_budget` after each decision.
rate_limiter_impl::behavior_type
carrying_rate_limiter(rate_limiter_impl::stateful_pointer<rate_limiter_state> self,
                      rate_limiter_config cfg, std::optional<shared_budget_args> shared,
                      event_sink_actor events, caf::timespan max_upstream_hold,
                      std::shared_ptr<runtime_counters> carried,
                      std::shared_ptr<observability::runtime_metrics> metrics);

} // namespace embedrt
