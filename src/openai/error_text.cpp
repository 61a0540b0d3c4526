// Cleaning and redaction of upstream text, and the error-message scan.
//
// Assumptions and choices:
// - The error body scan reads at most `max_error_body_bytes` and builds no tree: it
//   walks the top-level object, keeps the strings of `error.message` (or `error` as a
//   string), `message` and `detail`, and skips everything else with a nesting limit.
//   A document that is not well-formed falls back to the start of the body. A body
//   cut at the read limit keeps a message found before the cut.
// - Inside JSON strings, raw control bytes and invalid UTF-8 are tolerated (they are
//   cleaned afterwards); bad escapes are not.
// - A secret starts a word (so "task-12345678" stays readable), except the configured
//   key, which is redacted wherever it appears.
#include "src/openai/error_text.hpp"

#include "src/text/utf8.hpp"

#include <algorithm>
#include <cstdint>

namespace embedrt::openai {

size_t utf8_sequence_length(const unsigned char* p, size_t available) noexcept {
  auto c = p[0];
  auto cont = [&](size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return i < available && p[i] >= lo && p[i] <= hi;
  };
  if (c >= 0xC2 && c <= 0xDF)
    return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    auto lo = c == 0xE0 ? 0xA0 : 0x80;
    auto hi = c == 0xED ? 0x9F : 0xBF;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    auto lo = c == 0xF0 ? 0x90 : 0x80;
    auto hi = c == 0xF4 ? 0x8F : 0xBF;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

namespace {

/// Cuts `text` to at most `max_bytes` without splitting a UTF-8 sequence.
void truncate_utf8(std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes)
    return;
  auto cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
    --cut;
  text.resize(cut);
}

// -- secret redaction -------------------------------------------------------------

constexpr std::string_view redacted = "[redacted]";

/// Keys of other providers are shorter than OpenAI's; below this a configured key is
/// not searched for (it would redact ordinary words).
constexpr size_t min_configured_key_bytes = 8;

bool is_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_key_char(char c) noexcept {
  return is_alnum(c) || c == '_' || c == '-';
}

/// RFC 6750 b64token characters, plus '_' which API keys use.
bool is_token_char(char c) noexcept {
  return is_key_char(c) || c == '.' || c == '~' || c == '+' || c == '/' || c == '=';
}

bool is_blank(char c) noexcept {
  return c == ' ' || c == '\t';
}

bool equals_ignore_case(std::string_view text, size_t pos, std::string_view lower) {
  if (text.size() - pos < lower.size())
    return false;
  for (size_t i = 0; i < lower.size(); ++i) {
    auto c = text[pos + i];
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i])
      return false;
  }
  return true;
}

/// A secret found at some position: `length` bytes starting there are replaced by
/// their first `keep` bytes (a header name and separator) followed by "[redacted]".
struct secret_match {
  size_t length = 0;
  size_t keep = 0;
};

size_t skip_blanks(std::string_view text, size_t i) {
  while (i < text.size() && is_blank(text[i]))
    ++i;
  return i;
}

size_t skip_token(std::string_view text, size_t i) {
  while (i < text.size() && is_token_char(text[i]))
    ++i;
  return i;
}

constexpr std::string_view secret_header_names[] = {"authorization", "x-api-key",
                                                    "api-key", "api_key", "apikey"};

/// Where the value starts when a header or field name that carries a secret stands at
/// `pos` (`Authorization: `, `"api-key": "`, `x-api-key=`), else npos. `name` is set
/// to the name found.
size_t secret_header_value_at(std::string_view text, size_t pos,
                              std::string_view& name) {
  for (auto candidate : secret_header_names) {
    if (!equals_ignore_case(text, pos, candidate))
      continue;
    auto i = pos + candidate.size();
    if (i < text.size() && (is_key_char(text[i])))
      return std::string_view::npos; // a longer word ("api-keys", "authorizations")
    if (i < text.size() && (text[i] == '"' || text[i] == '\''))
      ++i;
    i = skip_blanks(text, i);
    if (i >= text.size() || (text[i] != ':' && text[i] != '='))
      return std::string_view::npos;
    i = skip_blanks(text, i + 1);
    if (i < text.size() && (text[i] == '"' || text[i] == '\''))
      ++i;
    name = candidate;
    return i;
  }
  return std::string_view::npos;
}

bool is_word_at(std::string_view text, size_t pos, size_t end, std::string_view lower) {
  return end - pos == lower.size() && equals_ignore_case(text, pos, lower);
}

/// An HTTP authentication scheme word: the token after it is a credential.
bool is_auth_scheme(std::string_view text, size_t pos, size_t end) {
  static constexpr std::string_view schemes[] = {"bearer", "basic", "token", "digest"};
  for (auto scheme : schemes)
    if (is_word_at(text, pos, end, scheme))
      return true;
  return false;
}

