// Helpers for actor suites on the deterministic scheduler: clients that record
// answers, and an event collector.
#pragma once

#include <memory>
#include <vector>

#include <caf/event_based_actor.hpp>

#include "messages/interfaces.hpp"

namespace embedrt::test {

/// Everything a recording client received for one request.
template<class T>
struct answer {
  bool done = false;
  T value{};
  caf::error error;
};

/// Sends `msg` as a request (no timeout) from a fresh actor and records the answer.
template<class T, class Handle, class Msg>
std::shared_ptr<answer<T>> ask(caf::actor_system& sys, const Handle& dest, Msg msg) {
  auto result = std::make_shared<answer<T>>();
  // Actors get at least one spawn argument: CAF 0.17.6 trips UBSan otherwise.
  sys.spawn(
    [=](caf::event_based_actor* self, const Handle& to) {
      self->request(to, caf::infinite, msg)
        .then(
          [=](T& x) {
            result->done = true;
            result->value = std::move(x);
          },
          [=](caf::error& e) {
            result->done = true;
            result->error = std::move(e);
          });
    },
    dest);
  return result;
}

/// Collects runtime events.
inline event_sink_actor
collect_events(caf::actor_system& sys,
               std::shared_ptr<std::vector<runtime_event>> into) {
  return sys.spawn(
    [](std::shared_ptr<std::vector<runtime_event>> to)
      -> event_sink_actor::behavior_type {
      return {[to](runtime_event& ev) { to->push_back(std::move(ev)); }};
    },
    std::move(into));
}

} // namespace embedrt::test
