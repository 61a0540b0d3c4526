// One record per answered request, for hosts that emit spans or their own logs
// (runtime_options::on_request_done). Plain data, built by the dispatcher core when a
// request gets its answer; never sent as a CAF message.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <embedrt/embedding.hpp>
#include <embedrt/errors.hpp>

namespace embedrt {

/// How an attempt ended.
enum class attempt_status : uint8_t {
  /// 2xx with a valid body: `embeddings` holds one vector per input, by `index`.
  succeeded = 0,
  /// The upstream answered with a non-2xx status (`http_status`).
  http_error,
  /// No connection could be made (refused, unreachable, DNS, TLS handshake).
  connect_failed,
  /// The attempt timeout passed (a stalled body included).
  timed_out,
  /// The connection broke after the request was sent (reset, truncated body).
  connection_lost,
  /// A 2xx whose body broke the contract; `detail` says how.
  bad_response,
  /// Any other transport error.
  transport_error,
  /// The worker carrying the attempt failed before it finished.
  worker_failed,
  /// The attempt waited in the pool past its deadline and was never started.
  expired,
  /// The upstream's TLS certificate was refused (untrusted CA, expired, wrong host
  /// name). Never retried: only a config change (endpoint.ca_bundle) can fix it.
  tls_rejected,
  /// A 2xx body grew past the request's bound (http_call::max_response_bytes):
  /// the transfer was stopped. Retried (a batch is split first); in the end
  /// `bad_response`.
  too_large,
};

const char* to_string(attempt_status x);

/// One upstream attempt that carried (part of) the request.
struct attempt_trace {
  attempt_status status = attempt_status::succeeded;
  /// The HTTP status when the upstream answered, else 0.
  uint16_t http_status = 0;
  /// Time on the wire (send to result).
  std::chrono::nanoseconds duration{0};
  /// The upstream request (batch) this attempt belonged to.
  uint64_t batch_id = 0;
  /// Inputs in that upstream request.
  uint32_t batch_inputs = 0;
};

struct request_trace {
  /// The dispatcher's id of the request (unique per runtime, not the host's).
  uint64_t request_id = 0;
  lane request_lane = lane::interactive;
  /// Model name as sent upstream (the request's, else the configured one).
  std::string model;
  uint32_t inputs = 0;
  /// `embed_errc::none` when the vectors were delivered.
  embed_errc outcome = embed_errc::none;
  /// Admission to answer.
  std::chrono::nanoseconds total{0};
  /// Admission to the first attempt on the wire (the whole time when none was sent).
  std::chrono::nanoseconds queue{0};
  /// Summed waits for rate-limit permits and breaker verdicts over its attempts.
  std::chrono::nanoseconds permit{0};
  std::chrono::nanoseconds breaker{0};
  /// Summed time on the wire over its attempts.
  std::chrono::nanoseconds attempt{0};
  /// Every attempt, in order (bounded by the retry policy's attempt limit).
  std::vector<attempt_trace> attempts;
};

} // namespace embedrt
