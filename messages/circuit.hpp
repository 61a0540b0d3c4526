// Protocol of the circuit breaker (one per upstream endpoint and model).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

namespace embedrt {

enum class breaker_state : uint8_t { closed = 0, open = 1, half_open = 2 };

const char* to_string(breaker_state x);

enum class call_result : uint8_t {
  /// A usable response.
  success = 0,
  /// 5xx, timeout or connection error: counts toward opening.
  failure,
  /// 429 or another 4xx, or a bad body: says nothing about availability.
  ignored,
  /// The allowed call never went out (deadline, shutdown): releases a trial permit.
  cancelled,
};

const char* to_string(call_result x);

/// Reports the outcome of every call the breaker allowed, exactly once.
struct call_outcome {
  /// The model of the `breaker_check`.
  std::string model;
  /// The verdict's generation.
  uint64_t generation = 0;
  /// Whether the verdict was `allowed_trial`.
  bool trial = false;
  call_result result = call_result::success;
  /// Time on the wire; calls slower than `slow_call_ms` count as failures.
  caf::timespan duration{0};
};

inline bool operator==(const call_outcome& x, const call_outcome& y) {
  return x.model == y.model && x.generation == y.generation && x.trial == y.trial
         && x.result == y.result && x.duration == y.duration;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_outcome& x) {
  return f(caf::meta::type_name("call_outcome"), x.model, x.generation, x.trial,
           x.result, x.duration);
}

/// May one upstream call go out now?
struct breaker_check {
  /// Chosen by the requester, echoed in the verdict.
  uint64_t ticket = 0;
  /// Which breaker: the model (the endpoint is fixed per runtime, so one state
  /// machine per model is one per endpoint and model).
  std::string model;
  /// Outcomes of earlier calls, piggybacked so steady load needs no extra message;
  /// recorded before this check is decided.
  std::vector<call_outcome> outcomes;
};

inline bool operator==(const breaker_check& x, const breaker_check& y) {
  return x.ticket == y.ticket && x.model == y.model && x.outcomes == y.outcomes;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, breaker_check& x) {
  return f(caf::meta::type_name("breaker_check"), x.ticket, x.model, x.outcomes);
}

/// Outcomes that found no check to ride on (sent in batches at most ~4 ms late; a
/// failure, slow call or trial at once).
struct outcome_report {
  std::vector<call_outcome> outcomes;
};

inline bool operator==(const outcome_report& x, const outcome_report& y) {
  return x.outcomes == y.outcomes;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, outcome_report& x) {
  return f(caf::meta::type_name("outcome_report"), x.outcomes);
}

enum class breaker_decision : uint8_t {
  /// Closed: go.
  allowed = 0,
  /// Half-open: go, as one of the K trial calls.
  allowed_trial,
  /// Open: do not call; `retry_at` says when the breaker half-opens.
  rejected_open,
  /// Half-open and all trial permits are out: wait for their outcome.
  rejected_half_open_busy,
};

const char* to_string(breaker_decision x);

struct breaker_verdict {
  uint64_t ticket = 0;
  breaker_decision decision = breaker_decision::allowed;
  /// Identifies the breaker period the verdict belongs to; outcomes must quote it so
  /// late results from an earlier period are ignored.
  uint64_t generation = 0;
  /// For `rejected_open`: when the breaker half-opens.
  caf::actor_clock::time_point retry_at;
};

inline bool operator==(const breaker_verdict& x, const breaker_verdict& y) {
  return x.ticket == y.ticket && x.decision == y.decision
         && x.generation == y.generation && x.retry_at == y.retry_at;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, breaker_verdict& x) {
  return f(caf::meta::type_name("breaker_verdict"), x.ticket, x.decision, x.generation,
           x.retry_at);
}

/// Pushed by the circuit breaker to its subscriber on every transition of `model`'s
/// breaker (fast path: while closed, the dispatcher allows calls without asking).
struct breaker_state_changed {
  std::string model;
  breaker_state state = breaker_state::closed;
  /// The generation outcomes of calls allowed from now on quote.
  uint64_t generation = 0;
};

inline bool operator==(const breaker_state_changed& x, const breaker_state_changed& y) {
  return x.model == y.model && x.state == y.state && x.generation == y.generation;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, breaker_state_changed& x) {
  return f(caf::meta::type_name("breaker_state_changed"), x.model, x.state,
           x.generation);
}

} // namespace embedrt
