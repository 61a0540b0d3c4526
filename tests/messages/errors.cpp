#define CAF_SUITE messages.errors
#include <embedrt/errors.hpp>

#include "tests/support/fixture.hpp"

using namespace embedrt;

CAF_TEST(every error code has a distinct name that parses back) {
  for (uint8_t i = 0; i <= static_cast<uint8_t>(embed_errc::runtime_unavailable); ++i) {
    auto code = static_cast<embed_errc>(i);
    embed_errc parsed = embed_errc::none;
    CAF_CHECK(from_string(to_string(code), parsed));
    CAF_CHECK_EQUAL(static_cast<int>(parsed), static_cast<int>(code));
  }
  embed_errc x;
  CAF_CHECK(!from_string("no_such_code", x));
}

CAF_TEST(a failure survives the round trip through caf error) {
  embed_failure in{embed_errc::upstream_rejected, "invalid model", 400};
  auto err = to_error(in);
  CAF_CHECK(err == embed_errc::upstream_rejected);
  CAF_CHECK_EQUAL(to_failure(err), in);
}

CAF_TEST(foreign caf errors become worker_failed with their text) {
  auto out = to_failure(caf::make_error(caf::sec::request_timeout));
  CAF_CHECK(out.code == embed_errc::worker_failed);
  CAF_CHECK(out.message.find("request_timeout") != std::string::npos);
}

CAF_TEST(an empty caf error is no failure) {
  CAF_CHECK(to_failure(caf::error{}).code == embed_errc::none);
}
