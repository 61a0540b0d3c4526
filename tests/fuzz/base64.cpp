// Fuzz target: the base64 of `encoding_format: "base64"` bodies
// (src/openai/base64.cpp), differential.
//
// Every input is used three ways:
// - as text for base64_decode_floats, compared with a plain reference decoder written
//   from RFC 4648 (same verdict, same bytes), and, when it decodes, re-encoded: the
//   encoding differs from the text at most in the unused low bits of the last
//   character before the padding, and decodes to the same bytes;
// - as raw bytes (cut to whole float32 values): base64_encode then decode gives the
//   bytes back, and the encoding is what the reference encoder writes;
// - base64_append after existing text keeps that text and appends the same encoding.
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "src/openai/embeddings_codec.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace embedrt::openai;

namespace {

constexpr std::string_view alphabet
  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int value_of(char c) {
  auto pos = alphabet.find(c);
  return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

/// RFC 4648 section 4, padded, as the decoder documents it: the text must be whole
/// quads, '=' only as one or two final characters, and the bytes whole float32
/// values. Bits below the last byte are ignored (section 3.5 allows either).
std::optional<std::string> reference_decode(std::string_view text) {
  if (text.size() % 4 != 0)
    return std::nullopt;
  size_t pad = 0;
  while (pad < text.size() && text[text.size() - 1 - pad] == '=')
    ++pad;
  if (pad > 2)
    return std::nullopt;
  std::string bytes;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < text.size() - pad; ++i) {
    auto v = value_of(text[i]);
    if (v < 0)
      return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  if (bytes.size() != text.size() / 4 * 3 - pad || bytes.size() % 4 != 0)
    return std::nullopt;
  return bytes;
}

std::string reference_encode(std::string_view bytes) {
  std::string out;
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t n = (uint32_t{static_cast<uint8_t>(bytes[i])} << 16)
                 | (uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8)
                 | static_cast<uint8_t>(bytes[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6)
      out += alphabet[(n >> shift) & 63];
  }
  if (auto rest = bytes.size() - i; rest > 0) {
    uint32_t n = uint32_t{static_cast<uint8_t>(bytes[i])} << 16;
    if (rest == 2)
      n |= uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += rest == 2 ? alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string bytes_of(const std::vector<float>& xs) {
  std::string out(xs.size() * sizeof(float), '\0');
  if (!xs.empty())
    std::memcpy(out.data(), xs.data(), out.size());
  return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input{reinterpret_cast<const char*>(data), size};

  // The input as base64 text.
  std::vector<float> floats{1.0f, 2.0f}; // stale content must not matter
  auto ok = base64_decode_floats(input, floats);
  auto expected = reference_decode(input);
  EMBEDRT_FUZZ_CHECK(ok == expected.has_value());
  if (ok) {
    auto bytes = bytes_of(floats);
    EMBEDRT_FUZZ_CHECK(bytes == *expected);
    auto again = base64_encode(bytes.data(), bytes.size());
    EMBEDRT_FUZZ_CHECK(again.size() == input.size());
    size_t pad = 0;
    while (pad < input.size() && input[input.size() - 1 - pad] == '=')
      ++pad;
    for (size_t i = 0; i < input.size(); ++i) {
      if (again[i] == input[i])
        continue;
      // Only the last character before the padding may differ, and only in the bits
      // that carry no byte (4 bits with "==", 2 with "=").
      EMBEDRT_FUZZ_CHECK(pad > 0 && i == input.size() - pad - 1);
      auto unused = pad == 2 ? 0x0F : 0x03;
      EMBEDRT_FUZZ_CHECK((value_of(again[i]) & ~unused)
                         == (value_of(input[i]) & ~unused));
      EMBEDRT_FUZZ_CHECK((value_of(again[i]) & unused) == 0);
    }
  }

  // The input as raw float32 bytes.
  auto raw = input.substr(0, input.size() / 4 * 4);
  auto encoded = base64_encode(raw.data(), raw.size());
  EMBEDRT_FUZZ_CHECK(encoded == reference_encode(raw));
  std::vector<float> back;
  EMBEDRT_FUZZ_CHECK(base64_decode_floats(encoded, back));
  EMBEDRT_FUZZ_CHECK(bytes_of(back) == raw);

  // Appending keeps what was there. Any length, not only whole floats.
  std::string out = "prefix";
  base64_append(out, input.data(), input.size());
  EMBEDRT_FUZZ_CHECK(out.compare(0, 6, "prefix") == 0);
  EMBEDRT_FUZZ_CHECK(out.substr(6) == reference_encode(input));
  return 0;
}
