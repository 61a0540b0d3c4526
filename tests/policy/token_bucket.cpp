#define CAF_SUITE policy.token_bucket
#include <caf/test/unit_test.hpp>

#include <chrono>
#include <cmath>

#include "src/policy/token_bucket.hpp"

using namespace embedrt::policy;
using namespace std::chrono_literals;

namespace {

// A manual clock: every test starts here and moves `now` by hand.
const time_point t0 = time_point{} + 1h;

} // namespace

CAF_TEST(a new bucket starts full and grants its capacity at once) {
  token_bucket bucket{1.0, 5.0, t0};
  CAF_CHECK_EQUAL(bucket.available(t0), 5.0);
  for (int i = 0; i < 5; ++i)
    CAF_CHECK(bucket.try_take(1, t0));
  CAF_CHECK(!bucket.try_take(1, t0));
  CAF_CHECK_EQUAL(bucket.time_until(1, t0), duration{1s});
}

CAF_TEST(tokens refill lazily at the rate) {
  token_bucket bucket{2.0, 4.0, t0};
  CAF_REQUIRE(bucket.try_take(4, t0));
  auto now = t0 + 1250ms;
  CAF_CHECK_EQUAL(bucket.available(now), 2.5);
  CAF_CHECK(bucket.try_take(2, now));
  CAF_CHECK(!bucket.try_take(1, now));
  CAF_CHECK_EQUAL(bucket.time_until(1, now), duration{250ms});
}

CAF_TEST(refill stops at the capacity) {
  token_bucket bucket{10.0, 3.0, t0};
  CAF_REQUIRE(bucket.try_take(3, t0));
  CAF_CHECK_EQUAL(bucket.available(t0 + 1h), 3.0);
  CAF_CHECK(bucket.try_take(3, t0 + 1h));
  CAF_CHECK(!bucket.try_take(1, t0 + 1h));
}

CAF_TEST(a failed take takes nothing) {
  token_bucket bucket{1.0, 2.0, t0};
  CAF_REQUIRE(bucket.try_take(1.5, t0));
  for (int i = 0; i < 10; ++i)
    CAF_CHECK(!bucket.try_take(1, t0));
  CAF_CHECK_EQUAL(bucket.available(t0), 0.5);
}

CAF_TEST(time until is exact to the nanosecond for awkward rates) {
  for (double rate :
       {1.0 / 3.0, 1.0 / 60.0, 7.0 / 60.0, 1000.0 / 60.0, 3.0, 1e6 / 60.0}) {
    token_bucket bucket{rate, 1.0, t0};
    auto now = t0;
    for (int i = 0; i < 20; ++i) {
      CAF_REQUIRE(bucket.try_take(1, now));
      auto wait = bucket.time_until(1, now);
      CAF_REQUIRE(wait > duration::zero());
      // Within 1 µs of the ideal 1 / rate, never granted a nanosecond early.
      auto ideal = 1e9 / rate;
      CAF_CHECK_LESS(std::abs(static_cast<double>(wait.count()) - ideal), 1e3);
      CAF_CHECK(!bucket.try_take(1, now + wait - 1ns));
      now += wait;
      CAF_CHECK_EQUAL(bucket.time_until(1, now), duration::zero());
    }
  }
}

CAF_TEST(
  a request larger than the capacity is granted from a full bucket and leaves debt) {
  token_bucket bucket{1.0, 10.0, t0};
  CAF_CHECK_EQUAL(bucket.time_until(25, t0), duration::zero());
  CAF_REQUIRE(bucket.try_take(25, t0));
  CAF_CHECK_EQUAL(bucket.available(t0), -15.0);
  // The debt is paid back before anything else goes out.
  CAF_CHECK_EQUAL(bucket.time_until(1, t0), duration{16s});
  CAF_CHECK(!bucket.try_take(1, t0 + 15s));
  CAF_CHECK(bucket.try_take(1, t0 + 16s));
}

