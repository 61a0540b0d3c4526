#include "config/schema.hpp"

#include <algorithm>

#include "config/caf_ini.hpp"
#include "config/suggest.hpp"
#include "config/url.hpp"
#include "src/shared/redis_url.hpp"

namespace embedrt::schema {

namespace {

// -- checks of string fields (the table's own; URLs are parsed in url.cpp) ----------

void check_base_url(const std::string& key, const std::string& value,
                    std::vector<config_error>& out) {
  for (auto& rule : url::base_url_problems(value, false))
    out.push_back({key, std::move(rule), caf_ini::quote(url::redact_userinfo(value))});
}

void check_api_key_env(const std::string&, const std::string& value,
                       std::vector<config_error>& out) {
  if (!is_env_var_name(value))
    out.push_back(api_key_env_error(value));
}

void check_not_empty(const std::string& key, const std::string& value,
                     std::vector<config_error>& out) {
  if (value.empty())
    out.push_back({key, "must not be empty", caf_ini::quote(value)});
}

void check_proxy(const std::string& key, const std::string& value,
                 std::vector<config_error>& out) {
  if (!value.empty() && !url::is_proxy_url(value))
    out.push_back({key,
                   "must be empty or a proxy URL "
                   "(http|https|socks4|socks4a|socks5|socks5h)://host[:port]",
                   caf_ini::quote(url::redact_userinfo(value))});
}

void check_shared_store(const std::string& key, const std::string& value,
                        std::vector<config_error>& out) {
  if (value.empty())
    return;
  std::string problem;
  if (!shared::parse_redis_url(value, nullptr, problem))
    out.push_back({key, problem, caf_ini::quote(url::redact_userinfo(value))});
}

void check_shared_name(const std::string& key, const std::string& value,
                       std::vector<config_error>& out) {
  auto bad = std::any_of(value.begin(), value.end(),
                         [](unsigned char c) { return c <= ' ' || c >= 0x7f; });
  if (bad || value.size() > 200)
    out.push_back({key, "must be at most 200 printable characters without spaces",
                   caf_ini::quote(value)});
}

void check_env_var_name(const std::string& key, const std::string& value,
                        std::vector<config_error>& out) {
  if (!is_env_var_name(value))
    out.push_back({key, "must be an environment variable name", caf_ini::quote(value)});
}

/// `"a" or "b"`, `"a", "b" or "c"`.
std::string choices_text(const std::vector<std::string_view>& choices) {
  std::string result;
  for (size_t i = 0; i < choices.size(); ++i) {
    if (i > 0)
      result += i + 1 == choices.size() ? " or " : ", ";
    result += caf_ini::quote(choices[i]);
  }
  return result;
}

// -- building rows ------------------------------------------------------------------

key_descriptor integer(std::string_view section, std::string_view field,
                       std::variant<field_ref<uint32_t>, field_ref<uint64_t>> ref,
                       uint64_t min, uint64_t max, std::string_view description) {
  return {section, field, integer_rule{ref, min, max}, description};
}

key_descriptor real(std::string_view section, std::string_view field,
                    field_ref<double> ref, double min, double max,
                    std::string_view description) {
  return {section, field, real_rule{ref, min, max}, description};
}

key_descriptor flag(std::string_view section, std::string_view field,
                    field_ref<bool> ref, std::string_view description) {
  return {section, field, bool_rule{ref}, description};
}

key_descriptor
text(std::string_view section, std::string_view field, field_ref<std::string> ref,
     std::string_view valid,
     void (*check)(const std::string&, const std::string&, std::vector<config_error>&),
     std::string_view description) {
  return {section, field, string_rule{ref, std::string{valid}, {}, check}, description};
}

/// A string that must be one of `choices`.
key_descriptor choice(std::string_view section, std::string_view field,
                      field_ref<std::string> ref, std::vector<std::string_view> choices,
                      std::string_view description) {
  auto valid = choices_text(choices);
  return {section, field,
          string_rule{ref, std::move(valid), std::move(choices), nullptr}, description};
}

// The largest integer a CAF 0.17 config file can hold (config_value::integer is int64).
constexpr uint64_t int64_max = 9223372036854775807u;

} // namespace

// Names a field once: "section", "field" and the accessor come from the same tokens, so
// a key is always exactly the member name.
// clang-format off
#define EMBEDRT_KEY(section, field)                                                    \
  #section, #field,                                                                    \
    &field_of<&runtime_config::section, &decltype(runtime_config::section)::field>
// clang-format on

const std::vector<key_descriptor>& keys() {
  static const std::vector<key_descriptor> table = {
    // [embedrt.endpoint]
    text(EMBEDRT_KEY(endpoint, base_url), "empty, or http(s)://host[:port][/path]",
         check_base_url,
         "API base URL before /embeddings; empty: $OPENAI_BASE_URL, else "
         "https://api.openai.com/v1"),
    text(EMBEDRT_KEY(endpoint, api_key_env), "an environment variable name",
         check_api_key_env,
         "name of the environment variable holding the API key (never the key)"),
    text(EMBEDRT_KEY(endpoint, model), "not empty", check_not_empty,
         "model used when a call does not name one"),
    integer(EMBEDRT_KEY(endpoint, dimensions), 0, 65536,
            "dimensions sent when a call does not set them; 0: not sent"),
    choice(EMBEDRT_KEY(endpoint, encoding_format), {"base64", "float"},
           "encoding_format asked of the upstream"),
    text(EMBEDRT_KEY(endpoint, ca_bundle), "a file path, or empty", nullptr,
         "CA bundle for TLS peer verification; empty: the system's"),
    flag(EMBEDRT_KEY(endpoint, allow_insecure_http),
         "allow sending the API key over plain http:// to a non-loopback host"),
    text(EMBEDRT_KEY(endpoint, proxy), "empty, or a proxy URL", check_proxy,
         "proxy for the upstream; empty: the environment's; loopback never uses one"),
    integer(EMBEDRT_KEY(endpoint, connect_timeout_ms), 1, 600000,
            "TCP+TLS connect timeout per attempt, ms"),
    integer(EMBEDRT_KEY(endpoint, attempt_timeout_ms), 1, 3600000,
            "total timeout per attempt including the body, ms"),
    // [embedrt.input]
    integer(EMBEDRT_KEY(input, max_text_bytes), 1, 16777216,
            "largest accepted input, bytes"),
    integer(EMBEDRT_KEY(input, bytes_per_token), 1, 64,
            "bytes per token used to estimate tokens from text"),
    integer(EMBEDRT_KEY(input, max_text_tokens), 1, 1000000,
            "largest accepted input, estimated tokens"),
    integer(EMBEDRT_KEY(input, max_texts_per_request), 1, 1000000,
            "most texts in one embed request"),
    integer(EMBEDRT_KEY(input, max_line_bytes), 64, 1073741824,
            "CLI: longest input line, bytes; longer lines are invalid_line"),
    integer(EMBEDRT_KEY(input, max_line_depth), 1, 1000,
            "CLI: deepest nesting in an input line; deeper is invalid_line"),
    // [embedrt.request]
    integer(EMBEDRT_KEY(request, timeout_ms), 1, 86400000,
            "overall deadline of a request from admission, ms"),
    integer(EMBEDRT_KEY(request, min_attempt_ms), 0, 60000,
            "no attempt starts with less than this left before the deadline, ms"),
    // [embedrt.limits]
    integer(EMBEDRT_KEY(limits, interactive_capacity), 1, 10000000,
            "interactive requests holding a place in the admission gate (any path)"),
    integer(
      EMBEDRT_KEY(limits, bulk_capacity), 1, 10000000,
      "bulk requests holding a place in the admission gate, plus bulk credit out"),
    integer(EMBEDRT_KEY(limits, bulk_min_share_percent), 1, 100,
            "share of dispatch slots bulk gets while interactive work waits, %"),
    integer(EMBEDRT_KEY(limits, interactive_reserved_attempts), 0, 4096,
            "pipeline slots bulk batches never take (kept for interactive texts)"),
    integer(EMBEDRT_KEY(limits, response_memory_mib), 1, 65536,
            "estimated size of the responses of all upstream requests in flight, MiB"),
    integer(
      EMBEDRT_KEY(limits, max_response_bytes), 65536, 4294967296u,
      "largest response body accepted, bytes; past it the attempt fails too_large"),
    // [embedrt.http_pool]
    integer(EMBEDRT_KEY(http_pool, workers), 1, 64,
            "worker actors, each with one curl multi handle and thread"),
    integer(EMBEDRT_KEY(http_pool, max_connections), 1, 4096,
            "open connections over all workers"),
    // [embedrt.rate_limiter]
    integer(EMBEDRT_KEY(rate_limiter, requests_per_minute), 0, 100000000,
            "requests per minute; 0: unlimited"),
    integer(EMBEDRT_KEY(rate_limiter, tokens_per_minute), 0, 4000000000u,
            "estimated tokens per minute; 0: unlimited"),
    integer(EMBEDRT_KEY(rate_limiter, burst_seconds), 1, 60,
            "bucket depth in seconds of rate"),
    integer(EMBEDRT_KEY(rate_limiter, max_queued), 1, 10000000,
            "permit requests waiting in FIFO order"),
    flag(EMBEDRT_KEY(rate_limiter, follow_upstream_headers),
         "follow x-ratelimit-remaining-* / x-ratelimit-reset-* response headers"),
    text(EMBEDRT_KEY(rate_limiter, shared_store), "empty, or redis://host[:port][/db]",
         check_shared_store, "Redis holding the budget shared across processes"),
    text(EMBEDRT_KEY(rate_limiter, shared_name), "empty, or printable without spaces",
         check_shared_name,
         "name of the shared budget; empty: base URL + hash of the key"),
    text(EMBEDRT_KEY(rate_limiter, shared_password_env), "an environment variable name",
         check_env_var_name,
         "environment variable holding the Redis password (never the password)"),
    integer(EMBEDRT_KEY(rate_limiter, shared_lease_horizon_ms), 1, 10000,
            "a lease covers this much recent demand, ms"),
    integer(EMBEDRT_KEY(rate_limiter, shared_lease_ttl_ms), 10, 600000,
            "unused lease older than this goes back to the store, ms"),
    integer(EMBEDRT_KEY(rate_limiter, shared_call_timeout_ms), 1, 1000,
            "deadline of one Redis call; past it the local share applies, ms"),
    integer(EMBEDRT_KEY(rate_limiter, shared_expected_replicas), 1, 100000,
            "processes expected to share the budget"),
    integer(EMBEDRT_KEY(rate_limiter, shared_fallback_percent), 0, 100,
            "local share while Redis is away, %; 0: 100 / expected replicas"),
    // [embedrt.circuit_breaker]
    integer(EMBEDRT_KEY(circuit_breaker, consecutive_failures), 0, 1000000,
            "open after this many consecutive failures; 0: off"),
    integer(EMBEDRT_KEY(circuit_breaker, failure_rate_percent), 0, 100,
            "open when the failure rate over the window reaches this, %; 0: off"),
    integer(EMBEDRT_KEY(circuit_breaker, window_calls), 1, 100000,
            "sliding window of the failure and slow-call rates, calls"),
    integer(EMBEDRT_KEY(circuit_breaker, minimum_calls), 1, 100000,
            "calls the window needs before a rate counts"),
    real(EMBEDRT_KEY(circuit_breaker, evidence_sigmas), 0.0, 10.0,
         "margin over the threshold a window's rate needs, in standard deviations"),
    integer(EMBEDRT_KEY(circuit_breaker, slow_call_ms), 0, 3600000,
            "calls slower than this are slow calls, ms; 0: off"),
    integer(EMBEDRT_KEY(circuit_breaker, slow_call_rate_percent), 1, 100,
            "open when the slow-call rate over the window reaches this, %"),
    integer(EMBEDRT_KEY(circuit_breaker, open_duration_ms), 1, 3600000,
            "first open period, ms"),
    real(EMBEDRT_KEY(circuit_breaker, open_duration_multiplier), 1.0, 100.0,
         "a failed half-open period re-opens with the open period times this"),
    integer(EMBEDRT_KEY(circuit_breaker, max_open_duration_ms), 1, 86400000,
            "cap of the growing open period, ms"),
    integer(EMBEDRT_KEY(circuit_breaker, half_open_trials), 1, 1000,
            "trial calls let through while half-open"),
    // [embedrt.retry]
    integer(EMBEDRT_KEY(retry, max_attempts), 1, 100,
            "attempts per upstream request, the first included"),
    integer(EMBEDRT_KEY(retry, base_delay_ms), 1, 600000, "first backoff cap, ms"),
    real(EMBEDRT_KEY(retry, multiplier), 1.0, 10.0,
         "growth of the backoff cap per retry"),
    integer(EMBEDRT_KEY(retry, max_delay_ms), 1, 3600000, "largest backoff, ms"),
    integer(EMBEDRT_KEY(retry, max_retry_after_ms), 0, 86400000,
            "a longer Retry-After ends the request rate_limited, ms"),
    integer(EMBEDRT_KEY(retry, budget_percent), 0, 1000,
            "retries may add at most this share on top of first attempts, %"),
    integer(EMBEDRT_KEY(retry, budget_min_per_second), 0, 100000,
            "retries always allowed per second regardless of the share"),
    integer(EMBEDRT_KEY(retry, budget_window_ms), 100, 3600000,
            "sliding window of the retry budget, ms"),
    integer(EMBEDRT_KEY(retry, seed), 0, int64_max,
            "RNG seed of the jitter; 0: from std::random_device"),
    // [embedrt.batching]
    flag(EMBEDRT_KEY(batching, enabled),
         "pack concurrent texts for the same model and dimensions into one request"),
    integer(EMBEDRT_KEY(batching, max_inputs), 1, 2048, "inputs per upstream request"),
    integer(EMBEDRT_KEY(batching, max_tokens), 1, 300000,
            "estimated tokens per upstream request"),
    integer(EMBEDRT_KEY(batching, linger_us), 0, 1000000,
            "how long a partial batch may wait for company, us"),
    integer(EMBEDRT_KEY(batching, bulk_max_inputs), 1, 2048,
            "inputs per upstream request of the bulk lane"),
    flag(EMBEDRT_KEY(batching, dedup),
         "share one upstream input between identical texts in flight"),
    // [embedrt.supervision]
    integer(EMBEDRT_KEY(supervision, restart_min_backoff_ms), 0, 600000,
            "first restart backoff of a failed worker, ms"),
    integer(EMBEDRT_KEY(supervision, restart_max_backoff_ms), 0, 3600000,
            "largest restart backoff, ms"),
    integer(EMBEDRT_KEY(supervision, restart_jitter_percent), 0, 100,
            "random factor of the restart backoff, %"),
    integer(EMBEDRT_KEY(supervision, max_worker_restarts), 1, 1000000,
            "more worker restarts within restart_window_ms restart the pool"),
    integer(EMBEDRT_KEY(supervision, restart_window_ms), 1, 86400000,
            "window of the worker restart intensity, ms"),
    integer(EMBEDRT_KEY(supervision, restart_reset_after_ms), 1, 86400000,
            "a worker up this long restarts at the smallest backoff again, ms"),
    integer(EMBEDRT_KEY(supervision, max_pool_restarts), 0, 1000000,
            "more pool restarts within pool_restart_window_ms: down for a pause"),
    integer(EMBEDRT_KEY(supervision, pool_restart_window_ms), 1, 86400000,
            "window of the pool restart intensity, ms"),
    integer(EMBEDRT_KEY(supervision, pool_max_backoff_ms), 1, 3600000,
            "largest pause before a pool taken down is restarted, ms"),
    flag(EMBEDRT_KEY(supervision, give_up),
         "past max_pool_restarts, stay unavailable until a new runtime"),
    flag(EMBEDRT_KEY(supervision, test_hooks),
         "honour crash_worker_for_test (tests and scenarios only)"),
    // [embedrt.shutdown]
    integer(EMBEDRT_KEY(shutdown, grace_ms), 0, 600000,
            "how long stop() lets admitted requests finish, ms"),
    // [embedrt.job]
    integer(EMBEDRT_KEY(job, reorder_max_lines), 1, 10000000,
            "CLI: lines between the oldest unwritten and the newest admitted line"),
    integer(EMBEDRT_KEY(job, reorder_max_mib), 1, 65536,
            "CLI: bytes of answers waiting to be written in input order, MiB"),
    // [embedrt.log]
    choice(EMBEDRT_KEY(log, level), {"off", "error", "warn", "info", "debug"},
           "least severe level of the JSON-line event log"),
    text(EMBEDRT_KEY(log, file), "a file path, or empty", nullptr,
         "file the JSON-line event log is appended to; empty: stderr"),
  };
  return table;
}

#undef EMBEDRT_KEY

const std::vector<order_rule>& order_rules() {
  static const std::vector<order_rule> rules = {
    {"embedrt.http_pool.max_connections", ">=", "embedrt.http_pool.workers"},
    {"embedrt.circuit_breaker.minimum_calls",
     "<=", "embedrt.circuit_breaker.window_calls"},
    {"embedrt.circuit_breaker.max_open_duration_ms",
     ">=", "embedrt.circuit_breaker.open_duration_ms"},
    {"embedrt.retry.max_delay_ms", ">=", "embedrt.retry.base_delay_ms"},
    {"embedrt.supervision.restart_max_backoff_ms",
     ">=", "embedrt.supervision.restart_min_backoff_ms"},
  };
  return rules;
}

std::string key_descriptor::key() const {
  std::string result = "embedrt.";
  result.append(section).append(".").append(field);
  return result;
}

std::string key_descriptor::category() const {
  return std::string{"embedrt."}.append(section);
}

const key_descriptor* find_key(std::string_view key) {
  for (auto& x : keys())
    if (key.size() == 9 + x.section.size() + x.field.size() && x.key() == key)
      return &x;
  return nullptr;
}

bool is_section(std::string_view path) {
  if (path == "embedrt")
    return true;
  for (auto& x : keys())
    if (path == x.category())
      return true;
  return false;
}

bool is_embedrt_path(std::string_view path) {
  return path == "embedrt" || path.substr(0, 8) == "embedrt.";
}

// -- rule texts ---------------------------------------------------------------------

std::string rule_text(const integer_rule& x) {
  return "must be an integer in [" + std::to_string(x.min) + ", "
         + std::to_string(x.max) + "]";
}

std::string rule_text(const real_rule& x) {
  return "must be a number in [" + caf_ini::format_real(x.min) + ", "
         + caf_ini::format_real(x.max) + "]";
}

std::string rule_text(const bool_rule&) {
  return "must be true or false";
}

std::string rule_text(const string_rule&) {
  return "must be a quoted string";
}

void check_string(const string_rule& x, const std::string& key,
                  const std::string& value, std::vector<config_error>& out) {
  if (!x.choices.empty()
      && std::find(x.choices.begin(), x.choices.end(), value) == x.choices.end())
    out.push_back({key, "must be " + x.valid, caf_ini::quote(value)});
  if (x.check != nullptr)
    x.check(key, value, out);
}

std::string range_text(const key_descriptor& x) {
  struct visitor {
    std::string operator()(const integer_rule& r) const {
      return "[" + std::to_string(r.min) + ", " + std::to_string(r.max) + "]";
    }
    std::string operator()(const real_rule& r) const {
      return "[" + caf_ini::format_real(r.min) + ", " + caf_ini::format_real(r.max)
             + "]";
    }
    std::string operator()(const bool_rule&) const { return "true or false"; }
    std::string operator()(const string_rule& r) const { return r.valid; }
  };
  auto result = std::visit(visitor{}, x.rule);
  auto key = x.key();
  for (auto& r : order_rules())
    if (r.lhs == key)
      result.append(", ").append(r.op).append(" ").append(r.rhs);
  return result;
}

std::string type_text(const key_descriptor& x) {
  switch (x.rule.index()) {
    case 0: return "integer";
    case 1: return "number";
    case 2: return "bool";
    default: return "string";
  }
}

std::string value_text(const key_descriptor& x, const runtime_config& cfg) {
  // The accessors take a mutable struct; reading through them does not modify it.
  auto& mut = const_cast<runtime_config&>(cfg);
  struct visitor {
    runtime_config& cfg;
    std::string operator()(const integer_rule& r) const {
      return std::visit([this](auto ref) { return std::to_string(ref(cfg)); }, r.ref);
    }
    std::string operator()(const real_rule& r) const {
      return caf_ini::format_real_for_caf(r.ref(cfg));
    }
    std::string operator()(const bool_rule& r) const {
      return r.ref(cfg) ? "true" : "false";
    }
    std::string operator()(const string_rule& r) const {
      return caf_ini::quote(r.ref(cfg));
    }
  };
  return std::visit(visitor{mut}, x.rule);
}

std::string suggestion_for(std::string_view unknown_key) {
  std::vector<std::string> candidates;
  for (auto& x : keys())
    candidates.push_back(x.key());
  // Only close matches: typos, '-' for '_'.
  auto best = suggest::closest(unknown_key, candidates, 4);
  if (best.empty())
    return {};
  return " (did you mean " + best + "?)";
}

// -- names ----------------------------------------------------------------------------

bool is_env_var_name(std::string_view x) {
  if (x.empty() || (x.front() >= '0' && x.front() <= '9'))
    return false;
  return std::all_of(x.begin(), x.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
           || c == '_';
  });
}

config_error api_key_env_error(const std::string& value) {
  config_error result{"embedrt.endpoint.api_key_env",
                      "must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*), "
                      "not the key itself",
                      ""};
  if (value.empty())
    result.value = caf_ini::quote(value);
  else
    result.value = "a value of " + std::to_string(value.size())
                   + " characters (not shown: it may be a key)";
  return result;
}

} // namespace embedrt::schema
