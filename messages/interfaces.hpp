// Typed actor handles: who may send what to whom, checked at compile time. The host's
// handle, `embedder_actor`, is public (<embedrt/embedder.hpp>); the dispatcher's full
// control interface (`dispatcher_actor`) and the components' handles are internal.
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
//   supervisor: spawns and monitors all of them; publishes runtime_event; tells the
//               dispatcher about restarted components (`*_replaced`, typed handles).
// clang-format on
#pragma once

#include <caf/fwd.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <embedrt/embedder.hpp>

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

// -- supervisor -> dispatcher: restarted components -------------------------------

/// The rate limiter was restarted; talk to `handle` from now on. Permits the
/// dispatcher waited for at the old one are asked again.
struct rate_limiter_replaced {
  rate_limiter_actor handle;
};

inline bool operator==(const rate_limiter_replaced& x, const rate_limiter_replaced& y) {
  return x.handle == y.handle;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, rate_limiter_replaced& x) {
  return f(caf::meta::type_name("rate_limiter_replaced"), x.handle);
}

/// The circuit breaker was restarted; talk to `handle` from now on. Checks the
/// dispatcher waited for at the old one are asked again.
struct circuit_breaker_replaced {
  circuit_breaker_actor handle;
};

inline bool operator==(const circuit_breaker_replaced& x,
                       const circuit_breaker_replaced& y) {
  return x.handle == y.handle;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, circuit_breaker_replaced& x) {
  return f(caf::meta::type_name("circuit_breaker_replaced"), x.handle);
}

/// The dispatcher as the runtime and the supervisor see it: the host's interface plus
/// callbacks of hosts that are not actors, shutdown and supervision. (HTTP pool
/// restarts need no message: new workers announce themselves, dead ones are seen as
/// down by the dispatcher, which monitors them.)
using dispatcher_actor = embedder_actor::extend<
  caf::reacts_to<host_embed>, caf::reacts_to<host_acquire_credit>,
  caf::replies_to<begin_shutdown>::with<shutdown_report>,
  caf::reacts_to<rate_limiter_replaced>, caf::reacts_to<circuit_breaker_replaced>,
  caf::reacts_to<availability_changed>, caf::reacts_to<lease_revoked>,
  caf::reacts_to<breaker_state_changed>>;

/// Asks the supervisor for the public entry point (`embedder_actor`).
using embedder_atom = caf::atom_constant<caf::atom("embedder")>;

/// Asks the supervisor for the dispatcher's internal handle (`dispatcher_actor`).
using dispatcher_atom = caf::atom_constant<caf::atom("dispatcher")>;

/// Spawns and monitors every other actor; the event hub.
using supervisor_actor = caf::typed_actor<
  caf::reacts_to<runtime_event>, caf::reacts_to<caf::subscribe_atom, caf::actor>,
  caf::reacts_to<caf::unsubscribe_atom, caf::actor>,
  caf::replies_to<caf::get_atom>::with<runtime_counters>,
  caf::replies_to<caf::get_atom, embedder_atom>::with<embedder_actor>,
  caf::replies_to<caf::get_atom, dispatcher_atom>::with<dispatcher_actor>,
  caf::reacts_to<crash_worker_for_test>>;

} // namespace embedrt
