// One line of the main job's input, `{"id": <any JSON>, "text": "..."}`, parsed
// without recursion and within limits. Pure (fuzzed by tests/fuzz/cli_input_line.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace embedrt::cli {

struct line_limits {
  /// Longer lines are `invalid_line` (the reader does not even keep them).
  uint64_t max_line_bytes = 1048576;
  /// Deeper nesting is `invalid_line`; the top-level object is depth 1.
  uint32_t max_depth = 64;
};

/// How a line was judged; the value names the error code written for it.
enum class line_verdict : uint8_t {
  /// An object with a string "text".
  ok,
  /// Not JSON at all (an empty line included).
  invalid_json,
  /// JSON, but not an object with a string "text", or over a per-line limit.
  invalid_line,
};

struct input_line {
  line_verdict verdict = line_verdict::invalid_json;
  /// The raw JSON text of "id" exactly as in the input (a view into the line), empty
  /// when the line has no id or the id could not be read.
  std::string_view id_raw;
  /// "text", unescaped (UTF-8).
  std::string text;
  /// Why the line is not ok (for the error line).
  std::string message;
};

/// Parses one line (without its newline). `id_raw` points into `line`.
input_line parse_input_line(std::string_view line, const line_limits& limits);

/// The message of a line that was longer than `limits.max_line_bytes`.
std::string oversized_line_message(uint64_t bytes, const line_limits& limits);

} // namespace embedrt::cli
