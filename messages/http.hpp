// Protocol between the dispatcher and the HTTP workers: one upstream attempt per call.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

#include "messages/rate_limit.hpp"
#include <embedrt/embedding.hpp>
#include <embedrt/trace.hpp> // attempt_status

namespace embedrt {

/// One attempt at one upstream `/embeddings` request. Carries no secret: the worker's
/// transport adds the `Authorization` header.
struct http_call {
  /// Unique per attempt; echoed in the result so late answers of dead attempts can be
  /// recognised and dropped.
  uint64_t attempt_id = 0;
  /// The JSON request body.
  std::string body;
  /// Number of inputs in `body`; the response must have exactly as many vectors.
  uint32_t input_count = 0;
  /// Every vector must have this many values (others are item faults); 0: any.
  uint32_t expected_dimension = 0;
  /// The `encoding_format` the body asked for (the other form is accepted and counted).
  encoding_format encoding = encoding_format::base64;
  /// Attempt timeout (connect + body), counted from when the transfer starts.
  caf::timespan timeout{0};
  /// The dispatcher answers `expired` instead of starting the attempt after this point.
  caf::actor_clock::time_point deadline;
  /// The response body may not grow past this (inputs x dimension x bytes per value,
  /// with margin; see openai::max_response_bytes); 0: only the transport's cap.
  uint64_t max_response_bytes = 0;
};

inline bool operator==(const http_call& x, const http_call& y) {
  return x.attempt_id == y.attempt_id && x.body == y.body
         && x.input_count == y.input_count
         && x.expected_dimension == y.expected_dimension && x.encoding == y.encoding
         && x.timeout == y.timeout && x.deadline == y.deadline
         && x.max_response_bytes == y.max_response_bytes;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, http_call& x) {
  return f(caf::meta::type_name("http_call"), x.attempt_id, x.body, x.input_count,
           x.expected_dimension, x.encoding, x.timeout, x.deadline,
           x.max_response_bytes);
}

struct http_call_result {
  uint64_t attempt_id = 0;
  attempt_status status = attempt_status::succeeded;
  /// The HTTP status, 0 when no response arrived.
  uint16_t http_status = 0;
  /// Why it failed, for people: the upstream's error message (secrets redacted), the
  /// contract breach or the transport error. Empty on success.
  std::string detail;
  /// From `retry-after-ms` or `Retry-After` (seconds or HTTP-date); negative: absent.
  caf::timespan retry_after{-1};
  /// The `x-ratelimit-*` headers of the response.
  rate_limit_headers limits;
  /// On success: one vector per input, placed by the response's `index`; empty where
  /// `item_faults` refuses the item.
  std::vector<std::vector<float>> embeddings;
  /// On success: per input, why its vector was refused (empty: good); empty when all
  /// are good. The dispatcher re-sends refused items on their own.
  std::vector<std::string> item_faults;
  /// On success: items that came in the other encoding than asked.
  uint32_t encoding_mismatches = 0;
  /// On success: the upstream's token accounting.
  embedding_usage usage;
  /// Time on the wire (from transfer start to the last byte or the failure).
  caf::timespan wire_time{0};
};

inline bool operator==(const http_call_result& x, const http_call_result& y) {
  return x.attempt_id == y.attempt_id && x.status == y.status
         && x.http_status == y.http_status && x.detail == y.detail
         && x.retry_after == y.retry_after && x.limits == y.limits
         && x.embeddings == y.embeddings && x.item_faults == y.item_faults
         && x.encoding_mismatches == y.encoding_mismatches && x.usage == y.usage
         && x.wire_time == y.wire_time;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, http_call_result& x) {
  return f(caf::meta::type_name("http_call_result"), x.attempt_id, x.status,
           x.http_status, x.detail, x.retry_after, x.limits, x.embeddings,
           x.item_faults, x.encoding_mismatches, x.usage, x.wire_time);
}

/// Results of the attempts a worker finished in one turn of its transport loop, sent
/// to the dispatcher as one message (fewer hops under load).
struct http_call_results {
  std::vector<http_call_result> results;
};

inline bool operator==(const http_call_results& x, const http_call_results& y) {
  return x.results == y.results;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, http_call_results& x) {
  return f(caf::meta::type_name("http_call_results"), x.results);
}

} // namespace embedrt
