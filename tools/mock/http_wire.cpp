#include "tools/mock/http_wire.hpp"

#include <charconv>

namespace embedrt::mock {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    auto y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y)
      return false;
  }
  return true;
}

std::string_view trim(std::string_view x) {
  while (!x.empty() && (x.front() == ' ' || x.front() == '\t'))
    x.remove_prefix(1);
  while (!x.empty() && (x.back() == ' ' || x.back() == '\t'))
    x.remove_suffix(1);
  return x;
}

// Whether the comma-separated header value contains `token` (case-insensitive).
bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    auto comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token))
      return true;
    if (comma == std::string_view::npos)
      break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

} // namespace

head_status parse_request_head(std::string_view buffer, size_t max_head_size,
                               size_t& scan_from, http_request& out, size_t& head_size,
                               std::string& why) {
  auto start = scan_from >= 3 ? scan_from - 3 : 0;
  auto end = buffer.find("\r\n\r\n", start);
  if (end == std::string_view::npos) {
    scan_from = buffer.size();
    return buffer.size() > max_head_size ? head_status::too_large
                                         : head_status::incomplete;
  }
  if (end + 4 > max_head_size)
    return head_status::too_large;
  head_size = end + 4;
  auto head = buffer.substr(0, end + 2); // every line, each ending in CRLF
  // Request line: METHOD SP target SP HTTP/1.x
  auto eol = head.find("\r\n");
  auto line = head.substr(0, eol);
  auto sp1 = line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == 0 || sp2 == std::string_view::npos || sp2 == sp1 + 1) {
    why = "malformed request line";
    return head_status::invalid;
  }
  auto version = line.substr(sp2 + 1);
  bool http10 = false;
  if (version == "HTTP/1.0") {
    http10 = true;
  } else if (version != "HTTP/1.1") {
    why = "unsupported HTTP version";
    return head_status::invalid;
  }
  out.method.assign(line.substr(0, sp1));
  auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  out.path.assign(target.substr(0, target.find('?')));
  out.authorization.clear();
  out.expect_continue = false;
  out.chunked = false;
  out.content_length = 0;
  out.body.clear();
  bool seen_length = false;
  bool conn_close = false;
  bool conn_keep_alive = false;
  head.remove_prefix(eol + 2);
  while (!head.empty()) {
    eol = head.find("\r\n");
    line = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 || line.front() == ' '
        || line.front() == '\t') {
      why = "malformed header line";
      return head_status::invalid;
    }
    auto name = line.substr(0, colon);
    auto value = trim(line.substr(colon + 1));
    if (iequals(name, "content-length")) {
      size_t n = 0;
      auto res = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || res.ec != std::errc{}
          || res.ptr != value.data() + value.size()
          || (seen_length && n != out.content_length)) {
        why = "invalid Content-Length";
        return head_status::invalid;
      }
      seen_length = true;
      out.content_length = n;
    } else if (iequals(name, "transfer-encoding")) {
      out.chunked = true;
    } else if (iequals(name, "connection")) {
      conn_close = conn_close || has_token(value, "close");
      conn_keep_alive = conn_keep_alive || has_token(value, "keep-alive");
    } else if (iequals(name, "authorization")) {
      out.authorization.assign(value);
    } else if (iequals(name, "expect")) {
      out.expect_continue = iequals(value, "100-continue");
    }
  }
  out.keep_alive = http10 ? (conn_keep_alive && !conn_close) : !conn_close;
  return head_status::complete;
}

const char* reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

void append_response_head(std::string& out, int status, size_t content_length,
                          bool keep_alive, const header_list& headers,
                          std::string_view content_type) {
  char num[24];
  out += "HTTP/1.1 ";
  out.append(num, std::to_chars(num, num + sizeof(num), status).ptr);
  out += ' ';
  out += reason_phrase(status);
  out += "\r\n";
  if (!content_type.empty()) {
    out += "Content-Type: ";
    out += content_type;
    out += "\r\n";
  }
  out += "Content-Length: ";
  out.append(num, std::to_chars(num, num + sizeof(num), content_length).ptr);
  out += keep_alive ? "\r\nConnection: keep-alive\r\n" : "\r\nConnection: close\r\n";
  for (auto& [name, value] : headers) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  out += "\r\n";
}

} // namespace embedrt::mock
