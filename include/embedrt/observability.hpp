// What a host can observe: counters (pulled with `get_atom`) and events (pushed to
// subscribers).
#pragma once

#include <cstdint>
#include <string>

#include <caf/actor_clock.hpp>
#include <caf/meta/type_name.hpp>

namespace embedrt {

/// Every counter of the runtime. Each actor fills the fields of its own domain; the
/// supervisor adds them up. Names follow `<noun>_<past-verb>[_reason]`.
struct runtime_counters {
  // -- admission and answers (dispatcher) ----------------------------------------
  uint64_t requests_admitted = 0;
  uint64_t requests_succeeded = 0;
  uint64_t requests_failed_invalid_input = 0;
  /// Requests shed because their lane was full (the admission gate: host-side and
  /// dispatcher-side alike); never admitted.
  uint64_t requests_shed_overloaded = 0;
  /// Admitted requests answered `overloaded` because the rate limiter's queue was full.
  uint64_t requests_shed_limiter_queue_full = 0;
  uint64_t requests_failed_circuit_open = 0;
  uint64_t requests_failed_rate_limited = 0;
  uint64_t requests_failed_deadline_exceeded = 0;
  uint64_t requests_failed_upstream_rejected = 0;
  uint64_t requests_failed_upstream_unavailable = 0;
  uint64_t requests_failed_bad_response = 0;
  uint64_t requests_failed_shutting_down = 0;
  uint64_t requests_failed_worker_failed = 0;
  uint64_t requests_failed_runtime_unavailable = 0;
  uint64_t texts_deduplicated = 0;
  uint64_t credits_granted = 0;
  // -- upstream attempts (dispatcher) ---------------------------------------------
  uint64_t upstream_requests_formed = 0;
  uint64_t attempts_started = 0;
  uint64_t attempts_retried = 0;
  uint64_t attempts_redispatched_worker_failed = 0;
  uint64_t retries_denied_budget = 0;
  uint64_t batches_split_rejected = 0;
  uint64_t waits_circuit_open = 0;
  /// Vectors refused on their own inside a usable response (wrong length, NaN, bad
  /// base64): each is re-sent alone or failed `bad_response`.
  uint64_t vectors_refused = 0;
  /// Vectors of a length not yet confirmed (no `dimensions`): held, never delivered
  /// until agreement confirms their length.
  uint64_t vectors_held_unconfirmed = 0;
  /// 2xx responses carrying the other encoding than asked (floats for base64 or the
  /// reverse); decoded and used all the same.
  uint64_t responses_encoding_mismatch = 0;
  // -- rate limiter -------------------------------------------------------------
  uint64_t permits_granted = 0;
  uint64_t permits_denied_queue_full = 0;
  uint64_t permits_denied_deadline = 0;
  uint64_t grants_paused_rate_limited = 0;
  /// `usage.prompt_tokens` reports above a few times the reservation, clamped.
  uint64_t usage_reports_clamped = 0;
  /// Calls to the shared budget's store (Redis), failed ones, and switches to the
  /// local share because of them.
  uint64_t shared_store_calls = 0;
  uint64_t shared_store_failures = 0;
  uint64_t shared_budget_fallbacks = 0;
  // -- circuit breaker ----------------------------------------------------------
  uint64_t breaker_opened = 0;
  uint64_t breaker_half_opened = 0;
  uint64_t breaker_closed = 0;
  uint64_t calls_rejected_circuit_open = 0;
  // -- pool, workers and transport ----------------------------------------------
  uint64_t calls_completed = 0;
  uint64_t calls_expired_in_flight = 0;
  uint64_t workers_failed = 0;
  uint64_t workers_restarted = 0;
  uint64_t pools_restarted = 0;
  uint64_t connections_opened = 0;
  uint64_t responses_2xx = 0;
  uint64_t responses_429 = 0;
  uint64_t responses_4xx_other = 0;
  uint64_t responses_5xx = 0;

  /// Adds every field of `other` to this.
  runtime_counters& operator+=(const runtime_counters& other);

  /// Calls `f(name, value)` for every field, in declaration order.
  template<class F>
  void for_each(F&& f) const;
};

bool operator==(const runtime_counters& x, const runtime_counters& y);

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, runtime_counters& x) {
  return f(caf::meta::type_name("runtime_counters"), x.requests_admitted,
           x.requests_succeeded, x.requests_failed_invalid_input,
           x.requests_shed_overloaded, x.requests_shed_limiter_queue_full,
           x.requests_failed_circuit_open, x.requests_failed_rate_limited,
           x.requests_failed_deadline_exceeded, x.requests_failed_upstream_rejected,
           x.requests_failed_upstream_unavailable, x.requests_failed_bad_response,
           x.requests_failed_shutting_down, x.requests_failed_worker_failed,
           x.requests_failed_runtime_unavailable, x.texts_deduplicated,
           x.credits_granted, x.upstream_requests_formed, x.attempts_started,
           x.attempts_retried, x.attempts_redispatched_worker_failed,
           x.retries_denied_budget, x.batches_split_rejected, x.waits_circuit_open,
           x.vectors_refused, x.vectors_held_unconfirmed, x.responses_encoding_mismatch,
           x.permits_granted, x.permits_denied_queue_full, x.permits_denied_deadline,
           x.grants_paused_rate_limited, x.usage_reports_clamped, x.shared_store_calls,
           x.shared_store_failures, x.shared_budget_fallbacks, x.breaker_opened,
           x.breaker_half_opened, x.breaker_closed, x.calls_rejected_circuit_open,
           x.calls_completed, x.calls_expired_in_flight, x.workers_failed,
           x.workers_restarted, x.pools_restarted, x.connections_opened,
           x.responses_2xx, x.responses_429, x.responses_4xx_other, x.responses_5xx);
}

