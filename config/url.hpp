// URL handling of the configuration: the upstream base URL, proxy URLs, loopback
// hosts, and hiding credentials written into a URL. Pure functions, no environment.
//
// Internal header (schema checks, endpoint resolution, dump).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace embedrt::url {

/// The parts of an http(s) base URL.
struct base_url_parts {
  std::string scheme;   // lower case: "http" or "https"
  std::string userinfo; // before '@', empty if none
  std::string host;     // without brackets for IPv6 literals
  std::string rest;     // path, query and fragment
};

/// Splits `url`; false if it is not http(s)://host[:port][rest] with a sane host and
/// port and without whitespace or control characters.
bool parse_base_url(std::string_view url, base_url_parts& out);

/// The broken base-URL rules of `url`; empty `url` is fine for the config key. With
/// `from_env`, the rules read as rules of $OPENAI_BASE_URL (which must not be empty).
std::vector<std::string> base_url_problems(std::string_view url, bool from_env);

/// Whether `url` is a proxy URL libcurl understands:
/// (http|https|socks4|socks4a|socks5|socks5h)://... without spaces or control bytes.
bool is_proxy_url(std::string_view url);

/// localhost, 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104.
bool is_loopback_host(std::string_view host);

/// `x` with anything between "://" and '@' replaced by "***" (credentials in a URL).
std::string redact_userinfo(std::string_view x);

} // namespace embedrt::url
