#include "src/cli/json_scan.hpp"

#include "src/text/utf8.hpp"

#include <vector>

namespace embedrt::cli {

namespace {

bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/// Length of the valid UTF-8 sequence at s[i] (1..4), or 0 when it is not valid
/// (overlong forms, surrogates and code points above U+10FFFF are invalid).
size_t utf8_length(std::string_view s, size_t i) {
  auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80)
    return 1;
  size_t len = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0)
      lo = 0xA0;
    else if (b0 == 0xED)
      hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0)
      lo = 0x90;
    else if (b0 == 0xF4)
      hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > s.size())
    return 0;
  auto b1 = static_cast<unsigned char>(s[i + 1]);
  if (b1 < lo || b1 > hi)
    return 0;
  for (size_t k = 2; k < len; ++k) {
    auto b = static_cast<unsigned char>(s[i + k]);
    if (b < 0x80 || b > 0xBF)
      return 0;
  }
  return len;
}

/// Reads 4 hex digits at s[i]; -1 when they are not.
long read_hex4(std::string_view s, size_t i) {
  if (i + 4 > s.size())
    return -1;
  long v = 0;
  for (size_t k = 0; k < 4; ++k) {
    auto h = hex_value(s[i + k]);
    if (h < 0)
      return -1;
    v = v * 16 + h;
  }
  return v;
}

/// Validates the string starting at s[i] == '"'; returns the index after the closing
/// quote, or npos.
size_t skip_string(std::string_view s, size_t i) {
  ++i;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"')
      return i + 1;
    if (c < 0x20)
      return std::string_view::npos;
    if (c == '\\') {
      if (i + 1 >= s.size())
        return std::string_view::npos;
      auto e = s[i + 1];
      if (e == 'u') {
        auto v = read_hex4(s, i + 2);
        if (v < 0)
          return std::string_view::npos;
        i += 6;
        if (v >= 0xDC00 && v <= 0xDFFF)
          return std::string_view::npos; // a lone low surrogate
        if (v >= 0xD800 && v <= 0xDBFF) {
          if (i + 1 >= s.size() || s[i] != '\\' || s[i + 1] != 'u')
            return std::string_view::npos;
          auto w = read_hex4(s, i + 2);
          if (w < 0xDC00 || w > 0xDFFF)
            return std::string_view::npos;
          i += 6;
        }
        continue;
      }
      if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n'
          && e != 'r' && e != 't')
        return std::string_view::npos;
      i += 2;
      continue;
    }
    auto len = utf8_length(s, i);
    if (len == 0)
      return std::string_view::npos;
    i += len;
  }
  return std::string_view::npos;
}

/// Validates a number at s[i]; returns the index after it, or npos.
size_t skip_number(std::string_view s, size_t i) {
  auto n = s.size();
  if (i < n && s[i] == '-')
    ++i;
  if (i >= n)
    return std::string_view::npos;
  if (s[i] == '0') {
    ++i;
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < n && is_digit(s[i]))
      ++i;
  } else {
    return std::string_view::npos;
  }
  if (i < n && s[i] == '.') {
    ++i;
    if (i >= n || !is_digit(s[i]))
      return std::string_view::npos;
    while (i < n && is_digit(s[i]))
      ++i;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-'))
      ++i;
    if (i >= n || !is_digit(s[i]))
      return std::string_view::npos;
    while (i < n && is_digit(s[i]))
      ++i;
  }
  return i;
}

} // namespace

