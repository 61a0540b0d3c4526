// How large a successful /embeddings response to a given request may be. Pure.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

#include <embedrt/embedding.hpp>

namespace embedrt::openai {

/// Assumed dimension when neither the request nor an earlier response says (larger
/// than any common model's: text-embedding-3-large has 3072).
constexpr uint32_t bound_default_dimension = 4096;

/// Bytes per value as the upstream writes it: base64 of a float32 is 16/3 bytes;
/// float text is at most ~25 ("-1.2345678901234567e-05,") plus blanks.
constexpr uint64_t bound_bytes_per_value(encoding_format encoding) noexcept {
  return encoding == encoding_format::base64 ? 6 : 26;
}

/// JSON around one vector ({"object":"embedding","index":..,"embedding":..}).
constexpr uint64_t bound_bytes_per_item = 256;
/// Margin for what the estimate misses (pretty-printing, extra fields).
constexpr uint64_t bound_safety_factor = 2;
/// Fixed allowance: the envelope (usage, model, object) and small responses.
constexpr uint64_t bound_fixed_allowance = uint64_t{64} << 10;

/// The largest body accepted for a 2xx to `inputs` inputs of `dimension` values
/// (0: unknown, `bound_default_dimension` is assumed): inputs x (dimension x bytes
/// per value + item overhead) x safety factor + fixed allowance, and never more than
/// `absolute_cap` (`limits.max_response_bytes`). Saturates instead of overflowing.
constexpr uint64_t max_response_bytes(uint64_t inputs, uint32_t dimension,
                                      encoding_format encoding,
                                      uint64_t absolute_cap) noexcept {
  constexpr auto max = std::numeric_limits<uint64_t>::max();
  uint64_t dims = dimension != 0 ? dimension : bound_default_dimension;
  // dims < 2^32 and bytes per value < 2^5: no overflow per item.
  uint64_t per_input = (dims * bound_bytes_per_value(encoding) + bound_bytes_per_item)
                       * bound_safety_factor;
  uint64_t bound = inputs > (max - bound_fixed_allowance) / per_input
                     ? max
                     : inputs * per_input + bound_fixed_allowance;
  return std::min(bound, absolute_cap);
}

} // namespace embedrt::openai
