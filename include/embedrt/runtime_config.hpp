// The configuration schema of embedrt: plain structs with in-class defaults. Every
// field is a key `embedrt.<section>.<field>` in config/caf-application.conf and a
// command-line option `--embedrt.<section>.<field>=...`. Fields are immutable after
// `load_config` / `validate`; each actor gets its slice as a spawn argument.
// Secrets never live here: `endpoint.api_key_env` names the environment variable.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace embedrt {

/// [embedrt.endpoint] — where and how to call the upstream.
struct endpoint_config {
  /// API base URL ending before `/embeddings`. Empty: $OPENAI_BASE_URL, else
  /// https://api.openai.com/v1. Must be http:// or https://.
  std::string base_url;
  /// Name of the environment variable holding the API key (never the key itself).
  /// Default OPENAI_API_KEY. An unset variable sends no Authorization header.
  std::string api_key_env = "OPENAI_API_KEY";
  /// Model used when a call does not name one. Default text-embedding-3-small.
  std::string model = "text-embedding-3-small";
  /// `dimensions` sent upstream when a call does not set it; 0: not sent (the model's
  /// default). Range 0..65536.
  uint32_t dimensions = 0;
  /// `encoding_format` asked of the upstream: "base64" (default, decoded to float32)
  /// or "float".
  std::string encoding_format = "base64";
  /// CA bundle file for TLS peer verification; empty: the system's. Verification of
  /// peer and host is always on.
  std::string ca_bundle;
  /// Allow sending the API key over plain http:// to a host that is not loopback.
  /// Default false: such a config is refused at start.
  bool allow_insecure_http = false;
  /// Proxy URL for the upstream (http://, https://, socks5://, socks5h://...). Empty:
  /// the environment's (https_proxy, http_proxy, all_proxy, no_proxy). Loopback base
  /// URLs never use a proxy; the key is never sent through a plain-http proxy to an
  /// http:// base URL unless `allow_insecure_http`.
  std::string proxy;
  /// TCP+TLS connect timeout per attempt, ms. Default 5000, range 1..600000.
  uint32_t connect_timeout_ms = 5000;
  /// Total timeout per attempt including the body, ms, counted from when the transfer
  /// starts (queue time is not charged). Default 30000, range 1..3600000.
  uint32_t attempt_timeout_ms = 30000;
};

/// [embedrt.input] — checks done before the network.
struct input_config {
  /// Largest accepted input, bytes. Default 65536, range 1..16777216.
  uint32_t max_text_bytes = 65536;
  /// Bytes per token used to estimate tokens from text. Default 4, range 1..64.
  uint32_t bytes_per_token = 4;
  /// Largest accepted input, estimated tokens (the API's per-input cap).
  /// Default 8192, range 1..1000000.
  uint32_t max_text_tokens = 8192;
  /// Most texts in one embed request. Default 2048, range 1..1000000.
  uint32_t max_texts_per_request = 2048;
  /// CLI main job: longest input line, bytes; a longer line is `invalid_line` and is
  /// never held in memory. Default 1048576, range 64..1073741824.
  uint32_t max_line_bytes = 1048576;
  /// CLI main job: deepest nesting of arrays/objects in an input line (the line's
  /// object is depth 1); deeper is `invalid_line`. Default 64, range 1..1000.
  uint32_t max_line_depth = 64;
};

/// [embedrt.request] — per-request defaults.
struct request_config {
  /// Overall deadline of a request from admission, ms: queues, attempts and backoff
  /// included. Default 60000, range 1..86400000.
  uint32_t timeout_ms = 60000;
  /// An attempt (or retry) is not started with less than this left before the
  /// deadline, ms. Default 50, range 0..60000.
  uint32_t min_attempt_ms = 50;
};