template<class F>
void runtime_counters::for_each(F&& f) const {
  // Keep in the order of the declaration; a test checks the count against sizeof.
  f("requests_admitted", requests_admitted);
  f("requests_succeeded", requests_succeeded);
  f("requests_failed_invalid_input", requests_failed_invalid_input);
  f("requests_shed_overloaded", requests_shed_overloaded);
  f("requests_shed_limiter_queue_full", requests_shed_limiter_queue_full);
  f("requests_failed_circuit_open", requests_failed_circuit_open);
  f("requests_failed_rate_limited", requests_failed_rate_limited);
  f("requests_failed_deadline_exceeded", requests_failed_deadline_exceeded);
  f("requests_failed_upstream_rejected", requests_failed_upstream_rejected);
  f("requests_failed_upstream_unavailable", requests_failed_upstream_unavailable);
  f("requests_failed_bad_response", requests_failed_bad_response);
  f("requests_failed_shutting_down", requests_failed_shutting_down);
  f("requests_failed_worker_failed", requests_failed_worker_failed);
  f("requests_failed_runtime_unavailable", requests_failed_runtime_unavailable);
  f("texts_deduplicated", texts_deduplicated);
  f("credits_granted", credits_granted);
  f("upstream_requests_formed", upstream_requests_formed);
  f("attempts_started", attempts_started);
  f("attempts_retried", attempts_retried);
  f("attempts_redispatched_worker_failed", attempts_redispatched_worker_failed);
  f("retries_denied_budget", retries_denied_budget);
  f("batches_split_rejected", batches_split_rejected);
  f("waits_circuit_open", waits_circuit_open);
  f("vectors_refused", vectors_refused);
  f("vectors_held_unconfirmed", vectors_held_unconfirmed);
  f("responses_encoding_mismatch", responses_encoding_mismatch);
  f("permits_granted", permits_granted);
  f("permits_denied_queue_full", permits_denied_queue_full);
  f("permits_denied_deadline", permits_denied_deadline);
  f("grants_paused_rate_limited", grants_paused_rate_limited);
  f("usage_reports_clamped", usage_reports_clamped);
  f("shared_store_calls", shared_store_calls);
  f("shared_store_failures", shared_store_failures);
  f("shared_budget_fallbacks", shared_budget_fallbacks);
  f("breaker_opened", breaker_opened);
  f("breaker_half_opened", breaker_half_opened);
  f("breaker_closed", breaker_closed);
  f("calls_rejected_circuit_open", calls_rejected_circuit_open);
  f("calls_completed", calls_completed);
  f("calls_expired_in_flight", calls_expired_in_flight);
  f("workers_failed", workers_failed);
  f("workers_restarted", workers_restarted);
  f("pools_restarted", pools_restarted);
  f("connections_opened", connections_opened);
  f("responses_2xx", responses_2xx);
  f("responses_429", responses_429);
  f("responses_4xx_other", responses_4xx_other);
  f("responses_5xx", responses_5xx);
}

/// What happened, in the past tense.
enum class event_kind : uint8_t {
  /// The circuit breaker changed state; `detail` is e.g. "closed->open".
  breaker_transitioned = 0,
  /// A 429 paused all grants; `detail` gives the pause.
  grants_paused,
  /// The retry budget refused a retry.
  retry_budget_exhausted,
  /// A worker failed; `detail` gives the reason.
  worker_failed,
  /// A failed worker was restarted; `detail` gives the backoff.
  worker_restarted,
  /// Workers failed past the restart intensity; the pool was restarted as a whole.
  pool_restarted,
  /// The pool failed past its restart intensity: the runtime refuses work (for a
  /// pause before the pool restarts, or for good with `supervision.give_up`).
  runtime_unavailable,
  /// The upstream kept answering float arrays to `encoding_format=base64` (or the
  /// reverse): from now on it is asked for what it sends; `detail` says which.
  encoding_switched,
  /// The runtime began to stop.
  shutdown_started,
  /// The pool is back after a pause: the runtime accepts work again.
  runtime_available,
  /// The shared budget's store is unreachable, slow or failing: this process limits
  /// itself to its local share; `detail` says why.
  shared_budget_fallback,
  /// The store answers again: this process shares the budget again.
  shared_budget_rejoined,
};

const char* to_string(event_kind x);

/// An event published to every subscriber of the supervisor.
struct runtime_event {
  event_kind kind = event_kind::breaker_transitioned;
  /// Which component: e.g. "circuit_breaker", "http_worker_pool", "worker 1".
  std::string source;
  /// Machine-readable detail, e.g. "closed->open".
  std::string detail;
  /// When, on the actor clock.
  caf::actor_clock::time_point at;
};

inline bool operator==(const runtime_event& x, const runtime_event& y) {
  return x.kind == y.kind && x.source == y.source && x.detail == y.detail
         && x.at == y.at;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, runtime_event& x) {
  return f(caf::meta::type_name("runtime_event"), x.kind, x.source, x.detail, x.at);
}

} // namespace embedrt
