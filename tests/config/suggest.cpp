#define CAF_SUITE config.suggest
#include <caf/test/unit_test.hpp>

#include <string>
#include <tuple>
#include <vector>

#include "config/suggest.hpp"

using namespace embedrt;

CAF_TEST(edit distance counts insertions deletions and substitutions) {
  std::vector<std::tuple<std::string, std::string, size_t>> rows = {
    {"", "", 0},
    {"", "abc", 3},
    {"abc", "", 3},
    {"seed", "seed", 0},
    {"sed", "seed", 1},   // insertion
    {"seeed", "seed", 1}, // deletion
    {"sead", "seed", 1},  // substitution
    {"max-attempts", "max_attempts", 1},
    {"max_atempts", "max_attempts", 1},
    {"kitten", "sitting", 3},
    {"ab", "ba", 2}, // a swap is two edits
  };
  for (auto& [a, b, d] : rows) {
    CAF_CHECK_EQUAL(suggest::edit_distance(a, b), d);
    CAF_CHECK_EQUAL(suggest::edit_distance(b, a), d); // symmetric
  }
}

CAF_TEST(closest is the nearest candidate below the bound and the first on ties) {
  std::vector<std::string> keys = {"embedrt.retry.seed", "embedrt.retry.max_attempts",
                                   "embedrt.retry.multiplier"};
  CAF_CHECK_EQUAL(suggest::closest("embedrt.retry.sed", keys, 4), "embedrt.retry.seed");
  CAF_CHECK_EQUAL(suggest::closest("embedrt.retry.max-attempts", keys, 4),
                  "embedrt.retry.max_attempts");
  CAF_CHECK_EQUAL(suggest::closest("embedrt.retry.colour", keys, 4), "");
  // distance 3 passes a bound of 4, not a bound of 3
  CAF_CHECK_EQUAL(suggest::closest("embedrt.retry.sxxx", keys, 4),
                  "embedrt.retry.seed");
  CAF_CHECK_EQUAL(suggest::closest("embedrt.retry.sxxx", keys, 3), "");
  CAF_CHECK_EQUAL(suggest::closest("ab", {"xb", "ax"}, 4), "xb");
  CAF_CHECK_EQUAL(suggest::closest("ab", {}, 4), "");
}
