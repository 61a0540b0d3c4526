// Supervisor: spawns the rate limiter, circuit breaker, HTTP worker pool and
// dispatcher, monitors them, and is the hub for `runtime_event`s. The pool supervises
// its own workers; when it fails as a whole (worker restart intensity exceeded) the
// supervisor restarts it. Past `max_pool_restarts` within `pool_restart_window_ms` it
// does not crash-loop: the pool stays down for a pause (restart_max_backoff_ms,
// doubling per failure in a row up to pool_max_backoff_ms; a pool that stayed up a
// whole window starts over), callers get `runtime_unavailable` at once meanwhile
// (`runtime_unavailable` event), and the restarted pool makes the runtime available
// again (`runtime_available` event). With `supervision.give_up` it stays unavailable
// for good instead. A restarted limiter or breaker starts with fresh state.
//
// The dispatcher holds every caller's reply channel, so it is not restarted: if it
// ever failed, hosts' callbacks would still fire once (with `worker_failed`) and the
// runtime would report itself unavailable.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "actors/dispatcher.hpp"
#include "actors/http_worker_pool.hpp"
#include "actors/shared_budget_store.hpp"
#include "messages/interfaces.hpp"
#include "src/http/transport.hpp"
#include "src/policy/restart_intensity.hpp"
#include <embedrt/runtime_config.hpp>

namespace embedrt {

struct supervisor_args {
  runtime_config config;
  /// Holds the API key: never printed, never put in a message.
  http::transport_settings transport;
  http::transport_factory make_transport;
  /// The budget shared through Redis (`rate_limiter.shared_store`); none: local only.
  std::optional<shared_budget_args> shared_budget;
  /// The runtime's admission gate (shared with `runtime::embed`); null: the
  /// dispatcher makes its own.
  std::shared_ptr<dispatch::admission_gate> gate;
  /// Metrics recorded by the dispatcher; null: none.
  std::shared_ptr<observability::runtime_metrics> metrics;
};

/// The supervisor's full interface: the public one plus its pool restart timer
/// (the epoch of the pause it ends).
using supervisor_impl
  = supervisor_actor::extend<caf::reacts_to<caf::spawn_atom, uint64_t>>;

struct supervisor_state {
  static inline const char* name = "supervisor";
  supervisor_args args;
  rate_limiter_actor limiter;
  circuit_breaker_actor breaker;
  http_pool_actor pool;
  dispatcher_actor dispatcher;
  std::vector<caf::actor> subscribers;
  std::unique_ptr<policy::restart_intensity> pool_intensity;
  bool available = true;
  uint64_t pool_incarnation = 0;
  /// When the current pool was spawned.
  caf::actor_clock::time_point pool_started;
  /// Pauses in a row (the pool failed again soon after each); sizes the next one.
  uint32_t pool_pauses = 0;
  /// Identifies the pending pause, so a stale timer does nothing.
  uint64_t pause_epoch = 0;
  runtime_counters counters;
  /// Each component's totals across its restarts (see counter_carry.hpp).
  std::shared_ptr<runtime_counters> pool_counters
    = std::make_shared<runtime_counters>();
  std::shared_ptr<runtime_counters> limiter_counters
    = std::make_shared<runtime_counters>();
  std::shared_ptr<runtime_counters> breaker_counters
    = std::make_shared<runtime_counters>();

  /// Stops every child with the supervisor.
  ~supervisor_state();
};

supervisor_impl::behavior_type
supervisor(supervisor_impl::stateful_pointer<supervisor_state> self,
           supervisor_args args);

} // namespace embedrt
