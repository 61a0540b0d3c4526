// Endpoint resolution: where requests go and with which key, from the config and the
// environment ($OPENAI_BASE_URL, the variable named by api_key_env, the proxy
// variables). The only part of config/ that reads the environment; runs at start.
#pragma once

#include <string>
#include <vector>

#include <embedrt/runtime_config.hpp>

namespace embedrt {

/// Resolved endpoint settings: base URL after the environment fallbacks, the API key
/// read from the environment. Never printed.
struct resolved_endpoint {
  /// e.g. "https://api.openai.com/v1/embeddings".
  std::string embeddings_url;
  /// Empty when the variable is unset.
  std::string api_key;
  /// `endpoint.proxy` when set; empty: libcurl reads the environment.
  std::string proxy;
  /// The base URL is loopback: never use a proxy, whatever the environment says.
  bool bypass_proxy = false;
};

/// Resolves the base URL (config, else $OPENAI_BASE_URL, else the OpenAI default) and
/// the key, and enforces the TLS rule: the key is never sent over plain http:// to a
/// host other than loopback (nor through a proxy that would see it in clear text)
/// unless `allow_insecure_http`. Loopback base URLs never use a proxy. Errors name
/// the key (and the proxy's variable), never the key's value.
std::vector<config_error> resolve_endpoint(const endpoint_config& cfg,
                                           resolved_endpoint& out);

} // namespace embedrt
