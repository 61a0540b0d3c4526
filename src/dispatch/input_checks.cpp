#include "src/dispatch/input_checks.hpp"

namespace embedrt::dispatch {

uint32_t estimate_tokens(size_t bytes, uint32_t bytes_per_token) noexcept {
  auto per = bytes_per_token == 0 ? 1u : bytes_per_token;
  auto n = (bytes + per - 1) / per;
  return n > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(n);
}

namespace {

/// Length of the UTF-8 encoded Unicode space at `i`, or 0.
size_t unicode_space_at(std::string_view s, size_t i) noexcept {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  auto left = s.size() - i;
  if (left >= 2 && byte(0) == 0xC2 && byte(1) == 0xA0) // U+00A0
    return 2;
  if (left >= 3) {
    auto b0 = byte(0), b1 = byte(1), b2 = byte(2);
    if (b0 == 0xE1 && b1 == 0x9A && b2 == 0x80) // U+1680
      return 3;
    if (b0 == 0xE2 && b1 == 0x80
        && ((b2 >= 0x80 && b2 <= 0x8B) || b2 == 0xA8 || b2 == 0xA9 || b2 == 0xAF))
      return 3; // U+2000..U+200B, U+2028, U+2029, U+202F
    if (b0 == 0xE2 && b1 == 0x81 && b2 == 0x9F) // U+205F
      return 3;
    if (b0 == 0xE3 && b1 == 0x80 && b2 == 0x80) // U+3000
      return 3;
    if (b0 == 0xEF && b1 == 0xBB && b2 == 0xBF) // U+FEFF
      return 3;
  }
  return 0;
}

} // namespace

bool is_blank(std::string_view text) noexcept {
  size_t i = 0;
  while (i < text.size()) {
    switch (text[i]) {
      case ' ':
      case '\t':
      case '\n':
      case '\r':
      case '\f':
      case '\v': ++i; continue;
      default: break;
    }
    auto n = unicode_space_at(text, i);
    if (n == 0)
      return false;
    i += n;
  }
  return true;
}

embed_failure check_inputs(const std::vector<std::string>& texts,
                           const input_config& cfg) {
  auto invalid = [](std::string message) {
    return embed_failure{embed_errc::invalid_input, std::move(message), 0};
  };
  if (texts.empty())
    return invalid("the request has no texts");
  if (texts.size() > cfg.max_texts_per_request)
    return invalid("the request has " + std::to_string(texts.size())
                   + " texts, more than the limit of "
                   + std::to_string(cfg.max_texts_per_request));
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto& text = texts[i];
    auto name = "input " + std::to_string(i);
    if (text.size() > cfg.max_text_bytes)
      return invalid(name + " has " + std::to_string(text.size())
                     + " bytes, more than the limit of "
                     + std::to_string(cfg.max_text_bytes));
    if (is_blank(text))
      return invalid(name + (text.empty() ? " is empty" : " is only whitespace"));
    auto tokens = estimate_tokens(text.size(), cfg.bytes_per_token);
    if (tokens > cfg.max_text_tokens)
      return invalid(name + " has about " + std::to_string(tokens)
                     + " tokens, more than the limit of "
                     + std::to_string(cfg.max_text_tokens));
  }
  return {};
}

} // namespace embedrt::dispatch
