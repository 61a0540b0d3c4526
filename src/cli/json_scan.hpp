// A small iterative JSON scanner for one line of untrusted input: it validates the
// whole line (RFC 8259, UTF-8 checked) with a bounded nesting depth and no recursion,
// and reports each member of the top-level object with the raw text of its value.
// Pure: no I/O, no allocation beyond a depth-sized stack and the unescaped keys.
// Assumes lines fit in memory (the reader bounds them with input.max_line_bytes).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace embedrt::cli {

/// What a scan found, the reason in the value's name.
enum class scan_status : uint8_t {
  /// Valid JSON whose top-level value is an object; every member was reported.
  object,
  /// Valid JSON, but the top-level value is not an object.
  not_an_object,
  /// Not valid JSON (syntax, bad escape, invalid UTF-8, control byte in a string).
  invalid_json,
  /// Nested deeper than the limit; scanning stopped there.
  too_deep,
};

/// The JSON type of a member's value.
enum class value_kind : uint8_t { string, number, literal, object, array };

/// Called once per member of the top-level object, in order (duplicates included):
/// the unescaped key, the raw value text (exactly as in the input) and its kind.
using member_visitor
  = std::function<void(std::string_view key, std::string_view raw, value_kind kind)>;

/// Scans `text`; `max_depth` counts nested arrays/objects, the top-level object
/// being depth 1. Members are reported as soon as they end, so a member before a
/// syntax error or a too-deep value has been reported already.
scan_status scan_json_object(std::string_view text, uint32_t max_depth,
                             const member_visitor& visit);

/// Decodes the raw text of a JSON string (quotes included) that `scan_json_object`
/// validated; escapes and surrogate pairs become UTF-8.
std::string unescape_json_string(std::string_view raw);

/// Appends `s` as the body of a JSON string (no quotes), escaping what JSON needs.
/// Invalid UTF-8 bytes are replaced by U+FFFD so the output is always valid JSON.
void append_json_escaped(std::string& out, std::string_view s);

} // namespace embedrt::cli
