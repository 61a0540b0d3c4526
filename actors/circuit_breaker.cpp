#include "actors/circuit_breaker.hpp"

#include <algorithm>

namespace embedrt {

namespace {

using self_ptr = circuit_breaker_actor::stateful_pointer<circuit_breaker_state>;

/// Subscribers kept (one dispatcher per runtime; a restarted one subscribes again).
constexpr size_t max_subscribers = 4;

policy::breaker_policy& breaker_for(self_ptr self, const std::string& model) {
  auto& st = self->state;
  auto i = st.breakers.find(model);
  if (i == st.breakers.end())
    i = st.breakers.emplace(model, policy::breaker_policy{st.cfg}).first;
  return i->second;
}

void publish(self_ptr self, const std::string& model,
             const policy::breaker_transition& t) {
  auto& st = self->state;
  if (!st.subscribers.empty()) {
    auto i = st.breakers.find(model);
    auto generation = st.generation_base
                      + (i != st.breakers.end() ? i->second.generation() : 0);
    for (auto& s : st.subscribers)
      if (auto listener = caf::actor_cast<breaker_listener_actor>(s))
        self->send(listener, breaker_state_changed{model, t.to, generation});
  }
  auto& c = self->state.counters;
  switch (t.to) {
    case breaker_state::open: ++c.breaker_opened; break;
    case breaker_state::half_open: ++c.breaker_half_opened; break;
    case breaker_state::closed: ++c.breaker_closed; break;
  }
  std::string detail = to_string(t.from);
  detail += "->";
  detail += to_string(t.to);
  self->send(self->state.events,
             runtime_event{event_kind::breaker_transitioned, "circuit_breaker " + model,
                           detail, t.at});
}

/// Learns from the outcome of one call the breaker allowed.
void record(self_ptr self, const call_outcome& x, caf::actor_clock::time_point now) {
  auto base = self->state.generation_base;
  if (x.generation < base)
    return; // a verdict of an earlier incarnation
  auto& breaker = breaker_for(self, x.model);
  if (auto t = breaker.record(x.generation - base, x.trial, x.result, x.duration, now))
    publish(self, x.model, *t);
}

} // namespace

circuit_breaker_actor::behavior_type
circuit_breaker(circuit_breaker_actor::stateful_pointer<circuit_breaker_state> self,
                circuit_breaker_config cfg, event_sink_actor events) {
  self->state.cfg = cfg;
  self->state.generation_base = static_cast<uint64_t>(self->id()) << 32;
  self->state.events = std::move(events);
  return {
    // -- requests ---------------------------------------------------------------------
    [=](breaker_check& check) {
      auto now = self->clock().now();
      // Outcomes of earlier calls ride on this check: learn from them first.
      for (auto& outcome : check.outcomes)
        record(self, outcome, now);
      auto& breaker = breaker_for(self, check.model);
      auto r = breaker.check(now);
      if (r.transition)
        publish(self, check.model, *r.transition);
      if (r.decision == breaker_decision::rejected_open
          || r.decision == breaker_decision::rejected_half_open_busy)
        ++self->state.counters.calls_rejected_circuit_open;
      return breaker_verdict{check.ticket, r.decision,
                             self->state.generation_base + r.generation, r.retry_at};
    },
    // -- events -----------------------------------------------------------------------
    [=](outcome_report& x) {
      auto now = self->clock().now();
      for (auto& outcome : x.outcomes)
        record(self, outcome, now);
    },
    [=](caf::subscribe_atom) {
      auto s = caf::actor_cast<caf::actor_addr>(self->current_sender());
      auto& subs = self->state.subscribers;
      if (s && std::find(subs.begin(), subs.end(), s) == subs.end()) {
        if (subs.size() >= max_subscribers) // earlier dispatchers, long gone
          subs.erase(subs.begin());
        subs.push_back(std::move(s));
      }
    },
    [=](caf::get_atom) { return self->state.counters; },
  };
}

circuit_breaker_actor::behavior_type carrying_circuit_breaker(
  circuit_breaker_actor::stateful_pointer<circuit_breaker_state> self,
  circuit_breaker_config cfg, event_sink_actor events,
  std::shared_ptr<runtime_counters> carried) {
  self->state.carry = observability::counter_carry{std::move(carried),
                                                   self->state.counters};
  return circuit_breaker(self, std::move(cfg), std::move(events));
}

} // namespace embedrt
