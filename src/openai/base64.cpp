// Standard base64 (RFC 4648) for the `encoding_format: "base64"` embedding bodies.
//
// Table driven and branch-free in the bulk loop: a 1536-float vector is 8 KB of
// base64, and decoding it is the largest per-vector cost on the response path (the
// encoder serves the mock upstream and the benchmarks).
#include <array>
#include <cstring>

#include "src/openai/embeddings_codec.hpp"

namespace embedrt::openai {

namespace {

constexpr char alphabet[]
  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Set in a decoded quad for any character outside the alphabet ('=' included).
constexpr uint32_t invalid_bit = 0x01000000;

/// decode_tables[k][c]: the 6 bits of character `c` at position `k` of a quad, already
/// shifted into place, or `invalid_bit`.
constexpr std::array<std::array<uint32_t, 256>, 4> make_decode_tables() {
  std::array<std::array<uint32_t, 256>, 4> tables{};
  for (auto& t : tables)
    for (auto& x : t)
      x = invalid_bit;
  for (uint32_t i = 0; i < 64; ++i) {
    auto c = static_cast<uint8_t>(alphabet[i]);
    tables[0][c] = i << 18;
    tables[1][c] = i << 12;
    tables[2][c] = i << 6;
    tables[3][c] = i;
  }
  return tables;
}

constexpr auto decode_tables = make_decode_tables();

/// encode_pairs[v]: the two characters for 12 bits `v`.
constexpr std::array<std::array<char, 2>, 4096> make_encode_pairs() {
  std::array<std::array<char, 2>, 4096> pairs{};
  for (uint32_t v = 0; v < 4096; ++v)
    pairs[v] = {alphabet[v >> 6], alphabet[v & 63]};
  return pairs;
}

constexpr auto encode_pairs = make_encode_pairs();

inline uint32_t decode_quad(const uint8_t* p) noexcept {
  return decode_tables[0][p[0]] | decode_tables[1][p[1]] | decode_tables[2][p[2]]
         | decode_tables[3][p[3]];
}

} // namespace

void base64_append(std::string& out, const void* data, size_t size) {
  auto bytes = static_cast<const uint8_t*>(data);
  auto at = out.size();
  out.resize(at + (size + 2) / 3 * 4);
  auto dst = out.data() + at;
  size_t i = 0;
  for (; i + 3 <= size; i += 3, dst += 4) {
    uint32_t n = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8)
                 | bytes[i + 2];
    std::memcpy(dst, encode_pairs[n >> 12].data(), 2);
    std::memcpy(dst + 2, encode_pairs[n & 4095].data(), 2);
  }
  if (auto rest = size - i; rest > 0) {
    uint32_t n = uint32_t{bytes[i]} << 16;
    if (rest == 2)
      n |= uint32_t{bytes[i + 1]} << 8;
    dst[0] = alphabet[(n >> 18) & 63];
    dst[1] = alphabet[(n >> 12) & 63];
    dst[2] = rest == 2 ? alphabet[(n >> 6) & 63] : '=';
    dst[3] = '=';
  }
}

std::string base64_encode(const void* data, size_t size) {
  std::string out;
  base64_append(out, data, size);
  return out;
}

bool base64_decode_floats(std::string_view text, std::vector<float>& out) {
  out.clear();
  if (text.size() % 4 != 0)
    return false;
  if (text.empty())
    return true;
  size_t padding = 0;
  if (text.back() == '=')
    padding = text.size() >= 2 && text[text.size() - 2] == '=' ? 2 : 1;
  size_t byte_count = text.size() / 4 * 3 - padding;
  if (byte_count % sizeof(float) != 0)
    return false;
  // float32 on the wire is little-endian, as on every platform we build for.
  static_assert(sizeof(float) == 4);
  out.resize(byte_count / sizeof(float));
  auto src = reinterpret_cast<const uint8_t*>(text.data());
  auto dst = reinterpret_cast<uint8_t*>(out.data());
  // Every quad but the last decodes to 3 whole bytes; errors are collected and
  // checked once, so the loop has no branch per character.
  size_t full = text.size() / 4 - 1;
  uint32_t seen = 0;
  for (size_t q = 0; q < full; ++q, src += 4, dst += 3) {
    auto n = decode_quad(src);
    seen |= n;
    dst[0] = static_cast<uint8_t>(n >> 16);
    dst[1] = static_cast<uint8_t>(n >> 8);
    dst[2] = static_cast<uint8_t>(n);
  }
  if ((seen & invalid_bit) != 0)
    return false;
  // The last quad, with its padding ('=' anywhere else is invalid above).
  uint8_t last[4] = {src[0], src[1], src[2], src[3]};
  for (size_t k = 4 - padding; k < 4; ++k)
    last[k] = 'A'; // decodes to zero bits
  auto n = decode_quad(last);
  if ((n & invalid_bit) != 0)
    return false;
  uint8_t chunk[3] = {static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 8),
                      static_cast<uint8_t>(n)};
  std::memcpy(dst, chunk, 3 - padding);
  return true;
}

} // namespace embedrt::openai
