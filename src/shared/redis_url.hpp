// `redis://host[:port][/db]`, the value of embedrt.rate_limiter.shared_store.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace embedrt::shared {

struct redis_endpoint {
  std::string host;
  uint16_t port = 6379;
  uint32_t db = 0;
};

/// Parses `url` into `out` (may be null: only checks). False with `problem` (a rule,
/// e.g. "must start with redis://") when it is not valid. Refuses a password in the
/// URL (it comes from an environment variable) and rediss:// (hiredis 0.14, Debian
/// bookworm's, has no TLS).
bool parse_redis_url(std::string_view url, redis_endpoint* out, std::string& problem);

/// The default budget name: the embeddings URL and a 64-bit FNV-1a hash of the API key
/// ("-" without a key), e.g. "https://api.openai.com/v1/embeddings#6f1c...". The key
/// itself never leaves the process.
std::string default_budget_name(std::string_view embeddings_url,
                                std::string_view api_key);

/// The Redis key of budget `name`.
std::string budget_key(std::string_view name);

} // namespace embedrt::shared
