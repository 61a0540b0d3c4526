#include <embedrt/runtime_config.hpp>

#include <algorithm>
#include <cstdlib>
#include <variant>

#include "config/schema.hpp"

namespace embedrt {

namespace {

constexpr const char* default_base_url = "https://api.openai.com/v1";

/// The field's value as an unsigned integer (integer rules only).
uint64_t integer_value(const schema::integer_rule& rule, const runtime_config& cfg) {
  auto& mut = const_cast<runtime_config&>(cfg); // read only
  return std::visit([&mut](auto ref) { return static_cast<uint64_t>(ref(mut)); },
                    rule.ref);
}

/// Checks one row of the table; returns whether the value is in range.
bool check_key(const schema::key_descriptor& x, const runtime_config& cfg,
               std::vector<config_error>& out) {
  auto& mut = const_cast<runtime_config&>(cfg); // read only
  auto key = x.key();
  auto size_before = out.size();
  if (auto r = std::get_if<schema::integer_rule>(&x.rule)) {
    auto value = integer_value(*r, cfg);
    if (value < r->min || value > r->max)
      out.push_back({key, schema::rule_text(*r), std::to_string(value)});
  } else if (auto d = std::get_if<schema::real_rule>(&x.rule)) {
    auto value = d->ref(mut);
    if (!(value >= d->min && value <= d->max)) // NaN fails too
      out.push_back({key, schema::rule_text(*d), schema::format_real(value)});
  } else if (auto s = std::get_if<schema::string_rule>(&x.rule)) {
    if (s->check != nullptr)
      s->check(key, s->ref(mut), out);
  }
  return out.size() == size_before;
}

} // namespace

std::string config_error::to_string() const {
  std::string result = key;
  result += ": ";
  result += rule;
  if (!value.empty()) {
    result += ", got ";
    result += value;
  }
  return result;
}

std::vector<config_error> validate(const runtime_config& cfg) {
  std::vector<config_error> result;
  std::vector<std::string> in_range;
  for (auto& x : schema::keys())
    if (check_key(x, cfg, result))
      in_range.push_back(x.key());
  auto ok = [&in_range](std::string_view key) {
    return std::find(in_range.begin(), in_range.end(), key) != in_range.end();
  };
  for (auto& rule : schema::order_rules()) {
    if (!ok(rule.lhs) || !ok(rule.rhs))
      continue; // the range error says enough
    auto lhs = schema::find_key(rule.lhs);
    auto rhs = schema::find_key(rule.rhs);
    auto a = integer_value(std::get<schema::integer_rule>(lhs->rule), cfg);
    auto b = integer_value(std::get<schema::integer_rule>(rhs->rule), cfg);
    bool holds = rule.op == "<=" ? a <= b : a >= b;
    if (!holds) {
      std::string text = "must be ";
      text.append(rule.op).append(" ").append(rule.rhs);
      text += " (" + std::to_string(b) + ")";
      result.push_back({std::string{rule.lhs}, std::move(text), std::to_string(a)});
    }
  }
  return result;
}

std::vector<config_error> resolve_endpoint(const endpoint_config& cfg,
                                           resolved_endpoint& out) {
  constexpr const char* base_url_key = "embedrt.endpoint.base_url";
  std::vector<config_error> result;
  // 1. The base URL: config, else $OPENAI_BASE_URL, else the OpenAI default.
  std::string base = cfg.base_url;
  if (base.empty()) {
    auto env = std::getenv("OPENAI_BASE_URL");
    if (env != nullptr && *env != '\0') {
      base = env;
      for (auto& rule : schema::base_url_problems(base, true))
        result.push_back({base_url_key,
                          "is empty, so $OPENAI_BASE_URL is used, which " + rule,
                          schema::quote(schema::redact_userinfo(base))});
    } else {
      base = default_base_url;
    }
  } else {
    for (auto& rule : schema::base_url_problems(base, false))
      result.push_back(
        {base_url_key, std::move(rule), schema::quote(schema::redact_userinfo(base))});
  }
  // 2. The key, from the variable named by api_key_env. Never copied into an error.
  std::string key;
  if (!schema::is_env_var_name(cfg.api_key_env)) {
    result.push_back(schema::api_key_env_error(cfg.api_key_env));
  } else if (auto env = std::getenv(cfg.api_key_env.c_str()); env != nullptr) {
    key = env;
    for (unsigned char c : key) {
      if (c < 0x20 || c == 0x7f) {
        result.push_back({"embedrt.endpoint.api_key_env",
                          "names a variable whose value (not shown) contains control "
                          "characters",
                          schema::quote(cfg.api_key_env)});
        break;
      }
    }
  }
  if (!result.empty())
    return result;
  // 3. The TLS rule: no key over plain http:// unless the host is loopback.
  schema::base_url_parts parts;
  schema::parse_base_url(base, parts); // checked above
  bool loopback = schema::is_loopback_host(parts.host);
  // 4. The proxy a plain-http request would go through: it would see the key.
  std::string proxy_source;
  if (!loopback) {
    if (!cfg.proxy.empty()) {
      proxy_source = "embedrt.endpoint.proxy";
    } else {
      // libcurl's variables for http:// (it ignores HTTP_PROXY in upper case).
      for (auto name : {"http_proxy", "all_proxy", "ALL_PROXY"}) {
        if (auto env = std::getenv(name); env != nullptr && *env != '\0') {
          proxy_source = std::string{"$"} + name;
          break;
        }
      }
    }
  }
  if (parts.scheme == "http" && !key.empty() && !loopback && !cfg.allow_insecure_http) {
    auto via = proxy_source.empty() ? std::string{}
                                    : " (and through the proxy from " + proxy_source
                                        + ", which would see it in clear text)";
    result.push_back({base_url_key,
                      "must be https:// to send the API key (from $" + cfg.api_key_env
                        + ") to a host that is not loopback" + via
                        + "; set embedrt.endpoint.allow_insecure_http = true to allow "
                          "it",
                      schema::quote(base)});
    return result;
  }
  out.bypass_proxy = loopback;
  if (!loopback)
    out.proxy = cfg.proxy;
  while (!base.empty() && base.back() == '/')
    base.pop_back();
  out.embeddings_url = base + "/embeddings";
  out.api_key = std::move(key);
  return result;
}

} // namespace embedrt
