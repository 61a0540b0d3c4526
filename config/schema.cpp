#include "config/schema.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>

#include <caf/config_value.hpp>
#include <caf/expected.hpp>

#include "src/shared/redis_url.hpp"

namespace embedrt::schema {

namespace {

// -- checks of string fields --------------------------------------------------------

void check_base_url(const std::string& key, const std::string& value,
                    std::vector<config_error>& out) {
  for (auto& rule : base_url_problems(value, false))
    out.push_back({key, std::move(rule), quote(redact_userinfo(value))});
}

void check_api_key_env(const std::string&, const std::string& value,
                       std::vector<config_error>& out) {
  if (!is_env_var_name(value))
    out.push_back(api_key_env_error(value));
}

void check_not_empty(const std::string& key, const std::string& value,
                     std::vector<config_error>& out) {
  if (value.empty())
    out.push_back({key, "must not be empty", quote(value)});
}

void check_encoding_format(const std::string& key, const std::string& value,
                           std::vector<config_error>& out) {
  if (value != "base64" && value != "float")
    out.push_back({key, R"(must be "base64" or "float")", quote(value)});
}

void check_log_level(const std::string& key, const std::string& value,
                     std::vector<config_error>& out) {
  if (value != "off" && value != "error" && value != "warn" && value != "info"
      && value != "debug")
    out.push_back(
      {key, R"(must be "off", "error", "warn", "info" or "debug")", quote(value)});
}

void check_proxy(const std::string& key, const std::string& value,
                 std::vector<config_error>& out) {
  if (value.empty())
    return;
  static constexpr std::string_view schemes[]
    = {"http://", "https://", "socks4://", "socks4a://", "socks5://", "socks5h://"};
  bool known = false;
  for (auto scheme : schemes) {
    if (value.size() > scheme.size()
        && std::equal(scheme.begin(), scheme.end(), value.begin(),
                      [](char a, char b) { return a == std::tolower(b); }))
      known = true;
  }
  bool clean = std::none_of(value.begin(), value.end(),
                            [](unsigned char c) { return c <= 0x20 || c == 0x7f; });
  if (!known || !clean)
    out.push_back({key,
                   "must be empty or a proxy URL "
                   "(http|https|socks4|socks4a|socks5|socks5h)://host[:port]",
                   quote(redact_userinfo(value))});
}

void check_shared_store(const std::string& key, const std::string& value,
                        std::vector<config_error>& out) {
  if (value.empty())
    return;
  std::string problem;
  if (!shared::parse_redis_url(value, nullptr, problem))
    out.push_back({key, problem, quote(redact_userinfo(value))});
}

void check_shared_name(const std::string& key, const std::string& value,
                       std::vector<config_error>& out) {
  auto bad = std::any_of(value.begin(), value.end(),
                         [](unsigned char c) { return c <= ' ' || c >= 0x7f; });
  if (bad || value.size() > 200)
    out.push_back(
      {key, "must be at most 200 printable characters without spaces", quote(value)});
}

void check_env_var_name(const std::string& key, const std::string& value,
                        std::vector<config_error>& out) {
  if (!is_env_var_name(value))
    out.push_back({key, "must be an environment variable name", quote(value)});
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
  return {section, field, string_rule{ref, valid, check}, description};
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
    text(EMBEDRT_KEY(endpoint, encoding_format), R"("base64" or "float")",
         check_encoding_format, "encoding_format asked of the upstream"),
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
            "interactive requests admitted and not yet answered"),
    integer(EMBEDRT_KEY(limits, bulk_capacity), 1, 10000000,
            "bulk requests admitted and not yet answered"),
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
    text(EMBEDRT_KEY(log, level), R"("off", "error", "warn", "info" or "debug")",
         check_log_level, "least severe level of the JSON-line event log"),
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

// -- rule texts ---------------------------------------------------------------------

std::string rule_text(const integer_rule& x) {
  return "must be an integer in [" + std::to_string(x.min) + ", "
         + std::to_string(x.max) + "]";
}

std::string rule_text(const real_rule& x) {
  return "must be a number in [" + format_real(x.min) + ", " + format_real(x.max) + "]";
}

std::string rule_text(const bool_rule&) {
  return "must be true or false";
}

std::string rule_text(const string_rule&) {
  return "must be a quoted string";
}

std::string range_text(const key_descriptor& x) {
  struct visitor {
    std::string operator()(const integer_rule& r) const {
      return "[" + std::to_string(r.min) + ", " + std::to_string(r.max) + "]";
    }
    std::string operator()(const real_rule& r) const {
      return "[" + format_real(r.min) + ", " + format_real(r.max) + "]";
    }
    std::string operator()(const bool_rule&) const { return "true or false"; }
    std::string operator()(const string_rule& r) const { return std::string{r.valid}; }
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
      return format_real_for_caf(r.ref(cfg));
    }
    std::string operator()(const bool_rule& r) const {
      return r.ref(cfg) ? "true" : "false";
    }
    std::string operator()(const string_rule& r) const { return quote(r.ref(cfg)); }
  };
  return std::visit(visitor{mut}, x.rule);
}

// -- formatting ---------------------------------------------------------------------

namespace {

/// `x` with %.*f (`fixed`) or %.*g at `precision`, plus ".0" for whole numbers.
std::string print_real(bool fixed, int precision, double x) {
  char buf[64];
  if (fixed)
    std::snprintf(buf, sizeof(buf), "%.*f", precision, x);
  else
    std::snprintf(buf, sizeof(buf), "%.*g", precision, x);
  std::string result = buf;
  if (result.find_first_of(".en") == std::string::npos) // not 1.5, 1e+20, nan, inf
    result += ".0";
  return result;
}

/// Decimal forms of `x` from short to long: plain decimals (2.0, 0.99, 100.5) for
/// usual magnitudes, then exponent forms. Returns the first one `accept` takes.
template<class Predicate>
std::string first_real_form(double x, Predicate accept) {
  if (!std::isfinite(x))
    return print_real(false, 1, x); // inf, -inf, nan: no config file can hold them
  auto magnitude = std::fabs(x);
  if (x == 0 || (magnitude >= 1e-4 && magnitude < 1e15)) {
    for (int decimals = 1; decimals <= 20; ++decimals) {
      auto str = print_real(true, decimals, x);
      if (accept(str))
        return str;
    }
  }
  for (int precision = 1; precision <= 17; ++precision) {
    auto str = print_real(false, precision, x);
    if (accept(str))
      return str;
  }
  return {};
}

bool caf_reads_back(const std::string& str, double x) {
  auto parsed = caf::config_value::parse(str);
  if (!parsed)
    return false;
  if (auto d = caf::get_if<double>(&*parsed))
    return *d == x;
  return false;
}

} // namespace

std::string format_real(double x) {
  auto result = first_real_form(x, [x](const std::string& str) {
    return std::strtod(str.c_str(), nullptr) == x;
  });
  return result.empty() ? print_real(false, 17, x) : result;
}

std::string format_real_for_caf(double x) {
  auto result = first_real_form(x, [x](const std::string& str) {
    return caf_reads_back(str, x);
  });
  return result.empty() ? format_real(x) : result; // CAF reads it within one ulp
}

std::string quote(std::string_view x) {
  std::string result = "\"";
  for (char c : x) {
    switch (c) {
      case '"': result += "\\\""; break;
      case '\\': result += "\\\\"; break;
      case '\n': result += "\\n"; break;
      case '\r': result += "\\r"; break;
      case '\t': result += "\\t"; break;
      default: result += c;
    }
  }
  result += '"';
  return result;
}

std::string redact_userinfo(std::string_view x) {
  auto scheme_end = x.find("://");
  if (scheme_end == std::string_view::npos)
    return std::string{x};
  auto authority_begin = scheme_end + 3;
  auto authority_end = x.find_first_of("/?#", authority_begin);
  if (authority_end == std::string_view::npos)
    authority_end = x.size();
  auto at = x.substr(authority_begin, authority_end - authority_begin).rfind('@');
  if (at == std::string_view::npos)
    return std::string{x};
  std::string result{x.substr(0, authority_begin)};
  result += "***";
  result.append(x.substr(authority_begin + at));
  return result;
}

// -- URLs and names -----------------------------------------------------------------

bool parse_base_url(std::string_view url, base_url_parts& out) {
  for (unsigned char c : url)
    if (c <= 0x20 || c == 0x7f)
      return false;
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos)
    return false;
  std::string scheme{url.substr(0, scheme_end)};
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (scheme != "http" && scheme != "https")
    return false;
  auto authority_begin = scheme_end + 3;
  auto authority_end = url.find_first_of("/?#", authority_begin);
  if (authority_end == std::string_view::npos)
    authority_end = url.size();
  auto authority = url.substr(authority_begin, authority_end - authority_begin);
  std::string_view userinfo;
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    userinfo = authority.substr(0, at);
    authority.remove_prefix(at + 1);
  }
  std::string_view host;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos)
      return false;
    host = authority.substr(1, close - 1);
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return false;
      port = after.substr(1);
      if (port.empty())
        return false;
    }
    in6_addr addr;
    if (inet_pton(AF_INET6, std::string{host}.c_str(), &addr) != 1)
      return false;
  } else {
    auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty())
        return false;
    }
    if (host.find_first_of("[]") != std::string_view::npos)
      return false;
  }
  if (host.empty())
    return false;
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) {
          return c >= '0' && c <= '9';
        }))
      return false;
    auto n = std::stoul(std::string{port});
    if (n == 0 || n > 65535)
      return false;
  }
  out.scheme = std::move(scheme);
  out.userinfo = std::string{userinfo};
  out.host = std::string{host};
  out.rest = std::string{url.substr(authority_end)};
  return true;
}

