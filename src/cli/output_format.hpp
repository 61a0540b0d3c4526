// The main job's output formats, as pure functions from one answered line to the
// bytes written for it. Formatting happens where the answer arrives; the writer only
// concatenates, so it never holds a lock while formatting.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace embedrt::cli {

enum class output_format : uint8_t {
  /// {"id": ..., "embedding": [floats]} per line; floats shortest round-trip.
  jsonl,
  /// {"id": ..., "embedding": "<base64 of little-endian float32>"} per line.
  jsonl_base64,
  /// One float32 .npy matrix (row i = input line i) + a JSONL sidecar per row.
  npy,
};

std::optional<output_format> parse_output_format(std::string_view name);
const char* to_string(output_format f);

/// What is written for one input line, and how it ended.
struct line_record {
  /// jsonl formats: the whole line with its "\n". npy: the row's float32 bytes
  /// (little-endian), empty for a failed row (written as zeros).
  std::string main;
  /// npy only: the sidecar line with its "\n".
  std::string side;
  /// Empty when the line got a vector, else the error code.
  std::string code;

  bool ok() const noexcept { return code.empty(); }
  /// Bytes this record holds (for the reorder window's bound).
  size_t bytes() const noexcept { return main.size() + side.size() + code.size(); }
};

/// `"id":<raw>` when the line had an id, else `"line":<n>`.
std::string line_key(std::string_view id_raw, uint64_t line);

/// The record of a line answered with `vec`.
line_record format_vector(output_format f, const std::string& key, uint64_t line,
                          const std::vector<float>& vec);

/// The record of a line that failed with `code` (an error code name) and `message`.
line_record format_error(output_format f, const std::string& key, uint64_t line,
                         std::string_view code, std::string_view message);

/// Appends the shortest text that reads back as exactly `x` (std::to_chars).
void append_float(std::string& out, float x);

/// The .npy header (format 1.0, '<f4', C order) for a rows x dim matrix, padded to
/// `npy_header_bytes` so it can be rewritten in place when the job ends.
constexpr size_t npy_header_bytes = 128;
std::string npy_header(uint64_t rows, uint64_t dim);

/// Reads rows and dim back from a header written by `npy_header`.
bool parse_npy_header(std::string_view header, uint64_t& rows, uint64_t& dim);

/// The error code of an output line and whether it must be redone on resume
/// (`retry_failed`: every error is redone; otherwise only transient ones).
bool needs_redo(std::string_view code, bool retry_failed);

} // namespace embedrt::cli
