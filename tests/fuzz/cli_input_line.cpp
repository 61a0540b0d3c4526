// libFuzzer harness for the main job's per-line parser (src/cli/input_line.hpp): any
// bytes as one input line, under small limits so depth and size paths are reached.
// Properties: no crash or unbounded recursion; an ok line's raw id lies inside the
// line and is itself valid JSON; the error and key text built from it is valid JSON.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "src/cli/input_line.hpp"
#include "src/cli/json_scan.hpp"
#include "src/cli/output_format.hpp"

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "cli_input_line: property violated: %s\n", what);
    std::abort();
  }
}

/// Valid JSON of any type: wrapped in an object so the scanner accepts it.
bool valid_value(std::string_view raw) {
  std::string doc = "{\"v\":";
  doc.append(raw);
  doc += '}';
  return embedrt::cli::scan_json_object(doc, 1000, [](auto, auto, auto) {})
         == embedrt::cli::scan_status::object;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace embedrt::cli;
  std::string_view line{reinterpret_cast<const char*>(data), size};
  line_limits limits;
  limits.max_line_bytes = 4096;
  limits.max_depth = 8;
  auto r = parse_input_line(line, limits);
  if (!r.id_raw.empty()) {
    check(r.id_raw.data() >= line.data()
            && r.id_raw.data() + r.id_raw.size() <= line.data() + line.size(),
          "id_raw points into the line");
    check(valid_value(r.id_raw), "id_raw is valid JSON");
  }
  if (r.verdict == line_verdict::ok) {
    check(size <= limits.max_line_bytes, "ok lines respect max_line_bytes");
    std::string escaped = "\"";
    append_json_escaped(escaped, r.text);
    escaped += '"';
    check(valid_value(escaped), "the text re-escapes to a valid JSON string");
  } else {
    check(!r.message.empty(), "a rejected line says why");
  }
  auto rec = format_error(output_format::jsonl, line_key(r.id_raw, 1), 1,
                          "invalid_line", r.message);
  check(scan_json_object(std::string_view{rec.main}.substr(0, rec.main.size() - 1),
                         1000, [](auto, auto, auto) {})
          == scan_status::object,
        "the error line is a valid JSON object");
  return 0;
}
