#define CAF_SUITE policy.http_headers
#include <caf/test/unit_test.hpp>

#include <string>

#include "src/policy/http_headers.hpp"

using namespace embedrt::policy;
using namespace std::chrono_literals;

namespace {

// Sun, 06 Nov 1994 08:49:37 GMT
const auto date_1994 = std::chrono::system_clock::time_point{784111777s};

std::optional<duration>
retry_after(std::string_view ms, std::string_view value,
            std::chrono::system_clock::time_point now = date_1994) {
  return parse_retry_after(ms, value, now);
}

} // namespace

// -- parse_retry_after ----------------------------------------------------------------

CAF_TEST(retry after in delta seconds is a relative duration) {
  CAF_CHECK_EQUAL(retry_after("", "2"), duration{2s});
  CAF_CHECK_EQUAL(retry_after("", "0"), duration{0s});
  CAF_CHECK_EQUAL(retry_after("", " 120 "), duration{120s});
  CAF_CHECK_EQUAL(retry_after("", "1.5"), duration{1500ms});
}

CAF_TEST(retry after ms is preferred and may be fractional) {
  CAF_CHECK_EQUAL(retry_after("1500", "20"), duration{1500ms});
  CAF_CHECK_EQUAL(retry_after("1500.5", ""), duration{1500500us});
  CAF_CHECK_EQUAL(retry_after("0", "20"), duration{0s});
  CAF_CHECK_EQUAL(retry_after("250", "Sun, 06 Nov 1994 08:49:39 GMT"), duration{250ms});
}

CAF_TEST(an invalid retry after ms falls back to retry after) {
  CAF_CHECK_EQUAL(retry_after("soon", "3"), duration{3s});
  CAF_CHECK_EQUAL(retry_after("-5", "3"), duration{3s});
  CAF_CHECK_EQUAL(retry_after("1.", "3"), duration{3s});
  CAF_CHECK_EQUAL(retry_after("-5", ""), std::nullopt);
}

CAF_TEST(retry after as an imf fixdate is relative to the wall clock) {
  CAF_CHECK_EQUAL(retry_after("", "Sun, 06 Nov 1994 08:49:39 GMT"), duration{2s});
  CAF_CHECK_EQUAL(retry_after("", "Mon, 07 Nov 1994 08:49:37 GMT"), duration{24h});
  CAF_CHECK_EQUAL(retry_after("", "Wed, 21 Oct 2015 07:28:00 GMT",
                              std::chrono::system_clock::time_point{1445412470s}),
                  duration{10s});
  // Leap years: 29 Feb exists in 2000 and 2024, not in 1900 or 2023.
  auto feb_28_2024 = std::chrono::system_clock::time_point{1709078400s};
  CAF_CHECK_EQUAL(retry_after("", "Thu, 29 Feb 2024 00:00:00 GMT", feb_28_2024),
                  duration{24h});
  CAF_CHECK_EQUAL(retry_after("", "Wed, 29 Feb 2023 00:00:00 GMT"), std::nullopt);
}

CAF_TEST(retry after accepts the obsolete rfc 850 and asctime forms) {
  CAF_CHECK_EQUAL(retry_after("", "Sunday, 06-Nov-94 08:49:40 GMT"), duration{3s});
  CAF_CHECK_EQUAL(retry_after("", "Sun Nov  6 08:49:41 1994"), duration{4s});
  CAF_CHECK_EQUAL(retry_after("", "Sun Nov 06 08:49:41 1994"), duration{4s});
}

CAF_TEST(a retry after date in the past gives zero) {
  CAF_CHECK_EQUAL(retry_after("", "Sun, 06 Nov 1994 08:49:36 GMT"), duration{0s});
  CAF_CHECK_EQUAL(retry_after("", "Thu, 01 Jan 1970 00:00:00 GMT"), duration{0s});
}

CAF_TEST(retry after dates beyond what the clock holds saturate instead of wrapping) {
  // Issue 10 (also the seed far_date of tests/fuzz/http_headers.cpp under UBSan): year
  // 9999 overflowed the nanosecond clock and could read as a date in the past.
  auto far = retry_after("", "Fri, 31 Dec 9999 23:59:59 GMT");
  CAF_REQUIRE(far.has_value());
  CAF_CHECK_GREATER(*far, duration{std::chrono::hours{24 * 365 * 200}});
  auto from_1970 = retry_after("", "Fri, 31 Dec 9999 23:59:59 GMT",
                               std::chrono::system_clock::time_point{});
  CAF_CHECK_EQUAL(from_1970, duration::max());
  auto before_1970 = retry_after("", "Fri, 31 Dec 9999 23:59:59 GMT",
                                 std::chrono::system_clock::time_point{-86400s});
  CAF_CHECK_EQUAL(before_1970, duration::max());
  CAF_CHECK_EQUAL(retry_after("", "Sat, 01 Jan 1000 00:00:00 GMT"), duration{0s});
}

