#include "src/cli/output_format.hpp"

#include <charconv>
#include <cstring>

#include "src/cli/json_scan.hpp"
#include "src/openai/embeddings_codec.hpp"

namespace embedrt::cli {

std::optional<output_format> parse_output_format(std::string_view name) {
  if (name == "jsonl")
    return output_format::jsonl;
  if (name == "jsonl-base64")
    return output_format::jsonl_base64;
  if (name == "npy")
    return output_format::npy;
  return std::nullopt;
}

const char* to_string(output_format f) {
  switch (f) {
    case output_format::jsonl: return "jsonl";
    case output_format::jsonl_base64: return "jsonl-base64";
    case output_format::npy: return "npy";
  }
  return "?";
}

std::string line_key(std::string_view id_raw, uint64_t line) {
  std::string key;
  if (!id_raw.empty()) {
    key.reserve(id_raw.size() + 5);
    key += "\"id\":";
    key += id_raw;
  } else {
    key = "\"line\":" + std::to_string(line);
  }
  return key;
}

void append_float(std::string& out, float x) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof(buf), x);
  out.append(buf, r.ptr);
}

namespace {

std::string sidecar_line(const std::string& key, uint64_t line, std::string_view code,
                         std::string_view message) {
  std::string out = "{" + key + ",\"row\":" + std::to_string(line - 1);
  if (code.empty()) {
    out += ",\"status\":\"ok\"}\n";
  } else {
    out += ",\"status\":\"error\",\"error\":{\"code\":\"";
    append_json_escaped(out, code);
    out += "\",\"message\":\"";
    append_json_escaped(out, message);
    out += "\"}}\n";
  }
  return out;
}

} // namespace

line_record format_vector(output_format f, const std::string& key, uint64_t line,
                          const std::vector<float>& vec) {
  line_record r;
  switch (f) {
    case output_format::jsonl: {
      auto& out = r.main;
      // Most floats print in <= 15 characters; one reserve, no reallocation.
      out.reserve(key.size() + 24 + vec.size() * 16);
      out += '{';
      out += key;
      out += ",\"embedding\":[";
      char buf[32];
      for (size_t i = 0; i < vec.size(); ++i) {
        auto* p = buf;
        if (i > 0)
          *p++ = ',';
        auto res = std::to_chars(p, buf + sizeof(buf), vec[i]);
        out.append(buf, res.ptr);
      }
      out += "]}\n";
      break;
    }
    case output_format::jsonl_base64: {
      auto& out = r.main;
      out.reserve(key.size() + 24 + (vec.size() * 4 + 2) / 3 * 4);
      out += '{';
      out += key;
      out += ",\"embedding\":\"";
      openai::base64_append(out, vec.data(), vec.size() * sizeof(float));
      out += "\"}\n";
      break;
    }
    case output_format::npy:
      r.main.resize(vec.size() * sizeof(float));
      // x86-64 and aarch64 Linux are little-endian, as '<f4' says.
      std::memcpy(r.main.data(), vec.data(), r.main.size());
      r.side = sidecar_line(key, line, {}, {});
      break;
  }
  return r;
}

line_record format_error(output_format f, const std::string& key, uint64_t line,
                         std::string_view code, std::string_view message) {
  line_record r;
  r.code = code;
  if (f == output_format::npy) {
    r.side = sidecar_line(key, line, code, message);
    return r;
  }
  auto& out = r.main;
  out += '{';
  out += key;
  out += ",\"error\":{\"code\":\"";
  append_json_escaped(out, code);
  out += "\",\"message\":\"";
  append_json_escaped(out, message);
  out += "\"}}\n";
  return r;
}

std::string npy_header(uint64_t rows, uint64_t dim) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': ("
                     + std::to_string(rows) + ", " + std::to_string(dim) + "), }";
  std::string h = "\x93NUMPY";
  h += '\x01';
  h += '\x00';
  auto len = npy_header_bytes - 10;
  h += static_cast<char>(len & 0xFF);
  h += static_cast<char>((len >> 8) & 0xFF);
  h += dict;
  h.resize(npy_header_bytes - 1, ' ');
  h += '\n';
  return h;
}

bool parse_npy_header(std::string_view header, uint64_t& rows, uint64_t& dim) {
  if (header.size() < npy_header_bytes || header.substr(0, 6) != "\x93NUMPY")
    return false;
  auto pos = header.find("'shape': (");
  if (pos == std::string_view::npos)
    return false;
  auto p = header.data() + pos + 10;
  auto end = header.data() + header.size();
  auto r1 = std::from_chars(p, end, rows);
  if (r1.ec != std::errc{} || r1.ptr + 2 > end || r1.ptr[0] != ',')
    return false;
  auto r2 = std::from_chars(r1.ptr + 2, end, dim);
  return r2.ec == std::errc{};
}

bool needs_redo(std::string_view code, bool retry_failed) {
  if (code.empty())
    return false;
  if (retry_failed)
    return true;
  // Permanent: the same line would fail the same way again.
  return code != "invalid_json" && code != "invalid_line" && code != "invalid_input"
         && code != "upstream_rejected";
}

} // namespace embedrt::cli
