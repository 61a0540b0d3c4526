// Fuzz target: openai::upstream_error_message (the text a caller sees for an error
// body) and openai::redact_secrets.
//
// Input: byte 0 chooses where a key is planted (bit 0: plant one; bit 1: inside an
// OpenAI-shaped JSON error message instead of the raw body; bits 2-3: which shape of
// key), byte 1 where in the body, the bytes up to the first '\n' are the key's
// characters, the rest is the body.
//
// Properties, today's contract (embeddings_codec.hpp):
// - the message is at most 512 bytes, has no control bytes, is valid UTF-8 and has no
//   blanks at either end;
// - an `sk-` key (8+ of [A-Za-z0-9_-]) or a `Bearer` token that starts a word is gone
//   from the message and from redact_secrets' output;
// - redact_secrets changes nothing in a text without such a key.
// Strict (issue 10, EMBEDRT_FUZZ_STRICT): also a key echoed as an `api-key:` or
// `Authorization:` header value is gone, and a Bearer token right after another
// "Bearer" (a key configured with its scheme, sent as "Bearer Bearer KEY") too; with
// src/openai/error_text.hpp, the configured key (the overloads taking `api_key`) is
// gone wherever it appears, even inside a word or spelled with JSON escapes.
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "src/openai/embeddings_codec.hpp"
#include "tests/fuzz/fuzz_support.hpp"
#if EMBEDRT_FUZZ_HAS_ERROR_TEXT
#  include "src/openai/error_text.hpp"
#endif

using namespace embedrt::openai;

namespace {

bool is_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
         || c == '_' || c == '-';
}

void check_message(const std::string& msg) {
  EMBEDRT_FUZZ_CHECK(msg.size() <= 512);
  EMBEDRT_FUZZ_CHECK(!embedrt::fuzz::has_control_bytes(msg));
  EMBEDRT_FUZZ_CHECK(embedrt::fuzz::is_utf8(msg));
  EMBEDRT_FUZZ_CHECK(msg.empty() || (msg.front() != ' ' && msg.back() != ' '));
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// A key of the chosen shape, built from the fuzzer's characters (key characters only,
/// at least 8 of them, so it is a key by today's rule).
struct planted_key {
  std::string secret; // what must not be seen
  std::string text;   // what is planted, e.g. "Bearer <secret>"
  bool strict_only = false;
};

planted_key make_key(uint8_t shape, std::string_view material) {
  std::string chars;
  for (auto c : material)
    if (is_key_char(c))
      chars += c;
  // Pad deterministically to 16: a key shorter than 8 is no key by today's rule, and a
  // header value must not end in '-' to be told apart.
  static constexpr std::string_view pad = "Q7x9K2mZ4vB8nW3r";
  if (chars.size() < pad.size())
    chars += pad.substr(chars.size());
  switch (shape & 3) {
    case 0: return {"sk-" + chars, "sk-" + chars, false};
    case 1: return {chars, "Bearer " + chars, false};
    case 2: return {chars, "api-key: " + chars, true};
    default: return {chars, "Authorization: " + chars, true};
  }
}

/// Whether `text` ends in the word "bearer" (any case) and blanks.
bool ends_with_bearer(std::string_view text) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  if (text.size() < 6)
    return false;
  for (size_t i = 0; i < 6; ++i) {
    auto c = text[text.size() - 6 + i];
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
    if (c != "bearer"[i])
      return false;
  }
  return true;
}

#if EMBEDRT_FUZZ_HAS_ERROR_TEXT
/// The configured key may be any API key: here 8+ of [A-Za-z0-9_-] (other bytes would
/// let "[redacted]" or the cleaning of the text itself spell the key).
std::string configured_key(std::string_view material) {
  std::string key;
  for (auto c : material)
    if (is_key_char(c))
      key += c;
  if (key.size() < 8)
    key += std::string_view{"k3Y9pQ2w"}.substr(key.size());
  return key == "redacted" ? "redacted1" : key;
}

/// The configured key, planted anywhere (no word boundary) and, in JSON mode, with its
/// first character as a \u escape: nothing of it may be left.
void check_configured_key(uint8_t mode, size_t where, std::string_view material,
                          const std::string& body) {
  auto key = configured_key(material);
  auto pos = body.empty() ? 0 : where % (body.size() + 1);
  auto text = body.substr(0, pos) + key + body.substr(pos);
  if ((mode & 2) != 0) {
    nlohmann::json doc;
    doc["error"]["message"] = text;
    text = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if ((mode & 16) != 0) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\u%04x",
                    static_cast<unsigned>(static_cast<unsigned char>(key[0])));
      if (auto at = text.find(key); at != std::string::npos)
        text.replace(at, 1, escaped);
    }
  }
  auto msg = upstream_error_message(text, key);
  check_message(msg);
  EMBEDRT_FUZZ_CHECK(!contains(msg, key));
  EMBEDRT_FUZZ_CHECK(!contains(redact_secrets(text, key), key));
}
#endif

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  embedrt::fuzz::input_reader in{data, size};
  auto mode = in.byte();
  auto where = in.byte();
  auto material = in.until('\n');
  std::string body{in.rest()};

  // Any body: the message's shape.
  check_message(upstream_error_message(body));
  auto redacted_body = redact_secrets(body);
  if (redacted_body.find("[redacted]") == std::string::npos)
    EMBEDRT_FUZZ_CHECK(redacted_body == body);

#if EMBEDRT_FUZZ_HAS_ERROR_TEXT
  check_configured_key(mode, where, material, body);
#endif
  if ((mode & 1) == 0)
    return 0;
  auto key = make_key(static_cast<uint8_t>(mode >> 2), material);
  if (key.strict_only && !EMBEDRT_FUZZ_STRICT)
    return 0;
  // Planted as a word of its own: a blank before and after.
  auto pos = body.empty() ? 0 : where % (body.size() + 1);
  auto plant = [&](std::string_view planted) {
    auto text = body.substr(0, pos) + ' ' + std::string{planted} + ' '
                + body.substr(pos);
    if ((mode & 2) == 0)
      return text;
    nlohmann::json doc;
    doc["error"]["message"] = text;
    doc["error"]["type"] = "invalid_request_error";
    return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  // Today a token that is itself the word "Bearer" hides the next one ("Bearer Bearer
  // KEY" keeps KEY, as after a key configured with its scheme): strict only.
  if (ends_with_bearer(body.substr(0, pos)) && !EMBEDRT_FUZZ_STRICT)
    return 0;
  auto text = plant(key.text);
  auto msg = upstream_error_message(text);
  check_message(msg);
  // Only the planted copy counts: the body may hold the same characters elsewhere
  // (not as a key, e.g. inside a longer word).
  if (contains(plant({}), key.secret))
    return 0;
  EMBEDRT_FUZZ_CHECK(!contains(msg, key.secret));
  EMBEDRT_FUZZ_CHECK(!contains(redact_secrets(text), key.secret));
  return 0;
}
