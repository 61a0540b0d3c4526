// The HTTP transport seen by a worker: submit a POST to the embeddings URL, get the
// completion later through a sink, from any thread. `curl_transport` is the real one
// (one curl multi handle on its own thread); tests script a fake one.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <embedrt/transport_fwd.hpp>

#include "messages/rate_limit.hpp"

namespace embedrt::http {

/// One POST of a JSON body to the configured embeddings URL.
struct transfer_request {
  /// Echoed in the result.
  uint64_t id = 0;
  /// JSON request body.
  std::string body;
  /// Total timeout (connect + send + body), counted from when the transfer starts.
  std::chrono::milliseconds timeout{30000};
  /// The body may not grow past this many bytes (a bound derived from the request);
  /// 0: only the transport's `max_response_bytes` applies. Error bodies (non-2xx) are
  /// read up to 64 KiB and then cut.
  uint64_t max_body_bytes = 0;
  /// A response buffer from an earlier result, handed back for this transfer's body
  /// (its contents are ignored, its capacity is reused). Recycling keeps the transport
  /// thread from allocating what another thread frees: with glibc that means heap
  /// trimming and page faults on every response.
  std::string spare_body;
};

enum class transfer_status : uint8_t {
  /// An HTTP response arrived completely (any status).
  completed = 0,
  /// Could not connect (refused, unreachable, name resolution, TLS handshake).
  connect_failed,
  /// The timeout passed, e.g. headers arrived but the body stalled.
  timed_out,
  /// The connection broke mid-exchange (reset, truncated or invalid response).
  connection_lost,
  /// Any other failure.
  failed,
  /// The transport itself is unusable (e.g. curl multi error); the worker must fail
  /// so its supervisor restarts it.
  transport_broken,
  /// A 2xx body grew past `max_body_bytes` (or the transport's cap): stopped.
  too_large,
  /// The TLS peer was refused: certificate not trusted, expired, wrong host name.
  /// Retrying cannot help; `error` says why.
  tls_rejected,
};

const char* to_string(transfer_status x);

struct transfer_result {
  uint64_t id = 0;
  transfer_status status = transfer_status::completed;
  /// HTTP status when `completed`, else 0.
  uint16_t http_status = 0;
  /// Response body. Its capacity is at least `size() + body_padding`, so simdjson can
  /// parse it in place.
  std::string body;
  /// Transport error text (curl's message); never contains a header value.
  std::string error;
  /// Parsed `retry-after-ms` (preferred) or `Retry-After` (seconds or HTTP-date);
  /// negative when absent or unparsable.
  std::chrono::milliseconds retry_after{-1};
  /// Parsed `x-ratelimit-*` headers.
  rate_limit_headers limits;
  /// From transfer start to completion or failure.
  std::chrono::microseconds wire_time{0};
};

/// Extra capacity kept after a body for in-place JSON parsing (simdjson's padding).
constexpr size_t body_padding = 64;

/// Counters shared by all transports of a pool; updated with relaxed atomics from the
/// transport threads, read by the pool actor. Outlive worker restarts.
struct transport_counters {
  std::atomic<uint64_t> connections_opened{0};
  std::atomic<uint64_t> transfers_started{0};
  std::atomic<uint64_t> transfers_completed{0};
  /// Sockets libcurl holds open now (connections, pooled ones included).
  std::atomic<int64_t> connections_open{0};
  /// Called with the size of every response body received (metrics); set before the
  /// transports start, may be empty. Must be lock-free.
  std::function<void(uint64_t)> on_response_bytes;
};

class transport {
public:
  virtual ~transport() = default;

  /// Starts a transfer and returns at once. Returns false (and never calls the sink
  /// for it) when more than `max_in_flight` transfers would be outstanding. Called
  /// by one thread at a time (the owning worker actor).
  virtual bool submit(transfer_request req) = 0;
};

/// What a transport needs to know about the upstream. Holds the API key: never print.
struct transport_settings {
  /// Full URL, e.g. "https://api.openai.com/v1/embeddings".
  std::string url;
  /// Sent as `Authorization: Bearer <key>` when not empty.
  std::string api_key;
  /// CA bundle for peer verification; empty: the system's.
  std::string ca_bundle;
  /// Explicit proxy URL (CURLOPT_PROXY); empty: libcurl's default (the environment).
  std::string proxy;
  /// Never use a proxy, whatever the environment says (loopback base URLs).
  bool bypass_proxy = false;
  /// Absolute cap on one response body, bytes (`limits.max_response_bytes`).
  uint64_t max_response_bytes = uint64_t{64} << 20;
  std::chrono::milliseconds connect_timeout{5000};
  /// Connections this transport may hold open, and transfers it accepts at once.
  uint32_t max_connections = 8;
  std::shared_ptr<transport_counters> counters;
};

} // namespace embedrt::http
