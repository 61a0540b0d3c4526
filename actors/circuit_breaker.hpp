// Circuit breaker: one closed/open/half-open state machine per model of the runtime's
// single endpoint (so one per endpoint and model). Answers `breaker_check` with a
// verdict and learns from `call_outcome`. OPEN -> HALF_OPEN is decided lazily on the
// next check (no timer), like resilience4j's default. Every transition is counted and
// published as a `runtime_event` ("closed->open").
//
// Fast path: a subscriber (`subscribe_atom`, the dispatcher) gets every transition
// pushed (`breaker_state_changed`), so while a model's breaker is closed its calls
// need no check; outcomes then come in `outcome_report` batches (failures at once).
//
// Assumes one runtime per upstream; does not share state across processes.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "messages/interfaces.hpp"
#include "src/observability/counter_carry.hpp"
#include "src/policy/breaker_policy.hpp"
#include <embedrt/runtime_config.hpp>

namespace embedrt {

struct circuit_breaker_state {
  static inline const char* name = "circuit_breaker";
  circuit_breaker_config cfg;
  /// Model -> state machine.
  std::map<std::string, policy::breaker_policy> breakers;
  /// Added to the policies' generations so verdicts of an earlier incarnation of this
  /// actor never match this one's.
  uint64_t generation_base = 0;
  event_sink_actor events;
  runtime_counters counters;
  /// Told of every transition (weak: the dispatcher holds the breaker, not the other
  /// way round).
  std::vector<caf::actor_addr> subscribers;
  /// Last member: hands `counters` back before they go (see counter_carry.hpp).
  observability::counter_carry carry;
};

circuit_breaker_actor::behavior_type
circuit_breaker(circuit_breaker_actor::stateful_pointer<circuit_breaker_state> self,
                circuit_breaker_config cfg, event_sink_actor events);

/// As `circuit_breaker`, its counters starting from and handed back to `carried`
/// (they survive restarts).
circuit_breaker_actor::behavior_type carrying_circuit_breaker(
  circuit_breaker_actor::stateful_pointer<circuit_breaker_state> self,
  circuit_breaker_config cfg, event_sink_actor events,
  std::shared_ptr<runtime_counters> carried);

} // namespace embedrt
