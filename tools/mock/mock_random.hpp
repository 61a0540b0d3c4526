// Small, stable hash and RNG helpers for the mock upstream. Stable means: the same
// input gives the same output on every platform and run, because tests and scenario
// files pin results to them (vectors, which request gets a fault, latency jitter).
#pragma once

#include <cstdint>
#include <string_view>

namespace embedrt::mock {

/// 64-bit FNV-1a of `text`.
constexpr uint64_t fnv1a64(std::string_view text) noexcept {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : text) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

/// splitmix64: advances `state` and returns the next value (Vigna's constants).
constexpr uint64_t splitmix64(uint64_t& state) noexcept {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/// Mixes several keys into one well-spread value: a stateless "random number for
/// request n of phase p" that does not depend on which thread asks first.
constexpr uint64_t mix_keys(uint64_t a, uint64_t b, uint64_t c = 0,
                            uint64_t d = 0) noexcept {
  uint64_t state = a;
  uint64_t x = splitmix64(state);
  state = x ^ b;
  x = splitmix64(state);
  state = x ^ c;
  x = splitmix64(state);
  state = x ^ d;
  return splitmix64(state);
}

/// Uniform double in [0, 1) from the top 53 bits of `x`.
constexpr double unit_double(uint64_t x) noexcept {
  return static_cast<double>(x >> 11) * (1.0 / 9007199254740992.0);
}

} // namespace embedrt::mock