CAF_TEST(malformed or negative retry after values give nullopt) {
  for (auto bad : {"", "   ", "-1", "abc", "1s", "2 seconds", "1e3", "0x10",
                   "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT",
                   "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 31 Nov 1994 08:49:37 GMT",
                   "Xyz, 06 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
                   "Sun, 06 Nov 1994 08:49:37 GMT x"}) {
    CAF_MESSAGE("Retry-After: '" << bad << "'");
    CAF_CHECK_EQUAL(retry_after("", bad), std::nullopt);
  }
}

// -- parse_reset_duration ----------------------------------------------------------

CAF_TEST(openai reset durations parse with every unit) {
  CAF_CHECK_EQUAL(parse_reset_duration("1s"), duration{1s});
  CAF_CHECK_EQUAL(parse_reset_duration("6m0s"), duration{6min});
  CAF_CHECK_EQUAL(parse_reset_duration("20ms"), duration{20ms});
  CAF_CHECK_EQUAL(parse_reset_duration("1h2m3.5s"), duration{1h + 2min + 3500ms});
  CAF_CHECK_EQUAL(parse_reset_duration("0.5s"), duration{500ms});
  CAF_CHECK_EQUAL(parse_reset_duration("17.28s"), duration{17280ms});
  CAF_CHECK_EQUAL(parse_reset_duration("250us"), duration{250us});
  CAF_CHECK_EQUAL(parse_reset_duration("250\xC2\xB5s"), duration{250us});
  CAF_CHECK_EQUAL(parse_reset_duration("250\xCE\xBCs"), duration{250us});
  CAF_CHECK_EQUAL(parse_reset_duration("42ns"), duration{42ns});
  CAF_CHECK_EQUAL(parse_reset_duration("1.5ms"), duration{1500us});
  CAF_CHECK_EQUAL(parse_reset_duration("0"), duration{0s});
  CAF_CHECK_EQUAL(parse_reset_duration("0s"), duration{0s});
  CAF_CHECK_EQUAL(parse_reset_duration(" 2m "), duration{2min});
  CAF_CHECK_EQUAL(parse_reset_duration("1m1m"), duration{2min});
}

CAF_TEST(malformed reset durations give nullopt) {
  for (auto bad : {"", "s", "1", "12", "1x", "-1s", "1.s", ".s", "1 s", "1s2", "ms",
                   "1sec", "1e3s"}) {
    CAF_MESSAGE("reset: '" << bad << "'");
    CAF_CHECK_EQUAL(parse_reset_duration(bad), std::nullopt);
  }
}

CAF_TEST(values past two to the 63 nanoseconds saturate instead of vanishing) {
  CAF_CHECK_EQUAL(retry_after("", "99999999999999999999999"), duration::max());
  CAF_CHECK_EQUAL(retry_after("", "9223372037"), duration::max());
  CAF_CHECK_EQUAL(retry_after("99999999999999999999999", ""), duration::max());
  CAF_CHECK_EQUAL(retry_after("9223372036854.7758", ""), duration{9223372036854775800});
  CAF_CHECK_EQUAL(parse_reset_duration("99999999999h"), duration::max());
  CAF_CHECK_EQUAL(parse_reset_duration("3000000h"), duration::max());
  CAF_CHECK_EQUAL(parse_reset_duration("2562047h2562047h"), duration::max());
  CAF_CHECK_EQUAL(parse_reset_duration("8760h"), duration{8760h});
}

// -- parse_count ---------------------------------------------------------------------

CAF_TEST(counts are non negative integers) {
  CAF_CHECK_EQUAL(parse_count("0"), 0);
  CAF_CHECK_EQUAL(parse_count("59"), 59);
  CAF_CHECK_EQUAL(parse_count(" 149984 "), 149984);
  CAF_CHECK_EQUAL(parse_count("9223372036854775807"), INT64_MAX);
  for (auto bad : {"", " ", "-1", "+1", "1.0", "12a", "0x1", "9223372036854775808"}) {
    CAF_MESSAGE("count: '" << bad << "'");
    CAF_CHECK_EQUAL(parse_count(bad), std::nullopt);
  }
}