/// `Authorization: Basic x`, `"api-key": "x"`, `x-api-key=x`: the header or field
/// name at `pos`, a separator, and a value.
secret_match header_secret_at(std::string_view text, size_t pos) {
  std::string_view name;
  auto value = secret_header_value_at(text, pos, name);
  if (value == std::string_view::npos)
    return {};
  // "Authorization: Authorization: KEY": the value is another secret header, which
  // is matched on its own when the scan reaches it.
  std::string_view inner;
  if (secret_header_value_at(text, value, inner) != std::string_view::npos)
    return {};
  auto end = skip_token(text, value);
  if (end == value)
    return {};
  // "Basic dXNlcjpwYXNz", "c Bearer KEY", "api-key: Bearer Bearer KEY": a scheme
  // word takes the token after it, however many schemes stand in a row or wherever
  // one follows the first token, so no credentials are left behind. A following
  // secret header name ends the value: that one is matched on its own.
  auto last = value;
  for (;;) {
    auto next = skip_blanks(text, end);
    if (next == end || next >= text.size())
      break;
    std::string_view other;
    if (secret_header_value_at(text, next, other) != std::string_view::npos)
      break;
    auto more = skip_token(text, next);
    if (more == next)
      break;
    if (!is_auth_scheme(text, last, end) && !is_auth_scheme(text, next, more))
      break;
    last = next;
    end = more;
  }
  return {end - pos, value - pos};
}

/// The secret that starts at `text[pos]`, if any: the configured key anywhere; `sk-`
/// followed by at least 8 of [A-Za-z0-9_-]; `Bearer` (any case) followed by blanks
/// and a token; an echoed key header. All but the first must start a word.
secret_match secret_at(std::string_view text, size_t pos, std::string_view api_key) {
  if (api_key.size() >= min_configured_key_bytes
      && text.compare(pos, api_key.size(), api_key) == 0)
    return {api_key.size(), 0};
  if (pos > 0 && is_alnum(text[pos - 1]))
    return {};
  auto c = text[pos];
  if (c == 's' && text.compare(pos, 3, "sk-") == 0) {
    auto end = pos + 3;
    while (end < text.size() && is_key_char(text[end]))
      ++end;
    return end - pos - 3 >= 8 ? secret_match{end - pos, 0} : secret_match{};
  }
  if ((c == 'b' || c == 'B') && equals_ignore_case(text, pos, "bearer")) {
    // "Bearer KEY", also "Bearer Bearer KEY" (a key configured with its scheme).
    auto end = pos + 6;
    for (;;) {
      auto token = skip_blanks(text, end);
      if (token == end)
        break;
      // "Bearer Authorization: KEY": the header is matched on its own.
      std::string_view header;
      if (secret_header_value_at(text, token, header) != std::string_view::npos)
        break;
      auto token_end = skip_token(text, token);
      if (token_end == token)
        break;
      end = token_end;
      if (!is_word_at(text, token, token_end, "bearer"))
        break;
    }
    return end > pos + 6 ? secret_match{end - pos, 0} : secret_match{};
  }
  if (c == 'a' || c == 'A' || c == 'x' || c == 'X') {
    auto m = header_secret_at(text, pos);
    // The header name is kept, unless the configured key hides in it (a short key
    // such as "uthoriza"): then nothing of the match is kept.
    if (m.keep > 0 && api_key.size() >= min_configured_key_bytes
        && text.substr(pos, m.keep).find(api_key) != std::string_view::npos)
      m.keep = 0;
    return m;
  }
  return {};
}

// -- the error body scan ------------------------------------------------------------

enum class scan_result { ok, malformed, truncated };

/// A forward-only reader of at most `max_error_body_bytes` of JSON.
class error_body_scanner {
public:
  explicit error_body_scanner(std::string_view text) : text_(text) {
    // nop
  }

  /// Walks the document; fills the three candidates it finds.
  scan_result run() {
    skip_ws();
    if (at_end())
      return scan_result::truncated;
    if (text_[i_] != '{')
      return scan_result::malformed;
    ++i_;
    auto r = members([this](std::string_view key) -> scan_result {
      if (key == "error") {
        if (!at_end() && text_[i_] == '{') {
          ++i_;
          return members([this](std::string_view inner) {
            if (inner == "message")
              return string_or_skip(error_);
            return skip_value(1);
          });
        }
        return string_or_skip(error_);
      }
      if (key == "message")
        return string_or_skip(message_);
      if (key == "detail")
        return string_or_skip(detail_);
      return skip_value(0);
    });
    if (r != scan_result::ok)
      return r;
    skip_ws();
    return at_end() ? scan_result::ok : scan_result::malformed;
  }