scan_status scan_json_object(std::string_view s, uint32_t max_depth,
                             const member_visitor& visit) {
  constexpr auto npos = std::string_view::npos;
  // Containers open above the current position: true = object, false = array.
  std::vector<bool> stack;
  size_t i = 0;
  const size_t n = s.size();
  auto skip_ws = [&] {
    while (i < n && is_ws(s[i]))
      ++i;
  };
  skip_ws();
  if (i >= n)
    return scan_status::invalid_json;
  const bool root_is_object = s[i] == '{';
  // The top-level member whose value is being read.
  std::string key;
  size_t value_start = 0;
  value_kind kind = value_kind::literal;
  // Parser states: expecting a value, or what may follow inside a container.
  enum class state : uint8_t { value, first_key, next_key, colon, after_value, done };
  auto st = state::value;
  bool first_in_array = false;
  while (st != state::done) {
    skip_ws();
    if (i >= n)
      return scan_status::invalid_json;
    auto c = s[i];
    switch (st) {
      case state::value: {
        bool member = stack.size() == 1 && stack[0];
        if (member)
          value_start = i;
        if (c == ']' && first_in_array) {
          // "[]": the array closes before any value.
          first_in_array = false;
          st = state::after_value;
          continue;
        }
        first_in_array = false;
        if (c == '{' || c == '[') {
          if (stack.size() >= max_depth)
            return scan_status::too_deep;
          if (member)
            kind = c == '{' ? value_kind::object : value_kind::array;
          stack.push_back(c == '{');
          ++i;
          if (c == '{') {
            st = state::first_key;
          } else {
            first_in_array = true;
            st = state::value;
          }
          continue;
        }
        size_t end = npos;
        value_kind k = value_kind::literal;
        if (c == '"') {
          end = skip_string(s, i);
          k = value_kind::string;
        } else if (c == '-' || is_digit(c)) {
          end = skip_number(s, i);
          k = value_kind::number;
        } else if (s.substr(i, 4) == "true" || s.substr(i, 4) == "null") {
          end = i + 4;
        } else if (s.substr(i, 5) == "false") {
          end = i + 5;
        }
        if (end == npos)
          return scan_status::invalid_json;
        i = end;
        if (member) {
          kind = k;
          visit(key, s.substr(value_start, i - value_start), kind);
        }
        st = stack.empty() ? state::done : state::after_value;
        continue;
      }
      case state::first_key:
      case state::next_key: {
        if (c == '}' && st == state::first_key) {
          // "{}" closes at once.
          st = state::after_value;
          continue;
        }
        if (c != '"')
          return scan_status::invalid_json;
        auto end = skip_string(s, i);
        if (end == npos)
          return scan_status::invalid_json;
        if (stack.size() == 1)
          key = unescape_json_string(s.substr(i, end - i));
        i = end;
        st = state::colon;
        continue;
      }
      case state::colon:
        if (c != ':')
          return scan_status::invalid_json;
        ++i;
        st = state::value;
        continue;
      case state::after_value: {
        // Just after a value (or at an empty container's closing bracket).
        bool in_object = stack.back();
        if (c == ',') {
          ++i;
          st = in_object ? state::next_key : state::value;
          continue;
        }
        if (c != (in_object ? '}' : ']'))
          return scan_status::invalid_json;
        ++i;
        stack.pop_back();
        if (stack.size() == 1 && stack[0])
          visit(key, s.substr(value_start, i - value_start), kind);
        st = stack.empty() ? state::done : state::after_value;
        continue;
      }
      case state::done: break;
    }
  }
  skip_ws();
  if (i != n)
    return scan_status::invalid_json;
  return root_is_object ? scan_status::object : scan_status::not_an_object;
}

std::string unescape_json_string(std::string_view raw) {
  std::string out;
  if (raw.size() < 2)
    return out;
  auto s = raw.substr(1, raw.size() - 2);
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = s[i];
    if (c != '\\') {
      out += c;
      continue;
    }
    if (i + 1 >= s.size())
      break;
    auto e = s[++i];
    switch (e) {
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        auto v = read_hex4(s, i + 1);
        if (v < 0)
          return out;
        i += 4;
        unsigned long cp = static_cast<unsigned long>(v);
        if (v >= 0xD800 && v <= 0xDBFF && i + 2 < s.size() && s[i + 1] == '\\'
            && s[i + 2] == 'u') {
          auto w = read_hex4(s, i + 3);
          if (w >= 0xDC00 && w <= 0xDFFF) {
            cp = 0x10000 + ((static_cast<unsigned long>(v) - 0xD800) << 10)
                 + (static_cast<unsigned long>(w) - 0xDC00);
            i += 6;
          }
        }
        text::append_utf8(out, static_cast<uint32_t>(cp));
        break;
      }
      default: // '"', '\\', '/'
        out += e;
    }
  }
  return out;
}

void append_json_escaped(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      auto len = utf8_length(s, i);
      if (len == 0) {
        out += "\xEF\xBF\xBD";
        ++i;
      } else {
        out.append(s.data() + i, len);
        i += len;
      }
      continue;
    }
    ++i;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
}

} // namespace embedrt::cli