/// [embedrt.limits] — admission bounds (Envoy calls these "circuit breaking").
struct limits_config {
  /// Interactive requests holding a place in the admission gate (entered by
  /// `runtime::embed` or by the dispatcher, not answered yet), whatever the path;
  /// more are shed `overloaded` at once. Default 1024, range 1..10000000.
  uint32_t interactive_capacity = 1024;
  /// Bulk requests holding a place in the admission gate plus bulk credit out (one
  /// bound for every path). Default 4096, range 1..10000000.
  uint32_t bulk_capacity = 4096;
  /// Share of dispatch slots bulk gets while interactive work is waiting, percent.
  /// Default 10, range 1..100.
  uint32_t bulk_min_share_percent = 10;
  /// Pipeline slots (each one attempt on one connection) that bulk batches may never
  /// take, so an interactive text starts at once even while bulk fills the rest.
  /// Default 1, range 0..4096; bulk always keeps at least one slot.
  uint32_t interactive_reserved_attempts = 1;
  /// Estimated size of the responses of all upstream requests in flight, MiB. Batching
  /// packs many inputs into one request, and every input comes back as a vector (a
  /// 1536-d one is 8 KB in base64): this bounds that memory. Default 16, range
  /// 1..65536.
  uint32_t response_memory_mib = 16;
  /// Absolute cap on one response body, bytes: past it (or past the bound derived from
  /// the request: inputs x dimension x bytes per value, times 2, plus 64 KiB) the
  /// transfer is stopped and the attempt fails `too_large` (retried). Default 67108864
  /// (64 MiB), range 65536..4294967296.
  uint64_t max_response_bytes = uint64_t{64} << 20;
};

/// [embedrt.http_pool] — workers and connections.
struct http_pool_config {
  /// Worker actors, each with one curl multi handle and thread. Default 1, range 1..64.
  uint32_t workers = 1;
  /// Upper bound of open connections (and of attempts on the wire) over all workers.
  /// Default 32, range 1..4096; must be >= workers.
  uint32_t max_connections = 32;
};

/// [embedrt.rate_limiter] — token buckets.
struct rate_limiter_config {
  /// Requests per minute; 0: unlimited. Default 0, range 0..100000000.
  uint32_t requests_per_minute = 0;
  /// Estimated tokens per minute; 0: unlimited. Default 0, range 0..4000000000.
  uint64_t tokens_per_minute = 0;
  /// Bucket depth in seconds of rate (burst allowance). Default 1, range 1..60.
  uint32_t burst_seconds = 1;
  /// Permit requests waiting in FIFO order; more are denied (`overloaded`).
  /// Default 4096, range 1..10000000.
  uint32_t max_queued = 4096;
  /// Follow `x-ratelimit-remaining-*` / `x-ratelimit-reset-*` response headers.
  /// Default true.
  bool follow_upstream_headers = true;
  // -- budget shared across processes (README "Shared budget across processes") --
  /// Redis holding the budget shared by every process using the same key:
  /// `redis://host[:port][/db]`. Empty: this process limits itself alone (default).
  std::string shared_store;
  /// Name of the shared budget; processes with the same name share it. Empty: derived
  /// from the base URL and a hash of the API key (never the key itself).
  std::string shared_name;
  /// Name of the environment variable holding the Redis password (never the password
  /// itself); unset or empty: no AUTH. Default EMBEDRT_REDIS_PASSWORD.
  std::string shared_password_env = "EMBEDRT_REDIS_PASSWORD";
  /// A lease covers this much of the process's recent demand, ms. Default 100, range
  /// 1..10000.
  uint32_t shared_lease_horizon_ms = 100;
  /// Unused lease older than this is given back to the store, ms. Default 1000, range
  /// 10..600000.
  uint32_t shared_lease_ttl_ms = 1000;
  /// Deadline of one Redis call (connect included), ms; past it the process falls
  /// back to its local share. Default 500, range 1..1000.
  uint32_t shared_call_timeout_ms = 500;
  /// Processes expected to share the budget; the local share while Redis is away is
  /// the budget divided by this. Default 2, range 1..100000.
  uint32_t shared_expected_replicas = 2;
  /// Local share of the budget while Redis is away, percent; 0: 100 /
  /// shared_expected_replicas. Default 0, range 0..100.
  uint32_t shared_fallback_percent = 0;
};

