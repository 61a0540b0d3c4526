// embedrt-mock: a deterministic OpenAI-compatible /v1/embeddings upstream that can
// misbehave on a script (see mock_script.hpp). Used by ./scripts/run.sh, the
// integration tests, the scenario runner and the benchmarks.
//
// Design: a raw HTTP/1.1 server rather than cpp-httplib, because the faults need what
// httplib hides: closing and reopening the listener, holding a request without a
// thread, writing half a body, resetting a socket. One acceptor/controller thread owns
// the listener and the phase clock; `threads` epoll loops own the connections.
//
// Endpoints:
// - POST <prefix>/embeddings and POST /embeddings (prefix default "/v1").
// - GET /health: {"status":"ok"}. GET /mock/report: `report_json()`. POST
//   /mock/script: `load_script_json(body)`, 200 or 400. These three are not counted.
// - Anything else: 404 (405 for another method on the embeddings path), counted.
//
// Assumes: Linux, IPv4, Content-Length request bodies. Does not do TLS, token
// arrays as input, or OpenAI's per-request token limit.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tools/mock/mock_embeddings.hpp"
#include "tools/mock/mock_script.hpp"

namespace embedrt::mock {

struct mock_options {
  /// IPv4 address to bind; "localhost" means 127.0.0.1.
  std::string host = "127.0.0.1";
  /// 0: a free port, chosen at start().
  uint16_t port = 0;
  /// Vector length when the request has no `dimensions`, 1..65536.
  uint32_t dimension = 1536;
  /// When set, requests for another model get OpenAI's 404 `model_not_found`.
  /// Empty: any model, echoed back in the response.
  std::string model;
  /// When set, requests need `Authorization: Bearer <api_key>`, else 401.
  std::string api_key;
  /// Event-loop threads serving connections (each serves any number of them);
  /// 0: min(hardware threads, 4).
  uint32_t threads = 0;
  /// Seeds fault selection in random mode, latency jitter and shuffles; a script's
  /// `seed` overrides it.
  uint64_t seed = 0x5eed;
  /// Path prefix of the embeddings endpoint.
  std::string path_prefix = "/v1";
  /// Open connections beyond this are accepted and closed at once.
  size_t max_connections = 10000;
  /// Entries kept in the request log; the oldest are dropped first.
  size_t log_capacity = 100000;
  /// Largest accepted request body (413 beyond).
  size_t max_body_bytes = 64 * 1024 * 1024;
  /// listen() backlog (the kernel caps it at net.core.somaxconn).
  int backlog = 4096;
  /// Count embeddings requests per distinct input text (`mock_stats::text_requests`),
  /// e.g. to check how often one text was attempted. Off by default: the map grows
  /// with the number of distinct texts.
  bool track_texts = false;
};

/// Counters for the whole run or one phase.
struct mock_counters {
  /// HTTP requests received (control endpoints excluded), whatever the outcome.
  uint64_t requests = 0;
  /// Inputs of valid embeddings requests.
  uint64_t inputs = 0;
  uint64_t connections_accepted = 0;
  /// Accepted but closed at once: over `max_connections`.
  uint64_t connections_rejected = 0;
  /// HTTP status sent -> count; 0 = no status line was sent (hang, reset of a request
  /// that arrived while refusing).
  std::map<int, uint64_t> statuses;
  /// Fault kind -> how often it acted.
  std::map<std::string, uint64_t> faults;
};

/// A phase's counters. Requests count in the phase that decided them; connections in
/// the phase that was current when they were accepted.
struct mock_phase_stats {
  std::string name;
  /// Microseconds since start(); -1: not reached (start) or not over (end).
  int64_t started_at_us = -1;
  int64_t ended_at_us = -1;
  mock_counters counters;
};

/// One request as the mock saw it.
struct mock_log_entry {
  /// Arrival (complete request read), microseconds since start().
  int64_t t_us = 0;
  uint32_t phase = 0;
  /// As in `mock_counters::statuses`.
  int status = 0;
  fault_kind fault = fault_kind::none;
  uint32_t inputs = 0;
};

struct mock_stats {
  int64_t uptime_us = 0;
  uint16_t port = 0;
  size_t current_phase = 0;
  uint64_t connections_open = 0;
  mock_counters total;
  /// One per phase of the current script (set_script starts them afresh).
  std::vector<mock_phase_stats> phases;
  /// Most recent `log_capacity` requests, oldest first.
  std::vector<mock_log_entry> log;
  /// Entries dropped from the front of the log.
  uint64_t log_dropped = 0;
  /// With `mock_options::track_texts`: input text -> embeddings requests that carried
  /// it (a text repeated within one request counts once). Requests refused before
  /// parsing (400, 401, 404, 405) carry no texts. Empty when not tracking.
  std::map<std::string, uint64_t> text_requests;
};

class mock_server {
public:
  explicit mock_server(mock_options options = {});

  /// Stops the server.
  ~mock_server();

  mock_server(const mock_server&) = delete;
  mock_server& operator=(const mock_server&) = delete;

  /// Binds, starts serving on background threads and returns the port. Throws
  /// std::system_error when it cannot bind, std::logic_error when called twice.
  uint16_t start();

  /// Closes the listener and every connection (hung ones included) and joins every
  /// thread. Prompt: bounded by one wake-up, not by clients. Idempotent.
  void stop();

  /// The bound port; 0 before start().
  uint16_t port() const noexcept;

  /// "http://HOST:PORT/v1" (with the configured prefix).
  std::string base_url() const;

  /// Replaces the script; phase 0 starts now, per-phase statistics start afresh
  /// (totals and the log continue). Requests held by the old script are released.
  void set_script(mock_script script);

  /// Parses (see mock_script.hpp) and sets a script; false with `error` on failure.
  bool load_script_json(std::string_view json_text, std::string& error);

  /// A consistent snapshot; `with_log = false` skips copying the request log.
  mock_stats stats(bool with_log = true) const;

  /// `stats()` as JSON: {"uptime_us", "port", "current_phase", "connections_open",
  /// "total": counters, "phases": [{"index", "name", "started_at_us",
  /// "ended_at_us", counters...}], "log": [{"t_us", "phase", "status", "fault",
  /// "inputs"}], "log_dropped"}; counters are {"requests", "inputs",
  /// "connections_accepted", "connections_rejected", "statuses": {"200": n},
  /// "faults": {"hang": n}}; with `track_texts` also "texts": {"distinct",
  /// "max_requests"}.
  std::string report_json(bool with_log = true) const;

  /// Microseconds since start() on the clock the log uses.
  int64_t now_us() const noexcept;

  /// Logged requests with from_us <= t_us < to_us (within the retained log).
  uint64_t requests_between(int64_t from_us, int64_t to_us) const;

  /// Index of the current phase (after applying elapsed time).
  size_t current_phase() const;

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace embedrt::mock
