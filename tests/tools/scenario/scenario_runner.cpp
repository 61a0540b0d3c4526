#define CAF_SUITE tools.scenario.scenario_runner
#include <caf/test/unit_test.hpp>

#include <dirent.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tools/scenario/expectations.hpp"
#include "tools/scenario/scenario.hpp"

// Not `using namespace embedrt`: embedrt::scenario::scenario would be ambiguous.
using namespace embedrt::scenario;
using embedrt::embed_errc;
using embedrt::event_kind;
namespace mock = embedrt::mock;

namespace {

/// A small valid scenario; `expect` replaces its expectation list.
std::string doc(const std::string& expect = R"([ { "answered_exactly_once": true } ])",
                const std::string& extra = "") {
  return "// proves nothing in particular\n{\n" + extra + R"(
  "config": { "request.timeout_ms": 2000 },
  "upstream": { "dimension": 8, "script": { "phases": [
    { "name": "down", "duration_ms": 100,
      "faults": [ { "kind": "status", "status": 503 } ] },
    { "name": "up" } ] } },
  "load": { "groups": [ { "name": "users", "callers": 2, "requests_per_caller": 3 } ] },
  "expect": )"
         + expect + "\n}\n";
}

std::string parse_error(const std::string& text) {
  scenario sc;
  std::string error;
  if (parse_scenario(text, "t", sc, error))
    return "(parsed)";
  return error;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

scenario parsed(const std::string& text) {
  scenario sc;
  std::string error;
  if (!parse_scenario(text, "t", sc, error))
    CAF_FAIL("unexpected parse error: " << error);
  return sc;
}

request_record answered(uint32_t group, embed_errc code, int64_t issued_ms,
                        int64_t answered_ms, int64_t deadline_ms = 2000) {
  request_record r;
  r.group = group;
  r.texts = 1;
  r.issued_us = issued_ms * 1000;
  r.deadline_us = (issued_ms + deadline_ms) * 1000;
  r.answers = 1;
  r.answered_us = answered_ms * 1000;
  r.code = code;
  return r;
}

/// The verdict whose label starts with `label`.
verdict find(const std::vector<verdict>& vs, const std::string& label) {
  for (auto& v : vs)
    if (v.label.rfind(label, 0) == 0)
      return v;
  CAF_FAIL("no verdict " << label);
  return {};
}

std::string write_temp(const std::string& name, const std::string& text) {
  auto path = std::string{"/tmp/embedrt-scenario-test-"} + name + ".json";
  std::ofstream out{path};
  out << text;
  return path;
}

} // namespace

// -- parsing ----------------------------------------------------------------------

CAF_TEST(a valid scenario parses with its summary config script load and expectations) {
  auto sc = parsed(doc(R"([
    { "answered_exactly_once": true },
    { "outcome": "ok", "min": 1, "max": 6, "group": "users" },
    { "breaker_transitions": [ "closed->open" ], "exact": true },
    { "max_attempts_per_text": 3 },
    { "upstream_requests_between": { "from": { "phase": "down" },
                                     "to": { "event": "grants_paused", "offset_ms": 50 },
                                     "max": 0 } },
    { "latency_p99_ms": { "max": 100 } } ])"));
  CAF_CHECK_EQUAL(sc.summary, "proves nothing in particular");
  CAF_CHECK(contains(sc.config_ini, "[embedrt.request]\ntimeout_ms = 2000\n"));
  CAF_CHECK_EQUAL(sc.upstream.dimension, 8u);
  CAF_CHECK(sc.upstream.track_texts);
  CAF_REQUIRE_EQUAL(sc.script.phases.size(), 2u);
  CAF_CHECK_EQUAL(sc.script.phases[0].name, "down");
  CAF_REQUIRE_EQUAL(sc.load.groups.size(), 1u);
  CAF_CHECK_EQUAL(sc.load.groups[0].planned(), 6u);
  CAF_REQUIRE_EQUAL(sc.expect.size(), 6u);
  CAF_CHECK(sc.expect[1].kind == find_expectation_kind("outcome"));
  CAF_CHECK_EQUAL(*sc.expect[1].max, 6);
  CAF_CHECK(sc.expect[2].exact);
  CAF_CHECK(sc.expect[3].kind == find_expectation_kind("max_attempts_per_text"));
  CAF_CHECK(sc.expect[4].from.what == anchor::kind::phase);
  CAF_CHECK_EQUAL(sc.expect[4].to.offset_ms, 50);
  CAF_CHECK_EQUAL(sc.expect[5].percentile, 99.0);
  CAF_CHECK(sc.expect[5].scaled);
  CAF_CHECK(sc.expected_to_fail.empty());
  auto xfail = parsed(doc(R"([ { "answered_exactly_once": true } ])",
                          R"("expected_to_fail": "feature X has not landed",)"));
  CAF_CHECK_EQUAL(xfail.expected_to_fail, "feature X has not landed");
  // The summary is the comment's first paragraph.
  auto text = doc();
  text.replace(0, text.find('\n'), "// proves a\n//   and b\n//\n// details");
  CAF_CHECK_EQUAL(parsed(text).summary, "proves a and b");
}

