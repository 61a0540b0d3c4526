// Parsing of the response headers that steer retries and rate limits. Pure.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "src/policy/clock.hpp"

namespace embedrt::policy {

/// `retry-after-ms: 1500` (preferred when present and valid) or `Retry-After: 2` /
/// `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT` (relative to `now_wall`). Negative or
/// unparsable values give nullopt; a date in the past gives zero; values past 2^63 ns
/// (a number or a date after 2262) saturate at duration::max(). Not capped: callers
/// pass it through clamp_upstream_duration.
std::optional<duration>
parse_retry_after(std::string_view retry_after_ms, std::string_view retry_after,
                  std::chrono::system_clock::time_point now_wall);

/// OpenAI reset durations: "1s", "6m0s", "20ms", "1h2m3.5s", "0.5s". nullopt when
/// malformed; saturates at duration::max() (not capped).
std::optional<duration> parse_reset_duration(std::string_view text);

/// A non-negative integer header such as x-ratelimit-remaining-requests; nullopt when
/// malformed.
std::optional<int64_t> parse_count(std::string_view text);

} // namespace embedrt::policy
