// Scripted scenarios: a file says what the upstream does over time, what load the host
// puts on the runtime and what must hold; the runner plays it against the real runtime
// over the real HTTP path (libcurl -> embedrt-mock on 127.0.0.1) and says what held.
//
//   embedrt-scenario run scenarios/outage_then_recovery.json
//
// A test tool, not part of the product: the shipped `embedrt` CLI links none of it
// (ctest cli.links_no_test_tooling).
//
// ## File format (JSON with // and /* */ comments; see scenarios/*.json)
//
// The file starts with a comment saying what the scenario proves; its first paragraph
// is printed as the scenario's summary. Top-level keys, all checked (unknown keys are
// errors):
// - "expected_to_fail": "reason" (optional): a scenario for a feature or a fix that has
//   not landed. The runner still runs it and prints the reason; CTest marks it
//   WILL_FAIL, so it turns red the day it starts to pass (then remove the key).
// - "config": {"section.key": value}: overrides applied through `load_config_text`,
//   so the schema's validation applies and a bad override fails loudly. The runner sets
//   endpoint.base_url and endpoint.api_key_env itself (they cannot be overridden).
// - "upstream": the mock: "dimension", "threads", "model", "max_connections", "seed"
//   (mock_options) and "script": the phase script (tools/mock/mock_script.hpp), set
//   when the load starts so phase times count from there.
// - "load": {"groups": [group...], "crash_workers": {...}, "shutdown": {...},
//   "hard_timeout_ms", "answer_slack_ms"}; a group is one kind of caller:
//     {"name", "callers" (closed loop: each caller sends "requests_per_caller" requests
//      one after the other, "think_ms" apart) | "total" + "rate_per_s" (open loop),
//      "api": "callback" | "threads" | "bulk_session" (see caller_api),
//      "lane": "interactive" | "bulk",
//      "on_open_circuit": "default" | "fail_fast" | "wait", "deadline_ms",
//      "texts_per_request", "start_ms", "text": template with {group} {caller} {seq}
//      {i} {k}, "distinct_texts": N ({k} cycles through N values; 0: all distinct)}.
//   "crash_workers": {"every_ms", "from_ms", "until_ms", "worker": index or
//   "round_robin"} (enables supervision.test_hooks). "shutdown": {"after_ms",
//   "grace_ms"}: stop(grace) under load; nothing is issued after it.
//   "stop_timeout_ms": see `load_spec`.
// - "expect": a list of expectations, one object each, named by the one key that is a
//   kind of the registry (tools/scenario/expectations.cpp; `embedrt-scenario kinds`
//   prints them with an example each). An object naming no kind is an error that
//   lists the known kinds; one naming two is an error too.
//
// ## Times
// Scenario time counts from the start of the load (the script is set at that moment),
// in the mock's clock; runtime events are converted to it (both are steady_clock).
// `time_scale` (--time-scale, $EMBEDRT_SCENARIO_TIME_SCALE) multiplies every upper
// bound on a duration (latency, wall time, stop time, time between anchors, the answer
// slack and the hard timeout) for slow builds (sanitizers); windows that state the
// runtime's semantics ("nothing is sent during a Retry-After pause") are not scaled.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "messages/lifecycle.hpp"
#include "tools/mock/mock_server.hpp"
#include <embedrt/embedding.hpp>
#include <embedrt/errors.hpp>
#include <embedrt/observability.hpp>

namespace embedrt::scenario {

// -- the file ---------------------------------------------------------------------

/// A point in scenario time: a fixed time, or something the run observed, plus an
/// offset. Written as a number (ms since the load started) or an object:
/// {"ms": N} | {"event": kind, "detail": text?, "nth": n?} | {"phase": name,
/// "edge": "start" | "end" | "first_request"} | {"status": code, "nth": n?} (the nth
/// upstream request answered with that status, by arrival), each with an optional
/// "offset_ms".
struct anchor {
  enum class kind : uint8_t { at, event, phase, status };
  kind what = kind::at;
  int64_t ms = 0;
  std::string event;
  std::string detail;
  uint32_t nth = 1;
  std::string phase;
  enum class phase_edge : uint8_t { start, end, first_request };
  phase_edge edge = phase_edge::start;
  int status = 0;
  int64_t offset_ms = 0;

