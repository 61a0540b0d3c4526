#include "actors/event_observer.hpp"

#include <caf/stateful_actor.hpp>

namespace embedrt {

caf::behavior event_observer(caf::stateful_actor<event_observer_state>* self,
                             event_observer_args args) {
  self->state.args = std::move(args);
  auto& st = self->state;
  self->send(st.args.supervisor, caf::subscribe_atom::value,
             caf::actor_cast<caf::actor>(self));
  if (st.args.sync_period.count() > 0)
    self->delayed_send(self, st.args.sync_period, caf::tick_atom::value);
  return {
    [=](const runtime_event& ev) {
      auto& a = self->state.args;
      if (a.metrics)
        a.metrics->on_event(ev);
      if (a.log)
        a.log->event(ev);
      if (a.forward)
        a.forward(ev);
    },
    [=](caf::tick_atom) {
      auto& a = self->state.args;
      self->request(a.supervisor, a.sync_period, caf::get_atom::value)
        .then(
          [=](runtime_counters& c) {
            auto& s = self->state.args;
            if (s.adjust)
              s.adjust(c);
            s.metrics->sync(
              c, observability::steady_time{self->clock().now().time_since_epoch()});
          },
          [](caf::error&) {});
      self->delayed_send(self, a.sync_period, caf::tick_atom::value);
    },
  };
}

} // namespace embedrt
