#define CAF_SUITE actors.http_worker
#include <caf/test/unit_test.hpp>

#include <string>

#include "actors/http_worker.hpp"

// to_call_result is the one place where upstream text and numbers enter a result:
// strings are cleaned and bounded, durations saturate, usage is bounded.

using namespace embedrt;

namespace {

http::transfer_result completed(uint16_t status, std::string body) {
  http::transfer_result x;
  x.status = http::transfer_status::completed;
  x.http_status = status;
  x.body = std::move(body);
  x.body.reserve(x.body.size() + http::body_padding);
  return x;
}

http_worker_state::in_flight one_input() {
  http_worker_state::in_flight call;
  call.input_count = 1;
  call.expected_dimension = 2;
  call.encoding = encoding_format::float_array;
  call.request_bytes = 100;
  return call;
}

} // namespace

CAF_TEST(a retry after ms near two to the 63 saturates in nanoseconds) {
  auto x = completed(429, "{}");
  x.retry_after = std::chrono::milliseconds{9223372036855};
  auto r = to_call_result(x, one_input());
  CAF_CHECK_EQUAL(r.retry_after, caf::timespan::max());
  x.retry_after = std::chrono::milliseconds{-1};
  CAF_CHECK_EQUAL(to_call_result(x, one_input()).retry_after, caf::timespan{-1});
}

CAF_TEST(an unbounded token in a bad index is cut and cleaned) {
  auto token = std::string(100000, '9');
  auto body = R"({"data":[{"index":)" + token + R"(,"embedding":[1,2]}]})";
  auto x = completed(200, body);
  auto r = to_call_result(x, one_input());
  CAF_CHECK_EQUAL(r.status, attempt_status::bad_response);
  CAF_CHECK_LESS_OR_EQUAL(r.detail.size(), 600u);
  CAF_CHECK_EQUAL(r.detail.compare(0, 10, "bad_index:"), 0);
}

CAF_TEST(a usage of four quintillion tokens is bounded by the request size) {
  auto x = completed(200, R"({"data":[{"index":0,"embedding":[1,2]}],)"
                          R"("usage":{"prompt_tokens":4000000000000000000,)"
                          R"("total_tokens":4000000000000000000}})");
  auto r = to_call_result(x, one_input());
  CAF_REQUIRE_EQUAL(r.status, attempt_status::succeeded);
  CAF_CHECK_EQUAL(r.usage.prompt_tokens, 100u);
  CAF_CHECK_EQUAL(r.usage.total_tokens, 100u);
}

CAF_TEST(the key in an error body is redacted) {
  std::string key = "zz";
  for (int i = 0; i < 30; ++i)
    key += static_cast<char>('a' + i % 26);
  auto x = completed(401, R"({"error":{"message":"bad key )" + key + R"("}})");
  auto r = to_call_result(x, one_input(), key);
  CAF_CHECK_EQUAL(r.status, attempt_status::http_error);
  CAF_CHECK_EQUAL(r.detail, "bad key [redacted]");
}

CAF_TEST(a rejected certificate names the problem and endpoint ca_bundle) {
  http::transfer_result x;
  x.status = http::transfer_status::tls_rejected;
  x.error = "SSL certificate problem: self-signed certificate\r\n";
  auto r = to_call_result(x, one_input());
  CAF_CHECK_EQUAL(r.status, attempt_status::tls_rejected);
  CAF_CHECK_NOT_EQUAL(r.detail.find("self-signed certificate"), std::string::npos);
  CAF_CHECK_NOT_EQUAL(r.detail.find("embedrt.endpoint.ca_bundle"), std::string::npos);
  CAF_CHECK_EQUAL(r.detail.find('\r'), std::string::npos);
}

CAF_TEST(a body past its bound is a transient too large failure) {
  http::transfer_result x;
  x.status = http::transfer_status::too_large;
  x.error = "the response body passed 90000 bytes";
  auto r = to_call_result(x, one_input());
  CAF_CHECK_EQUAL(r.status, attempt_status::too_large);
  CAF_CHECK_EQUAL(r.detail, "the response body passed 90000 bytes");
}
