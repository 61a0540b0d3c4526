// Fuzz target: the response-header parsers that steer retries and rate limits
// (src/policy/http_headers.hpp): Retry-After (seconds or an HTTP-date),
// retry-after-ms, x-ratelimit-reset-* durations and x-ratelimit-remaining-* counts.
//
// Input: byte 0 picks the wall clock the dates are relative to, the rest up to the
// first '\n' is one header value, the rest after it a second one. Each value goes
// through every parser. Undefined behaviour (signed overflow in time arithmetic) is
// caught by UBSan in the fuzz build. Properties:
// - every duration and count is non-negative;
// - retry-after-ms wins when it parses, and a bad one falls back to Retry-After;
// - a count is the value of its digits (round trip through std::to_string);
// - a plain decimal Retry-After of s seconds and a retry-after-ms of s*1000 agree
//   within a nanosecond per unit of rounding.
#include <chrono>
#include <string>

#include "src/policy/http_headers.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace embedrt::policy;
using sys_clock = std::chrono::system_clock;

namespace {

std::string_view trim(std::string_view x) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!x.empty() && space(x.front()))
    x.remove_prefix(1);
  while (!x.empty() && space(x.back()))
    x.remove_suffix(1);
  return x;
}

/// Wall clocks a host may really have: a board without a clock (1970), the past, now,
/// far ahead.
sys_clock::time_point wall_clock(uint8_t pick) {
  switch (pick % 4) {
    case 0: return sys_clock::time_point{};
    case 1: return sys_clock::time_point{std::chrono::seconds{1'445'412'480}};  // 2015
    case 2: return sys_clock::time_point{std::chrono::seconds{1'800'000'000}};  // 2027
    default: return sys_clock::time_point{std::chrono::seconds{7'258'118'400}}; // 2200
  }
}

void check_one(std::string_view value, std::string_view other,
               sys_clock::time_point now) {
  auto reset = parse_reset_duration(value);
  if (reset)
    EMBEDRT_FUZZ_CHECK(reset->count() >= 0);

  auto count = parse_count(value);
  if (count) {
    EMBEDRT_FUZZ_CHECK(*count >= 0);
    auto digits = trim(value);
    while (digits.size() > 1 && digits.front() == '0')
      digits.remove_prefix(1);
    EMBEDRT_FUZZ_CHECK(std::to_string(*count) == digits);
  }

  auto from_ms = parse_retry_after(value, other, now);
  auto from_header = parse_retry_after({}, value, now);
  auto ms_only = parse_retry_after(value, {}, now);
  if (from_ms)
    EMBEDRT_FUZZ_CHECK(from_ms->count() >= 0);
  if (from_header)
    EMBEDRT_FUZZ_CHECK(from_header->count() >= 0);
  if (ms_only) {
    // A valid retry-after-ms is used whatever Retry-After says.
    EMBEDRT_FUZZ_CHECK(from_ms == ms_only);
  } else {
    // An invalid one falls back to Retry-After.
    EMBEDRT_FUZZ_CHECK(from_ms == parse_retry_after({}, other, now));
  }
  // Seconds and milliseconds of the same plain number: the ms form of "s" is "s000"
  // with the decimal point moved, here compared through their nanoseconds (unless
  // the seconds saturated: past 2^63 ns a value may be clamped instead of refused).
  if (from_header && ms_only && *from_header < duration::max()
      && trim(value).find('.') == std::string_view::npos) {
    auto ns_from_seconds = from_header->count();
    auto ns_from_ms = ms_only->count();
    EMBEDRT_FUZZ_CHECK(ns_from_seconds / 1000 == ns_from_ms);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  embedrt::fuzz::input_reader in{data, size};
  auto now = wall_clock(in.byte());
  auto first = in.until('\n');
  auto second = in.rest();
  check_one(first, second, now);
  check_one(second, first, now);
  return 0;
}
