// Event observer: subscribes to the supervisor's events and turns each into metric
// state and health (`observability::runtime_metrics::on_event`), a JSON log line, and
// the host's `on_event` callback. Events are rare (transitions, pauses, failures),
// never one per request. With `sync_period` > 0 it also brings the metrics registry
// up to date on a timer, for a host whose own exporter scrapes that registry.
#pragma once

#include <functional>
#include <memory>

#include <caf/event_based_actor.hpp>

#include "messages/interfaces.hpp"
#include "src/observability/json_log.hpp"
#include "src/observability/metrics.hpp"

namespace embedrt {

struct event_observer_args {
  std::shared_ptr<observability::runtime_metrics> metrics;
  /// Null: no log.
  std::shared_ptr<observability::json_log> log;
  /// The host's callback; may be empty.
  std::function<void(const runtime_event&)> forward;
  supervisor_actor supervisor;
  /// Adds what only the host side counts (sheds before a message) to the counters.
  std::function<void(runtime_counters&)> adjust;
  /// 0: no timer.
  caf::timespan sync_period{0};
};

struct event_observer_state {
  static inline const char* name = "event_observer";
  event_observer_args args;
};

caf::behavior event_observer(caf::stateful_actor<event_observer_state>* self,
                             event_observer_args args);

} // namespace embedrt
