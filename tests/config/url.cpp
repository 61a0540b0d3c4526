#define CAF_SUITE config.url
#include <caf/test/unit_test.hpp>

#include <string>
#include <utility>
#include <vector>

#include "config/url.hpp"

using namespace embedrt;

namespace {

std::string join(const std::vector<std::string>& xs) {
  std::string result;
  for (auto& x : xs) {
    if (!result.empty())
      result += '\n';
    result += x;
  }
  return result;
}

/// "scheme|userinfo|host|rest", or "invalid".
std::string parts_of(std::string_view text) {
  url::base_url_parts parts;
  if (!url::parse_base_url(text, parts))
    return "invalid";
  return parts.scheme + "|" + parts.userinfo + "|" + parts.host + "|" + parts.rest;
}

} // namespace

CAF_TEST(a base url splits into scheme userinfo host and rest) {
  std::vector<std::pair<std::string, std::string>> rows = {
    {"https://api.openai.com/v1", "https||api.openai.com|/v1"},
    {"HTTP://LocalHost:8080", "http||LocalHost|"},
    {"http://[::1]:8080/v1?x#y", "http||::1|/v1?x#y"},
    {"https://user:pw@host.example/v1", "https|user:pw|host.example|/v1"},
    {"https://a@b@host.example", "https|a@b|host.example|"},
    {"ftp://example.com", "invalid"},
    {"https://", "invalid"},
    {"https://host:", "invalid"},
    {"https://host:0", "invalid"},
    {"https://host:65536", "invalid"},
    {"https://host:123456", "invalid"},
    {"https://host:8a", "invalid"},
    {"https://[::1", "invalid"},
    {"https://[::1]x", "invalid"},
    {"https://[not-ip6]", "invalid"},
    {"https://ho]st", "invalid"},
    {"https://api example.com", "invalid"},
    {"https://api.example.com/\x7f", "invalid"},
    {"api.example.com/v1", "invalid"},
    {"", "invalid"},
  };
  for (auto& x : rows)
    CAF_CHECK_EQUAL(std::make_pair(x.first, parts_of(x.first)),
                    std::make_pair(x.first, x.second));
}

CAF_TEST(base url problems are the rules the url breaks) {
  CAF_CHECK_EQUAL(join(url::base_url_problems("", false)), "");
  CAF_CHECK_EQUAL(join(url::base_url_problems("", true)),
                  "must be an http:// or https:// URL with a host");
  CAF_CHECK_EQUAL(join(url::base_url_problems("x", false)),
                  "must be empty or an http:// or https:// URL with a host");
  // Every rule at once, in a fixed order.
  CAF_CHECK_EQUAL(join(url::base_url_problems("https://u:p@h/v1/embeddings/?q", false)),
                  "must not contain user:password@ (the key comes from the variable "
                  "named by api_key_env)\n"
                  "must not contain a query or fragment (/embeddings is appended)");
  CAF_CHECK_EQUAL(join(url::base_url_problems("https://h/v1/embeddings//", false)),
                  "must end before /embeddings (it is appended)");
  CAF_CHECK_EQUAL(join(url::base_url_problems("https://h/v1/embeddings-x", false)), "");
}

CAF_TEST(proxy urls name a scheme libcurl knows) {
  for (auto x : {"http://proxy:3128", "HTTPS://proxy", "socks4://p", "socks4a://p",
                 "socks5://p:1080", "socks5h://user:pw@p"})
    CAF_CHECK_EQUAL(std::make_pair(std::string{x}, url::is_proxy_url(x)),
                    std::make_pair(std::string{x}, true));
  for (auto x : {"", "http://", "proxy:3128", "ftp://proxy", "http://proxy x",
                 "http://proxy\n", "socks6://p"})
    CAF_CHECK_EQUAL(std::make_pair(std::string{x}, url::is_proxy_url(x)),
                    std::make_pair(std::string{x}, false));
}

CAF_TEST(credentials in a url are redacted and nothing else) {
  CAF_CHECK_EQUAL(url::redact_userinfo("https://user:sk-1@host/v1?a@b"),
                  "https://***@host/v1?a@b");
  CAF_CHECK_EQUAL(url::redact_userinfo("redis://:pw@127.0.0.1:6379/2"),
                  "redis://***@127.0.0.1:6379/2");
  CAF_CHECK_EQUAL(url::redact_userinfo("https://host/v1?user=a@b"),
                  "https://host/v1?user=a@b");
  CAF_CHECK_EQUAL(url::redact_userinfo("not a url @ all"), "not a url @ all");
}

CAF_TEST(loopback hosts) {
  for (auto host : {"localhost", "LocalHost", "127.0.0.1", "127.255.3.4", "::1",
                    "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"})
    CAF_CHECK_EQUAL(std::make_pair(std::string{host}, url::is_loopback_host(host)),
                    std::make_pair(std::string{host}, true));
  for (auto host : {"example.com", "128.0.0.1", "127.0.0.1.nip.io",
                    "localhost.evil.com", "127.1", "::2", "10.0.0.1", ""})
    CAF_CHECK_EQUAL(std::make_pair(std::string{host}, url::is_loopback_host(host)),
                    std::make_pair(std::string{host}, false));
}