CAF_TEST(malformed files are rejected with a message naming the problem) {
  // Each row: the text, a part of the expected message.
  std::vector<std::pair<std::string, std::string>> rows = {
    {"{ \"load\": {} }", "must start with a comment"},
    {"// x\n{ \"load\": { \n  \"groups\": [ } }", "line 3, column 15: syntax error"},
    {doc("[]"), "expect: must be a non-empty list"},
    {doc(R"([ { "outcom": "ok", "min": 1 } ])"), "expect[0]: unknown expectation"},
    {doc(R"([ { "outcome": "okay", "min": 1 } ])"), "unknown outcome \"okay\""},
    {doc(R"([ { "outcome": "ok" } ])"), "expect[0]: needs \"min\" or \"max\""},
    {doc(R"([ { "outcome": "ok", "min": 1, "mx": 2 } ])"), "expect[0].mx: unknown key"},
    {doc(R"([ { "outcome": "ok", "min": 1, "counter": "breaker_opened" } ])"),
     "names two expectations"},
    {doc(R"([ { "counter": "breaker_openings", "min": 1 } ])"),
     "unknown counter \"breaker_openings\""},
    {doc(R"([ { "breaker_transitions": [ "closed->half_open" ] } ])"),
     "unknown transition \"closed->half_open\""},
    {doc(R"([ { "upstream_requests_between": { "from": { "phase": "nope" },
                                               "to": 100, "max": 0 } } ])"),
     "expect[0].upstream_requests_between.from.phase: no phase named \"nope\""},
    {doc(R"([ { "time_between": { "from": { "event": "breaker_flipped" }, "to": 1,
                                  "max_ms": 5 } } ])"),
     "unknown event kind \"breaker_flipped\""},
    {doc(R"([ { "upstream_requests_between": { "from": -5, "to": 100, "max": 0 } } ])"),
     "upstream_requests_between.from: must be an integer in [0, 3600000]"},
    {doc(
       R"([ { "time_between": { "from": 0, "to": 9223372036854775807, "max_ms": 5 } } ])"),
     "time_between.to: must be an integer in [0, 3600000]"},
    {doc(R"([ { "outcome": "ok", "min": 36e601 } ])"),
     "number overflow parsing '36e601'"},
    {doc(R"([ { "outcome": "ok", "min": -3.6e81 } ])"),
     "expect[0].min: must be an integer in [0, 9223372036854775807], got -3.6e+81"},
    {doc(R"([ { "outcome": "ok", "max": 18446744073709551615 } ])"),
     "expect[0].max: must be an integer in [0, 9223372036854775807]"},
    {doc(R"([ { "time_between": { "from": 0, "to": 1, "max_ms": 1e300 } } ])"),
     "time_between.max_ms: must be an integer in [-3600000, 3600000]"},
    {doc(R"([ { "outcome": "ok", "min": 1, "group": "admins" } ])"),
     "no load group named \"admins\""},
    {doc(R"([ { "stop_ms": { "max": 5 } } ])"), "stop_ms: needs load.shutdown"},
    {doc("[ { \"answered_exactly_once\": true } ]", R"("expected_to_fail": "",)"),
     "expected_to_fail: must give the reason"},
    {doc("[ { \"answered_exactly_once\": true } ]", R"("expected_to_fail": 1,)"),
     "expected_to_fail: must be a string"},
    {doc("[ { \"answered_exactly_once\": true } ]", R"("expect_to_fail": "x",)"),
     "expect_to_fail: unknown key"},
    {"// x\n{ \"config\": { \"max_attempts\": 3 }, \"load\": {}, \"expect\": [] }",
     "config.max_attempts: keys are written \"section.key\""},
    {"// x\n{ \"config\": { \"endpoint.base_url\": \"http://x\" }, \"load\": {}, "
     "\"expect\": [] }",
     "set by the runner"},
    {"// x\n{ \"upstream\": { \"script\": [ { \"faults\": [ { \"kind\": \"status\", "
     "\"status\": 503, \"rate\": 1.5 } ] } ] }, \"load\": {}, \"expect\": [] }",
     "upstream.script: phases[0].faults[0].rate"},
    {"// x\n{ \"load\": { \"groups\": [ { \"name\": \"a\", \"callers\": 2, \"total\": "
     "5, "
     "\"rate_per_s\": 1 } ] }, \"expect\": [ { \"answered_exactly_once\": true } ] }",
     "load.groups[0]: give either \"callers\""},
    {"// x\n{ \"load\": { \"groups\": [ { \"name\": \"a\", \"total\": 5 } ] }, "
     "\"expect\": [ { \"answered_exactly_once\": true } ] }",
     "needs \"rate_per_s\""},
    {"// x\n{ \"load\": { \"groups\": [ { \"name\": \"a\", \"callers\": 0 } ] }, "
     "\"expect\": [ { \"answered_exactly_once\": true } ] }",
     "load.groups[0].callers: must be an integer in [1, 100000], got 0"},
    {"// x\n{ \"load\": { \"groups\": [ { \"name\": \"b\", \"api\": \"bulk_session\", "
     "\"total\": 5 } ], \"shutdown\": { \"after_ms\": 10, \"grace_ms\": 10 } }, "
     "\"expect\": [ { \"answered_exactly_once\": true } ] }",
     "load.shutdown: cannot be combined with bulk_session or threads groups"},
    {"// x\n{ \"load\": { \"groups\": [ { \"name\": \"a\", \"callers\": 1 }, "
     "{ \"name\": \"a\", \"callers\": 1 } ] }, "
     "\"expect\": [ { \"answered_exactly_once\": true } ] }",
     "load.groups[1].name: \"a\" is used twice"},
  };
  for (auto& [text, want] : rows) {
    auto error = parse_error(text);
    if (!contains(error, want))
      CAF_FAIL("expected an error containing <" << want << ">, got <" << error
                                                << "> for:\n"
                                                << text);
  }
}

