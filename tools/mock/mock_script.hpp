// Scripted misbehaviour for embedrt-mock: a list of phases, each with latency and
// faults. The scenario runner, the integration tests and the benchmarks drive the mock
// through this format, so it is strict: unknown keys and out-of-range values are
// errors, never silently ignored.
//
// ## Format (JSON)
//
// Either an object `{"seed": N?, "phases": [phase...]}` or a bare array of phases.
//
// ```json
// {
//   "seed": 7,
//   "phases": [
//     { "name": "warm", "requests": 20 },
//     { "name": "throttled", "duration_ms": 2000,
//       "latency_ms": 5, "latency_jitter_ms": 3,
//       "faults": [
//         { "kind": "status", "status": 429, "rate": 0.5, "retry_after": 1,
//           "ratelimit": { "remaining_requests": 0, "reset_requests": "1s" } },
//         { "kind": "ratelimit_headers",
//           "ratelimit": { "remaining_tokens": 12, "reset_tokens": "6m0s" } } ] },
//     { "name": "down", "duration_ms": 500,
//       "faults": [ { "kind": "refuse_connections" } ] },
//     { "name": "flaky", "duration_ms": 1000,
//       "faults": [ { "kind": "hang", "rate": 0.1 },
//                   { "kind": "stall_body", "rate": 0.1, "fraction": 0.3 },
//                   { "kind": "nan", "match": "poison*pill" } ] },
//     { "name": "recovered" }
//   ]
// }
// ```
//
// ### Phases
// - `name` (string, default "phase <i>"), `duration_ms` (int >= 0) and `requests`
//   (int >= 0): a phase ends after `duration_ms` or after `requests` requests,
//   whichever comes first (0 = no such limit). The last phase never ends.
//   Time limits chain exactly: phase i+1 starts at start(i) + duration_ms(i), even if
//   nobody was looking at that moment. A request limit of N ends the phase when
//   request N+1 arrives; that request is the first of the next phase (so requests held
//   by `hang` are not released before someone else arrives).
// - `latency_ms`, `latency_jitter_ms` (int >= 0): every response of the phase (errors
//   and faults included) waits latency_ms + u, with u uniform in
//   [-latency_jitter_ms, +latency_jitter_ms] (clamped at 0), drawn from
//   (seed, phase, request number in phase). `latency_per_input_us` (int >= 0) adds
//   that much per input of a valid embeddings request (an upstream whose time grows
//   with the batch).
// - `faults`: list, tried in order for each request.
//
// ### Faults
// Common keys: `kind` (required), `rate` (0..1, default 1), `mode` ("even" or
// "random", default "even"), `match` (string).
// - `match`: the fault applies only to requests with at least one input containing
//   the pattern; `*` matches any run of characters ("a*b": an "a" followed later by
//   a "b"). Without `match` it applies to every valid embeddings request. Faults
//   never apply to requests that get an error of their own (400, 401, 404, 405):
//   those are answered as such, after the phase's latency.
// - `rate`, mode "even": the fault takes request n (0-based, counting only the
//   requests that reach this fault) when floor((n+1)*rate) > floor(n*rate). That is
//   exactly floor(N*rate) of the first N requests, evenly spread: rate 1/k takes the
//   k-th, 2k-th, ... request; rate 1 takes all. Mode "random": takes request n when
//   unit(mix(seed, phase, fault, n)) < rate; reproducible for a given arrival order.
// - Faults are exclusive, the first one that takes the request wins; a request
//   "reaches" a later fault only when no earlier one took it (so [A 0.1, B 0.1] is
//   10% A and 9% B). `ratelimit_headers` is the exception: it only adds headers, so it
//   is evaluated for every request and combines with whatever else happens.
//
// Kinds and their keys:
// - `status`: `status` (400..599, required), `message`, `error_type`, `error_code`
//   (OpenAI error body fields; defaults follow OpenAI per status), `body` (raw body
//   text instead of the OpenAI error JSON).
// - `ratelimit_headers`: adds headers to the response (successful or not).
// - `refuse_connections`: connection-level, no `match`. Rate 1: the listener is
//   closed for the whole phase (new connections get ECONNREFUSED) and connections
//   already open are closed when the phase starts; it reopens on the same port when
//   the phase ends. A request that still arrives on an older connection gets a reset.
//   Rate < 1: the listener stays open and that share of new connections (counted per
//   phase) is reset at once. A closed phase receives no requests, so unless it is the
//   last phase it needs `duration_ms`.
// - `hang`: read the request, never answer. `hold_ms` (default 0): close the
//   connection after that long. Always released (connection closed) when the client
//   disconnects, the phase ends, the script changes or the server stops.
// - `stall_body`: send the headers (with the full Content-Length) and `fraction`
//   (0 <= f < 1, default 0.5) of the body, then stall; released like `hang`.
// - `reset_mid_body`: send headers and `fraction` of the body, wait `delay_ms`
//   (default 10, lets the client read the partial body), then reset (SO_LINGER 0 and
//   close: RST).
// - `malformed_json`: 200 with the first half of a valid body, or `body` if given.
// - `wrong_dimension`: every vector has `dimension` values (default: half the
//   requested dimension, or 2 when that is 1).
// - `nan`: data[0]'s first value is NaN: in float format the JSON token `token`
//   (default "NaN"; "1e999" gives an out-of-range number); in base64 a quiet NaN.
// - `shuffle_index`: `data` in a seeded, non-identity order (for 2+ inputs), each
//   item with its true `index`: a valid response, clients must place by index.
// - `fewer_vectors`: the last item of `data` is missing.
// - `wrong_type`: base64 strings when floats were asked, float arrays when base64 was.
// - `close_connection`: a valid response, then the connection is closed without a
//   `Connection: close` header (like a server dropping an idle keep-alive
//   connection).
// - `endless_body`: 200 without Content-Length (`Connection: close`), the start of a
//   valid body, then base64 filler for ever: until the client disconnects, the
//   phase ends or the server stops.
// - `corrupt_vectors`: a 200 whose vectors are each corrupted independently with
//   probability `vector_rate` (0..1, default 0.05), drawn per (request, text):
//   `corruption` "truncate" (the last value dropped), "nan" (the first value NaN; in
//   float format the number 1e999) or "both" (default: half each). The other vectors
//   are correct. Use rate 1 after other faults to corrupt what they leave.
// - `always_float`: a valid body with float arrays whatever `encoding_format` asked
//   (several OpenAI-compatible servers do this).
//
// Header keys, valid on every kind that sends a response (all but `hang` and
// `refuse_connections`): `retry_after` (seconds as a number, or an HTTP-date string),
// `retry_after_ms` (number), `ratelimit` (object; keys limit_requests, limit_tokens,
// remaining_requests, remaining_tokens, reset_requests, reset_tokens; number or string
// values; sent as x-ratelimit-limit-requests, ...), `headers` (object of extra
// header name -> string value).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace embedrt::mock {

