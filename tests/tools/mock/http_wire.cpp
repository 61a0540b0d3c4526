#define CAF_SUITE tools.mock.http_wire
#include <caf/test/unit_test.hpp>

#include "tools/mock/http_wire.hpp"

using namespace embedrt::mock;

namespace {

struct parsed {
  head_status status;
  http_request req;
  size_t head_size = 0;
  std::string why;
};

parsed parse(std::string_view text, size_t max_head = 1024) {
  parsed p;
  size_t scan_from = 0;
  p.status = parse_request_head(text, max_head, scan_from, p.req, p.head_size, p.why);
  return p;
}

} // namespace

CAF_TEST(a complete head yields method path length and keep alive) {
  std::string text = "POST /v1/embeddings?x=1 HTTP/1.1\r\nHost: a\r\n"
                     "content-length:  12 \r\nAuthorization: Bearer k\r\n\r\nbody";
  auto p = parse(text);
  CAF_REQUIRE(p.status == head_status::complete);
  CAF_CHECK_EQUAL(p.req.method, "POST");
  CAF_CHECK_EQUAL(p.req.path, "/v1/embeddings");
  CAF_CHECK_EQUAL(p.req.content_length, 12u);
  CAF_CHECK_EQUAL(p.req.authorization, "Bearer k");
  CAF_CHECK(p.req.keep_alive);
  CAF_CHECK(!p.req.expect_continue);
  CAF_CHECK_EQUAL(p.head_size, text.size() - 4);
}

CAF_TEST(connection tokens and http 1.0 decide keep alive) {
  CAF_CHECK(!parse("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n").req.keep_alive);
  CAF_CHECK(!parse("GET / HTTP/1.0\r\n\r\n").req.keep_alive);
  CAF_CHECK(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").req.keep_alive);
  CAF_CHECK(
    parse("GET / HTTP/1.1\r\nConnection: TE, keep-alive\r\n\r\n").req.keep_alive);
  CAF_CHECK(
    parse("POST / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n").req.expect_continue);
  CAF_CHECK(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").req.chunked);
}

CAF_TEST(an incomplete head resumes scanning where it stopped) {
  http_request req;
  size_t scan_from = 0;
  size_t head_size = 0;
  std::string why;
  std::string text = "GET / HTTP/1.1\r\nHost: a\r\n";
  CAF_CHECK(parse_request_head(text, 1024, scan_from, req, head_size, why)
            == head_status::incomplete);
  CAF_CHECK_EQUAL(scan_from, text.size());
  text += "\r\n";
  CAF_CHECK(parse_request_head(text, 1024, scan_from, req, head_size, why)
            == head_status::complete);
  CAF_CHECK_EQUAL(head_size, text.size());
}

CAF_TEST(malformed and oversized heads are refused) {
  CAF_CHECK(parse("GET /\r\n\r\n").status == head_status::invalid);
  CAF_CHECK(parse("GET / HTTP/2\r\n\r\n").status == head_status::invalid);
  CAF_CHECK(parse("GET / HTTP/1.1\r\nno colon\r\n\r\n").status == head_status::invalid);
  CAF_CHECK(parse("GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n").status
            == head_status::invalid);
  CAF_CHECK(
    parse("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").status
    == head_status::invalid);
  CAF_CHECK(parse("GET / HTTP/1.1\r\nX: " + std::string(2000, 'a')).status
            == head_status::too_large);
}

CAF_TEST(response heads carry length connection and extra headers) {
  std::string out;
  append_response_head(out, 429, 17, false, {{"retry-after", "2"}});
  CAF_CHECK_EQUAL(out,
                  "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
                  "Content-Length: 17\r\nConnection: close\r\nretry-after: 2\r\n\r\n");
}
