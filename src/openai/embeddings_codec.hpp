// JSON <-> structs for OpenAI-compatible POST /v1/embeddings. Pure functions, no I/O.
// Requests are written with nlohmann_json; responses (float-heavy) are read with
// simdjson, and every property the runtime promises is checked here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <embedrt/embedding.hpp>
// upstream_error_message and redact_secrets live there; kept visible to callers here.
#include "src/openai/error_text.hpp"

namespace embedrt::openai {

/// Builds the request body: {"model":..,"input":[..],"encoding_format":..} plus
/// "dimensions" when `dimensions > 0`.
std::string encode_request(std::string_view model,
                           const std::vector<const std::string*>& inputs,
                           uint32_t dimensions, encoding_format encoding);

/// Why a 2xx response, or one item of it, is unusable. The first three are defects of
/// the whole response (no item can be trusted); the others are defects of one item
/// (the rest of the response is fine).
enum class response_defect : uint8_t {
  none = 0,
  /// Not JSON, or not the expected shape (no `data` array, an item without `index`).
  malformed_json,
  /// `data` has a different number of items than there were inputs.
  wrong_count,
  /// An `index` outside [0, count) or seen twice.
  bad_index,
  /// Item: `embedding` is neither a base64 string nor an array of numbers.
  wrong_type,
  /// Item: the base64 text does not decode to a whole number of float32 values.
  bad_base64,
  /// Item: empty, or not the expected dimension.
  wrong_dimension,
  /// Item: NaN or infinity.
  non_finite,
};

const char* to_string(response_defect x);

struct decoded_response {
  /// One vector per input, placed by `index`; empty where the item was refused.
  std::vector<std::vector<float>> embeddings;
  /// Per input, why its item was refused ("non_finite: vector 3 value 0 is NaN");
  /// empty strings for good items. Empty when every item is good.
  std::vector<std::string> item_faults;
  /// Items sent in the other encoding than asked (a float array when base64 was
  /// asked, or the reverse); they are decoded like the expected form.
  uint32_t encoding_mismatches = 0;
  uint64_t prompt_tokens = 0;
  uint64_t total_tokens = 0;
  std::string model;
};

struct decode_status {
  response_defect defect = response_defect::none;
  /// What exactly, e.g. "index 3 appears twice", "vector 2 has 768 values, expected
  /// 1536".
  std::string reason;
  bool ok() const noexcept { return defect == response_defect::none; }
};

/// Parses and checks a 2xx body. `body` must have at least 64 bytes of spare capacity
/// (simdjson padding; the transport guarantees it); it is parsed in place and left
/// unchanged. A defect of the whole response is returned (and `out` left empty); a
/// defect of one item only is recorded in `out.item_faults` and the call succeeds.
/// `expected_dimension == 0` accepts any non-empty length per item (the caller judges
/// lengths against each other, see policy::dimension_learner).
decode_status decode_response(const std::string& body, size_t expected_count,
                              uint32_t expected_dimension, encoding_format encoding,
                              decoded_response& out);

/// Standard base64 (RFC 4648, with padding) of raw bytes.
std::string base64_encode(const void* data, size_t size);

/// Appends the base64 of raw bytes to `out` (no temporary string).
void base64_append(std::string& out, const void* data, size_t size);

/// Decodes standard base64 into little-endian float32 values; false when the text is
/// not valid base64 or its length is not a multiple of 4 bytes once decoded.
bool base64_decode_floats(std::string_view text, std::vector<float>& out);

} // namespace embedrt::openai
