// Supervisor: spawns the rate limiter, circuit breaker, HTTP worker pool and
// dispatcher, monitors them, and is the hub for `runtime_event`s. The pool supervises
// its own workers; when it fails as a whole (worker restart intensity exceeded) the
// supervisor restarts it, and past `max_pool_restarts` within `pool_restart_window_ms`
// it declares the runtime unavailable (callers get `runtime_unavailable` at once)
// instead of crash-looping. A restarted limiter or breaker starts with fresh state.
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
#include "config/runtime_config.hpp"
#include "messages/interfaces.hpp"
#include "src/http/transport.hpp"
#include "src/policy/restart_intensity.hpp"

namespace embedrt {

struct supervisor_args {
  runtime_config config;
  /// Holds the API key: never printed, never put in a message.
  http::transport_settings transport;
  http::transport_factory make_transport;
  /// The budget shared through Redis (`rate_limiter.shared_store`); none: local only.
  std::optional<shared_budget_args> shared_budget;
};

struct supervisor_state {
  static inline const char* name = "supervisor";
  supervisor_args args;
  rate_limiter_actor limiter;
  circuit_breaker_actor breaker;
  http_pool_actor pool;
  embedder_actor dispatcher;
  std::vector<caf::actor> subscribers;
  std::unique_ptr<policy::restart_intensity> pool_intensity;
  bool available = true;
  uint64_t pool_incarnation = 0;
  runtime_counters counters;

  /// Stops every child with the supervisor.
  ~supervisor_state();
};

supervisor_actor::behavior_type
supervisor(supervisor_actor::stateful_pointer<supervisor_state> self,
           supervisor_args args);

} // namespace embedrt
