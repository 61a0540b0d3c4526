// The small part of HTTP/1.1 the mock needs: parse a request head, write a response
// head. Bodies are Content-Length only; `Transfer-Encoding` is refused (501) because
// the clients we serve (libcurl, cpp-httplib) send a length for POST bodies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tools/mock/mock_script.hpp"

namespace embedrt::mock {

struct http_request {
  std::string method;
  /// The request target without the query string.
  std::string path;
  /// The `Authorization` header, verbatim.
  std::string authorization;
  /// HTTP/1.1 without `Connection: close`, or HTTP/1.0 with `Connection: keep-alive`.
  bool keep_alive = true;
  /// `Expect: 100-continue`: send an interim 100 before the body arrives (libcurl asks
  /// for it on larger POST bodies and otherwise waits a second).
  bool expect_continue = false;
  /// A `Transfer-Encoding` header was present.
  bool chunked = false;
  size_t content_length = 0;
  std::string body;
};

enum class head_status : uint8_t { incomplete, complete, invalid, too_large };

/// Parses the request head at the start of `buffer` into `out` (body untouched).
/// `scan_from` is where the search for the blank line resumes (updated while
/// incomplete, so a slowly arriving head is not rescanned from the start).
/// On `complete`, `head_size` is the number of bytes up to and including the blank
/// line. On `invalid`, `why` says what is wrong.
head_status parse_request_head(std::string_view buffer, size_t max_head_size,
                               size_t& scan_from, http_request& out, size_t& head_size,
                               std::string& why);

/// "OK", "Too Many Requests", ...; "Unknown" for codes without a phrase here.
const char* reason_phrase(int status);

/// Appends a status line, Content-Type (when `content_type` is not empty),
/// Content-Length, `Connection: close` when `!keep_alive`, the extra headers and the
/// blank line.
void append_response_head(std::string& out, int status, size_t content_length,
                          bool keep_alive, const header_list& headers,
                          std::string_view content_type = "application/json");

} // namespace embedrt::mock
