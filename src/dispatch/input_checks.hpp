// Checks done on a request's texts before anything goes to the network.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <embedrt/errors.hpp>
#include <embedrt/runtime_config.hpp>

namespace embedrt::dispatch {

/// Estimated tokens of a text of `bytes` bytes: ceil(bytes / bytes_per_token).
uint32_t estimate_tokens(size_t bytes, uint32_t bytes_per_token) noexcept;

/// True for an empty text or one made only of whitespace: ASCII whitespace and the
/// Unicode space separators a tokenizer would also drop (U+00A0, U+1680,
/// U+2000..U+200B, U+2028, U+2029, U+202F, U+205F, U+3000, U+FEFF).
bool is_blank(std::string_view text) noexcept;

/// Returns `invalid_input` naming the first bad input (empty or blank, too many bytes,
/// too many estimated tokens), or a failure with code `none` when all are fine.
embed_failure check_inputs(const std::vector<std::string>& texts,
                           const input_config& cfg);

} // namespace embedrt::dispatch
