// Fuzz target: the scenario file parser (embedrt::scenario::parse_scenario) and the
// expectation registry's parsers, fed any text. Properties:
// - a rejected file has an error message, an accepted one a summary, at least one
//   load group and one expectation, and every expectation its registry kind, labelled
//   with the kind's name;
// - parsing is deterministic (the same text gives the same error or the same
//   expectations);
// - the checks and the figures of an accepted file run on an empty observation, with
//   one verdict per expectation plus the always-checked ones.
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_support.hpp"
#include "tools/scenario/expectations.hpp"
#include "tools/scenario/scenario.hpp"

using namespace embedrt::scenario;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  scenario sc;
  std::string error;
  bool ok = parse_scenario(text, "fuzz", sc, error);
  scenario again;
  std::string error_again;
  EMBEDRT_FUZZ_CHECK(parse_scenario(text, "fuzz", again, error_again) == ok);
  if (!ok) {
    EMBEDRT_FUZZ_CHECK(!error.empty());
    EMBEDRT_FUZZ_CHECK(error == error_again);
    return 0;
  }
  EMBEDRT_FUZZ_CHECK(!sc.summary.empty());
  EMBEDRT_FUZZ_CHECK(!sc.load.groups.empty());
  EMBEDRT_FUZZ_CHECK(!sc.expect.empty());
  EMBEDRT_FUZZ_CHECK(again.expect.size() == sc.expect.size());
  for (size_t i = 0; i < sc.expect.size(); ++i) {
    auto& e = sc.expect[i];
    EMBEDRT_FUZZ_CHECK(e.kind != nullptr);
    EMBEDRT_FUZZ_CHECK(find_expectation_kind(e.kind->name) == e.kind);
    EMBEDRT_FUZZ_CHECK(e.label == e.kind->name);
    EMBEDRT_FUZZ_CHECK(again.expect[i].kind == e.kind);
  }
  observation obs;
  auto verdicts = check(sc, obs, 1.0);
  // The listed ones, results_well_formed, and answered_exactly_once when unlisted.
  EMBEDRT_FUZZ_CHECK(verdicts.size() >= sc.expect.size() + 1);
  EMBEDRT_FUZZ_CHECK(verdicts.size() <= sc.expect.size() + 2);
  for (auto& v : verdicts)
    EMBEDRT_FUZZ_CHECK(!v.label.empty() && !format_verdict(v).empty());
  EMBEDRT_FUZZ_CHECK(!format_figures(sc, obs).empty());
  return 0;
}
