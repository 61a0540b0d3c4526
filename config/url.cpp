#include "config/url.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <cstring>
#include <netinet/in.h>

namespace embedrt::url {

namespace {

std::string lower(std::string_view x) {
  std::string result{x};
  std::transform(result.begin(), result.end(), result.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return result;
}

bool has_space_or_control(std::string_view x) {
  return std::any_of(x.begin(), x.end(),
                     [](unsigned char c) { return c <= 0x20 || c == 0x7f; });
}

} // namespace

bool parse_base_url(std::string_view url, base_url_parts& out) {
  if (has_space_or_control(url))
    return false;
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos)
    return false;
  auto scheme = lower(url.substr(0, scheme_end));
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

bool is_proxy_url(std::string_view url) {
  static constexpr std::string_view schemes[]
    = {"http://", "https://", "socks4://", "socks4a://", "socks5://", "socks5h://"};
  bool known = std::any_of(std::begin(schemes), std::end(schemes), [url](auto scheme) {
    return url.size() > scheme.size() && lower(url.substr(0, scheme.size())) == scheme;
  });
  return known && !has_space_or_control(url);
}

bool is_loopback_host(std::string_view host) {
  auto name = lower(host);
  if (name == "localhost" || name == "localhost.")
    return true;
  in_addr v4;
  if (inet_pton(AF_INET, name.c_str(), &v4) == 1)
    return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  if (inet_pton(AF_INET6, name.c_str(), &v6) == 1) {
    if (std::memcmp(&v6, &in6addr_loopback, sizeof(v6)) == 0)
      return true;
    static constexpr unsigned char v4_mapped_prefix[12] = {0, 0, 0, 0, 0,    0,
                                                           0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(v6.s6_addr, v4_mapped_prefix, 12) == 0 && v6.s6_addr[12] == 127;
  }
  return false;
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

} // namespace embedrt::url