CAF_TEST(every shipped scenario file parses and says what it proves) {
  auto dir = std::string{EMBEDRT_SOURCE_DIR} + "/scenarios";
  auto d = ::opendir(dir.c_str());
  CAF_REQUIRE(d != nullptr);
  std::vector<std::string> files;
  while (auto e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0)
      files.push_back(dir + "/" + name);
  }
  ::closedir(d);
  CAF_CHECK_GREATER_OR_EQUAL(files.size(), 12u);
  for (auto& path : files) {
    scenario sc;
    std::string error;
    bool unreadable = false;
    if (!load_scenario_file(path, sc, error, unreadable))
      CAF_FAIL(path << ": " << error);
    CAF_CHECK(!sc.summary.empty());
    CAF_CHECK(!sc.expect.empty());
  }
}

// -- checking -------------------------------------------------------------------------

CAF_TEST(a request answered twice late or never fails answered exactly once) {
  auto sc = parsed(doc());
  observation obs;
  obs.requests.push_back(answered(0, embed_errc::none, 0, 10));
  auto ok = check(sc, obs, 1.0);
  CAF_CHECK(find(ok, "answered_exactly_once").pass);
  // Twice.
  auto twice = obs;
  twice.requests[0].answers = 2;
  auto v = find(check(sc, twice, 1.0), "answered_exactly_once");
  CAF_CHECK(!v.pass);
  CAF_CHECK(contains(v.seen, "1 twice or more"));
  CAF_CHECK(contains(format_verdict(v),
                     "FAIL  answered_exactly_once: expected each of 1 "
                     "requests answered once"));
  // Never.
  auto never = obs;
  never.requests[0].answers = 0;
  never.timed_out = true;
  v = find(check(sc, never, 1.0), "answered_exactly_once");
  CAF_CHECK(!v.pass);
  CAF_CHECK(contains(v.seen, "1 never (hung)"));
  // Past the deadline (2 s) plus the slack (50 ms of scheduling): late; the time
  // scale stretches the slack only.
  auto in_slack = obs;
  in_slack.requests[0].answered_us = 2'050'000;
  CAF_CHECK(find(check(sc, in_slack, 1.0), "answered_exactly_once").pass);
  auto late = obs;
  late.requests[0].answered_us = 2'060'000;
  v = find(check(sc, late, 1.0), "answered_exactly_once");
  CAF_CHECK(!v.pass);
  CAF_CHECK(contains(v.seen, "1 late (worst 60 ms past the deadline)"));
  CAF_CHECK(find(check(sc, late, 2.0), "answered_exactly_once").pass);
  // A measured scheduling lag of the machine widens the slack, and is named.
  auto lagged = late;
  lagged.scheduling_lag_us = 20'000;
  v = find(check(sc, lagged, 1.0), "answered_exactly_once");
  CAF_CHECK(v.pass);
  CAF_CHECK(contains(v.expected, "20 ms of it the scheduling lag"));
  // It is checked even when the file does not list it.
  auto unlisted = parsed(doc(R"([ { "outcome": "ok", "min": 0 } ])"));
  CAF_CHECK(!find(check(unlisted, twice, 1.0), "answered_exactly_once").pass);
}