  /// The best message found (empty: none).
  const std::string& best() const {
    return !error_.empty() ? error_ : !message_.empty() ? message_ : detail_;
  }

private:
  static constexpr int max_depth = 32;

  bool at_end() const { return i_ >= text_.size(); }

  void skip_ws() {
    while (!at_end()
           && (text_[i_] == ' ' || text_[i_] == '\t' || text_[i_] == '\n'
               || text_[i_] == '\r'))
      ++i_;
  }

  /// `{` already consumed: reads `"key": value, ...}`; `on_value(key)` reads a value.
  template<class F>
  scan_result members(F&& on_value) {
    std::string key;
    skip_ws();
    if (!at_end() && text_[i_] == '}') {
      ++i_;
      return scan_result::ok;
    }
    for (;;) {
      skip_ws();
      if (at_end())
        return scan_result::truncated;
      key.clear();
      if (auto r = string(&key, 64); r != scan_result::ok)
        return r;
      skip_ws();
      if (at_end())
        return scan_result::truncated;
      if (text_[i_] != ':')
        return scan_result::malformed;
      ++i_;
      skip_ws();
      if (at_end())
        return scan_result::truncated;
      if (auto r = on_value(key); r != scan_result::ok)
        return r;
      skip_ws();
      if (at_end())
        return scan_result::truncated;
      if (text_[i_] == '}') {
        ++i_;
        return scan_result::ok;
      }
      if (text_[i_] != ',')
        return scan_result::malformed;
      ++i_;
    }
  }

  /// A string value into `out` (the first non-empty one wins), or any other value.
  scan_result string_or_skip(std::string& out) {
    if (at_end())
      return scan_result::truncated;
    if (text_[i_] != '"')
      return skip_value(0);
    std::string value;
    auto r = string(&value, max_error_body_bytes);
    if (r == scan_result::ok && out.empty())
      out = std::move(value);
    return r;
  }

  static int hex(char c) {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
      return c - 'A' + 10;
    return -1;
  }

  /// Four hex digits after "\u"; -1: malformed, -2: truncated.
  int32_t hex4() {
    if (text_.size() - i_ < 4)
      return -2;
    int32_t value = 0;
    for (int k = 0; k < 4; ++k) {
      auto h = hex(text_[i_ + static_cast<size_t>(k)]);
      if (h < 0)
        return -1;
      value = value * 16 + h;
    }
    i_ += 4;
    return value;
  }

  /// A JSON string at i_, decoded into `out` (null: skipped) up to `max_out` bytes.
  scan_result string(std::string* out, size_t max_out) {
    if (at_end())
      return scan_result::truncated;
    if (text_[i_] != '"')
      return scan_result::malformed;
    ++i_;
    auto put = [&](std::string_view x) {
      if (out != nullptr && out->size() < max_out)
        out->append(x.data(), std::min(x.size(), max_out - out->size()));
    };
    for (;;) {
      // Copy the run up to the next quote or backslash at once.
      auto start = i_;
      while (!at_end() && text_[i_] != '"' && text_[i_] != '\\')
        ++i_;
      put(text_.substr(start, i_ - start));
      if (at_end())
        return scan_result::truncated;
      if (text_[i_] == '"') {
        ++i_;
        return scan_result::ok;
      }
      ++i_; // backslash
      if (at_end())
        return scan_result::truncated;
      auto c = text_[i_++];
      switch (c) {
        case '"': put("\""); break;
        case '\\': put("\\"); break;
        case '/': put("/"); break;
        case 'b': put("\b"); break;
        case 'f': put("\f"); break;
        case 'n': put("\n"); break;
        case 'r': put("\r"); break;
        case 't': put("\t"); break;
        case 'u': {
          auto cp = hex4();
          if (cp < 0)
            return cp == -2 ? scan_result::truncated : scan_result::malformed;
          auto code = static_cast<uint32_t>(cp);
          if (code >= 0xD800 && code <= 0xDBFF && text_.substr(i_, 2) == "\\u") {
            auto save = i_;
            i_ += 2;
            auto low = hex4();
            if (low >= 0xDC00 && low <= 0xDFFF) {
              code = 0x10000 + ((code - 0xD800) << 10)
                     + (static_cast<uint32_t>(low) - 0xDC00);
            } else {
              i_ = save; // a lone high surrogate; the next escape is read on its own
            }
          }
          std::string utf8;
          if (code >= 0xD800 && code <= 0xDFFF)
            utf8 = std::string{utf8_replacement_character};
          else
            text::append_utf8(utf8, code);
          put(utf8);
          break;
        }
        default: return scan_result::malformed;
      }
    }
  }

