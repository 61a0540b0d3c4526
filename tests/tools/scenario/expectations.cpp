#define CAF_SUITE tools.scenario.expectations
#include <caf/test/unit_test.hpp>

#include <set>
#include <sstream>
#include <string>

#include "tools/scenario/expectations.hpp"
#include "tools/scenario/scenario.hpp"

// Not `using namespace embedrt`: embedrt::scenario::scenario would be ambiguous.
using namespace embedrt::scenario;

namespace {

/// A valid scenario whose only expectation is `expect` (one JSON object), with what
/// the registry's examples refer to: groups "interactive" and "bulk", a phase
/// "outage", and a shutdown (stop_ms needs one).
std::string doc_with(std::string_view expect) {
  return R"(// registry examples
{
  "upstream": { "dimension": 8, "script": { "phases": [
    { "name": "outage", "duration_ms": 100,
      "faults": [ { "kind": "status", "status": 503 } ] },
    { "name": "up" } ] } },
  "load": { "groups": [ { "name": "interactive", "callers": 1 },
                        { "name": "bulk", "callers": 1, "lane": "bulk" } ],
            "shutdown": { "after_ms": 100, "grace_ms": 10 } },
  "expect": [ )"
         + std::string{expect} + " ]\n}\n";
}

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

} // namespace

CAF_TEST(every kind has a unique name a parser a check and its documentation) {
  std::set<std::string_view> names;
  CAF_CHECK_GREATER_OR_EQUAL(expectation_kinds().size(), 21u);
  for (auto& k : expectation_kinds()) {
    CAF_CHECK(names.insert(k.name).second);
    CAF_CHECK(k.parse != nullptr);
    CAF_CHECK(k.check != nullptr);
    CAF_CHECK(!k.example.empty());
    CAF_CHECK(!k.checks.empty());
    CAF_CHECK(!k.figures.empty());
    CAF_CHECK(find_expectation_kind(k.name) == &k);
  }
  CAF_CHECK(find_expectation_kind("outcomes") == nullptr);
  CAF_CHECK(find_expectation_kind(always_checked_kind) != nullptr);
}

CAF_TEST(every kind parses from its own example and checks an empty run) {
  for (auto& k : expectation_kinds()) {
    scenario sc;
    std::string error;
    if (!parse_scenario(doc_with(k.example), "t", sc, error)) {
      CAF_FAIL(k.name << ": its example does not parse: " << error);
      continue;
    }
    CAF_REQUIRE_EQUAL(sc.expect.size(), 1u);
    CAF_CHECK(sc.expect[0].kind == &k);
    CAF_CHECK_EQUAL(sc.expect[0].label, std::string{k.name});
    observation empty;
    auto vs = check(sc, empty, 1.0);
    // The listed kind's verdict is labelled with its name (plus qualifiers).
    bool found = false;
    for (auto& v : vs)
      found = found || v.label.rfind(std::string{k.name}, 0) == 0;
    CAF_CHECK(found);
  }
}

CAF_TEST(an unknown kind fails with the list of every known kind) {
  scenario sc;
  std::string error;
  CAF_CHECK(
    !parse_scenario(doc_with(R"({ "latency_p95_ms": { "max": 5 } })"), "t", sc, error));
  CAF_CHECK(contains(error, "expect[0]: unknown expectation"));
  for (auto& k : expectation_kinds())
    if (!contains(error, k.name))
      CAF_FAIL("the error does not name " << k.name << ": " << error);
  CAF_CHECK(contains(error, known_kind_names()));
}

CAF_TEST(a duration bound as large as a file may write saturates when scaled) {
  scenario sc;
  std::string error;
  CAF_REQUIRE(parse_scenario(
    doc_with(R"({ "wall_time_ms": { "max": 9223372036854775807 } })"), "t", sc, error));
  observation obs;
  obs.load_end_us = 1'000'000;
  for (double scale : {1.0, 100.0}) {
    auto vs = check(sc, obs, scale);
    bool seen = false;
    for (auto& v : vs)
      if (v.label == "wall_time_ms") {
        seen = true;
        CAF_CHECK(v.pass);
        CAF_CHECK(contains(v.expected, "<= 9223372036854775807 ms"));
      }
    CAF_CHECK(seen);
  }
}

CAF_TEST(two kinds in one object are refused) {
  scenario sc;
  std::string error;
  CAF_CHECK(!parse_scenario(doc_with(R"({ "counter": "breaker_opened", "min": 1,
                                          "event": "grants_paused" })"),
                            "t", sc, error));
  CAF_CHECK(contains(error, "names two expectations"));
}

CAF_TEST(the kinds command prints every kind with its example) {
  std::ostringstream out;
  std::ostringstream err;
  bool abandoned = false;
  CAF_CHECK_EQUAL(command({"kinds"}, out, err, abandoned), 0);
  for (auto& k : expectation_kinds()) {
    CAF_CHECK(contains(out.str(), "| `" + std::string{k.name} + "` |"));
    CAF_CHECK(contains(out.str(), k.example));
  }
  CAF_CHECK_EQUAL(command({"nonsense"}, out, err, abandoned), 2);
  CAF_CHECK(contains(err.str(), "embedrt-scenario run FILE"));
}