/// [embedrt.circuit_breaker] — one breaker per endpoint and model. It opens on
/// evidence: a failure (or slow-call) rate over the window that is above the threshold
/// by more than chance, or a run of failures that an upstream failing below the
/// threshold essentially never produces.
struct circuit_breaker_config {
  /// Open after this many consecutive failures; 0: off. Default 30 (a dead upstream
  /// opens it after 30 calls; at 30 % random failures the chance of such a run in
  /// 10,000 calls is ~1e-12, at 50 % ~5e-6), range 0..1000000.
  uint32_t consecutive_failures = 30;
  /// Open when the failure rate over the window reaches this, percent; 0: off. It
  /// also decides a half-open period: the trials' failure rate at or above it
  /// re-opens, below it closes (with the rule off, one failed trial re-opens).
  /// Default 50, range 0..100.
  uint32_t failure_rate_percent = 50;
  /// Sliding window of the failure and slow-call rates, in calls. Default 1000,
  /// range 1..100000.
  uint32_t window_calls = 1000;
  /// Calls the window needs before a rate counts. Default 100, range 1..100000;
  /// must be <= window_calls.
  uint32_t minimum_calls = 100;
  /// How far above the threshold a rate must be to count, in standard deviations of
  /// a window of n calls failing at exactly the threshold t: open when failures >=
  /// n*t + z*sqrt(n*t*(1-t)). 0: plain resilience4j (rate >= threshold). Default 3.0
  /// (with the other defaults: 45 % failures never open it over 100,000 calls, 80 %
  /// open it at minimum_calls), range 0.0..10.0.
  double evidence_sigmas = 3.0;
  /// Calls slower than this are slow calls, ms; 0: the slow-call rule is off.
  /// Default 0, range 0..3600000.
  uint32_t slow_call_ms = 0;
  /// Open when the slow-call rate over the window reaches this (with the same
  /// evidence rule); a half-open period's slow trials at or above it re-open.
  /// Default 50, range 1..100.
  uint32_t slow_call_rate_percent = 50;
  /// First open period, ms. Default 5000, range 1..3600000.
  uint32_t open_duration_ms = 5000;
  /// A failed half-open period re-opens with the open period times this; a close
  /// resets it. Default 2.0, range 1.0..100.0.
  double open_duration_multiplier = 2.0;
  /// Cap of the growing open period, ms. Default 60000, range 1..86400000; must be
  /// >= open_duration_ms.
  uint32_t max_open_duration_ms = 60000;
  /// Trial calls let through while half-open (K); their failure rate decides.
  /// Default 10, range 1..1000.
  uint32_t half_open_trials = 10;
};

/// [embedrt.retry] — retries with full-jitter backoff and a budget.
struct retry_config {
  /// Attempts per upstream request, the first included. Default 3, range 1..100.
  uint32_t max_attempts = 3;
  /// First backoff cap, ms. Default 500, range 1..600000.
  uint32_t base_delay_ms = 500;
  /// Growth of the backoff cap per retry. Default 2.0, range 1.0..10.0.
  double multiplier = 2.0;
  /// Largest backoff, ms. Default 8000, range 1..3600000; must be >= base_delay_ms.
  uint32_t max_delay_ms = 8000;
  /// A Retry-After above this ends the request `rate_limited` instead of waiting, ms.
  /// Default 60000, range 0..86400000.
  uint32_t max_retry_after_ms = 60000;
  /// Retries may add at most this share on top of first attempts, percent.
  /// Default 100: an upstream failing at random at a rate f needs f/(1-f) retries
  /// per first attempt, at most 100 % below the breaker's 50 % threshold, so the
  /// budget never fails what the breaker lets through; it still caps a retry storm
  /// at twice the load instead of max_attempts times. Range 0..1000.
  uint32_t budget_percent = 100;
  /// Retries always allowed per second regardless of the share. Default 10,
  /// range 0..100000.
  uint32_t budget_min_per_second = 10;
  /// Sliding window of the budget, ms. Default 10000, range 100..3600000.
  uint32_t budget_window_ms = 10000;
  /// RNG seed of the jitter; 0: from std::random_device. Range 0..9223372036854775807
  /// (integers in a CAF 0.17 config file are signed 64-bit).
  uint64_t seed = 0;
};

/// [embedrt.batching] — micro-batching and in-flight dedup across callers.
struct batching_config {
  /// Pack concurrent texts for the same model and dimensions into one upstream
  /// request. Default true.
  bool enabled = true;
  /// Inputs per upstream request. Default 2048, range 1..2048.
  uint32_t max_inputs = 2048;
  /// Estimated tokens per upstream request. Default 300000, range 1..300000.
  uint32_t max_tokens = 300000;
  /// How long a partial batch may wait for company while other upstream requests are
  /// in flight, µs (a lone request never waits). Default 1000, range 0..1000000.
  uint32_t linger_us = 1000;
  /// Inputs per upstream request of the bulk lane (interactive texts use
  /// `max_inputs`): bounds how long a bulk batch holds a connection. Default 512,
  /// range 1..2048; at most `max_inputs` is used.
  uint32_t bulk_max_inputs = 512;
  /// Share one upstream input between identical (model, dimensions, text) requests in
  /// flight. Default true.
  bool dedup = true;
};

