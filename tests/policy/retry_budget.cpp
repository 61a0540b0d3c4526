#define CAF_SUITE policy.retry_budget
#include <caf/test/unit_test.hpp>

#include <chrono>

#include "src/policy/retry_budget.hpp"

using namespace embedrt::policy;
using namespace std::chrono_literals;

namespace {

// Aligned to a bucket boundary of a 10 s window (1 s buckets).
const time_point t0 = time_point{} + 1h;

int spend_all(retry_budget& budget, time_point now) {
  int n = 0;
  while (n < 100000 && budget.try_spend(now))
    ++n;
  return n;
}

} // namespace

CAF_TEST(
  one hundred first attempts at twenty percent allow twenty retries plus the floor) {
  // 20 % of 100 plus 1 per second over 10 s.
  retry_budget budget{0.2, 1.0, 10s};
  for (int i = 0; i < 100; ++i)
    budget.record_first_attempt(t0);
  CAF_CHECK_EQUAL(budget.available(t0), 30.0);
  for (int i = 0; i < 30; ++i)
    CAF_CHECK(budget.try_spend(t0 + 2s));
  CAF_CHECK(!budget.try_spend(t0 + 2s));
  CAF_CHECK(!budget.try_spend(t0 + 3s));
  // A denied retry records nothing.
  CAF_CHECK_EQUAL(budget.available(t0 + 3s), 0.0);
}

CAF_TEST(the floor alone allows retries without first attempts) {
  retry_budget budget{0.2, 1.0, 10s};
  CAF_CHECK_EQUAL(spend_all(budget, t0), 10);
}

CAF_TEST(without ratio and floor no retry is allowed) {
  retry_budget budget{0.0, 0.0, 10s};
  for (int i = 0; i < 1000; ++i)
    budget.record_first_attempt(t0);
  CAF_CHECK(!budget.try_spend(t0));
}

CAF_TEST(every new first attempt earns its share of a retry) {
  retry_budget budget{0.5, 0.0, 10s};
  budget.record_first_attempt(t0);
  CAF_CHECK(!budget.try_spend(t0));
  budget.record_first_attempt(t0);
  CAF_CHECK(budget.try_spend(t0));
  CAF_CHECK(!budget.try_spend(t0));
}

CAF_TEST(rounding in the ratio does not cost a retry) {
  // 0.29 * 100 is 28.999999999999996 in binary floating point.
  retry_budget budget{0.29, 0.0, 10s};
  for (int i = 0; i < 100; ++i)
    budget.record_first_attempt(t0);
  CAF_CHECK_EQUAL(spend_all(budget, t0), 29);
}

CAF_TEST(retries are allowed again once the window has slid past them) {
  retry_budget budget{0.2, 1.0, 10s};
  for (int i = 0; i < 100; ++i)
    budget.record_first_attempt(t0);
  CAF_REQUIRE_EQUAL(spend_all(budget, t0 + 5s), 30);
  // At t0 + 10 s the first attempts leave the window but the retries (made at
  // t0 + 5 s) are still in it: 10 - 30 < 1.
  CAF_CHECK(!budget.try_spend(t0 + 10s - 1ns)
            && budget.available(t0 + 10s - 1ns) == 0.0);
  CAF_CHECK_EQUAL(budget.available(t0 + 10s), -20.0);
  CAF_CHECK(!budget.try_spend(t0 + 14s));
  // At t0 + 15 s the retries have left too: the floor is back.
  CAF_CHECK_EQUAL(budget.available(t0 + 15s), 10.0);
  CAF_CHECK_EQUAL(spend_all(budget, t0 + 15s), 10);
}

CAF_TEST(the window slides bucket by bucket) {
  retry_budget budget{1.0, 0.0, 10s};
  for (int s = 0; s < 10; ++s)
    budget.record_first_attempt(t0 + std::chrono::seconds{s});
  CAF_CHECK_EQUAL(budget.available(t0 + 9s), 10.0);
  CAF_CHECK_EQUAL(budget.available(t0 + 10s), 9.0);
  CAF_CHECK_EQUAL(budget.available(t0 + 14s), 5.0);
  CAF_CHECK_EQUAL(budget.available(t0 + 19s), 0.0);
}
