// Typed actor handles: who may send what to whom, checked at compile time.
//
// clang-format off
//   host --embed_request--> dispatcher --acquire_permit--> rate_limiter (slow path)
//                              |        --lease_request--> rate_limiter (fast path:
//                              |             a block of permits; <--lease_revoked--)
//                              |        --breaker_check---> circuit_breaker (unless
//                              |             closed; <--breaker_state_changed-- pushed)
//                              |        --http_call-------> http_worker (curl multi thread)
//                              <------- http_call_results ------'
//   http_worker_pool: spawns, supervises and announces the workers (worker_joined).
//   supervisor: spawns and monitors all of them; publishes runtime_event.
// clang-format on
#pragma once

#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "messages/host.hpp"
#include "messages/type_ids.hpp"

namespace embedrt {

/// Receives `runtime_event`s (the supervisor, or a host's subscriber).
using event_sink_actor = caf::typed_actor<caf::reacts_to<runtime_event>>;

/// Requests and tokens per minute; answers permits in FIFO order.
using rate_limiter_actor
  = caf::typed_actor<caf::replies_to<acquire_permit>::with<permit_decision>,
                     caf::replies_to<lease_request>::with<permit_lease>,
                     caf::reacts_to<feedback_report>,
                     caf::replies_to<caf::get_atom>::with<runtime_counters>>;

/// Holds a lease of the rate limiter (the dispatcher): told when it is revoked.
using lease_holder_actor = caf::typed_actor<caf::reacts_to<lease_revoked>>;

/// Subscribed to the circuit breaker (the dispatcher): told of every transition.
using breaker_listener_actor = caf::typed_actor<caf::reacts_to<breaker_state_changed>>;

/// Closed / open / half-open gate for one upstream endpoint and model.
using circuit_breaker_actor
  = caf::typed_actor<caf::replies_to<breaker_check>::with<breaker_verdict>,
                     caf::reacts_to<outcome_report>,
                     caf::reacts_to<caf::subscribe_atom>,
                     caf::replies_to<caf::get_atom>::with<runtime_counters>>;

/// Spawns and supervises the HTTP workers and announces them to the dispatcher, which
/// sends them attempts directly (the pool is the control plane, not the data path).
using http_pool_actor
  = caf::typed_actor<caf::reacts_to<crash_worker_for_test>,
                     caf::replies_to<caf::get_atom>::with<runtime_counters>>;

/// The dispatcher as the pool and the workers see it: announcements of workers, and
/// results of the attempts it sent them.
using call_sink_actor
  = caf::typed_actor<caf::reacts_to<http_call_results>, caf::reacts_to<worker_joined>>;

/// The public entry point: admission, micro-batching, retries, deadlines.
using embedder_actor = caf::typed_actor<
  caf::replies_to<embed_request>::with<embed_result>, caf::reacts_to<host_embed>,
  caf::replies_to<acquire_credit>::with<credit_grant>,
  caf::reacts_to<host_acquire_credit>, caf::reacts_to<release_credit>,
  caf::replies_to<begin_shutdown>::with<shutdown_report>,
  caf::reacts_to<component_replaced>, caf::reacts_to<availability_changed>,
  caf::reacts_to<lease_revoked>, caf::reacts_to<breaker_state_changed>,
  caf::replies_to<caf::get_atom>::with<runtime_counters>>;

/// Asks the supervisor for the entry point.
using embedder_atom = caf::atom_constant<caf::atom("embedder")>;

/// Spawns and monitors every other actor; the event hub.
using supervisor_actor = caf::typed_actor<
  caf::reacts_to<runtime_event>, caf::reacts_to<caf::subscribe_atom, caf::actor>,
  caf::reacts_to<caf::unsubscribe_atom, caf::actor>,
  caf::replies_to<caf::get_atom>::with<runtime_counters>,
  caf::replies_to<caf::get_atom, embedder_atom>::with<embedder_actor>,
  caf::reacts_to<crash_worker_for_test>>;

} // namespace embedrt
