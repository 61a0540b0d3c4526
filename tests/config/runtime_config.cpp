#define CAF_SUITE config.runtime_config
#include <caf/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "config/schema.hpp"
#include "tests/support/config_errors.hpp"
#include <embedrt/runtime_config.hpp>

using namespace embedrt;
using namespace embedrt::test;

namespace {

struct row {
  std::function<void(runtime_config&)> change;
  std::string expected;
};

// One row per rule of runtime_config.hpp: the value just outside each bound.
const std::vector<row> rule_rows = {
  // [embedrt.endpoint]
  {[](auto& c) { c.endpoint.base_url = "ftp://example.com"; },
   R"(embedrt.endpoint.base_url: must be empty or an http:// or https:// URL with a host, got "ftp://example.com")"},
  {[](auto& c) { c.endpoint.base_url = "https://"; },
   R"(embedrt.endpoint.base_url: must be empty or an http:// or https:// URL with a host, got "https://")"},
  {[](auto& c) { c.endpoint.base_url = "https://api.example.com:99999/v1"; },
   R"(embedrt.endpoint.base_url: must be empty or an http:// or https:// URL with a host, got "https://api.example.com:99999/v1")"},
  {[](auto& c) { c.endpoint.base_url = "https://api example.com/v1"; },
   R"(embedrt.endpoint.base_url: must be empty or an http:// or https:// URL with a host, got "https://api example.com/v1")"},
  {[](auto& c) { c.endpoint.base_url = "https://user:secret@api.example.com/v1"; },
   R"(embedrt.endpoint.base_url: must not contain user:password@ (the key comes from the variable named by api_key_env), got "https://***@api.example.com/v1")"},
  {[](auto& c) { c.endpoint.base_url = "https://api.example.com/v1?x=1"; },
   R"(embedrt.endpoint.base_url: must not contain a query or fragment (/embeddings is appended), got "https://api.example.com/v1?x=1")"},
  {[](auto& c) { c.endpoint.base_url = "https://api.example.com/v1/embeddings/"; },
   R"(embedrt.endpoint.base_url: must end before /embeddings (it is appended), got "https://api.example.com/v1/embeddings/")"},
  {[](auto& c) { c.endpoint.api_key_env = ""; },
   R"(embedrt.endpoint.api_key_env: must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*), not the key itself, got "")"},
  {[](auto& c) { c.endpoint.api_key_env = "OPENAI-API-KEY"; },
   R"(embedrt.endpoint.api_key_env: must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*), not the key itself, got a value of 14 characters (not shown: it may be a key))"},
  {[](auto& c) { c.endpoint.api_key_env = "1KEY"; },
   R"(embedrt.endpoint.api_key_env: must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*), not the key itself, got a value of 4 characters (not shown: it may be a key))"},
  {[](auto& c) { c.endpoint.model = ""; },
   R"(embedrt.endpoint.model: must not be empty, got "")"},
  {[](auto& c) { c.endpoint.dimensions = 65537; },
   "embedrt.endpoint.dimensions: must be an integer in [0, 65536], got 65537"},
  {[](auto& c) { c.endpoint.encoding_format = "json"; },
   R"(embedrt.endpoint.encoding_format: must be "base64" or "float", got "json")"},
  {[](auto& c) { c.endpoint.encoding_format = "Base64"; },
   R"(embedrt.endpoint.encoding_format: must be "base64" or "float", got "Base64")"},
  {[](auto& c) { c.endpoint.connect_timeout_ms = 0; },
   "embedrt.endpoint.connect_timeout_ms: must be an integer in [1, 600000], got 0"},
  {[](auto& c) { c.endpoint.connect_timeout_ms = 600001; },
   "embedrt.endpoint.connect_timeout_ms: must be an integer in [1, 600000], got "
   "600001"},
  {[](auto& c) { c.endpoint.proxy = "proxy.example.com:3128"; },
   "embedrt.endpoint.proxy: must be empty or a proxy URL "
   "(http|https|socks4|socks4a|socks5|socks5h)://host[:port], got "
   "\"proxy.example.com:3128\""},
  {[](auto& c) { c.endpoint.proxy = "http://user:secret@proxy.example.com:3128 x"; },
   "embedrt.endpoint.proxy: must be empty or a proxy URL "
   "(http|https|socks4|socks4a|socks5|socks5h)://host[:port], got "
   "\"http://***@proxy.example.com:3128 x\""},
  {[](auto& c) { c.endpoint.attempt_timeout_ms = 0; },
   "embedrt.endpoint.attempt_timeout_ms: must be an integer in [1, 3600000], got 0"},
  {[](auto& c) { c.endpoint.attempt_timeout_ms = 3600001; },
   "embedrt.endpoint.attempt_timeout_ms: must be an integer in [1, 3600000], got "
   "3600001"},
  // [embedrt.input]
  {[](auto& c) { c.input.max_text_bytes = 0; },
   "embedrt.input.max_text_bytes: must be an integer in [1, 16777216], got 0"},
  {[](auto& c) { c.input.max_text_bytes = 16777217; },
   "embedrt.input.max_text_bytes: must be an integer in [1, 16777216], got 16777217"},
  {[](auto& c) { c.input.bytes_per_token = 0; },
   "embedrt.input.bytes_per_token: must be an integer in [1, 64], got 0"},
  {[](auto& c) { c.input.bytes_per_token = 65; },
   "embedrt.input.bytes_per_token: must be an integer in [1, 64], got 65"},
  {[](auto& c) { c.input.max_text_tokens = 0; },
   "embedrt.input.max_text_tokens: must be an integer in [1, 1000000], got 0"},
  {[](auto& c) { c.input.max_text_tokens = 1000001; },
   "embedrt.input.max_text_tokens: must be an integer in [1, 1000000], got 1000001"},
  {[](auto& c) { c.input.max_texts_per_request = 0; },
   "embedrt.input.max_texts_per_request: must be an integer in [1, 1000000], got 0"},
  {[](auto& c) { c.input.max_texts_per_request = 1000001; },
   "embedrt.input.max_texts_per_request: must be an integer in [1, 1000000], got "
   "1000001"},
  {[](auto& c) { c.input.max_line_bytes = 63; },
   "embedrt.input.max_line_bytes: must be an integer in [64, 1073741824], got 63"},
  {[](auto& c) { c.input.max_line_bytes = 1073741825; },
   "embedrt.input.max_line_bytes: must be an integer in [64, 1073741824], got "
   "1073741825"},
  {[](auto& c) { c.input.max_line_depth = 0; },
   "embedrt.input.max_line_depth: must be an integer in [1, 1000], got 0"},
  {[](auto& c) { c.input.max_line_depth = 1001; },
   "embedrt.input.max_line_depth: must be an integer in [1, 1000], got 1001"},
  // [embedrt.request]
  {[](auto& c) { c.request.timeout_ms = 0; },
   "embedrt.request.timeout_ms: must be an integer in [1, 86400000], got 0"},
  {[](auto& c) { c.request.timeout_ms = 86400001; },
   "embedrt.request.timeout_ms: must be an integer in [1, 86400000], got 86400001"},
  {[](auto& c) { c.request.min_attempt_ms = 60001; },
   "embedrt.request.min_attempt_ms: must be an integer in [0, 60000], got 60001"},
  // [embedrt.limits]
  {[](auto& c) { c.limits.interactive_capacity = 0; },
   "embedrt.limits.interactive_capacity: must be an integer in [1, 10000000], got 0"},
  {[](auto& c) { c.limits.interactive_capacity = 10000001; },
   "embedrt.limits.interactive_capacity: must be an integer in [1, 10000000], got "
   "10000001"},
  {[](auto& c) { c.limits.bulk_capacity = 0; },
   "embedrt.limits.bulk_capacity: must be an integer in [1, 10000000], got 0"},
  {[](auto& c) { c.limits.bulk_capacity = 10000001; },
   "embedrt.limits.bulk_capacity: must be an integer in [1, 10000000], got 10000001"},
  {[](auto& c) { c.limits.bulk_min_share_percent = 0; },
   "embedrt.limits.bulk_min_share_percent: must be an integer in [1, 100], got 0"},
  {[](auto& c) { c.limits.bulk_min_share_percent = 101; },
   "embedrt.limits.bulk_min_share_percent: must be an integer in [1, 100], got 101"},
  {[](auto& c) { c.limits.interactive_reserved_attempts = 4097; },
   "embedrt.limits.interactive_reserved_attempts: must be an integer in [0, 4096], got "
   "4097"},
  {[](auto& c) { c.limits.response_memory_mib = 0; },
   "embedrt.limits.response_memory_mib: must be an integer in [1, 65536], got 0"},
  {[](auto& c) { c.limits.response_memory_mib = 65537; },
   "embedrt.limits.response_memory_mib: must be an integer in [1, 65536], got 65537"},
  {[](auto& c) { c.limits.max_response_bytes = 65535; },
   "embedrt.limits.max_response_bytes: must be an integer in [65536, 4294967296], got "
   "65535"},
  {[](auto& c) { c.limits.max_response_bytes = 4294967297; },
   "embedrt.limits.max_response_bytes: must be an integer in [65536, 4294967296], got "
   "4294967297"},
  // [embedrt.http_pool]
  {[](auto& c) { c.http_pool.workers = 0; },
   "embedrt.http_pool.workers: must be an integer in [1, 64], got 0"},
  {[](auto& c) {
     c.http_pool.workers = 65;
     c.http_pool.max_connections = 100;
   },
   "embedrt.http_pool.workers: must be an integer in [1, 64], got 65"},
  {[](auto& c) { c.http_pool.max_connections = 0; },
   "embedrt.http_pool.max_connections: must be an integer in [1, 4096], got 0"},
  {[](auto& c) { c.http_pool.max_connections = 4097; },
   "embedrt.http_pool.max_connections: must be an integer in [1, 4096], got 4097"},
  {[](auto& c) {
     c.http_pool.workers = 8;
     c.http_pool.max_connections = 7;
   },
   "embedrt.http_pool.max_connections: must be >= embedrt.http_pool.workers (8), got "
   "7"},
  // [embedrt.rate_limiter]
  {[](auto& c) { c.rate_limiter.requests_per_minute = 100000001; },
   "embedrt.rate_limiter.requests_per_minute: must be an integer in [0, 100000000], "
   "got "
   "100000001"},
  {[](auto& c) { c.rate_limiter.tokens_per_minute = 4000000001u; },
   "embedrt.rate_limiter.tokens_per_minute: must be an integer in [0, 4000000000], got "
   "4000000001"},
  {[](auto& c) { c.rate_limiter.burst_seconds = 0; },
   "embedrt.rate_limiter.burst_seconds: must be an integer in [1, 60], got 0"},
  {[](auto& c) { c.rate_limiter.burst_seconds = 61; },
   "embedrt.rate_limiter.burst_seconds: must be an integer in [1, 60], got 61"},
  {[](auto& c) { c.rate_limiter.max_queued = 0; },
   "embedrt.rate_limiter.max_queued: must be an integer in [1, 10000000], got 0"},
  {[](auto& c) { c.rate_limiter.max_queued = 10000001; },
   "embedrt.rate_limiter.max_queued: must be an integer in [1, 10000000], got "
   "10000001"},
  {[](auto& c) { c.rate_limiter.shared_store = "http://localhost:6379"; },
   R"(embedrt.rate_limiter.shared_store: must be empty or redis://host[:port][/db], got "http://localhost:6379")"},
  {[](auto& c) { c.rate_limiter.shared_store = "rediss://localhost"; },
   R"(embedrt.rate_limiter.shared_store: rediss:// (TLS) is not supported by hiredis 0.14; use redis:// on a trusted network or a TLS tunnel, got "rediss://localhost")"},
  {[](auto& c) { c.rate_limiter.shared_store = "redis://localhost:0"; },
   R"(embedrt.rate_limiter.shared_store: port must be in [1, 65535], got "redis://localhost:0")"},
  {[](auto& c) { c.rate_limiter.shared_store = "redis://:secret@localhost/1"; },
   R"(embedrt.rate_limiter.shared_store: must not hold a password (it is read from the variable named by shared_password_env), got "redis://***@localhost/1")"},
  {[](auto& c) { c.rate_limiter.shared_store = "redis://localhost/x"; },
   R"(embedrt.rate_limiter.shared_store: database must be an integer in [0, 1000000], got "redis://localhost/x")"},
  {[](auto& c) { c.rate_limiter.shared_name = "two words"; },
   R"(embedrt.rate_limiter.shared_name: must be at most 200 printable characters without spaces, got "two words")"},
  {[](auto& c) { c.rate_limiter.shared_password_env = "pass word"; },
   R"(embedrt.rate_limiter.shared_password_env: must be an environment variable name, got "pass word")"},
  {[](auto& c) { c.rate_limiter.shared_lease_horizon_ms = 0; },
   "embedrt.rate_limiter.shared_lease_horizon_ms: must be an integer in [1, 10000], "
   "got 0"},
  {[](auto& c) { c.rate_limiter.shared_lease_horizon_ms = 10001; },
   "embedrt.rate_limiter.shared_lease_horizon_ms: must be an integer in [1, 10000], "
   "got 10001"},
  {[](auto& c) { c.rate_limiter.shared_lease_ttl_ms = 9; },
   "embedrt.rate_limiter.shared_lease_ttl_ms: must be an integer in [10, 600000], "
   "got 9"},
  {[](auto& c) { c.rate_limiter.shared_lease_ttl_ms = 600001; },
   "embedrt.rate_limiter.shared_lease_ttl_ms: must be an integer in [10, 600000], "
   "got 600001"},
  {[](auto& c) { c.rate_limiter.shared_call_timeout_ms = 0; },
   "embedrt.rate_limiter.shared_call_timeout_ms: must be an integer in [1, 1000], "
   "got 0"},
  {[](auto& c) { c.rate_limiter.shared_call_timeout_ms = 1001; },
   "embedrt.rate_limiter.shared_call_timeout_ms: must be an integer in [1, 1000], "
   "got 1001"},
  {[](auto& c) { c.rate_limiter.shared_expected_replicas = 0; },
   "embedrt.rate_limiter.shared_expected_replicas: must be an integer in [1, 100000], "
   "got 0"},
  {[](auto& c) { c.rate_limiter.shared_expected_replicas = 100001; },
   "embedrt.rate_limiter.shared_expected_replicas: must be an integer in [1, 100000], "
   "got 100001"},
  {[](auto& c) { c.rate_limiter.shared_fallback_percent = 101; },
   "embedrt.rate_limiter.shared_fallback_percent: must be an integer in [0, 100], "
   "got 101"},
  // [embedrt.circuit_breaker]
  {[](auto& c) { c.circuit_breaker.consecutive_failures = 1000001; },
   "embedrt.circuit_breaker.consecutive_failures: must be an integer in [0, 1000000], "
   "got 1000001"},
  {[](auto& c) { c.circuit_breaker.failure_rate_percent = 101; },
   "embedrt.circuit_breaker.failure_rate_percent: must be an integer in [0, 100], got "
   "101"},
  {[](auto& c) { c.circuit_breaker.window_calls = 0; },
   "embedrt.circuit_breaker.window_calls: must be an integer in [1, 100000], got 0"},
  {[](auto& c) { c.circuit_breaker.window_calls = 100001; },
   "embedrt.circuit_breaker.window_calls: must be an integer in [1, 100000], got "
   "100001"},
  {[](auto& c) { c.circuit_breaker.minimum_calls = 0; },
   "embedrt.circuit_breaker.minimum_calls: must be an integer in [1, 100000], got 0"},
  {[](auto& c) {
     c.circuit_breaker.window_calls = 100000;
     c.circuit_breaker.minimum_calls = 100001;
   },
   "embedrt.circuit_breaker.minimum_calls: must be an integer in [1, 100000], got "
   "100001"},
  {[](auto& c) { c.circuit_breaker.minimum_calls = 1001; },
   "embedrt.circuit_breaker.minimum_calls: must be <= "
   "embedrt.circuit_breaker.window_calls (1000), got 1001"},
  {[](auto& c) { c.circuit_breaker.evidence_sigmas = -0.5; },
   "embedrt.circuit_breaker.evidence_sigmas: must be a number in [0.0, 10.0], got "
   "-0.5"},
  {[](auto& c) { c.circuit_breaker.evidence_sigmas = 10.5; },
   "embedrt.circuit_breaker.evidence_sigmas: must be a number in [0.0, 10.0], got "
   "10.5"},
  {[](auto& c) { c.circuit_breaker.slow_call_ms = 3600001; },
   "embedrt.circuit_breaker.slow_call_ms: must be an integer in [0, 3600000], got "
   "3600001"},
  {[](auto& c) { c.circuit_breaker.slow_call_rate_percent = 0; },
   "embedrt.circuit_breaker.slow_call_rate_percent: must be an integer in [1, 100], "
   "got 0"},
  {[](auto& c) { c.circuit_breaker.slow_call_rate_percent = 101; },
   "embedrt.circuit_breaker.slow_call_rate_percent: must be an integer in [1, 100], "
   "got 101"},
  {[](auto& c) { c.circuit_breaker.open_duration_ms = 0; },
   "embedrt.circuit_breaker.open_duration_ms: must be an integer in [1, 3600000], got "
   "0"},
  {[](auto& c) {
     c.circuit_breaker.open_duration_ms = 3600001;
     c.circuit_breaker.max_open_duration_ms = 86400000;
   },
   "embedrt.circuit_breaker.open_duration_ms: must be an integer in [1, 3600000], got "
   "3600001"},
  {[](auto& c) { c.circuit_breaker.open_duration_multiplier = 0.99; },
   "embedrt.circuit_breaker.open_duration_multiplier: must be a number in [1.0, "
   "100.0], got 0.99"},
  {[](auto& c) { c.circuit_breaker.open_duration_multiplier = 100.5; },
   "embedrt.circuit_breaker.open_duration_multiplier: must be a number in [1.0, "
   "100.0], got 100.5"},
  {[](auto& c) {
     c.circuit_breaker.open_duration_multiplier
       = std::numeric_limits<double>::quiet_NaN();
   },
   "embedrt.circuit_breaker.open_duration_multiplier: must be a number in [1.0, "
   "100.0], got nan"},
  {[](auto& c) { c.circuit_breaker.max_open_duration_ms = 0; },
   "embedrt.circuit_breaker.max_open_duration_ms: must be an integer in [1, 86400000], "
   "got 0"},
  {[](auto& c) { c.circuit_breaker.max_open_duration_ms = 86400001; },
   "embedrt.circuit_breaker.max_open_duration_ms: must be an integer in [1, 86400000], "
   "got 86400001"},
  {[](auto& c) { c.circuit_breaker.max_open_duration_ms = 4999; },
   "embedrt.circuit_breaker.max_open_duration_ms: must be >= "
   "embedrt.circuit_breaker.open_duration_ms (5000), got 4999"},
  {[](auto& c) { c.circuit_breaker.half_open_trials = 0; },
   "embedrt.circuit_breaker.half_open_trials: must be an integer in [1, 1000], got 0"},
  {[](auto& c) { c.circuit_breaker.half_open_trials = 1001; },
   "embedrt.circuit_breaker.half_open_trials: must be an integer in [1, 1000], got "
   "1001"},
  // [embedrt.retry]
  {[](auto& c) { c.retry.max_attempts = 0; },
   "embedrt.retry.max_attempts: must be an integer in [1, 100], got 0"},
  {[](auto& c) { c.retry.max_attempts = 101; },
   "embedrt.retry.max_attempts: must be an integer in [1, 100], got 101"},
  {[](auto& c) { c.retry.base_delay_ms = 0; },
   "embedrt.retry.base_delay_ms: must be an integer in [1, 600000], got 0"},
  {[](auto& c) {
     c.retry.base_delay_ms = 600001;
     c.retry.max_delay_ms = 600001;
   },
   "embedrt.retry.base_delay_ms: must be an integer in [1, 600000], got 600001"},
  {[](auto& c) { c.retry.multiplier = 0.5; },
   "embedrt.retry.multiplier: must be a number in [1.0, 10.0], got 0.5"},
  {[](auto& c) { c.retry.multiplier = 10.25; },
   "embedrt.retry.multiplier: must be a number in [1.0, 10.0], got 10.25"},
  {[](auto& c) { c.retry.multiplier = std::numeric_limits<double>::infinity(); },
   "embedrt.retry.multiplier: must be a number in [1.0, 10.0], got inf"},
  {[](auto& c) { c.retry.max_delay_ms = 0; },
   "embedrt.retry.max_delay_ms: must be an integer in [1, 3600000], got 0"},
  {[](auto& c) { c.retry.max_delay_ms = 3600001; },
   "embedrt.retry.max_delay_ms: must be an integer in [1, 3600000], got 3600001"},
  {[](auto& c) { c.retry.max_delay_ms = 499; },
   "embedrt.retry.max_delay_ms: must be >= embedrt.retry.base_delay_ms (500), got 499"},
  {[](auto& c) { c.retry.max_retry_after_ms = 86400001; },
   "embedrt.retry.max_retry_after_ms: must be an integer in [0, 86400000], got "
   "86400001"},
  {[](auto& c) { c.retry.budget_percent = 1001; },
   "embedrt.retry.budget_percent: must be an integer in [0, 1000], got 1001"},
  {[](auto& c) { c.retry.budget_min_per_second = 100001; },
   "embedrt.retry.budget_min_per_second: must be an integer in [0, 100000], got "
   "100001"},
  {[](auto& c) { c.retry.budget_window_ms = 99; },
   "embedrt.retry.budget_window_ms: must be an integer in [100, 3600000], got 99"},
  {[](auto& c) { c.retry.budget_window_ms = 3600001; },
   "embedrt.retry.budget_window_ms: must be an integer in [100, 3600000], got 3600001"},
  {[](auto& c) { c.retry.seed = 9223372036854775808u; },
   "embedrt.retry.seed: must be an integer in [0, 9223372036854775807], got "
   "9223372036854775808"},
  // [embedrt.batching]
  {[](auto& c) { c.batching.max_inputs = 0; },
   "embedrt.batching.max_inputs: must be an integer in [1, 2048], got 0"},
  {[](auto& c) { c.batching.max_inputs = 2049; },
   "embedrt.batching.max_inputs: must be an integer in [1, 2048], got 2049"},
  {[](auto& c) { c.batching.max_tokens = 0; },
   "embedrt.batching.max_tokens: must be an integer in [1, 300000], got 0"},
  {[](auto& c) { c.batching.max_tokens = 300001; },
   "embedrt.batching.max_tokens: must be an integer in [1, 300000], got 300001"},
  {[](auto& c) { c.batching.linger_us = 1000001; },
   "embedrt.batching.linger_us: must be an integer in [0, 1000000], got 1000001"},
  {[](auto& c) { c.batching.bulk_max_inputs = 0; },
   "embedrt.batching.bulk_max_inputs: must be an integer in [1, 2048], got 0"},
  {[](auto& c) { c.batching.bulk_max_inputs = 2049; },
   "embedrt.batching.bulk_max_inputs: must be an integer in [1, 2048], got 2049"},
  // [embedrt.supervision]
  {[](auto& c) {
     c.supervision.restart_min_backoff_ms = 600001;
     c.supervision.restart_max_backoff_ms = 600001;
   },
   "embedrt.supervision.restart_min_backoff_ms: must be an integer in [0, 600000], got "
   "600001"},
  {[](auto& c) { c.supervision.restart_max_backoff_ms = 3600001; },
   "embedrt.supervision.restart_max_backoff_ms: must be an integer in [0, 3600000], "
   "got "
   "3600001"},
  {[](auto& c) { c.supervision.restart_max_backoff_ms = 9; },
   "embedrt.supervision.restart_max_backoff_ms: must be >= "
   "embedrt.supervision.restart_min_backoff_ms (10), got 9"},
  {[](auto& c) { c.supervision.restart_jitter_percent = 101; },
   "embedrt.supervision.restart_jitter_percent: must be an integer in [0, 100], got "
   "101"},
  {[](auto& c) { c.supervision.max_worker_restarts = 0; },
   "embedrt.supervision.max_worker_restarts: must be an integer in [1, 1000000], got "
   "0"},
  {[](auto& c) { c.supervision.max_worker_restarts = 1000001; },
   "embedrt.supervision.max_worker_restarts: must be an integer in [1, 1000000], got "
   "1000001"},
  {[](auto& c) { c.supervision.restart_reset_after_ms = 0; },
   "embedrt.supervision.restart_reset_after_ms: must be an integer in [1, 86400000], "
   "got 0"},
  {[](auto& c) { c.supervision.restart_reset_after_ms = 86400001; },
   "embedrt.supervision.restart_reset_after_ms: must be an integer in [1, 86400000], "
   "got 86400001"},
  {[](auto& c) { c.supervision.pool_max_backoff_ms = 0; },
   "embedrt.supervision.pool_max_backoff_ms: must be an integer in [1, 3600000], got "
   "0"},
  {[](auto& c) { c.supervision.pool_max_backoff_ms = 3600001; },
   "embedrt.supervision.pool_max_backoff_ms: must be an integer in [1, 3600000], got "
   "3600001"},
  {[](auto& c) { c.supervision.restart_window_ms = 0; },
   "embedrt.supervision.restart_window_ms: must be an integer in [1, 86400000], got 0"},
  {[](auto& c) { c.supervision.restart_window_ms = 86400001; },
   "embedrt.supervision.restart_window_ms: must be an integer in [1, 86400000], got "
   "86400001"},
  {[](auto& c) { c.supervision.max_pool_restarts = 1000001; },
   "embedrt.supervision.max_pool_restarts: must be an integer in [0, 1000000], got "
   "1000001"},
  {[](auto& c) { c.supervision.pool_restart_window_ms = 0; },
   "embedrt.supervision.pool_restart_window_ms: must be an integer in [1, 86400000], "
   "got 0"},
  {[](auto& c) { c.supervision.pool_restart_window_ms = 86400001; },
   "embedrt.supervision.pool_restart_window_ms: must be an integer in [1, 86400000], "
   "got 86400001"},
  // [embedrt.shutdown]
  {[](auto& c) { c.shutdown.grace_ms = 600001; },
   "embedrt.shutdown.grace_ms: must be an integer in [0, 600000], got 600001"},
  // [embedrt.job]
  {[](auto& c) { c.job.reorder_max_lines = 0; },
   "embedrt.job.reorder_max_lines: must be an integer in [1, 10000000], got 0"},
  {[](auto& c) { c.job.reorder_max_lines = 10000001; },
   "embedrt.job.reorder_max_lines: must be an integer in [1, 10000000], got 10000001"},
  {[](auto& c) { c.job.reorder_max_mib = 0; },
   "embedrt.job.reorder_max_mib: must be an integer in [1, 65536], got 0"},
  {[](auto& c) { c.job.reorder_max_mib = 65537; },
   "embedrt.job.reorder_max_mib: must be an integer in [1, 65536], got 65537"},
};

} // namespace

CAF_TEST(the defaults are valid) {
  CAF_CHECK_EQUAL(join(validate(runtime_config{})), "");
}

CAF_TEST(every broken rule has its exact message) {
  for (auto& x : rule_rows) {
    runtime_config cfg;
    x.change(cfg);
    CAF_CHECK_EQUAL(join(validate(cfg)), x.expected);
  }
}

CAF_TEST(every range bound of the schema is tested) {
  // Each integer key with a lower bound above 0 has a row for min - 1, every integer
  // and number key a row for max + 1 (the rows above are written from the header).
  std::string missing;
  for (auto& x : schema::keys()) {
    auto key = x.key() + ":";
    auto rows = std::count_if(rule_rows.begin(), rule_rows.end(), [&](const row& r) {
      return r.expected.compare(0, key.size(), key) == 0;
    });
    auto r = std::get_if<schema::integer_rule>(&x.rule);
    auto needed = r != nullptr ? (r->min > 0 ? 2 : 1)
                  : std::holds_alternative<schema::real_rule>(x.rule) ? 2
                                                                      : 0;
    if (rows < needed)
      missing += x.key() + " ";
  }
  CAF_CHECK_EQUAL(missing, "");
}

CAF_TEST(the boundaries themselves are valid) {
  runtime_config low;
  runtime_config high;
  for (auto& x : schema::keys()) {
    if (auto r = std::get_if<schema::integer_rule>(&x.rule)) {
      std::visit(
        [&](auto ref) {
          ref(low) = static_cast<std::decay_t<decltype(ref(low))>>(r->min);
        },
        r->ref);
      std::visit(
        [&](auto ref) {
          ref(high) = static_cast<std::decay_t<decltype(ref(high))>>(r->max);
        },
        r->ref);
    } else if (auto d = std::get_if<schema::real_rule>(&x.rule)) {
      d->ref(low) = d->min;
      d->ref(high) = d->max;
    }
  }
  // Cross-field rules hold at equality.
  CAF_CHECK_EQUAL(join(validate(high)), "");
  CAF_CHECK_EQUAL(join(validate(low)), "");
}

CAF_TEST(all broken rules are reported at once) {
  runtime_config cfg;
  cfg.retry.max_attempts = 0;
  cfg.endpoint.encoding_format = "xml";
  cfg.circuit_breaker.minimum_calls = 1030;
  cfg.batching.max_inputs = 5000;
  CAF_CHECK_EQUAL(
    join(validate(cfg)),
    "embedrt.endpoint.encoding_format: must be \"base64\" or \"float\", "
    "got \"xml\"\n"
    "embedrt.retry.max_attempts: must be an integer in [1, 100], got 0\n"
    "embedrt.batching.max_inputs: must be an integer in [1, 2048], got 5000\n"
    "embedrt.circuit_breaker.minimum_calls: must be <= "
    "embedrt.circuit_breaker.window_calls (1000), got 1030");
}

CAF_TEST(a cross field rule is not checked when one side is out of range) {
  runtime_config cfg;
  cfg.circuit_breaker.window_calls = 0; // minimum_calls = 100 > 0, but say it once
  CAF_CHECK_EQUAL(join(validate(cfg)), "embedrt.circuit_breaker.window_calls: must be "
                                       "an integer in [1, 100000], got 0");
}

CAF_TEST(to_string is key rule and value) {
  CAF_CHECK_EQUAL((config_error{"embedrt.a.b", "must be x", "5"}.to_string()),
                  "embedrt.a.b: must be x, got 5");
  CAF_CHECK_EQUAL((config_error{"embedrt.a", "unknown section", ""}.to_string()),
                  "embedrt.a: unknown section");
}
