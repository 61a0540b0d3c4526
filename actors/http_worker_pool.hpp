// HTTP worker pool: spreads attempts over its workers and supervises them (it is the
// workers' supervisor in the OTP sense). Every `http_call` is answered exactly once:
// with the worker's result, with `worker_failed` when the worker carrying it died, or
// with `expired` when it waited for a worker past its deadline.
//
// Limits: at most `http_pool.max_connections` attempts on the wire over all workers
// (each worker gets a share); the dispatcher never sends more than that (credit), so
// the pool's own queue only holds calls whose worker is restarting.
//
// Failed workers are restarted after a jittered, growing backoff. More than
// `max_worker_restarts` within `restart_window_ms` and the pool fails as a whole
// (after answering everything it holds), for the supervisor to decide.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <unordered_map>
#include <vector>

#include <caf/typed_response_promise.hpp>

#include "actors/http_worker.hpp"
#include "config/runtime_config.hpp"
#include "messages/interfaces.hpp"
#include "src/http/transport.hpp"
#include "src/policy/backoff.hpp"
#include "src/policy/restart_intensity.hpp"

namespace embedrt {

/// The pool's full interface: the public one plus its workers' results and its timers.
using http_pool_impl
  = http_pool_actor::extend<caf::reacts_to<http_call_result>,
                            caf::reacts_to<caf::spawn_atom, uint32_t, uint64_t>,
                            caf::reacts_to<caf::tick_atom>>;

struct http_pool_args {
  http_pool_config pool;
  supervision_config supervision;
  /// Holds the API key: never printed, never put in a message.
  http::transport_settings transport;
  http::transport_factory make_transport;
  event_sink_actor events;
  uint64_t seed = 0;
};

struct http_pool_state {
  static inline const char* name = "http_worker_pool";

  struct worker_slot {
    http_worker_actor handle;
    uint32_t capacity = 0;
    uint32_t in_flight = 0;
    /// Failures since the last successful result, for the growing backoff.
    uint32_t consecutive_failures = 0;
    /// Distinguishes restart timers of successive incarnations.
    uint64_t epoch = 0;
    bool alive = false;
  };

  struct pending_call {
    caf::typed_response_promise<http_call_result> promise;
    uint32_t worker = 0;
  };

  struct queued_call {
    http_call call;
    caf::typed_response_promise<http_call_result> promise;
  };

  http_pool_args args;
  std::vector<worker_slot> workers;
  std::unordered_map<uint64_t, pending_call> calls;
  std::deque<queued_call> queue;
  std::unique_ptr<policy::restart_intensity> intensity;
  std::unique_ptr<policy::backoff_policy> backoff;
  policy::rng_type rng;
  caf::actor_clock::time_point tick_at = caf::actor_clock::time_point::max();
  runtime_counters counters;

  /// Stops the workers with the pool (they hold curl threads).
  ~http_pool_state();
};

http_pool_impl::behavior_type
http_worker_pool(http_pool_impl::stateful_pointer<http_pool_state> self,
                 http_pool_args args);

} // namespace embedrt
