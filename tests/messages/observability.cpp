#define CAF_SUITE messages.observability
#include <embedrt/observability.hpp>

#include "tests/support/fixture.hpp"

using namespace embedrt;

CAF_TEST(for_each names every counter once) {
  runtime_counters x;
  size_t n = 0;
  x.for_each([&](const char*, uint64_t) { ++n; });
  CAF_CHECK_EQUAL(n, sizeof(runtime_counters) / sizeof(uint64_t));
}

CAF_TEST(adding counters adds every field) {
  runtime_counters a;
  runtime_counters b;
  a.requests_admitted = 2;
  a.responses_5xx = 7;
  b.requests_admitted = 3;
  b.connections_opened = 4;
  a += b;
  CAF_CHECK_EQUAL(a.requests_admitted, 5u);
  CAF_CHECK_EQUAL(a.responses_5xx, 7u);
  CAF_CHECK_EQUAL(a.connections_opened, 4u);
  CAF_CHECK(!(a == b));
  b = a;
  CAF_CHECK(a == b);
}