enum class fault_kind : uint8_t {
  none = 0,
  status,
  ratelimit_headers,
  refuse_connections,
  hang,
  stall_body,
  reset_mid_body,
  malformed_json,
  wrong_dimension,
  nan,
  shuffle_index,
  fewer_vectors,
  wrong_type,
  close_connection,
  endless_body,
  corrupt_vectors,
  always_float,
};

/// The script spelling ("status", "hang", ...); "none" for `fault_kind::none`.
const char* to_string(fault_kind x);

/// Parses the script spelling; false for an unknown name.
bool from_string(std::string_view name, fault_kind& out);

/// How `rate` picks requests.
enum class rate_mode : uint8_t { even = 0, random = 1 };

/// Header name/value pairs, sent in order.
using header_list = std::vector<std::pair<std::string, std::string>>;

struct mock_fault {
  fault_kind kind = fault_kind::none;
  /// Share of the requests reaching this fault that it takes, 0..1.
  double rate = 1.0;
  rate_mode mode = rate_mode::even;
  /// Input pattern (substring with `*` wildcards); empty: every request.
  std::string match;
  /// `status`: the HTTP status, 400..599.
  int status = 0;
  /// `status`: OpenAI error fields; empty: the default for the status.
  std::string message;
  std::string error_type;
  std::string error_code;
  /// `status`, `malformed_json`: raw body text instead of the generated one.
  std::optional<std::string> body;
  /// Extra response headers (Retry-After, x-ratelimit-*, custom), lower-case names.
  header_list headers;
  /// `stall_body`, `reset_mid_body`: share of the body sent, [0, 1).
  double fraction = 0.5;
  /// `hang`, `stall_body`: release after this long; 0 = until the phase ends.
  uint32_t hold_ms = 0;
  /// `reset_mid_body`: pause between the partial body and the reset.
  uint32_t delay_ms = 10;
  /// `wrong_dimension`: the dimension sent; 0 = half the requested one.
  uint32_t dimension = 0;
  /// `nan`: the JSON token written in float format.
  std::string token = "NaN";
  /// `corrupt_vectors`: share of the vectors corrupted, each independently, 0..1.
  double vector_rate = 0.05;
  /// `corrupt_vectors`: how: truncated (last value dropped) and/or a NaN first value
  /// (in float format the number 1e999, valid JSON beyond float's range).
  bool corrupt_truncate = true;
  bool corrupt_nan = true;
};

struct mock_phase {
  std::string name;
  /// Ends the phase after this long; 0 = no time limit.
  uint64_t duration_ms = 0;
  /// Ends the phase after this many requests; 0 = no count limit.
  uint64_t requests = 0;
  uint32_t latency_ms = 0;
  uint32_t latency_jitter_ms = 0;
  /// Added to the latency per input of the request, µs.
  uint32_t latency_per_input_us = 0;
  std::vector<mock_fault> faults;
};

struct mock_script {
  /// At least one phase after parsing (an empty list becomes one plain phase).
  std::vector<mock_phase> phases;
  /// Overrides `mock_options::seed` when set.
  std::optional<uint64_t> seed;
};

/// Parses and validates a script. On failure returns false and sets `error` to a
/// message naming the offending key, e.g.
/// `phases[1].faults[0].rate: must be a number in [0, 1], got 1.5`.
bool parse_mock_script(std::string_view json_text, mock_script& out,
                       std::string& error);

/// Whether a fault with this rate takes request `n` (0-based count of requests that
/// reached it). `salt` separates faults and phases in random mode.
bool fault_takes(double rate, rate_mode mode, uint64_t seed, uint64_t salt, uint64_t n);

/// Whether `text` contains `pattern`, where `*` matches any run of characters.
bool pattern_matches(std::string_view text, std::string_view pattern);

/// True for a phase whose listener is closed: a `refuse_connections` fault with rate 1.
bool phase_closes_listener(const mock_phase& phase);

/// The reset share (0..1) of new connections in this phase; 0 when the listener is
/// closed or there is no such fault.
double phase_connection_reset_rate(const mock_phase& phase);

} // namespace embedrt::mock