  scan_result literal(std::string_view word) {
    auto left = text_.substr(i_, word.size());
    if (left == word) {
      i_ += word.size();
      return scan_result::ok;
    }
    return word.substr(0, left.size()) == left && i_ + word.size() > text_.size()
             ? scan_result::truncated
             : scan_result::malformed;
  }

  scan_result skip_value(int depth) {
    if (depth > max_depth)
      return scan_result::malformed;
    skip_ws();
    if (at_end())
      return scan_result::truncated;
    auto c = text_[i_];
    switch (c) {
      case '"': return string(nullptr, 0);
      case '{': {
        ++i_;
        return members(
          [this, depth](std::string_view) { return skip_value(depth + 1); });
      }
      case '[': {
        ++i_;
        skip_ws();
        if (!at_end() && text_[i_] == ']') {
          ++i_;
          return scan_result::ok;
        }
        for (;;) {
          if (auto r = skip_value(depth + 1); r != scan_result::ok)
            return r;
          skip_ws();
          if (at_end())
            return scan_result::truncated;
          if (text_[i_] == ']') {
            ++i_;
            return scan_result::ok;
          }
          if (text_[i_] != ',')
            return scan_result::malformed;
          ++i_;
        }
      }
      case 't': return literal("true");
      case 'f': return literal("false");
      case 'n': return literal("null");
      default: break;
    }
    if (c != '-' && (c < '0' || c > '9'))
      return scan_result::malformed;
    while (!at_end()
           && ((text_[i_] >= '0' && text_[i_] <= '9') || text_[i_] == '-'
               || text_[i_] == '+' || text_[i_] == '.' || text_[i_] == 'e'
               || text_[i_] == 'E'))
      ++i_;
    return scan_result::ok;
  }

  std::string_view text_;
  size_t i_ = 0;
  std::string error_;
  std::string message_;
  std::string detail_;
};

} // namespace

std::string clean_upstream_text(std::string_view text, std::string_view api_key,
                                size_t max_bytes) {
  max_bytes = std::min(max_bytes, max_upstream_text_bytes);
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 16);
  auto p = reinterpret_cast<const unsigned char*>(text.data());
  size_t i = 0;
  // Any output past `max_bytes` is cut below; stop early on long texts.
  while (i < text.size() && out.size() <= max_bytes) {
    if (auto s = secret_at(text, i, api_key); s.length > 0) {
      for (size_t k = 0; k < s.keep; ++k)
        out += is_blank(text[i + k]) ? ' ' : text[i + k];
      out += redacted;
      i += s.length;
      continue;
    }
    auto c = p[i];
    if (c < 0x20 || c == 0x7F || c == ' ') {
      if (!out.empty() && out.back() != ' ')
        out += ' ';
      ++i;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
    } else if (auto len = utf8_sequence_length(p + i, text.size() - i); len > 0) {
      out.append(text.data() + i, len);
      i += len;
    } else {
      out += utf8_replacement_character;
      ++i;
    }
  }
  truncate_utf8(out, max_bytes);
  while (!out.empty() && out.back() == ' ')
    out.pop_back();
  while (!out.empty() && out.front() == ' ')
    out.erase(0, 1);
  return out;
}

std::string upstream_error_message(std::string_view body, std::string_view api_key) {
  auto window = body.substr(0, max_error_body_bytes);
  error_body_scanner scanner{window};
  auto r = scanner.run();
  // The transport cuts error bodies at this size: one that long may go on.
  bool cut = body.size() >= max_error_body_bytes;
  if (r == scan_result::ok || (r == scan_result::truncated && cut)) {
    if (auto& message = scanner.best(); !message.empty())
      return clean_upstream_text(message, api_key);
  }
  return clean_upstream_text(window, api_key);
}

std::string upstream_error_message(std::string_view body) {
  return upstream_error_message(body, {});
}

std::string redact_secrets(std::string_view text, std::string_view api_key) {
  std::string out;
  size_t copied = 0;
  for (size_t i = 0; i < text.size();) {
    auto s = secret_at(text, i, api_key);
    if (s.length == 0) {
      ++i;
      continue;
    }
    if (out.empty())
      out.reserve(text.size());
    out.append(text.data() + copied, i + s.keep - copied);
    out += redacted;
    i += s.length;
    copied = i;
  }
  if (copied == 0)
    return std::string{text};
  out.append(text.data() + copied, text.size() - copied);
  return out;
}

std::string redact_secrets(std::string_view text) {
  return redact_secrets(text, {});
}

} // namespace embedrt::openai
