// JSON <-> structs for OpenAI-compatible POST /v1/embeddings. Pure functions, no I/O.
// Requests are written with nlohmann_json; responses (float-heavy) are read with
// simdjson, and every property the runtime promises is checked here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "messages/embedding.hpp"
// upstream_error_message and redact_secrets live there; kept visible to callers here.
#include "src/openai/error_text.hpp"

namespace embedrt::openai {

/// Builds the request body: {"model":..,"input":[..],"encoding_format":..} plus
/// "dimensions" when `dimensions > 0`.
std::string encode_request(std::string_view model,
                           const std::vector<const std::string*>& inputs,
                           uint32_t dimensions, encoding_format encoding);

/// Why a 2xx response is unusable.
enum class response_defect : uint8_t {
  none = 0,
  /// Not JSON, or not the expected shape (no `data` array, an item without `index`).
  malformed_json,
  /// `data` has a different number of items than there were inputs.
  wrong_count,
  /// An `index` outside [0, count) or seen twice.
  bad_index,
  /// `embedding` is not what `encoding_format` asked for (array vs base64 string).
  wrong_type,
  /// The base64 text does not decode to a whole number of float32 values.
  bad_base64,
  /// Vectors of different lengths, or not the expected dimension.
  wrong_dimension,
  /// NaN or infinity.
  non_finite,
};

const char* to_string(response_defect x);

struct decoded_response {
  /// One vector per input, placed by `index`.
  std::vector<std::vector<float>> embeddings;
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
/// unchanged. `expected_dimension == 0` accepts any length as long as all agree.
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
