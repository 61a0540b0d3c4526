// The error vocabulary every caller sees. Each value says why a request ended without
// vectors; the message carried next to it says what exactly (never a secret).
#pragma once

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>
#include <caf/meta/type_name.hpp>

namespace embedrt {

enum class embed_errc : uint8_t {
  none = 0,
  /// Rejected before the network: empty or whitespace-only text, text over the byte
  /// or token limit, an unknown option value. The message names the input.
  invalid_input,
  /// The caller's admission lane is full; shed at once instead of queueing unbounded.
  overloaded,
  /// The circuit breaker for this endpoint and model is open (fail-fast callers).
  circuit_open,
  /// The upstream (429 + Retry-After above the cap) or our own limiter cannot serve
  /// the request before its deadline.
  rate_limited,
  /// The request's overall deadline passed (queues, attempts and backoff included).
  deadline_exceeded,
  /// A 4xx that cannot succeed on retry (400, 401, 403, 404, 413, 422, ...).
  upstream_rejected,
  /// 5xx, timeouts or connection failures, still failing after the allowed retries
  /// (or the retry budget was spent).
  upstream_unavailable,
  /// The response broke the contract: bad JSON, wrong count, bad index, wrong
  /// dimension, a non-finite value, an embedding of the wrong type.
  bad_response,
  /// The runtime is stopping; the request was not (or no longer) admitted.
  shutting_down,
  /// The worker carrying the request failed and the request could not be re-sent.
  worker_failed,
  /// Workers keep failing past the restart intensity; the runtime refuses work
  /// instead of crash-looping.
  runtime_unavailable,
};

/// Returns the enum value's name, e.g. "circuit_open".
const char* to_string(embed_errc x);

/// Parses a name produced by `to_string`; returns false for unknown names.
bool from_string(const std::string& name, embed_errc& x);

/// A failure as carried inside the runtime and handed to hosts that are not actors.
struct embed_failure {
  /// Why the request failed.
  embed_errc code = embed_errc::none;
  /// What exactly failed, for people (e.g. "input 3 is empty"). Never holds a secret.
  std::string message;
  /// The HTTP status of the last upstream attempt, 0 when there was none.
  uint16_t upstream_status = 0;
};

inline bool operator==(const embed_failure& x, const embed_failure& y) {
  return x.code == y.code && x.message == y.message
         && x.upstream_status == y.upstream_status;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, embed_failure& x) {
  return f(caf::meta::type_name("embed_failure"), x.code, x.message, x.upstream_status);
}

/// The CAF error category atom of `embed_errc` errors.
constexpr caf::atom_value embed_error_category = caf::atom("embedrt");

/// Converts to the `caf::error` answered to CAF callers: code `x.code`, context
/// `(message, upstream_status)`.
caf::error to_error(const embed_failure& x);

/// Converts back; errors of other categories become `worker_failed` with CAF's text.
embed_failure to_failure(const caf::error& x);

/// Renders `embed_errc` errors for CAF's `to_string(error)`; registered by
/// `add_embedrt_types`.
std::string render_embed_error(uint8_t code, caf::atom_value category,
                               const caf::message& context);

} // namespace embedrt

CAF_ERROR_CODE_ENUM(embedrt::embed_errc, "embedrt")
