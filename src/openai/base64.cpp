// Standard base64 (RFC 4648) for the `encoding_format: "base64"` embedding bodies.
#include <array>
#include <cstring>

#include "src/openai/embeddings_codec.hpp"

namespace embedrt::openai {

namespace {

constexpr char alphabet[]
  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr uint8_t invalid = 0xFF;

constexpr std::array<uint8_t, 256> make_decode_table() {
  std::array<uint8_t, 256> table{};
  for (auto& x : table)
    x = invalid;
  for (uint8_t i = 0; i < 64; ++i)
    table[static_cast<uint8_t>(alphabet[i])] = i;
  return table;
}

constexpr auto decode_table = make_decode_table();

} // namespace

std::string base64_encode(const void* data, size_t size) {
  auto bytes = static_cast<const uint8_t*>(data);
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    uint32_t n = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8)
                 | bytes[i + 2];
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += alphabet[n & 63];
  }
  if (auto rest = size - i; rest > 0) {
    uint32_t n = uint32_t{bytes[i]} << 16;
    if (rest == 2)
      n |= uint32_t{bytes[i + 1]} << 8;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += rest == 2 ? alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

bool base64_decode_floats(std::string_view text, std::vector<float>& out) {
  out.clear();
  if (text.size() % 4 != 0)
    return false;
  size_t padding = 0;
  if (!text.empty() && text.back() == '=')
    padding = text.size() >= 2 && text[text.size() - 2] == '=' ? 2 : 1;
  size_t byte_count = text.size() / 4 * 3 - padding;
  if (byte_count % sizeof(float) != 0)
    return false;
  out.resize(byte_count / sizeof(float));
  auto dst = reinterpret_cast<uint8_t*>(out.data());
  size_t written = 0;
  for (size_t i = 0; i < text.size(); i += 4) {
    uint32_t n = 0;
    size_t valid = 4;
    for (size_t j = 0; j < 4; ++j) {
      auto c = static_cast<uint8_t>(text[i + j]);
      if (c == '=' && i + 4 == text.size() && j >= 4 - padding) {
        n <<= 6;
        --valid;
        continue;
      }
      auto v = decode_table[c];
      if (v == invalid)
        return false;
      n = (n << 6) | v;
    }
    uint8_t chunk[3] = {static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 8),
                        static_cast<uint8_t>(n)};
    auto take = valid - 1; // 4 chars -> 3 bytes, 3 -> 2, 2 -> 1
    std::memcpy(dst + written, chunk, take);
    written += take;
  }
  // float32 on the wire is little-endian, as on every platform we build for.
  static_assert(sizeof(float) == 4);
  return written == byte_count;
}

} // namespace embedrt::openai