  /// For people: "the 1st grants_paused event + 250 ms".
  std::string describe() const;
};

/// A kind of expectation: its name, parser, check and the figures it reports. The
/// kinds are one table, `expectation_kinds()` (tools/scenario/expectations.hpp).
struct expectation_kind;

struct expectation {
  /// Its entry in the registry; never null after a successful parse.
  const expectation_kind* kind = nullptr;
  /// The key as written, e.g. "latency_p99_ms"; printed before the verdict.
  std::string label;
  /// Group filter (empty: all groups).
  std::string group;
  /// Outcome, counter or event kind name; `faster` group for latency_order.
  std::string name;
  /// Event detail; `slower` group for latency_order.
  std::string detail;
  /// Allowed outcomes or breaker transitions.
  std::vector<std::string> list;
  bool exact = false;
  std::optional<int64_t> min;
  std::optional<int64_t> max;
  double percentile = 99;
  std::string match;
  int status = 0;
  std::string phase;
  /// upstream_requests: only requests with this many inputs; 0: any.
  uint32_t inputs = 0;
  anchor from;
  anchor to;
  int64_t within_ms = 500;
  /// breaker_trials_per_open_period: only periods that ended half_open->open.
  bool reopened_only = false;
  /// Whether `max` is a duration scaled by the time scale.
  bool scaled = false;
};

/// How a group's callers call the runtime: the callback form of runtime::embed from the
/// runner's driver thread (callers are logical, any number of them), one host thread
/// per caller blocking on each answer ("threads"), or a bulk_session producer thread.
enum class caller_api : uint8_t { callback, threads, bulk_session };

struct load_group {
  std::string name;
  /// Closed loop: `callers` callers, each sending `requests_per_caller` requests one
  /// after the other, `think_ms` between an answer and the next request.
  uint32_t callers = 0;
  uint32_t requests_per_caller = 1;
  uint32_t think_ms = 0;
  /// Open loop: `total` requests at `rate_per_s` (bulk_session: 0 = as fast as credit
  /// allows).
  uint32_t total = 0;
  double rate_per_s = 0;
  caller_api api = caller_api::callback;
  embedrt::lane priority = embedrt::lane::interactive;
  open_circuit_policy on_open_circuit = open_circuit_policy::lane_default;
  /// Per-call deadline; 0: embedrt.request.timeout_ms.
  uint32_t deadline_ms = 0;
  uint32_t texts_per_request = 1;
  uint32_t start_ms = 0;
  std::string text = "{group} text {k}";
  uint32_t distinct_texts = 0;

