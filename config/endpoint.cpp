#include "config/endpoint.hpp"

#include <cstdlib>

#include "config/caf_ini.hpp"
#include "config/schema.hpp"
#include "config/url.hpp"

namespace embedrt {

namespace {

constexpr const char* default_base_url = "https://api.openai.com/v1";

} // namespace

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
      for (auto& rule : url::base_url_problems(base, true))
        result.push_back({base_url_key,
                          "is empty, so $OPENAI_BASE_URL is used, which " + rule,
                          caf_ini::quote(url::redact_userinfo(base))});
    } else {
      base = default_base_url;
    }
  } else {
    for (auto& rule : url::base_url_problems(base, false))
      result.push_back(
        {base_url_key, std::move(rule), caf_ini::quote(url::redact_userinfo(base))});
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
                          caf_ini::quote(cfg.api_key_env)});
        break;
      }
    }
  }
  if (!result.empty())
    return result;
  // 3. The TLS rule: no key over plain http:// unless the host is loopback.
  url::base_url_parts parts;
  url::parse_base_url(base, parts); // checked above
  bool loopback = url::is_loopback_host(parts.host);
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
                      caf_ini::quote(base)});
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
