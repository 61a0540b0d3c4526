#define CAF_SUITE tools.mock.mock_script
#include <caf/test/unit_test.hpp>

#include "tools/mock/mock_script.hpp"

using namespace embedrt::mock;

namespace {

// The example from the header comment of mock_script.hpp, kept in sync by hand.
constexpr const char* header_example = R"({
  "seed": 7,
  "phases": [
    { "name": "warm", "requests": 20 },
    { "name": "throttled", "duration_ms": 2000, "latency_ms": 5, "latency_jitter_ms": 3,
      "faults": [ { "kind": "status", "status": 429, "rate": 0.5, "retry_after": 1,
                    "ratelimit": { "remaining_requests": 0, "reset_requests": "1s" } },
                  { "kind": "ratelimit_headers",
                    "ratelimit": { "remaining_tokens": 12, "reset_tokens": "6m0s" } } ] },
    { "name": "down", "duration_ms": 500, "faults": [ { "kind": "refuse_connections" } ] },
    { "name": "flaky", "duration_ms": 1000,
      "faults": [ { "kind": "hang", "rate": 0.1 },
                  { "kind": "stall_body", "rate": 0.1, "fraction": 0.3 },
                  { "kind": "nan", "match": "poison*pill" } ] },
    { "name": "recovered" }
  ]
})";

std::string error_of(const std::string& text) {
  mock_script script;
  std::string error;
  if (parse_mock_script(text, script, error))
    return "<parsed>";
  return error;
}

} // namespace

CAF_TEST(the documented example parses) {
  mock_script s;
  std::string error;
  if (!parse_mock_script(header_example, s, error))
    CAF_FAIL(error);
  CAF_CHECK(s.seed == uint64_t{7});
  CAF_REQUIRE_EQUAL(s.phases.size(), 5u);
  CAF_CHECK_EQUAL(s.phases[0].requests, 20u);
  auto& throttled = s.phases[1];
  CAF_CHECK_EQUAL(throttled.duration_ms, 2000u);
  CAF_CHECK_EQUAL(throttled.latency_jitter_ms, 3u);
  CAF_REQUIRE_EQUAL(throttled.faults.size(), 2u);
  auto& f = throttled.faults[0];
  CAF_CHECK(f.kind == fault_kind::status);
  CAF_CHECK_EQUAL(f.status, 429);
  CAF_CHECK_EQUAL(f.rate, 0.5);
  header_list expected{{"retry-after", "1"},
                       {"x-ratelimit-remaining-requests", "0"},
                       {"x-ratelimit-reset-requests", "1s"}};
  CAF_CHECK(f.headers == expected);
  CAF_CHECK(phase_closes_listener(s.phases[2]));
  CAF_CHECK(!phase_closes_listener(s.phases[3]));
  CAF_CHECK_EQUAL(s.phases[3].faults[1].fraction, 0.3);
  CAF_CHECK_EQUAL(s.phases[3].faults[2].match, "poison*pill");
  CAF_CHECK_EQUAL(s.phases[4].name, "recovered");
}

CAF_TEST(a bare array of phases is a script and an empty one means plain behaviour) {
  mock_script s;
  std::string error;
  CAF_REQUIRE(parse_mock_script(R"([{"faults":[{"kind":"hang"}]}])", s, error));
  CAF_CHECK_EQUAL(s.phases.size(), 1u);
  CAF_CHECK_EQUAL(s.phases[0].name, "phase 0");
  CAF_CHECK(!s.seed);
  CAF_REQUIRE(parse_mock_script("[]", s, error));
  CAF_CHECK_EQUAL(s.phases.size(), 1u);
  CAF_CHECK(s.phases[0].faults.empty());
}

