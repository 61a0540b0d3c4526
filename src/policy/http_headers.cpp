// Parsers for Retry-After, retry-after-ms and the x-ratelimit-* headers. Pure: no
// clock reads, no locale, no allocation.
//
// Choices made where the RFCs and OpenAI leave room:
// - Decimal fractions are accepted in delta-seconds ("1.5") although RFC 9110 only
//   allows digits; servers send them and waiting 1.5 s is what they mean.
// - Values that overflow a 64-bit nanosecond count (about 292 years) are unparsable.
// - HTTP-dates accept IMF-fixdate, the obsolete RFC 850 form (two-digit years < 70
//   are 20xx) and asctime; the weekday name must be valid but is not cross-checked.
#include "src/policy/http_headers.hpp"

#include <array>
#include <cstdint>
#include <limits>

namespace embedrt::policy {

namespace {

constexpr int64_t max_ns = std::numeric_limits<int64_t>::max();

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view trim(std::string_view x) {
  while (!x.empty() && is_space(x.front()))
    x.remove_prefix(1);
  while (!x.empty() && is_space(x.back()))
    x.remove_suffix(1);
  return x;
}

/// A non-negative decimal number "123" or "1.25" read from the front of `text`,
/// converted to nanoseconds with `unit_ns` nanoseconds per 1. Advances `text`.
/// Fractional nanoseconds are truncated.
std::optional<int64_t> take_decimal(std::string_view& text, int64_t unit_ns) {
  size_t i = 0;
  uint64_t whole = 0;
  bool overflow = false;
  for (; i < text.size() && is_digit(text[i]); ++i) {
    auto digit = static_cast<uint64_t>(text[i] - '0');
    if (whole > (std::numeric_limits<uint64_t>::max() - digit) / 10)
      overflow = true;
    else
      whole = whole * 10 + digit;
  }
  auto whole_digits = i;
  // Up to 18 fraction digits are significant (more cannot change a 64-bit result
  // by more than a nanosecond); later ones are read and ignored.
  uint64_t fraction = 0;
  uint64_t scale = 1;
  size_t fraction_digits = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    for (; i < text.size() && is_digit(text[i]); ++i, ++fraction_digits) {
      if (fraction_digits < 18) {
        fraction = fraction * 10 + static_cast<uint64_t>(text[i] - '0');
        scale *= 10;
      }
    }
    if (fraction_digits == 0)
      return std::nullopt; // "1." is malformed
  }
  if (whole_digits == 0 && fraction_digits == 0)
    return std::nullopt;
  if (overflow || whole > static_cast<uint64_t>(max_ns / unit_ns))
    return std::nullopt;
  auto result = static_cast<int64_t>(whole) * unit_ns;
  // fraction / scale < 1, so this part is < unit_ns; long double keeps it exact
  // enough (64-bit mantissa) without an overflowing integer product.
  auto part = static_cast<int64_t>(static_cast<long double>(fraction)
                                   * static_cast<long double>(unit_ns)
                                   / static_cast<long double>(scale));
  if (result > max_ns - part)
    return std::nullopt;
  text.remove_prefix(i);
  return result + part;
}

/// A whole string that is a non-negative decimal in `unit_ns` units.
std::optional<int64_t> parse_decimal(std::string_view text, int64_t unit_ns) {
  text = trim(text);
  auto result = take_decimal(text, unit_ns);
  if (!result || !text.empty())
    return std::nullopt;
  return result;
}

// -- HTTP-date ---------------------------------------------------------------------

constexpr std::array<std::string_view, 7> short_days = {"Mon", "Tue", "Wed", "Thu",
                                                        "Fri", "Sat", "Sun"};

constexpr std::array<std::string_view, 7> long_days
  = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};

constexpr std::array<std::string_view, 12> months = {
  "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/// Reads exactly `n` digits.
bool take_digits(std::string_view& text, size_t n, int& out) {
  if (text.size() < n)
    return false;
  int value = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!is_digit(text[i]))
      return false;
    value = value * 10 + (text[i] - '0');
  }
  out = value;
  text.remove_prefix(n);
  return true;
}

