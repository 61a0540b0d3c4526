#include "src/cli/input_line.hpp"

#include "src/cli/json_scan.hpp"

namespace embedrt::cli {

std::string oversized_line_message(uint64_t bytes, const line_limits& limits) {
  return "the line has " + std::to_string(bytes)
         + " bytes, more than input.max_line_bytes ("
         + std::to_string(limits.max_line_bytes) + ")";
}

input_line parse_input_line(std::string_view line, const line_limits& limits) {
  input_line r;
  if (line.size() > limits.max_line_bytes) {
    r.verdict = line_verdict::invalid_line;
    r.message = oversized_line_message(line.size(), limits);
    return r;
  }
  std::string_view text_raw;
  bool has_text = false;
  bool text_is_string = false;
  auto status = scan_json_object(line, limits.max_depth,
                                 [&](std::string_view key, std::string_view raw,
                                     value_kind kind) {
                                   // Duplicate keys: the last one wins (as most JSON
                                   // libraries do).
                                   if (key == "id") {
                                     r.id_raw = raw;
                                   } else if (key == "text") {
                                     has_text = true;
                                     text_is_string = kind == value_kind::string;
                                     text_raw = raw;
                                   }
                                 });
  switch (status) {
    case scan_status::object: break;
    case scan_status::invalid_json:
      r.verdict = line_verdict::invalid_json;
      r.id_raw = {};
      r.message = "the line is not valid JSON";
      return r;
    case scan_status::too_deep:
      r.verdict = line_verdict::invalid_line;
      r.message = "the line is nested deeper than " + std::to_string(limits.max_depth)
                  + " levels";
      return r;
    case scan_status::not_an_object:
      r.verdict = line_verdict::invalid_line;
      r.message = "the line is not a JSON object";
      return r;
  }
  if (!has_text || !text_is_string) {
    r.verdict = line_verdict::invalid_line;
    r.message = "the line needs a string field \"text\"";
    return r;
  }
  r.verdict = line_verdict::ok;
  r.text = unescape_json_string(text_raw);
  return r;
}

} // namespace embedrt::cli