CAF_TEST(invalid scripts name the offending key) {
  struct row {
    std::string text;
    std::string error;
  };
  std::vector<row> rows = {
    {"{", "not valid JSON"},
    {"3", "script: must be an object or an array of phases"},
    {R"({"phase":[]})", "script: unknown key \"phase\""},
    {R"({"seed":-1,"phases":[]})", "seed: must be a non-negative integer, got -1"},
    {R"([{"duration":5}])", "phases[0]: unknown key \"duration\""},
    {R"([{"duration_ms":-5}])",
     "phases[0].duration_ms: must be an integer in [0, 86400000], got -5"},
    {R"([{"faults":[{"rate":1}]}])", "phases[0].faults[0]: missing key \"kind\""},
    {R"([{"faults":[{"kind":"explode"}]}])",
     "phases[0].faults[0].kind: must be one of"},
    {R"([{"faults":[{"kind":"hang","rate":1.5}]}])",
     "phases[0].faults[0].rate: must be a number in [0, 1], got 1.5"},
    {R"([{"faults":[{"kind":"hang","mode":"often"}]}])",
     "phases[0].faults[0].mode: must be \"even\" or \"random\", got \"often\""},
    {R"([{"faults":[{"kind":"status"}]}])",
     "phases[0].faults[0]: missing key \"status\""},
    {R"([{"faults":[{"kind":"status","status":200}]}])",
     "phases[0].faults[0].status: must be an integer in [400, 599], got 200"},
    {R"([{"faults":[{"kind":"hang","status":500}]}])",
     "phases[0].faults[0]: key \"status\" is not valid for kind \"hang\""},
    {R"([{"faults":[{"kind":"hang","retry_after":1}]}])",
     "phases[0].faults[0]: key \"retry_after\" is not valid for kind \"hang\""},
    {R"([{"faults":[{"kind":"stall_body","fraction":1}]}])",
     "phases[0].faults[0].fraction: must be a number in [0, 1), got 1"},
    {R"([{"faults":[{"kind":"status","status":429,"ratelimit":{"remaining":1}}]}])",
     "phases[0].faults[0].ratelimit: unknown key \"remaining\""},
    {R"([{"faults":[{"kind":"status","status":429,"headers":{"x-a":"b\r\nc: d"}}]}])",
     "phases[0].faults[0].headers.x-a: must be printable ASCII"},
    {R"([{"faults":[{"kind":"refuse_connections","match":"x"}]}])",
     "phases[0].faults[0].match: refuse_connections acts on connections"},
    {R"([{"requests":3,"faults":[{"kind":"refuse_connections"}]},{}])",
     "phases[0]: refuses connections, so it receives no requests: end it with "
     "duration_ms"},
    {R"([{"faults":[{"kind":"wrong_dimension","dimension":0}]}])",
     "phases[0].faults[0].dimension: must be an integer in [1, 65536], got 0"},
    {R"([{"faults":[{"kind":"corrupt_vectors","vector_rate":2}]}])",
     "phases[0].faults[0].vector_rate: must be a number in [0, 1], got 2"},
    {R"([{"faults":[{"kind":"corrupt_vectors","corruption":"zeros"}]}])",
     "phases[0].faults[0].corruption: must be \"truncate\", \"nan\" or \"both\""},
    {R"([{"faults":[{"kind":"nan","vector_rate":0.1}]}])",
     "phases[0].faults[0]: key \"vector_rate\" is not valid for kind \"nan\""},
    {R"([{"latency_per_input_us":-1}])",
     "phases[0].latency_per_input_us: must be an integer in [0, 1000000], got -1"},
  };
  for (auto& r : rows) {
    auto got = error_of(r.text);
    if (got.rfind(r.error, 0) != 0)
      CAF_ERROR("for " << r.text << ": got \"" << got << "\", expected \"" << r.error
                       << "...\"");
  }
}

CAF_TEST(even rates take exactly floor of n times rate evenly spread) {
  auto taken = [](double rate, uint64_t n) {
    std::vector<uint64_t> out;
    for (uint64_t i = 0; i < n; ++i)
      if (fault_takes(rate, rate_mode::even, 0, 0, i))
        out.push_back(i);
    return out;
  };
  CAF_CHECK_EQUAL(taken(1.0 / 3, 9), (std::vector<uint64_t>{2, 5, 8}));
  CAF_CHECK_EQUAL(taken(0.5, 6), (std::vector<uint64_t>{1, 3, 5}));
  CAF_CHECK_EQUAL(taken(1.0, 3), (std::vector<uint64_t>{0, 1, 2}));
  CAF_CHECK(taken(0.0, 100).empty());
  CAF_CHECK_EQUAL(taken(0.29, 100).size(), 29u);
  CAF_CHECK_EQUAL(taken(0.1, 1000).size(), 100u);
}

CAF_TEST(random rates are reproducible and close to the rate) {
  size_t hits = 0;
  for (uint64_t i = 0; i < 10000; ++i) {
    auto a = fault_takes(0.2, rate_mode::random, 99, 7, i);
    CAF_CHECK_EQUAL(a, fault_takes(0.2, rate_mode::random, 99, 7, i));
    hits += a ? 1 : 0;
  }
  CAF_CHECK_GREATER(hits, 1800u);
  CAF_CHECK_LESS(hits, 2200u);
}

CAF_TEST(patterns are substrings with star wildcards) {
  CAF_CHECK(pattern_matches("a poison text", "poison"));
  CAF_CHECK(!pattern_matches("a poisen text", "poison"));
  CAF_CHECK(pattern_matches("poison then a pill", "poison*pill"));
  CAF_CHECK(!pattern_matches("pill then poison", "poison*pill"));
  CAF_CHECK(pattern_matches("anything", "*"));
  CAF_CHECK(pattern_matches("abc", "a**c"));
}