bool take_literal(std::string_view& text, std::string_view literal) {
  if (text.substr(0, literal.size()) != literal)
    return false;
  text.remove_prefix(literal.size());
  return true;
}

template<size_t N>
bool take_name(std::string_view& text, const std::array<std::string_view, N>& names,
               int& index) {
  for (size_t i = 0; i < N; ++i) {
    if (take_literal(text, names[i])) {
      index = static_cast<int>(i);
      return true;
    }
  }
  return false;
}

/// "HH:MM:SS"
bool take_time_of_day(std::string_view& text, int& h, int& m, int& s) {
  return take_digits(text, 2, h) && take_literal(text, ":") && take_digits(text, 2, m)
         && take_literal(text, ":") && take_digits(text, 2, s);
}

struct civil_time {
  int year = 0;
  int month = 0; // 1..12
  int day = 0;   // 1..31
  int hour = 0;
  int minute = 0;
  int second = 0;
};

bool is_leap(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

bool valid(const civil_time& t) {
  static constexpr int days_in[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (t.month < 1 || t.month > 12 || t.day < 1)
    return false;
  auto max_day = days_in[t.month - 1] + (t.month == 2 && is_leap(t.year) ? 1 : 0);
  // Second 60 is a leap second.
  return t.day <= max_day && t.hour <= 23 && t.minute <= 59 && t.second <= 60;
}

/// Days since 1970-01-01 (Howard Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  auto era = (y >= 0 ? y : y - 399) / 400;
  auto yoe = y - era * 400;
  auto doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  auto doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
bool parse_imf_fixdate(std::string_view text, civil_time& t) {
  int weekday = 0;
  int month = 0;
  if (!(take_name(text, short_days, weekday) && take_literal(text, ", ")
        && take_digits(text, 2, t.day) && take_literal(text, " ")
        && take_name(text, months, month) && take_literal(text, " ")
        && take_digits(text, 4, t.year) && take_literal(text, " ")
        && take_time_of_day(text, t.hour, t.minute, t.second)
        && take_literal(text, " GMT") && text.empty()))
    return false;
  t.month = month + 1;
  return true;
}

/// RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
bool parse_rfc850(std::string_view text, civil_time& t) {
  int weekday = 0;
  int month = 0;
  int yy = 0;
  if (!(take_name(text, long_days, weekday) && take_literal(text, ", ")
        && take_digits(text, 2, t.day) && take_literal(text, "-")
        && take_name(text, months, month) && take_literal(text, "-")
        && take_digits(text, 2, yy) && take_literal(text, " ")
        && take_time_of_day(text, t.hour, t.minute, t.second)
        && take_literal(text, " GMT") && text.empty()))
    return false;
  t.month = month + 1;
  t.year = yy < 70 ? 2000 + yy : 1900 + yy;
  return true;
}

/// asctime: "Sun Nov  6 08:49:37 1994" (day padded with a space or a zero)
bool parse_asctime(std::string_view text, civil_time& t) {
  int weekday = 0;
  int month = 0;
  if (!(take_name(text, short_days, weekday) && take_literal(text, " ")
        && take_name(text, months, month) && take_literal(text, " ")))
    return false;
  if (text.size() >= 2 && text[0] == ' ') {
    text.remove_prefix(1);
    if (!take_digits(text, 1, t.day))
      return false;
  } else if (!take_digits(text, 2, t.day)) {
    return false;
  }
  if (!(take_literal(text, " ") && take_time_of_day(text, t.hour, t.minute, t.second)
        && take_literal(text, " ") && take_digits(text, 4, t.year) && text.empty()))
    return false;
  t.month = month + 1;
  return true;
}

std::optional<std::chrono::system_clock::time_point>
parse_http_date(std::string_view text) {
  civil_time t;
  if (!(parse_imf_fixdate(text, t) || parse_rfc850(text, t) || parse_asctime(text, t))
      || !valid(t))
    return std::nullopt;
  auto days = days_from_civil(t.year, t.month, t.day);
  auto secs = days * 86400 + t.hour * 3600 + t.minute * 60 + t.second;
  // A 64-bit nanosecond clock spans 1677-2262: dates outside saturate (issue 10:
  // year 9999 overflowed, undefined behaviour that could read a "never" as "now").
  using sys_time = std::chrono::system_clock::time_point;
  constexpr auto max_secs
    = std::chrono::duration_cast<std::chrono::seconds>(sys_time::duration::max())
        .count();
  if (secs >= max_secs)
    return sys_time::max();
  if (secs <= -max_secs)
    return sys_time::min();
  return sys_time{
    std::chrono::duration_cast<sys_time::duration>(std::chrono::seconds{secs})};
}

} // namespace

std::optional<duration>
parse_retry_after(std::string_view retry_after_ms, std::string_view retry_after,
                  std::chrono::system_clock::time_point now_wall) {
  if (auto ms = parse_decimal(retry_after_ms, 1'000'000))
    return duration{*ms};
  retry_after = trim(retry_after);
  if (retry_after.empty())
    return std::nullopt;
  if (is_digit(retry_after.front()) || retry_after.front() == '.') {
    if (auto ns = parse_decimal(retry_after, 1'000'000'000))
      return duration{*ns};
    return std::nullopt;
  }
  auto date = parse_http_date(retry_after);
  if (!date)
    return std::nullopt;
  if (*date <= now_wall)
    return duration::zero();
  // Saturating: a far date minus a clock before 1970 must not wrap.
  if (now_wall.time_since_epoch().count() < 0
      && *date > now_wall + std::chrono::system_clock::duration::max())
    return duration::max();
  return std::chrono::duration_cast<duration>(*date - now_wall);
}

std::optional<duration> parse_reset_duration(std::string_view text) {
  struct unit {
    std::string_view name;
    int64_t ns;
  };
  // Longest names first so "ms" is not read as "m" followed by garbage.
  static constexpr unit units[] = {
    {"ms", 1'000'000},
    {"us", 1'000},
    {"\xC2\xB5s", 1'000}, // U+00B5 micro sign
    {"\xCE\xBCs", 1'000}, // U+03BC Greek small letter mu
    {"ns", 1},
    {"h", 3'600'000'000'000},
    {"m", 60'000'000'000},
    {"s", 1'000'000'000},
  };
  text = trim(text);
  if (text == "0")
    return duration::zero();
  if (text.empty())
    return std::nullopt;
  int64_t total = 0;
  while (!text.empty()) {
    // Parse the number with unit 1 first to learn where it ends, then again with
    // the unit (cheap: a handful of characters).
    auto number = text;
    auto probe = number;
    if (!take_decimal(probe, 1))
      return std::nullopt;
    auto number_len = number.size() - probe.size();
    auto rest = probe;
    const unit* found = nullptr;
    for (auto& u : units) {
      if (rest.substr(0, u.name.size()) == u.name) {
        found = &u;
        break;
      }
    }
    if (found == nullptr)
      return std::nullopt;
    auto digits = number.substr(0, number_len);
    auto value = take_decimal(digits, found->ns);
    if (!value || total > max_ns - *value)
      return std::nullopt;
    total += *value;
    text = rest.substr(found->name.size());
  }
  return duration{total};
}

std::optional<int64_t> parse_count(std::string_view text) {
  text = trim(text);
  if (text.empty())
    return std::nullopt;
  int64_t value = 0;
  for (auto c : text) {
    if (!is_digit(c))
      return std::nullopt;
    auto digit = c - '0';
    if (value > (std::numeric_limits<int64_t>::max() - digit) / 10)
      return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

} // namespace embedrt::policy