CAF_TEST(violated expectations are reported as FAIL with expected and seen) {
  auto sc = parsed(doc(R"([
    { "outcome": "ok", "min": 3 },
    { "outcome": "circuit_open", "max": 0 },
    { "allowed_outcomes": [ "ok" ] },
    { "breaker_transitions": [ "closed->open", "open->half_open", "half_open->closed" ] },
    { "breaker_transitions": [ "closed->open", "half_open->closed" ], "exact": true },
    { "max_attempts_per_text": 1 },
    { "upstream_requests_between": { "from": 100, "to": 300, "max": 0 } },
    { "upstream_silence": { "after": { "status": 429 }, "within_ms": 10, "min_ms": 500 } },
    { "latency_p99_ms": { "max": 50 } },
    { "counter": "breaker_opened", "min": 1 },
    { "event": "grants_paused", "min": 1 },
    { "mock_connections": { "max": 1 } },
    { "wall_time_ms": { "max": 100 } },
    { "breaker_trials_per_open_period": { "max": 1 } } ])"));
  observation obs;
  obs.load_end_us = 1'000'000;
  obs.requests.push_back(answered(0, embed_errc::none, 0, 80));
  obs.requests.push_back(answered(0, embed_errc::circuit_open, 0, 1));
  obs.events.push_back(
    {event_kind::breaker_transitioned, "cb", "closed->open", 10'000});
  obs.events.push_back(
    {event_kind::breaker_transitioned, "cb", "open->half_open", 500'000});
  obs.events.push_back(
    {event_kind::breaker_transitioned, "cb", "half_open->open", 500'100});
  obs.mock.text_requests = {{"a", 2}, {"b", 1}};
  obs.mock.total.connections_accepted = 3;
  for (int64_t t : {0, 150'000, 160'000, 500'050, 500'060, 600'000}) {
    mock::mock_log_entry e;
    e.t_us = t;
    e.status = t == 150'000 ? 429 : 200;
    obs.mock.log.push_back(e);
  }
  auto vs = check(sc, obs, 1.0);
  for (auto& v : vs) {
    if (v.label == "answered_exactly_once" || v.label == "results_well_formed")
      CAF_CHECK(v.pass);
    else if (v.pass)
      CAF_FAIL("should have failed: " << format_verdict(v));
  }
  CAF_CHECK_EQUAL(format_verdict(find(vs, "outcome ok")),
                  "FAIL  outcome ok: expected >= 3; seen 1 of 2");
  CAF_CHECK(
    contains(find(vs, "allowed_outcomes").seen, "circuit_open 1 (not allowed)"));
  CAF_CHECK(contains(find(vs, "breaker_transitions").seen,
                     "closed->open, open->half_open, half_open->open"));
  CAF_CHECK(contains(find(vs, "max_attempts_per_text").seen, "max 2 (\"a\")"));
  CAF_CHECK(
    contains(find(vs, "upstream_requests_between").seen, "2 (at +50 ms, +60 ms"));
  CAF_CHECK(contains(find(vs, "upstream_silence").seen, "silent for 340 ms"));
  CAF_CHECK(contains(find(vs, "latency_p99_ms").seen, "80 ms over 1 answers"));
  CAF_CHECK(contains(find(vs, "breaker_trials_per_open_period").seen, "1 periods: 3"));
  CAF_CHECK(contains(find(vs, "event").seen, "0"));
  CAF_CHECK(contains(find(vs, "wall_time_ms").seen, "1000 ms"));
}

CAF_TEST(satisfied expectations pass and an anchor that never happened fails) {
  auto sc = parsed(doc(R"([
    { "breaker_transitions": [ "closed->open", "half_open->closed" ] },
    { "upstream_requests_between": { "from": { "event": "breaker_transitioned",
                                               "detail": "closed->open" },
                                     "to": { "event": "breaker_transitioned",
                                             "detail": "closed->open", "offset_ms": 100 },
                                     "max": 0 } },
    { "time_between": { "from": { "phase": "up" },
                        "to": { "event": "breaker_transitioned",
                                "detail": "half_open->closed" }, "max_ms": 500 } },
    { "time_between": { "from": 0, "to": { "event": "grants_paused" }, "max_ms": 5 } },
    { "latency_max_ms": { "outcome": "any", "max": 100 } } ])"));
  observation obs;
  obs.load_end_us = 1'000'000;
  obs.requests.push_back(answered(0, embed_errc::none, 0, 80));
  obs.events.push_back(
    {event_kind::breaker_transitioned, "cb", "closed->open", 10'000});
  obs.events.push_back(
    {event_kind::breaker_transitioned, "cb", "open->half_open", 500'000});
  obs.events.push_back(
    {event_kind::breaker_transitioned, "cb", "half_open->closed", 500'100});
  obs.mock.phases.resize(2);
  obs.mock.phases[0].name = "down";
  obs.mock.phases[0].started_at_us = 0;
  obs.mock.phases[1].name = "up";
  obs.mock.phases[1].started_at_us = 100'000;
  auto vs = check(sc, obs, 1.0);
  CAF_CHECK(find(vs, "breaker_transitions").pass);
  CAF_CHECK(find(vs, "upstream_requests_between").pass);
  CAF_CHECK(vs[3].pass);
  CAF_CHECK(contains(vs[3].seen, "400 ms"));
  CAF_CHECK(!vs[4].pass);
  CAF_CHECK(contains(vs[4].seen, "did not happen"));
  CAF_CHECK(find(vs, "latency_max_ms").pass);
}

CAF_TEST(an ok answer holding a wrong vector fails results well formed) {
  auto sc = parsed(doc());
  observation obs;
  obs.requests.push_back(answered(0, embed_errc::none, 0, 10));
  obs.requests.back().well_formed = false;
  obs.requests.back().message = "vector 0 has dimension 4";
  auto v = find(check(sc, obs, 1.0), "results_well_formed");
  CAF_CHECK(!v.pass);
  CAF_CHECK(contains(v.seen, "0 of 1 well-formed (e.g. vector 0 has dimension 4)"));
}

// -- running
// ----------------------------------------------------------------------------

CAF_TEST(a bad config override fails loudly before anything runs) {
  auto sc = parsed(
    R"(// x
{ "config": { "retry.max_attempts": 0, "http_pool.max_connectionz": 3 },
  "load": { "groups": [ { "name": "a", "callers": 1 } ] },
  "expect": [ { "answered_exactly_once": true } ] })");
  observation obs;
  bool abandoned = false;
  std::string error;
  CAF_CHECK(!run(sc, run_options{}, obs, abandoned, error));
  CAF_CHECK(contains(error, "embedrt.retry.max_attempts"));
  CAF_CHECK(contains(error, "max_connectionz"));
  CAF_CHECK(!abandoned);
}

CAF_TEST(a short scenario runs end to end and its verdicts hold) {
  auto sc = parsed(doc(R"([
    { "answered_exactly_once": true },
    { "outcome": "ok", "min": 6, "max": 6 },
    { "upstream_requests": { "status": 503, "max": 0 } },
    // The first text of a model whose dimension is not configured may be sent twice
    // more for other opinions on its length (issue 9 F).
    { "max_attempts_per_text": 3 } ])"));
  // Start in the healthy phase.
  sc.script.phases.erase(sc.script.phases.begin());
  observation obs;
  bool abandoned = false;
  std::string error;
  CAF_REQUIRE(run(sc, run_options{}, obs, abandoned, error));
  CAF_CHECK(!abandoned);
  CAF_CHECK_EQUAL(obs.requests.size(), 6u);
  for (auto& v : check(sc, obs, 1.0))
    if (!v.pass)
      CAF_FAIL(format_verdict(v));
  CAF_CHECK_EQUAL(obs.mock.text_requests.size(), 6u);
  CAF_CHECK_GREATER_OR_EQUAL(obs.load_end_us, obs.load_start_us);
}

CAF_TEST(the command exits 1 when an expectation fails and 2 for a bad file) {
  std::ostringstream out;
  std::ostringstream err;
  bool abandoned = false;
  // Every request gets some answer, so "no answer at all" cannot hold.
  auto failing = write_temp("failing", doc(R"([ { "outcome": "any", "max": 0 } ])"));
  auto rc = command({"run", failing}, out, err, abandoned);
  CAF_CHECK_EQUAL(rc, 1);
  CAF_CHECK(contains(out.str(), "FAIL  outcome any: expected <= 0; seen 6 of 6"));
  CAF_CHECK(contains(out.str(), "verdict embedrt-scenario-test-failing: FAIL (1 of 3"));
  out.str("");
  auto passing = write_temp("passing", doc(R"([ { "outcome": "any", "min": 6 } ])"));
  CAF_CHECK_EQUAL(command({"run", passing}, out, err, abandoned), 0);
  CAF_CHECK(contains(out.str(), "PASS  outcome any: expected >= 6; seen 6 of 6"));
  CAF_CHECK(contains(out.str(), "verdict embedrt-scenario-test-passing: PASS"));
  auto invalid = write_temp("invalid", "{}");
  CAF_CHECK_EQUAL(command({"run", invalid}, out, err, abandoned), 2);
  CAF_CHECK(contains(err.str(), "must start with a comment"));
  CAF_CHECK_EQUAL(command({"run", "/nonexistent/x.json"}, out, err, abandoned), 2);
  CAF_CHECK(contains(err.str(), "cannot read the file"));
  CAF_CHECK(!abandoned);
  std::remove(failing.c_str());
  std::remove(passing.c_str());
  std::remove(invalid.c_str());
}
