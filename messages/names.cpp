// Names of the protocol's enum values, as they appear in logs, events and tests.
#include "messages/circuit.hpp"
#include "messages/http.hpp"
#include "messages/lifecycle.hpp"
#include "messages/rate_limit.hpp"
#include <embedrt/embedding.hpp>
#include <embedrt/observability.hpp>

namespace embedrt {

namespace {

template<size_t N>
const char* name_of(const char* const (&names)[N], size_t i) {
  return i < N ? names[i] : "unknown";
}

} // namespace

const char* to_string(lane x) {
  static constexpr const char* names[] = {"interactive", "bulk"};
  return name_of(names, static_cast<size_t>(x));
}

const char* to_string(open_circuit_policy x) {
  static constexpr const char* names[] = {"lane_default", "fail_fast", "wait"};
  return name_of(names, static_cast<size_t>(x));
}

const char* to_string(encoding_format x) {
  static constexpr const char* names[] = {"base64", "float"};
  return name_of(names, static_cast<size_t>(x));
}

const char* to_string(permit_status x) {
  static constexpr const char* names[] = {"granted", "denied_queue_full",
                                          "denied_deadline", "denied_shutting_down"};
  return name_of(names, static_cast<size_t>(x));
}

const char* to_string(breaker_state x) {
  static constexpr const char* names[] = {"closed", "open", "half_open"};
  return name_of(names, static_cast<size_t>(x));
}

const char* to_string(breaker_decision x) {
  static constexpr const char* names[] = {"allowed", "allowed_trial", "rejected_open",
                                          "rejected_half_open_busy"};
  return name_of(names, static_cast<size_t>(x));
}

const char* to_string(call_result x) {
  static constexpr const char* names[] = {"success", "failure", "ignored", "cancelled"};
  return name_of(names, static_cast<size_t>(x));
}

const char* to_string(attempt_status x) {
  static constexpr const char* names[] = {
    "succeeded",       "http_error",   "connect_failed",  "timed_out",
    "connection_lost", "bad_response", "transport_error", "worker_failed",
    "expired",         "tls_rejected", "too_large",
  };
  return name_of(names, static_cast<size_t>(x));
}

const char* to_string(event_kind x) {
  static constexpr const char* names[] = {
    "breaker_transitioned", "grants_paused",          "retry_budget_exhausted",
    "worker_failed",        "worker_restarted",       "pool_restarted",
    "runtime_unavailable",  "encoding_switched",      "shutdown_started",
    "runtime_available",    "shared_budget_fallback", "shared_budget_rejoined",
  };
  return name_of(names, static_cast<size_t>(x));
}

const char* to_string(component_kind x) {
  static constexpr const char* names[] = {"rate_limiter", "circuit_breaker",
                                          "http_pool"};
  return name_of(names, static_cast<size_t>(x));
}

} // namespace embedrt
