// HTTP worker pool: the workers' supervisor (OTP sense). It spawns
// `http_pool.workers` workers, gives each a share of `http_pool.max_connections`,
// announces each one to the dispatcher (`worker_joined`), and restarts failed ones
// after a jittered, growing backoff. The dispatcher sends attempts to the workers
// directly and monitors them, so the pool stays off the data path and nothing it
// holds can be lost: when a worker fails, the dispatcher answers (re-sends) what it
// carried.
//
// More than `max_worker_restarts` within `restart_window_ms` and the pool fails as a
// whole (taking its workers with it), for the supervisor to decide.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "actors/http_worker.hpp"
#include "messages/interfaces.hpp"
#include "src/http/transport.hpp"
#include "src/policy/backoff.hpp"
#include "src/policy/restart_intensity.hpp"
#include <embedrt/runtime_config.hpp>

namespace embedrt {

/// The pool's full interface: the public one plus its restart timer.
using http_pool_impl
  = http_pool_actor::extend<caf::reacts_to<caf::spawn_atom, uint32_t, uint64_t>>;

struct http_pool_args {
  http_pool_config pool;
  supervision_config supervision;
  /// Holds the API key: never printed, never put in a message.
  http::transport_settings transport;
  http::transport_factory make_transport;
  /// Receives `worker_joined` and the workers' results.
  call_sink_actor dispatcher;
  event_sink_actor events;
  uint64_t seed = 0;
  /// Totals that outlive the pool: a new pool starts from what the last one handed
  /// over when its state went (CAF destroys the state before telling the monitors).
  std::shared_ptr<runtime_counters> carried;
};

struct http_pool_state {
  static inline const char* name = "http_worker_pool";

  struct worker_slot {
    http_worker_actor handle;
    uint32_t capacity = 0;
    /// Failures in a row (reset when a restart holds for restart_reset_after_ms).
    uint32_t consecutive_failures = 0;
    /// Distinguishes restart timers of successive incarnations.
    uint64_t epoch = 0;
    caf::actor_clock::time_point started;
  };

  http_pool_args args;
  std::vector<worker_slot> workers;
  std::unique_ptr<policy::restart_intensity> intensity;
  std::unique_ptr<policy::backoff_policy> backoff;
  policy::rng_type rng;
  runtime_counters counters;

  /// Stops the workers with the pool (they hold curl threads).
  ~http_pool_state();
};

http_pool_impl::behavior_type
http_worker_pool(http_pool_impl::stateful_pointer<http_pool_state> self,
                 http_pool_args args);

} // namespace embedrt