/// [embedrt.supervision] — worker restarts and escalation.
struct supervision_config {
  /// First restart backoff of a failed worker, ms. Default 10, range 0..600000.
  uint32_t restart_min_backoff_ms = 10;
  /// Largest restart backoff, ms. Default 2000, range 0..3600000; must be >= min.
  uint32_t restart_max_backoff_ms = 2000;
  /// Random factor of the restart backoff, percent. Default 20, range 0..100.
  uint32_t restart_jitter_percent = 20;
  /// More than this many worker restarts within `restart_window_ms` restart the pool
  /// as a whole (R). Default 10, range 1..1000000.
  uint32_t max_worker_restarts = 10;
  /// Window of the worker restart intensity, ms (T). Default 10000, range 1..86400000.
  uint32_t restart_window_ms = 10000;
  /// A worker that stayed up this long before failing restarts at the smallest
  /// backoff again (the backoff grows only for workers that fail soon after a
  /// start). Default 100, range 1..86400000.
  uint32_t restart_reset_after_ms = 100;
  /// More than this many pool restarts within `pool_restart_window_ms` take the pool
  /// down: the runtime answers `runtime_unavailable` at once and publishes it, and
  /// restarts the pool after `restart_max_backoff_ms`, doubling per failure in a row
  /// up to `pool_max_backoff_ms` (a pool that stays up a whole window starts over);
  /// it publishes `runtime_available` when the pool is back. Default 3,
  /// range 0..1000000.
  uint32_t max_pool_restarts = 3;
  /// Window of the pool restart intensity, ms. Default 60000, range 1..86400000.
  uint32_t pool_restart_window_ms = 60000;
  /// Largest wait before a pool taken down is restarted, ms. Default 30000,
  /// range 1..3600000.
  uint32_t pool_max_backoff_ms = 30000;
  /// Give up instead: past `max_pool_restarts` the runtime stays unavailable until
  /// the host starts a new one. Default false.
  bool give_up = false;
  /// Honour `crash_worker_for_test`. Default false; tests and scenarios only.
  bool test_hooks = false;
};

/// [embedrt.shutdown]
struct shutdown_config {
  /// How long `stop()` lets admitted requests finish before answering the rest
  /// `shutting_down`, ms. Default 5000, range 0..600000.
  uint32_t grace_ms = 5000;
};

/// [embedrt.log] — structured event logs (JSON lines).
struct log_config {
  /// Least severe level written: "off", "error", "warn", "info" or "debug".
  /// Default "off" (a host that wants logs turns them on).
  std::string level = "off";
  /// File the lines are appended to; empty: stderr. Default empty.
  std::string file;
};

/// [embedrt.job] — the CLI's main job (`embedrt embed`).
struct job_config {
  /// Most lines between the oldest unwritten line and the newest admitted one (the
  /// reorder window); reading pauses when it is full. Default 8192, range 1..10000000.
  uint32_t reorder_max_lines = 8192;
  /// Most bytes of answers (and estimates of pending ones) held in the reorder
  /// window, MiB. Default 32, range 1..65536.
  uint32_t reorder_max_mib = 32;
};

/// Everything embedrt reads from `caf-application.conf`.
struct runtime_config {
  endpoint_config endpoint;
  input_config input;
  request_config request;
  limits_config limits;
  http_pool_config http_pool;
  rate_limiter_config rate_limiter;
  circuit_breaker_config circuit_breaker;
  retry_config retry;
  batching_config batching;
  supervision_config supervision;
  shutdown_config shutdown;
  job_config job;
  log_config log;
};

/// One broken rule: `key: rule, got value`, e.g.
/// "embedrt.rate_limiter.requests_per_minute: must be >= 0, got -5".
struct config_error {
  /// Fully qualified key, e.g. "embedrt.retry.max_attempts".
  std::string key;
  /// The rule, e.g. "must be in [1, 100]".
  std::string rule;
  /// The offending value as written (secrets never appear: the schema holds none).
  std::string value;
  /// "key: rule, got value".
  std::string to_string() const;
};

/// Checks every rule of the schema; returns all broken rules (empty: valid). Does not
/// read the environment (`resolve_endpoint` in config/endpoint.hpp does).
std::vector<config_error> validate(const runtime_config& cfg);

} // namespace embedrt
