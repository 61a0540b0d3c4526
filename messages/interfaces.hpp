// Typed actor handles: who may send what to whom, checked at compile time.
//
//   host ──embed_request──▶ dispatcher ──acquire_permit──▶ rate_limiter
//                               │        ──breaker_check──▶ circuit_breaker
//                               │        ──http_call──────▶ http_worker_pool ──▶
//                               http_worker ◀──── http_call_result ─────────┘    (curl
//                               multi thread)
//   supervisor: spawns and monitors all of them; publishes runtime_event to
//   subscribers.
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
                     caf::reacts_to<permit_feedback>,
                     caf::replies_to<caf::get_atom>::with<runtime_counters>>;

/// Closed / open / half-open gate for one upstream endpoint and model.
using circuit_breaker_actor
  = caf::typed_actor<caf::replies_to<breaker_check>::with<breaker_verdict>,
                     caf::reacts_to<call_outcome>,
                     caf::replies_to<caf::get_atom>::with<runtime_counters>>;

/// Spreads attempts over its workers; answers every call exactly once.
using http_pool_actor
  = caf::typed_actor<caf::replies_to<http_call>::with<http_call_result>,
                     caf::reacts_to<crash_worker_for_test>,
                     caf::replies_to<caf::get_atom>::with<runtime_counters>>;

/// The public entry point: admission, micro-batching, retries, deadlines.
using embedder_actor = caf::typed_actor<
  caf::replies_to<embed_request>::with<embed_result>, caf::reacts_to<host_embed>,
  caf::replies_to<acquire_credit>::with<credit_grant>,
  caf::reacts_to<host_acquire_credit>, caf::reacts_to<release_credit>,
  caf::replies_to<begin_shutdown>::with<shutdown_report>,
  caf::reacts_to<component_replaced>, caf::reacts_to<availability_changed>,
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