  /// Requests this group issues.
  uint64_t planned() const noexcept {
    return callers > 0 ? uint64_t{callers} * requests_per_caller : total;
  }
};

struct load_spec {
  std::vector<load_group> groups;
  /// crash_worker_for_test every `crash_every_ms` in [from, until); 0: never.
  uint32_t crash_every_ms = 0;
  uint32_t crash_from_ms = 0;
  uint32_t crash_until_ms = 0;
  /// Worker index; -1: round robin over embedrt.http_pool.workers.
  int32_t crash_worker = -1;
  /// stop(grace) at `shutdown_after_ms` when set.
  std::optional<uint32_t> shutdown_after_ms;
  uint32_t shutdown_grace_ms = 0;
  /// The runner gives up waiting after this (scaled); unanswered requests are "hung".
  uint32_t hard_timeout_ms = 30000;
  /// How late after its deadline an answer may come (scaled): scheduling slack only,
  /// the runtime answers by the deadline.
  uint32_t answer_slack_ms = 50;
  /// How long runtime::stop may take beyond the grace period before the runner
  /// abandons the runtime (scaled).
  uint32_t stop_timeout_ms = 15000;
};

struct scenario {
  /// The file's stem, e.g. "outage_then_recovery".
  std::string name;
  std::string path;
  /// The first paragraph of the leading comment: what the scenario proves.
  std::string summary;
  /// Non-empty: expected to fail, for this reason.
  std::string expected_to_fail;
  /// The overrides as CAF INI text ([embedrt.section] key = value).
  std::string config_ini;
  /// The overrides as written, "section.key" -> value text, for printing.
  std::vector<std::pair<std::string, std::string>> config;
  mock::mock_options upstream;
  mock::mock_script script;
  load_spec load;
  std::vector<expectation> expect;
};

/// Parses and checks a scenario. `name` names it in messages. On failure returns
/// false and sets `error`, e.g. `expect[2].outcome: unknown outcome "okay"` or
/// `line 7, column 3: syntax error ...`.
bool parse_scenario(std::string_view text, const std::string& name, scenario& out,
                    std::string& error);

/// Reads and parses a file; `unreadable` tells a missing file from a bad one.
bool load_scenario_file(const std::string& path, scenario& out, std::string& error,
                        bool& unreadable);

// -- a run ------------------------------------------------------------------------

/// One request as the host saw it. Times are microseconds on the mock's clock.
struct request_record {
  uint32_t group = 0;
  uint32_t caller = 0;
  uint32_t seq = 0;
  uint32_t texts = 0;
  int64_t issued_us = 0;
  int64_t deadline_us = 0;
  /// Answers received; exactly one is right.
  uint32_t answers = 0;
  int64_t answered_us = -1;
  /// Meaningful when answered: `none` for vectors.
  embed_errc code = embed_errc::none;
  std::string message;
  /// A successful answer with the right number of vectors, each of the expected
  /// dimension and finite.
  bool well_formed = true;
};

struct observed_event {
  event_kind kind = event_kind::breaker_transitioned;
  std::string source;
  std::string detail;
  int64_t t_us = 0;
};

/// Everything a run saw; the checks read only this.
struct observation {
  std::vector<std::string> groups;
  int64_t load_start_us = 0;
  /// The last answer (or when the runner gave up).
  int64_t load_end_us = 0;
  std::vector<request_record> requests;
  std::vector<observed_event> events;
  runtime_counters counters;
  mock::mock_stats mock;
  /// Set when load.shutdown ran: how long stop() took and what it reported.
  std::optional<int64_t> stop_ms;
  shutdown_report report;
  /// The hard timeout passed with requests unanswered.
  bool timed_out = false;
  /// stop() did not return: the runtime was abandoned.
  bool stop_hung = false;
  /// Requests planned but not issued (after a shutdown).
  uint64_t not_issued = 0;
  /// The worst lateness of a 5 ms sleep of a runner thread during the load: the
  /// machine's scheduling lag, added to the answer slack.
  int64_t scheduling_lag_us = 0;
  /// Things the runner wants to say (e.g. why it gave up).
  std::vector<std::string> notes;
};

struct verdict {
  bool pass = false;
  std::string label;
  std::string expected;
  std::string seen;
};

/// Checks every expectation (plus answered_exactly_once and the well-formedness of
/// vectors, which always apply).
std::vector<verdict> check(const scenario& sc, const observation& obs,
                           double time_scale);

/// "PASS  label: expected ...; seen ..."
std::string format_verdict(const verdict& v);

/// The measured figures, several indented lines.
std::string format_figures(const scenario& sc, const observation& obs);

struct run_options {
  double time_scale = 1.0;
};

/// Plays the scenario. Sets `abandoned` when the runtime could not be stopped (the
/// process should then exit without running destructors). Returns false with `error`
/// when it could not start (bad config, no port).
bool run(const scenario& sc, const run_options& opts, observation& out, bool& abandoned,
         std::string& error);

/// `embedrt-scenario ...`: "run FILE... [--time-scale=X]", "list [DIR]" and "kinds".
/// Exit code 0: every scenario held; 1: some failed; 2: usage error or
/// unreadable/invalid file. `args` excludes the program name.
/// Sets `abandoned` as `run` does.
int command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
            bool& abandoned);

} // namespace embedrt::scenario