std::vector<std::string> base_url_problems(std::string_view url, bool from_env) {
  std::vector<std::string> result;
  if (url.empty() && !from_env)
    return result;
  base_url_parts parts;
  if (!parse_base_url(url, parts)) {
    result.emplace_back(from_env ? "must be an http:// or https:// URL with a host"
                                 : "must be empty or an http:// or https:// URL "
                                   "with a host");
    return result;
  }
  if (!parts.userinfo.empty())
    result.emplace_back("must not contain user:password@ (the key comes from the "
                        "variable named by api_key_env)");
  if (parts.rest.find_first_of("?#") != std::string::npos)
    result.emplace_back("must not contain a query or fragment (/embeddings is "
                        "appended)");
  auto path = std::string_view{parts.rest};
  while (!path.empty() && path.back() == '/')
    path.remove_suffix(1);
  constexpr std::string_view suffix = "/embeddings";
  if (path.size() >= suffix.size()
      && path.substr(path.size() - suffix.size()) == suffix)
    result.emplace_back("must end before /embeddings (it is appended)");
  return result;
}

bool is_loopback_host(std::string_view host) {
  std::string lower{host};
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "localhost" || lower == "localhost.")
    return true;
  in_addr v4;
  if (inet_pton(AF_INET, lower.c_str(), &v4) == 1)
    return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  if (inet_pton(AF_INET6, lower.c_str(), &v6) == 1) {
    if (std::memcmp(&v6, &in6addr_loopback, sizeof(v6)) == 0)
      return true;
    static constexpr unsigned char v4_mapped_prefix[12] = {0, 0, 0, 0, 0,    0,
                                                           0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(v6.s6_addr, v4_mapped_prefix, 12) == 0 && v6.s6_addr[12] == 127;
  }
  return false;
}

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
    result.value = quote(value);
  else
    result.value = "a value of " + std::to_string(value.size())
                   + " characters (not shown: it may be a key)";
  return result;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min(
        {row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0u : 1u)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string suggestion_for(std::string_view unknown_key) {
  const key_descriptor* best = nullptr;
  size_t best_distance = 4; // suggest only close matches: typos, '-' for '_'
  for (auto& x : keys()) {
    auto d = edit_distance(unknown_key, x.key());
    if (d < best_distance) {
      best = &x;
      best_distance = d;
    }
  }
  if (best == nullptr)
    return {};
  return " (did you mean " + best->key() + "?)";
}

} // namespace embedrt::schema
