#define CAF_SUITE policy.dimension_learner
#include "src/policy/dimension_learner.hpp"

#include <caf/test/unit_test.hpp>

#include <algorithm>
#include <random>

using namespace embedrt::policy;

using lengths = std::vector<uint32_t>;

CAF_TEST(a configured dimension is confirmed from the start) {
  dimension_learner d{256, "text-embedding-3-small"};
  CAF_CHECK_EQUAL(d.confirmed(), 256u);
  CAF_CHECK_EQUAL(d.observe({7, 7, 7, 7}), 256u);
}

CAF_TEST(a lone vector proves nothing and two agreeing responses confirm it) {
  dimension_learner d{0, "some-model"};
  CAF_CHECK_EQUAL(d.observe({16}), 0u);
  CAF_CHECK_EQUAL(d.observe({16}), 0u);
  CAF_CHECK_EQUAL(d.observe({16}), 16u);
}

CAF_TEST(a corrupt first vector needs three agreeing ones to be outvoted) {
  dimension_learner d{0, "some-model"};
  CAF_CHECK_EQUAL(d.observe({15}), 0u); // truncated first
  CAF_CHECK_EQUAL(d.observe({16}), 0u);
  CAF_CHECK_EQUAL(d.observe({16}), 0u);
  CAF_CHECK_EQUAL(d.observe({16}), 16u);
  CAF_CHECK_EQUAL(d.observe({15}), 16u); // never changes afterwards
}

CAF_TEST(the majority of one batch confirms at once) {
  dimension_learner d{0, "some-model"};
  CAF_CHECK_EQUAL(d.observe({16, 16, 15, 16, 16, 16, 16, 16, 16, 16}), 16u);
  dimension_learner two{0, "some-model"};
  CAF_CHECK_EQUAL(two.observe({16, 16}), 0u); // two in one response are not enough
  dimension_learner split{0, "some-model"};
  CAF_CHECK_EQUAL(split.observe({16, 16, 16, 15, 15}), 0u); // no clear majority
}

CAF_TEST(documented defaults confirm a first vector of their length only) {
  CAF_CHECK_EQUAL(documented_dimension("text-embedding-3-small"), 1536u);
  CAF_CHECK_EQUAL(documented_dimension("text-embedding-ada-002"), 1536u);
  CAF_CHECK_EQUAL(documented_dimension("text-embedding-3-large"), 3072u);
  CAF_CHECK_EQUAL(documented_dimension("nomic-embed-text"), 0u);
  dimension_learner known{0, "text-embedding-3-large"};
  CAF_CHECK_EQUAL(known.observe({3072}), 3072u);
  // Truncated first: outvoted by the next correct one.
  dimension_learner cut{0, "text-embedding-3-small"};
  CAF_CHECK_EQUAL(cut.observe({1535}), 0u);
  CAF_CHECK_EQUAL(cut.observe({1536}), 1536u);
  // Another model under a known name: the default does not count against it.
  dimension_learner other{0, "text-embedding-3-small"};
  CAF_CHECK_EQUAL(other.observe({16}), 0u);
  CAF_CHECK_EQUAL(other.observe({16}), 0u);
  CAF_CHECK_EQUAL(other.observe({16}), 16u);
}

CAF_TEST(a coordinated wrong length is confirmed about 4 p cubed of the time) {
  // Property over seeded runs: single-vector responses, a share p of them truncated to
  // one same wrong length (the hardest case: corruption that agrees with itself).
  for (double p : {0.05, 0.2}) {
    size_t wrong = 0;
    size_t slowest = 0;
    for (uint64_t seed = 1; seed <= 2000; ++seed) {
      std::mt19937_64 rng{seed};
      std::bernoulli_distribution corrupt{p};
      dimension_learner d{0, "some-model"};
      uint32_t got = 0;
      size_t responses = 0;
      for (; responses < 1000 && got == 0; ++responses)
        got = d.observe({corrupt(rng) ? 1535u : 1536u});
      CAF_CHECK_NOT_EQUAL(got, 0u); // it always settles
      slowest = std::max(slowest, responses);
      wrong += got == 1535 ? 1 : 0;
    }
    CAF_MESSAGE("p = " << p << ": " << wrong
                       << " of 2000 runs confirmed the wrong length; the slowest took "
                       << slowest << " responses");
    // 3 of the first 4 votes wrong: ~4 p^3, 3.2% (64 of 2000) at 20%, 0.05% at 5%.
    CAF_CHECK_LESS_OR_EQUAL(static_cast<double>(wrong), 2000 * 4 * p * p * p * 1.5 + 2);
  }
}

CAF_TEST(the tally of lengths stays bounded) {
  dimension_learner d{0, "some-model"};
  for (uint32_t n = 1; n < 1000; ++n)
    CAF_CHECK_EQUAL(d.observe({n}), 0u);
  CAF_CHECK_EQUAL(d.observe({5000}), 0u);
}
