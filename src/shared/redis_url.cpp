#include "src/shared/redis_url.hpp"

#include <cctype>
#include <charconv>
#include <cstdio>

namespace embedrt::shared {

bool parse_redis_url(std::string_view url, redis_endpoint* out, std::string& problem) {
  constexpr std::string_view scheme = "redis://";
  if (url.substr(0, 9) == "rediss://") {
    problem = "rediss:// (TLS) is not supported by hiredis 0.14; use redis:// on a "
              "trusted network or a TLS tunnel";
    return false;
  }
  if (url.substr(0, scheme.size()) != scheme) {
    problem = "must be empty or redis://host[:port][/db]";
    return false;
  }
  auto rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  if (authority.find('@') != std::string_view::npos) {
    problem = "must not hold a password (it is read from the variable named by "
              "shared_password_env)";
    return false;
  }
  redis_endpoint ep;
  auto colon = authority.rfind(':');
  auto host = authority.substr(0, colon);
  if (host.empty() || host.size() > 253) {
    problem = "must name a host: redis://host[:port][/db]";
    return false;
  }
  for (unsigned char c : host)
    if (!std::isalnum(c) && c != '.' && c != '-' && c != '_') {
      problem = "host must be a name or an IPv4 address";
      return false;
    }
  auto number = [](std::string_view text, uint64_t max, uint64_t& value) {
    auto res = std::from_chars(text.data(), text.data() + text.size(), value);
    return !text.empty() && res.ec == std::errc{}
           && res.ptr == text.data() + text.size() && value <= max;
  };
  if (colon != std::string_view::npos) {
    uint64_t port = 0;
    if (!number(authority.substr(colon + 1), 65535, port) || port == 0) {
      problem = "port must be in [1, 65535]";
      return false;
    }
    ep.port = static_cast<uint16_t>(port);
  }
  if (slash != std::string_view::npos && slash + 1 < rest.size()) {
    uint64_t db = 0;
    if (!number(rest.substr(slash + 1), 1000000, db)) {
      problem = "database must be an integer in [0, 1000000]";
      return false;
    }
    ep.db = static_cast<uint32_t>(db);
  }
  ep.host = std::string{host};
  if (out)
    *out = std::move(ep);
  return true;
}

std::string default_budget_name(std::string_view embeddings_url,
                                std::string_view api_key) {
  if (api_key.empty())
    return std::string{embeddings_url} + "#-";
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : api_key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return std::string{embeddings_url} + "#" + hex;
}

std::string budget_key(std::string_view name) {
  return "embedrt:budget:{" + std::string{name} + "}";
}

} // namespace embedrt::shared