CAF_TEST(a request larger than the capacity waits until the bucket is full) {
  token_bucket bucket{1.0, 10.0, t0};
  CAF_REQUIRE(bucket.try_take(1, t0));
  CAF_CHECK(!bucket.try_take(25, t0));
  CAF_CHECK_EQUAL(bucket.time_until(25, t0), duration{1s});
  CAF_CHECK(!bucket.try_take(25, t0 + 999ms));
  CAF_CHECK(bucket.try_take(25, t0 + 1s));
  // From -15 back to full takes 25 s.
  CAF_CHECK_EQUAL(bucket.time_until(25, t0 + 1s), duration{25s});
}

CAF_TEST(a rate of zero or less makes an unlimited bucket) {
  for (double rate : {0.0, -1.0}) {
    token_bucket bucket{rate, 0.0, t0};
    CAF_CHECK(bucket.unlimited());
    for (int i = 0; i < 1000; ++i)
      CAF_CHECK(bucket.try_take(1e9, t0));
    CAF_CHECK_EQUAL(bucket.time_until(1e12, t0), duration::zero());
    CAF_CHECK(std::isinf(bucket.available(t0)));
  }
}

CAF_TEST(put back returns tokens up to the capacity) {
  token_bucket bucket{1.0, 10.0, t0};
  CAF_REQUIRE(bucket.try_take(8, t0));
  bucket.put_back(5, t0);
  CAF_CHECK_EQUAL(bucket.available(t0), 7.0);
  bucket.put_back(100, t0);
  CAF_CHECK_EQUAL(bucket.available(t0), 10.0);
}

CAF_TEST(charge takes tokens beyond the reservation and may leave debt) {
  token_bucket bucket{1.0, 10.0, t0};
  CAF_REQUIRE(bucket.try_take(8, t0));
  bucket.charge(5, t0 + 1s);
  CAF_CHECK_EQUAL(bucket.available(t0 + 1s), -2.0);
  CAF_CHECK_EQUAL(bucket.time_until(1, t0 + 1s), duration{3s});
}

CAF_TEST(limit until caps the tokens and holds refill until the reset) {
  token_bucket bucket{10.0, 10.0, t0};
  bucket.limit_until(3, t0 + 5s, t0);
  CAF_CHECK_EQUAL(bucket.available(t0), 3.0);
  for (int i = 0; i < 3; ++i)
    CAF_CHECK(bucket.try_take(1, t0 + 1s));
  // Nothing refills before the reset, then the normal rate resumes.
  CAF_CHECK_EQUAL(bucket.available(t0 + 5s), 0.0);
  CAF_CHECK(!bucket.try_take(1, t0 + 5s));
  CAF_CHECK_EQUAL(bucket.time_until(1, t0 + 2s), duration{3100ms});
  CAF_CHECK(!bucket.try_take(1, t0 + 5100ms - 1ns));
  CAF_CHECK(bucket.try_take(1, t0 + 5100ms));
  CAF_CHECK_EQUAL(bucket.available(t0 + 6100ms), 10.0);
}

CAF_TEST(limit until with more remaining than available adds nothing) {
  token_bucket bucket{1.0, 10.0, t0};
  CAF_REQUIRE(bucket.try_take(8, t0));
  bucket.limit_until(1000, t0 + 1s, t0);
  CAF_CHECK_EQUAL(bucket.available(t0), 2.0);
}

CAF_TEST(a shorter hold does not cut a longer one short) {
  token_bucket bucket{1.0, 1.0, t0};
  bucket.limit_until(0, t0 + 10s, t0);
  bucket.limit_until(0, t0 + 2s, t0 + 1s);
  CAF_CHECK_EQUAL(bucket.time_until(1, t0 + 1s), duration{10s});
}

CAF_TEST(an unlimited bucket honours the upstream limit until the reset) {
  token_bucket bucket{0.0, 0.0, t0};
  bucket.limit_until(2, t0 + 10s, t0);
  CAF_CHECK_EQUAL(bucket.available(t0), 2.0);
  CAF_CHECK(bucket.try_take(1, t0));
  CAF_CHECK(bucket.try_take(1, t0));
  CAF_CHECK(!bucket.try_take(1, t0 + 9s));
  CAF_CHECK_EQUAL(bucket.time_until(1, t0 + 9s), duration{1s});
  CAF_CHECK(bucket.try_take(1000, t0 + 10s));
  CAF_CHECK(std::isinf(bucket.available(t0 + 10s)));
}
