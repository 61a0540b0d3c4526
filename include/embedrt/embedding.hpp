// The public request/reply protocol: what a host sends to embed texts and what it gets.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

namespace embedrt {

/// Admission lane. Interactive requests (a user's query) go ahead of queued bulk work;
/// bulk keeps a configured minimum share. Each lane has its own bound.
enum class lane : uint8_t { interactive = 0, bulk = 1 };

const char* to_string(lane x);

/// What a request does when the circuit breaker is open.
enum class open_circuit_policy : uint8_t {
  /// Interactive: fail fast. Bulk: wait.
  lane_default = 0,
  /// Answer `circuit_open` at once, without network traffic.
  fail_fast = 1,
  /// Wait for the half-open outcome, within the deadline; a request turned away by an
  /// open breaker has not spent an attempt.
  wait = 2,
};

const char* to_string(open_circuit_policy x);

/// The wire format asked of the upstream; `base64` is decoded to float32.
enum class encoding_format : uint8_t { base64 = 0, float_array = 1 };

/// "base64" or "float" (the API's spelling).
const char* to_string(encoding_format x);

/// Per-call options; every field has a "use the configured default" value.
struct embed_options {
  /// Model name; empty: `embedrt.endpoint.model`.
  std::string model;
  /// Output dimensions sent as `dimensions`; 0: `embedrt.endpoint.dimensions`.
  uint32_t dimensions = 0;
  /// Overall deadline, counted from admission, covering queues, every attempt and
  /// every backoff; 0: `embedrt.request.timeout_ms`.
  caf::timespan timeout{0};
  /// Admission lane.
  embedrt::lane priority = embedrt::lane::interactive;
  /// Behaviour while the circuit breaker is open.
  open_circuit_policy on_open_circuit = open_circuit_policy::lane_default;
};

inline bool operator==(const embed_options& x, const embed_options& y) {
  return x.model == y.model && x.dimensions == y.dimensions && x.timeout == y.timeout
         && x.priority == y.priority && x.on_open_circuit == y.on_open_circuit;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, embed_options& x) {
  return f(caf::meta::type_name("embed_options"), x.model, x.dimensions, x.timeout,
           x.priority, x.on_open_circuit);
}

/// Embed one or more texts. Answered exactly once, before the deadline, with an
/// `embed_result` or an `embed_errc` error.
struct embed_request {
  /// The inputs; results come back in this order.
  std::vector<std::string> texts;
  /// Per-call options.
  embed_options options;
};

inline bool operator==(const embed_request& x, const embed_request& y) {
  return x.texts == y.texts && x.options == y.options;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, embed_request& x) {
  return f(caf::meta::type_name("embed_request"), x.texts, x.options);
}

/// Token accounting as reported by the upstream. When texts of several callers share
/// one upstream request (micro-batching, dedup), each caller gets a share proportional
/// to its texts' bytes.
struct embedding_usage {
  uint64_t prompt_tokens = 0;
  uint64_t total_tokens = 0;
};

inline bool operator==(const embedding_usage& x, const embedding_usage& y) {
  return x.prompt_tokens == y.prompt_tokens && x.total_tokens == y.total_tokens;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, embedding_usage& x) {
  return f(caf::meta::type_name("embedding_usage"), x.prompt_tokens, x.total_tokens);
}

/// The answer to a successful `embed_request`.
struct embed_result {
  /// One vector per input text, in input order.
  std::vector<std::vector<float>> embeddings;
  /// Tokens used (see `embedding_usage`).
  embedding_usage usage;
  /// The model that produced the vectors.
  std::string model;
};

inline bool operator==(const embed_result& x, const embed_result& y) {
  return x.embeddings == y.embeddings && x.usage == y.usage && x.model == y.model;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, embed_result& x) {
  return f(caf::meta::type_name("embed_result"), x.embeddings, x.usage, x.model);
}

/// Asks for bulk credit: permission to have up to `max_requests` more bulk requests
/// admitted. Answered with a `credit_grant` of at least one request as soon as the
/// bulk lane has room (the bulk path waits for credit instead of being shed).
struct acquire_credit {
  /// Upper bound of the grant.
  uint32_t max_requests = 1;
};

inline bool operator==(const acquire_credit& x, const acquire_credit& y) {
  return x.max_requests == y.max_requests;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, acquire_credit& x) {
  return f(caf::meta::type_name("acquire_credit"), x.max_requests);
}

/// Reply to `acquire_credit`: the holder may send `requests` bulk requests that are
/// not shed (each takes over one credit's place in the bulk lane). A zero grant means
/// the runtime is shutting down.
struct credit_grant {
  uint32_t requests = 0;
};

inline bool operator==(const credit_grant& x, const credit_grant& y) {
  return x.requests == y.requests;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, credit_grant& x) {
  return f(caf::meta::type_name("credit_grant"), x.requests);
}

/// Returns credit that will not be used.
struct release_credit {
  uint32_t requests = 0;
};

inline bool operator==(const release_credit& x, const release_credit& y) {
  return x.requests == y.requests;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, release_credit& x) {
  return f(caf::meta::type_name("release_credit"), x.requests);
}

} // namespace embedrt
