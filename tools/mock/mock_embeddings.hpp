// The OpenAI /v1/embeddings protocol as the mock speaks it: deterministic vectors,
// request validation with OpenAI's error shape, and fast response bodies (floats via
// std::to_chars, base64 via embedrt's codec). Pure functions, no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace embedrt::mock {

/// The deterministic unit-norm vector for `text`: FNV-1a of the text seeds splitmix64,
/// each value is a uniform float in [-1, 1] (24 random bits), then the vector is
/// scaled to unit L2 norm. The same text and dimension always give the same floats,
/// and the vector for dimension d is the renormalised prefix of any longer one (like
/// OpenAI's `dimensions` shortening). `dimension == 0` gives an empty vector.
std::vector<float> mock_vector(std::string_view text, uint32_t dimension);

/// As above, into `out` (resized), reusing its storage.
void mock_vector(std::string_view text, uint32_t dimension, std::vector<float>& out);

/// The mock's token count for one input: ceil(bytes / 4).
uint64_t mock_tokens(std::string_view text);

/// The most inputs one request may carry (OpenAI's limit).
constexpr size_t max_inputs = 2048;

/// The largest `dimensions` the mock accepts.
constexpr uint32_t max_dimension = 65536;

/// A validated embeddings request.
struct embeddings_request {
  std::string model;
  std::vector<std::string> inputs;
  /// `encoding_format` was "base64" (default "float", as OpenAI).
  bool base64 = false;
  /// The request's `dimensions`; 0 when absent.
  uint32_t dimensions = 0;
};

/// Parses and validates a request body like OpenAI: not JSON, no `model`, no or empty
/// `input`, non-string items, more than 2048 inputs, a bad `encoding_format` or
/// `dimensions` give false and a message for the 400 error body.
bool parse_embeddings_request(std::string_view body, embeddings_request& out,
                              std::string& error_message);

/// Deviations from a correct body, set by faults.
struct body_tweaks {
  /// Send the other encoding than asked.
  bool wrong_type = false;
  /// Make data[0]'s first value NaN, written as `nan_token` in float format.
  bool nan = false;
  std::string_view nan_token = "NaN";
  /// Send every vector with this many values instead (0: no change).
  uint32_t dimension_override = 0;
  /// Leave out the last item of `data`.
  bool drop_last = false;
  /// Emit `data` in a seeded non-identity order (2+ inputs).
  bool shuffle = false;
  uint64_t shuffle_seed = 0;
  /// Send float arrays whatever `encoding_format` asked (wins over `wrong_type`).
  bool always_float = false;
  /// Corrupt each vector independently with this probability: it is truncated (its
  /// last value dropped) or gets a NaN first value, as `corrupt_truncate` and
  /// `corrupt_nan` allow (both: half and half). Drawn from (corrupt_seed, text), so
  /// a given text in a given request is corrupted reproducibly.
  double corrupt_rate = 0;
  bool corrupt_truncate = true;
  bool corrupt_nan = true;
  uint64_t corrupt_seed = 0;
};

/// Whether `embeddings_body` corrupts the vector of `text` (and how: true when it is
/// truncated, false for NaN), for tests that count what they should see.
bool corrupts_vector(const body_tweaks& tweaks, std::string_view text, bool& truncated);

/// The OpenAI-shaped 200 body:
/// {"object":"list","data":[{"object":"embedding","index":i,"embedding":...}],
///  "model":...,"usage":{"prompt_tokens":n,"total_tokens":n}}.
std::string embeddings_body(const embeddings_request& req, uint32_t dimension,
                            std::string_view model, const body_tweaks& tweaks = {});

/// {"error":{"message":..,"type":..,"param":null,"code":..}}; an empty `code` is null.
std::string error_body(std::string_view message, std::string_view type,
                       std::string_view code = {});

} // namespace embedrt::mock
