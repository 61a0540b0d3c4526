// Dispatcher: the runtime's entry point (hosts see it as `embedder_actor`, the
// runtime and the supervisor as `dispatcher_actor`). A thin shell around
// `dispatch::dispatcher_core`: it numbers requests, keeps their reply channels (a CAF
// response promise or a host's one-shot callback), turns the core's effects into
// messages to the rate limiter, the circuit breaker and the HTTP workers, and feeds
// their answers and one timer back in. All timing goes through `self->clock()`.
//
// Data path: attempts go to the workers directly (routed by `dispatch::worker_router`,
// within each worker's capacity); results come back in batches. The dispatcher
// monitors every worker the pool announces, so a failed worker's attempts are
// answered (re-sent as retries) without waiting for anyone.
//
// Fast path (src/dispatch/fast_path.hpp): while the limiter's lease covers an attempt
// and its model's breaker is known closed (pushed by the breaker), the permit and the
// verdict are answered here: queued and fed to the core right after the core call
// that asked returns (never re-entering it). Breaker outcomes and permit feedback ride
// on the next slow-path check / permit request, or go out in batches within ~4 ms;
// a failed, slow or trial call's outcome and a 429's pause go at once, and a 429 drops
// the lease at once.
//
// Talks to its components with `request(..., infinite)` and tickets instead of CAF
// request timeouts: the core's own deadline heap bounds every wait, and CAF 0.17
// cancels request timeouts in linear time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <variant>
#include <vector>

#include <caf/typed_response_promise.hpp>

#include "actors/http_worker.hpp"
#include "messages/interfaces.hpp"
#include "src/dispatch/dispatcher_core.hpp"
#include "src/dispatch/fast_path.hpp"
#include "src/dispatch/worker_router.hpp"
#include "src/observability/metrics.hpp"
#include <embedrt/runtime_config.hpp>

namespace embedrt {

/// The dispatcher's full interface: the internal one (the public one included), what
/// the pool and workers send, and its timers.
using dispatcher_impl = dispatcher_actor::extend_with<call_sink_actor>::extend<
  caf::reacts_to<caf::tick_atom>, caf::reacts_to<caf::flush_atom>>;

struct dispatcher_args {
  runtime_config config;
  rate_limiter_actor limiter;
  circuit_breaker_actor breaker;
  event_sink_actor events;
  /// The runtime's admission gate; null: one of the core's own.
  std::shared_ptr<dispatch::admission_gate> gate;
  /// Null: nothing recorded (tests).
  std::shared_ptr<observability::runtime_metrics> metrics;
  /// Fast path knobs (tests turn parts off or widen the lease horizon).
  dispatch::fast_path_settings fast;
};

struct dispatcher_state {
  static inline const char* name = "dispatcher";

  using reply_channel = std::variant<caf::typed_response_promise<embed_result>,
                                     std::shared_ptr<embed_completion>>;
  using credit_channel = std::variant<caf::typed_response_promise<credit_grant>,
                                      std::shared_ptr<credit_completion>>;
  struct pending_reply {
    reply_channel channel;
    lane request_lane = lane::interactive;
    caf::actor_clock::time_point admitted;
  };

  rate_limiter_actor limiter;
  circuit_breaker_actor breaker;
  event_sink_actor events;
  std::shared_ptr<observability::runtime_metrics> metrics;
  std::unique_ptr<dispatch::effects> effects;
  std::unique_ptr<dispatch::dispatcher_core> core;
  dispatch::worker_router router;
  /// Router id (actor id) -> worker.
  std::unordered_map<uint64_t, http_worker_actor> workers;
  std::unordered_map<uint64_t, pending_reply> replies;
  std::unordered_map<uint64_t, credit_channel> credit_replies;
  /// Bulk credit held by actors (granted, not yet used or given back): their
  /// `embed_request`s take over a credit's place instead of entering the gate.
  std::unordered_map<uint64_t, caf::actor_addr> credit_askers;
  std::unordered_map<caf::actor_addr, uint32_t> credit_holders;
  std::optional<caf::typed_response_promise<shutdown_report>> shutdown;
  /// Reports waiting for a check / permit request to ride on.
  std::vector<call_outcome> pending_outcomes;
  std::vector<permit_feedback> pending_feedback;
  bool flush_armed = false;
  // -- fast path ----------------------------------------------------------------------
  dispatch::fast_path_settings fast;
  std::unique_ptr<dispatch::permit_lease_holder> lease;
  dispatch::breaker_view breakers;
  /// Answered here, fed to the core after the core call that asked returns.
  std::vector<permit_decision> local_permits;
  std::vector<breaker_verdict> local_verdicts;
  /// Scratch buffers swapped with the two above while they are fed.
  std::vector<permit_decision> permits_feeding;
  std::vector<breaker_verdict> verdicts_feeding;
  bool settling = false;
  uint64_t next_id = 1;
  caf::actor_clock::time_point tick_at = caf::actor_clock::time_point::max();
};

dispatcher_impl::behavior_type
dispatcher(dispatcher_impl::stateful_pointer<dispatcher_state> self,
           dispatcher_args args);

} // namespace embedrt
