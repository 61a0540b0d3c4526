// Fuzz target: the mock upstream's HTTP/1.1 request-head parser
// (mock::parse_request_head), fed the way a socket delivers bytes: in chunks, resuming
// from `scan_from` after every `incomplete`.
//
// Input: byte 0 sets the head limit (16 to 4096 bytes), byte 1 seeds the chunk sizes,
// the rest is what the client sends. Properties:
// - after every chunk, the resumed parse says exactly what a fresh parse of all bytes
//   so far says (status; on `complete` the head size and every field; on `invalid` the
//   reason), so resuming never skips or rescans wrongly;
// - `complete`: the head ends in CRLF CRLF at `head_size`, within the limit; the method
//   has no blank and the path no '?';
// - `incomplete` never happens with more bytes than the limit buffered.
#include <string>

#include "tests/fuzz/fuzz_support.hpp"
#include "tools/mock/http_wire.hpp"

using namespace embedrt::mock;

namespace {

struct parse_result {
  head_status status = head_status::incomplete;
  http_request req;
  size_t head_size = 0;
  std::string why;
};

bool same_request(const http_request& a, const http_request& b) {
  return a.method == b.method && a.path == b.path && a.authorization == b.authorization
         && a.keep_alive == b.keep_alive && a.expect_continue == b.expect_continue
         && a.chunked == b.chunked && a.content_length == b.content_length
         && a.body == b.body;
}

parse_result parse_fresh(std::string_view bytes, size_t max_head) {
  parse_result r;
  size_t scan_from = 0;
  r.status = parse_request_head(bytes, max_head, scan_from, r.req, r.head_size, r.why);
  EMBEDRT_FUZZ_CHECK(scan_from <= bytes.size());
  return r;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  embedrt::fuzz::input_reader in{data, size};
  size_t max_head = 16 + size_t{in.byte()} * 16;
  uint32_t seed = in.byte();
  auto wire = in.rest();

  std::string buffer; // what has arrived so far
  size_t scan_from = 0;
  parse_result resumed;
  size_t offset = 0;
  // Chunk sizes from a small LCG: runs of 1-byte chunks and larger ones.
  uint32_t state = seed * 2654435761u + 1;
  while (offset < wire.size()) {
    state = state * 1103515245u + 12345u;
    size_t chunk = 1 + (state >> 16) % (seed % 32 + 1);
    auto piece = wire.substr(offset, chunk);
    buffer.append(piece.data(), piece.size());
    offset += piece.size();
    resumed.status = parse_request_head(buffer, max_head, scan_from, resumed.req,
                                        resumed.head_size, resumed.why);
    EMBEDRT_FUZZ_CHECK(scan_from <= buffer.size());
    auto fresh = parse_fresh(buffer, max_head);
    EMBEDRT_FUZZ_CHECK(resumed.status == fresh.status);
    if (resumed.status == head_status::incomplete) {
      EMBEDRT_FUZZ_CHECK(buffer.size() <= max_head);
      continue;
    }
    if (resumed.status == head_status::invalid) {
      EMBEDRT_FUZZ_CHECK(resumed.why == fresh.why);
      EMBEDRT_FUZZ_CHECK(!resumed.why.empty());
    }
    if (resumed.status == head_status::complete) {
      EMBEDRT_FUZZ_CHECK(resumed.head_size == fresh.head_size);
      EMBEDRT_FUZZ_CHECK(same_request(resumed.req, fresh.req));
      EMBEDRT_FUZZ_CHECK(resumed.head_size >= 4 && resumed.head_size <= buffer.size());
      EMBEDRT_FUZZ_CHECK(resumed.head_size <= max_head);
      EMBEDRT_FUZZ_CHECK(buffer.compare(resumed.head_size - 4, 4, "\r\n\r\n") == 0);
      // The first blank line ends the head.
      EMBEDRT_FUZZ_CHECK(buffer.find("\r\n\r\n") == resumed.head_size - 4);
      EMBEDRT_FUZZ_CHECK(!resumed.req.method.empty());
      EMBEDRT_FUZZ_CHECK(resumed.req.method.find(' ') == std::string::npos);
      EMBEDRT_FUZZ_CHECK(resumed.req.path.find('?') == std::string::npos);
      EMBEDRT_FUZZ_CHECK(resumed.req.body.empty());
    }
    break; // a server stops reading the head here
  }
  return 0;
}
