// The registry of expectation kinds (see expectations.hpp) and the checks: pure
// functions of (scenario, observation); the unit tests feed them made-up observations.
#include "tools/scenario/expectations.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "tools/mock/mock_script.hpp"
#include "tools/scenario/measure.hpp"
#include "tools/scenario/parse_support.hpp"

namespace embedrt::scenario {

// -- what the kinds' parsers share -----------------------------------------------

/// One expectation object being parsed: `top` reads its keys; `nested()` reads the
/// object under the kind's key ({"latency_ms": {...}}).
class kind_parser {
public:
  kind_parser(const json& j, std::string path, std::string kind, const scenario& sc,
              std::string& error)
    : j_(j), path_(std::move(path)), kind_(std::move(kind)), sc_(sc), error_(error),
      top(j, path_, error) {}

  const std::string& kind() const noexcept { return kind_; }
  const scenario& sc() const noexcept { return sc_; }
  std::string& error() noexcept { return error_; }

  /// A reader of the object under the kind's key (marks the key read).
  reader nested() {
    top.get(kind_);
    return reader{j_.at(kind_), path_ + "." + kind_, error_};
  }

  /// "min" and/or "max" (at least one), `scaled`: whether "max" is a duration.
  bool bounds(reader& r, expectation& e, bool scaled) {
    r.optional_integer("min", e.min, 0, INT64_MAX);
    r.optional_integer("max", e.max, 0, INT64_MAX);
    if (r.ok() && !e.min && !e.max)
      return r.fail_at(r.path(), "needs \"min\" or \"max\"");
    if (r.ok() && e.min && e.max && *e.min > *e.max)
      return r.fail_at(r.path(), "\"min\" is above \"max\"");
    e.scaled = scaled;
    return r.ok();
  }

  bool group_ok(reader& r, const std::string& group) {
    if (group.empty())
      return r.ok();
    for (auto& g : sc_.load.groups)
      if (g.name == group)
        return r.ok();
    return r.fail("group", "no load group named \"" + group + "\"");
  }

  bool phase_ok(reader& r, const std::string& phase) {
    if (phase.empty())
      return r.ok();
    for (auto& p : sc_.script.phases)
      if (p.name == phase)
        return r.ok();
    return r.fail("phase", "no phase named \"" + phase + "\" in upstream.script");
  }

  bool outcome_ok(reader& r, const std::string& key, const std::string& name) {
    if (!r.ok() || known_outcome(name))
      return r.ok();
    return r.fail(key, "unknown outcome \"" + name
                         + "\" (ok, hung or an embed_errc name such as "
                           "circuit_open)");
  }

  /// The anchor under `key` into `a`.
  bool anchor_at(reader& r, const std::string& key, anchor& a) {
    auto x = r.get(key);
    if (r.ok() && x == nullptr)
      return r.fail(key, "is required (an anchor)");
    return r.ok() && parse_anchor(*x, r.at(key), a, sc_, error_);
  }

  /// The "from" and "to" anchors of an interval.
  bool from_to(reader& r, expectation& e) {
    if (r.ok() && (!r.has("from") || !r.has("to")))
      return r.fail_at(r.path(), "needs \"from\" and \"to\" anchors");
    return anchor_at(r, "from", e.from) && anchor_at(r, "to", e.to);
  }

private:
  const json& j_;
  std::string path_;
  std::string kind_;
  const scenario& sc_;
  std::string& error_;

public:
  /// Reads the expectation object itself (declared last: built from the above).
  reader top;
};

namespace {

// -- how results are written ----------------------------------------------------------

std::string range_text(const std::optional<int64_t>& min,
                       const std::optional<int64_t>& max) {
  if (min && max)
    return *min == *max ? std::to_string(*min)
                        : std::to_string(*min) + ".." + std::to_string(*max);
  if (min)
    return ">= " + std::to_string(*min);
  return "<= " + std::to_string(max.value_or(0));
}

bool in_range(int64_t x, const std::optional<int64_t>& min,
              const std::optional<int64_t>& max) {
  return (!min || x >= *min) && (!max || x <= *max);
}

/// `max`, stretched by the time scale when it is a duration.
std::optional<int64_t> scaled_max(const expectation& e, double scale) {
  if (!e.max)
    return std::nullopt;
  if (!e.scaled)
    return e.max;
  auto x = std::ceil(static_cast<double>(*e.max) * scale);
  // A bound from the file may be as large as INT64_MAX: saturate, never overflow.
  return x >= 9.2e18 ? INT64_MAX : static_cast<int64_t>(x);
}

std::string scale_note(const expectation& e, double scale) {
  if (!e.scaled || scale == 1.0)
    return {};
  std::ostringstream out;
  out << " (" << e.max.value_or(0) << " x time scale " << scale << ")";
  return out.str();
}

std::string group_note(const expectation& e) {
  return e.group.empty() ? std::string{} : " [group " + e.group + "]";
}

/// "not measurable: X did not happen" for the first of two anchors that did not.
std::string unmeasurable(const expectation& e, bool from_happened) {
  return "not measurable: " + (from_happened ? e.to.describe() : e.from.describe())
         + " did not happen";
}

// -- the kinds: a parser and a check each -------------------------------------------

bool parse_answered_exactly_once(kind_parser& p, expectation&) {
  bool yes = false;
  p.top.boolean(p.kind(), yes);
  if (p.top.ok() && !yes)
    p.top.fail(p.kind(), "can only be true (it always applies)");
  return p.top.ok();
}

void check_answered_exactly_once(const check_input& in, const expectation&,
                                 verdict& v) {
  auto& obs = in.obs;
  auto slack_us = static_cast<int64_t>(static_cast<double>(in.sc.load.answer_slack_ms)
                                       * in.scale * 1000.0)
                  + obs.scheduling_lag_us;
  uint64_t once = 0;
  uint64_t twice = 0;
  uint64_t late = 0;
  uint64_t never = 0;
  int64_t worst_late = 0;
  for (auto& r : obs.requests) {
    if (r.answers == 0)
      ++never;
    else if (r.answers > 1)
      ++twice;
    else
      ++once;
    if (r.answers > 0 && r.answered_us > r.deadline_us + slack_us) {
      ++late;
      worst_late = std::max(worst_late, r.answered_us - r.deadline_us);
    }
  }
  v.expected = "each of " + std::to_string(obs.requests.size())
               + " requests answered once, by its deadline + " + ms_text(slack_us);
  if (obs.scheduling_lag_us > 0)
    v.expected += " (" + ms_text(obs.scheduling_lag_us)
                  + " of it the scheduling lag measured during the run)";
  v.seen = std::to_string(once) + " once, " + std::to_string(twice) + " twice or more, "
           + std::to_string(late) + " late";
  if (late > 0)
    v.seen += " (worst " + ms_text(worst_late) + " past the deadline)";
  v.seen += ", " + std::to_string(never) + " never (hung)";
  if (obs.timed_out)
    v.seen += "; the runner gave up waiting (hard timeout)";
  if (obs.stop_hung)
    v.seen += "; runtime::stop did not return";
  v.pass = twice == 0 && late == 0 && never == 0 && !obs.stop_hung && !obs.timed_out;
}

bool parse_outcome(kind_parser& p, expectation& e) {
  auto& r = p.top;
  r.string(p.kind(), e.name, true);
  r.string("group", e.group);
  return p.outcome_ok(r, p.kind(), e.name) && p.group_ok(r, e.group)
         && p.bounds(r, e, false);
}

void check_outcome(const check_input& in, const expectation& e, verdict& v) {
  int64_t n = 0;
  for (auto& r : in.obs.requests)
    if (in_group(in.sc, r, e.group) && (e.name == "any" || outcome_of(r) == e.name))
      ++n;
  v.label += " " + e.name + group_note(e);
  v.expected = range_text(e.min, e.max);
  v.seen = std::to_string(n) + " of " + std::to_string(in.obs.requests.size());
  v.pass = in_range(n, e.min, e.max);
}

bool parse_allowed_outcomes(kind_parser& p, expectation& e) {
  auto& r = p.top;
  r.strings(p.kind(), e.list);
  r.string("group", e.group);
  for (auto& x : e.list)
    p.outcome_ok(r, p.kind(), x);
  return p.group_ok(r, e.group);
}

void check_allowed_outcomes(const check_input& in, const expectation& e, verdict& v) {
  std::map<std::string, uint64_t> counts;
  for (auto& r : in.obs.requests)
    if (in_group(in.sc, r, e.group))
      ++counts[outcome_of(r)];
  v.label += group_note(e);
  v.expected = "only " + join(e.list, 100, 0);
  v.pass = true;
  std::vector<std::string> seen;
  for (auto& [name, n] : counts) {
    bool allowed = std::find(e.list.begin(), e.list.end(), name) != e.list.end();
    v.pass = v.pass && allowed;
    seen.push_back(name + " " + std::to_string(n) + (allowed ? "" : " (not allowed)"));
  }
  v.seen = join(seen, 100, 0);
}

bool parse_breaker_transitions(kind_parser& p, expectation& e) {
  auto& r = p.top;
  r.strings(p.kind(), e.list);
  r.boolean("exact", e.exact);
  for (auto& x : e.list)
    if (r.ok() && !known_transition(x))
      r.fail(p.kind(), "unknown transition \"" + x
                         + "\" (closed->open, open->half_open, half_open->open, "
                           "half_open->closed)");
  return r.ok();
}

void check_breaker_transitions(const check_input& in, const expectation& e,
                               verdict& v) {
  auto seen = transitions(in.obs);
  v.expected = join(e.list, 100, 0) + (e.exact ? " (exactly)" : " (in order)");
  v.seen = join(seen);
  if (e.exact) {
    v.pass = seen == e.list;
    return;
  }
  size_t k = 0;
  for (auto& x : seen)
    if (k < e.list.size() && x == e.list[k])
      ++k;
  v.pass = k == e.list.size();
}

bool parse_max_attempts_per_text(kind_parser& p, expectation& e) {
  int64_t n = 0;
  p.top.integer(p.kind(), n, 1, 1000);
  e.max = n;
  return p.top.ok();
}

bool parse_attempts_per_text(kind_parser& p, expectation& e) {
  auto r = p.nested();
  r.string("match", e.match);
  p.bounds(r, e, false);
  return r.finish();
}

void check_attempts_per_text(const check_input& in, const expectation& e, verdict& v) {
  uint64_t texts = 0;
  int64_t most = 0;
  int64_t least = INT64_MAX;
  std::string most_text;
  for (auto& [text, n] : in.obs.mock.text_requests) {
    if (!e.match.empty() && !mock::pattern_matches(text, e.match))
      continue;
    ++texts;
    if (static_cast<int64_t>(n) > most) {
      most = static_cast<int64_t>(n);
      most_text = text;
    }
    least = std::min(least, static_cast<int64_t>(n));
  }
  if (!e.match.empty())
    v.label += " [texts matching \"" + e.match + "\"]";
  v.expected = range_text(e.min, e.max) + " upstream requests per text";
  if (texts == 0) {
    v.seen = "no such text reached the upstream";
    v.pass = !e.min;
    return;
  }
  v.seen = "max " + std::to_string(most) + " (\"" + most_text.substr(0, 40)
           + "\"), min " + std::to_string(least) + ", over " + std::to_string(texts)
           + " texts";
  v.pass = in_range(most, e.min, e.max) && in_range(least, e.min, e.max);
}

bool parse_upstream_requests_between(kind_parser& p, expectation& e) {
  auto r = p.nested();
  return p.from_to(r, e) && p.bounds(r, e, false) && r.finish();
}

void check_upstream_requests_between(const check_input& in, const expectation& e,
                                     verdict& v) {
  auto from = resolve(e.from, in.obs);
  auto to = resolve(e.to, in.obs);
  v.expected = range_text(e.min, e.max) + " upstream requests from " + e.from.describe()
               + " to " + e.to.describe();
  if (!from || !to) {
    v.seen = unmeasurable(e, from.has_value());
    return;
  }
  auto xs = arrivals(in.obs, *from, *to);
  v.expected += " (" + at_text(in.obs, *from) + " .. " + at_text(in.obs, *to) + ")";
  v.seen = std::to_string(xs.size());
  if (!xs.empty()) {
    std::vector<std::string> when;
    for (auto t : xs)
      when.push_back("+" + ms_text(t - *from));
    v.seen += " (at " + join(when, 5, 1) + " after the start)";
  }
  v.pass = in_range(static_cast<int64_t>(xs.size()), e.min, e.max) && *to >= *from;
}

bool parse_upstream_silence(kind_parser& p, expectation& e) {
  auto r = p.nested();
  if (!p.anchor_at(r, "after", e.from))
    return false;
  r.integer("within_ms", e.within_ms, 0, max_ms);
  int64_t min_ms = 0;
  r.integer("min_ms", min_ms, 1, max_ms, true);
  e.min = min_ms;
  return r.finish();
}

void check_upstream_silence(const check_input& in, const expectation& e, verdict& v) {
  auto from = resolve(e.from, in.obs);
  v.expected = "no upstream request for >= " + std::to_string(e.min.value_or(0))
               + " ms, starting within " + std::to_string(e.within_ms) + " ms after "
               + e.from.describe();
  if (!from) {
    v.seen = "not measurable: " + e.from.describe() + " did not happen";
    return;
  }
  auto end = std::max(in.obs.load_end_us, *from);
  auto xs = arrivals(in.obs, *from + 1, end + 1);
  int64_t best = 0;
  int64_t best_start = *from;
  auto consider = [&](int64_t start, int64_t stop) {
    if (stop - start > best) {
      best = stop - start;
      best_start = start;
    }
  };
  consider(*from, xs.empty() ? end : xs.front());
  for (size_t i = 0; i < xs.size(); ++i) {
    if (xs[i] > *from + e.within_ms * 1000)
      break;
    consider(xs[i], i + 1 < xs.size() ? xs[i + 1] : end);
  }
  v.seen = "silent for " + ms_text(best) + " from " + e.from.describe() + " + "
           + ms_text(best_start - *from);
  v.pass = best >= e.min.value_or(0) * 1000;
}

bool parse_time_between(kind_parser& p, expectation& e) {
  auto r = p.nested();
  if (!p.from_to(r, e))
    return false;
  r.optional_integer("min_ms", e.min, -max_ms, max_ms);
  r.optional_integer("max_ms", e.max, -max_ms, max_ms);
  if (r.ok() && !e.min && !e.max)
    r.fail_at(r.path(), "needs \"min_ms\" or \"max_ms\"");
  e.scaled = true;
  return r.finish();
}

void check_time_between(const check_input& in, const expectation& e, verdict& v) {
  auto from = resolve(e.from, in.obs);
  auto to = resolve(e.to, in.obs);
  v.expected = "from " + e.from.describe() + " to " + e.to.describe() + ": "
               + range_text(e.min, scaled_max(e, in.scale)) + " ms"
               + scale_note(e, in.scale);
  if (!from || !to) {
    v.seen = unmeasurable(e, from.has_value());
    return;
  }
  auto ms = (*to - *from) / 1000;
  v.seen = std::to_string(ms) + " ms (" + at_text(in.obs, *from) + " .. "
           + at_text(in.obs, *to) + ")";
  v.pass = in_range(ms, e.min, scaled_max(e, in.scale));
}

/// latency_ms (any percentile), latency_p50_ms, latency_p99_ms, latency_max_ms.
bool parse_latency(kind_parser& p, expectation& e) {
  auto r = p.nested();
  e.name = "ok";
  r.string("outcome", e.name);
  r.string("group", e.group);
  if (p.kind() == "latency_ms")
    r.number("percentile", e.percentile, 0, 100);
  else
    e.percentile = p.kind() == "latency_p50_ms"   ? 50
                   : p.kind() == "latency_p99_ms" ? 99
                                                  : 100;
  p.outcome_ok(r, "outcome", e.name);
  p.group_ok(r, e.group);
  int64_t max = 0;
  r.integer("max", max, 0, max_ms, true);
  e.max = max;
  e.scaled = true;
  return r.finish();
}

void check_latency(const check_input& in, const expectation& e, verdict& v) {
  auto xs = latencies(in.sc, in.obs, e.group, e.name);
  auto max = scaled_max(e, in.scale).value_or(0);
  v.label += group_note(e);
  v.expected = pct_name(e.percentile) + " latency of " + e.name
               + " answers <= " + std::to_string(max) + " ms" + scale_note(e, in.scale);
  if (xs.empty()) {
    v.seen = "no " + e.name + " answers";
    return;
  }
  auto at = percentile_of(xs, e.percentile);
  v.seen = ms_text(at) + " over " + std::to_string(xs.size()) + " answers (max "
           + ms_text(xs.back()) + ")";
  v.pass = at <= max * 1000;
}

/// `name`: the faster group, `detail`: the slower one, `match`: the outcome compared.
bool parse_latency_order(kind_parser& p, expectation& e) {
  auto r = p.nested();
  r.string("faster", e.name, true);
  r.string("slower", e.detail, true);
  e.percentile = 50;
  r.number("percentile", e.percentile, 0, 100);
  e.match = "ok";
  r.string("outcome", e.match);
  p.group_ok(r, e.name);
  p.group_ok(r, e.detail);
  p.outcome_ok(r, "outcome", e.match);
  return r.finish();
}

void check_latency_order(const check_input& in, const expectation& e, verdict& v) {
  auto fast = latencies(in.sc, in.obs, e.name, e.match);
  auto slow = latencies(in.sc, in.obs, e.detail, e.match);
  v.expected = pct_name(e.percentile) + " latency of " + e.match + " answers: group "
               + e.name + " below group " + e.detail;
  if (fast.empty() || slow.empty()) {
    v.seen = "no " + e.match + " answers in group "
             + (fast.empty() ? e.name : e.detail);
    return;
  }
  auto a = percentile_of(fast, e.percentile);
  auto b = percentile_of(slow, e.percentile);
  v.seen = e.name + " " + ms_text(a) + ", " + e.detail + " " + ms_text(b);
  v.pass = a < b;
}

bool parse_counter(kind_parser& p, expectation& e) {
  auto& r = p.top;
  r.string(p.kind(), e.name, true);
  auto names = counter_names();
  if (r.ok() && std::find(names.begin(), names.end(), e.name) == names.end())
    r.fail(p.kind(), "unknown counter \"" + e.name
                       + "\" (see runtime_counters in messages/observability.hpp)");
  return p.bounds(r, e, false);
}

void check_counter(const check_input& in, const expectation& e, verdict& v) {
  uint64_t value = 0;
  in.obs.counters.for_each([&](const char* name, uint64_t x) {
    if (e.name == name)
      value = x;
  });
  v.label += " " + e.name;
  v.expected = range_text(e.min, e.max);
  v.seen = std::to_string(value);
  v.pass = in_range(static_cast<int64_t>(value), e.min, e.max);
}

bool parse_event(kind_parser& p, expectation& e) {
  auto& r = p.top;
  r.string(p.kind(), e.name, true);
  r.string("detail", e.detail);
  if (r.ok() && !known_event(e.name))
    r.fail(p.kind(), "unknown event kind \"" + e.name + "\"");
  return p.bounds(r, e, false);
}

void check_event(const check_input& in, const expectation& e, verdict& v) {
  int64_t n = 0;
  for (auto& ev : in.obs.events)
    if (e.name == to_string(ev.kind) && (e.detail.empty() || e.detail == ev.detail))
      ++n;
  v.label += " " + e.name + (e.detail.empty() ? "" : " " + e.detail);
  v.expected = range_text(e.min, e.max);
  v.seen = std::to_string(n);
  v.pass = in_range(n, e.min, e.max);
}

bool parse_upstream_requests(kind_parser& p, expectation& e) {
  auto r = p.nested();
  r.integer("status", e.status, 0, 599);
  r.integer("inputs", e.inputs, 0, 2048);
  r.string("phase", e.phase);
  p.phase_ok(r, e.phase);
  p.bounds(r, e, false);
  return r.finish();
}

void check_upstream_requests(const check_input& in, const expectation& e, verdict& v) {
  auto& mock = in.obs.mock;
  int64_t phase = -1;
  for (size_t i = 0; i < mock.phases.size(); ++i)
    if (!e.phase.empty() && mock.phases[i].name == e.phase)
      phase = static_cast<int64_t>(i);
  int64_t n = 0;
  for (auto& x : mock.log)
    if ((e.status == 0 || x.status == e.status)
        && (e.phase.empty() || static_cast<int64_t>(x.phase) == phase)
        && (e.inputs == 0 || x.inputs == e.inputs))
      ++n;
  if (e.status != 0)
    v.label += " " + std::to_string(e.status);
  if (e.inputs != 0)
    v.label += " with " + std::to_string(e.inputs) + " input(s)";
  if (!e.phase.empty())
    v.label += " [phase " + e.phase + "]";
  v.expected = range_text(e.min, e.max);
  v.seen = std::to_string(n);
  if (mock.log_dropped > 0)
    v.seen += " (" + std::to_string(mock.log_dropped) + " dropped from the log)";
  v.pass = in_range(n, e.min, e.max) && mock.log_dropped == 0;
}

/// mock_connections, wall_time_ms, stop_ms: {"min"?, "max"?}.
bool parse_bounds_only(kind_parser& p, expectation& e) {
  auto r = p.nested();
  p.bounds(r, e, p.kind() != "mock_connections");
  if (!r.finish())
    return false;
  if (p.kind() == "stop_ms" && !p.sc().load.shutdown_after_ms)
    return p.top.fail(p.kind(), "needs load.shutdown");
  return true;
}

void check_mock_connections(const check_input& in, const expectation& e, verdict& v) {
  auto n = static_cast<int64_t>(in.obs.mock.total.connections_accepted);
  v.expected = range_text(e.min, e.max) + " connections accepted by the mock";
  v.seen = std::to_string(n);
  v.pass = in_range(n, e.min, e.max);
}

void check_wall_time(const check_input& in, const expectation& e, verdict& v) {
  auto ms = (in.obs.load_end_us - in.obs.load_start_us) / 1000;
  auto max = scaled_max(e, in.scale);
  v.expected = range_text(e.min, max)
               + " ms from the start of the load to its last answer"
               + scale_note(e, in.scale);
  v.seen = std::to_string(ms) + " ms";
  v.pass = in_range(ms, e.min, max) && !in.obs.timed_out;
}

void check_stop_time(const check_input& in, const expectation& e, verdict& v) {
  auto max = scaled_max(e, in.scale);
  v.expected = range_text(e.min, max) + " ms for runtime::stop"
               + scale_note(e, in.scale);
  if (!in.obs.stop_ms) {
    v.seen = in.obs.stop_hung ? "stop did not return" : "stop was not called";
    return;
  }
  v.seen = std::to_string(*in.obs.stop_ms) + " ms";
  v.pass = in_range(*in.obs.stop_ms, e.min, max);
}

bool parse_breaker_trials(kind_parser& p, expectation& e) {
  auto r = p.nested();
  int64_t max = 0;
  r.integer("max", max, 0, 1000, true);
  e.max = max;
  std::string periods = "all";
  r.string("periods", periods);
  if (r.ok() && periods != "all" && periods != "reopened")
    r.fail("periods", "must be \"all\" or \"reopened\", got \"" + periods + "\"");
  e.reopened_only = periods == "reopened";
  return r.finish();
}

void check_breaker_trials(const check_input& in, const expectation& e, verdict& v) {
  auto periods = half_open_periods(in.obs);
  if (e.reopened_only)
    periods.erase(std::remove_if(periods.begin(), periods.end(),
                                 [](const open_period& p) { return !p.reopened; }),
                  periods.end());
  v.expected = "<= " + std::to_string(e.max.value_or(0))
               + " upstream requests from each open->half_open to the next"
               + (e.reopened_only ? " (periods whose trials failed)"
                                  : " (or to half_open->closed)");
  if (periods.empty()) {
    v.seen = "the breaker never half-opened";
    return;
  }
  std::vector<std::string> counts;
  v.pass = true;
  for (auto& period : periods) {
    counts.push_back(std::to_string(period.requests));
    v.pass = v.pass && static_cast<int64_t>(period.requests) <= e.max.value_or(0);
  }
  v.seen = std::to_string(periods.size()) + " periods: " + join(counts, 20, 0);
}

/// Not a kind a file names: always checked, after the listed ones.
verdict check_well_formed(const scenario& sc, const observation& obs) {
  verdict v;
  v.label = "results_well_formed";
  uint64_t ok = 0;
  uint64_t bad = 0;
  std::string example;
  for (auto& r : obs.requests) {
    if (r.answers == 0 || r.code != embed_errc::none)
      continue;
    ++ok;
    if (!r.well_formed) {
      ++bad;
      if (example.empty())
        example = r.message;
    }
  }
  v.expected = "every ok answer holds, in order, the upstream's vector of each of its "
               "texts (dimension "
               + std::to_string(sc.upstream.dimension) + ")";
  v.seen = std::to_string(ok - bad) + " of " + std::to_string(ok) + " well-formed";
  if (bad > 0)
    v.seen += " (e.g. " + example + ")";
  v.pass = bad == 0;
  return v;
}

} // namespace

// -- the table ------------------------------------------------------------------------

const std::vector<expectation_kind>& expectation_kinds() {
  static const std::vector<expectation_kind> table = {
    {"answered_exactly_once", R"({"answered_exactly_once": true})",
     "every request issued got exactly one answer, no later than its deadline + "
     "load.answer_slack_ms (+ the scheduling lag measured); checked even if unlisted",
     "answered once / twice or more / late (worst lateness) / never",
     parse_answered_exactly_once, check_answered_exactly_once},
    {"outcome", R"({"outcome": "ok", "min": 1, "max": 10, "group": "interactive"})",
     "answers with this outcome (ok, hung, any or an embed_errc name) are within "
     "[min, max]; \"group\" is optional",
     "answers with that outcome of all requests", parse_outcome, check_outcome},
    {"allowed_outcomes", R"({"allowed_outcomes": ["ok", "circuit_open"]})",
     "no other outcome occurred (optionally in one \"group\")",
     "every outcome seen and its count", parse_allowed_outcomes,
     check_allowed_outcomes},
    {"breaker_transitions",
     R"({"breaker_transitions": ["closed->open"], "exact": false})",
     "the breaker's transitions contain these in order (a subsequence), or are "
     "exactly these with \"exact\": true",
     "the transitions seen", parse_breaker_transitions, check_breaker_transitions},
    {"max_attempts_per_text", R"({"max_attempts_per_text": 3})",
     "no text reached the upstream more often (counted by the mock)",
     "most and fewest upstream requests of a text", parse_max_attempts_per_text,
     check_attempts_per_text},
    {"attempts_per_text",
     R"({"attempts_per_text": {"min": 1, "max": 3, "match": "a*"}})",
     "upstream requests per distinct text (texts matching the * pattern \"match\"; "
     "all when empty) are within [min, max]",
     "most and fewest upstream requests of a text", parse_attempts_per_text,
     check_attempts_per_text},
    {"upstream_requests_between",
     R"({"upstream_requests_between": {"from": {"phase": "outage"}, "to": 2000, "max": 0}})",
     "upstream requests arriving in [from, to) (two anchors) are within [min, max]",
     "the requests and when they arrived", parse_upstream_requests_between,
     check_upstream_requests_between},
    {"upstream_silence",
     R"({"upstream_silence": {"after": {"status": 429}, "within_ms": 500, "min_ms": 100}})",
     "the longest stretch without any upstream request that starts within "
     "\"within_ms\" (500) after the anchor lasts at least \"min_ms\"",
     "the longest silence and where it started", parse_upstream_silence,
     check_upstream_silence},
    {"time_between",
     R"({"time_between": {"from": 0, "to": {"event": "grants_paused"}, "max_ms": 500}})",
     "the time from one anchor to another is within [min_ms, max_ms] (max scaled)",
     "the time and both moments", parse_time_between, check_time_between},
    {"latency_ms", R"({"latency_ms": {"percentile": 90, "max": 500}})",
     "request latency (issue to answer) at \"percentile\" (99) of \"outcome\" (ok) "
     "answers, optionally of one \"group\", is at most \"max\" ms (scaled)",
     "the percentile, the count and the maximum", parse_latency, check_latency},
    {"latency_p50_ms", R"({"latency_p50_ms": {"max": 500}})",
     "latency_ms at the 50th percentile", "the percentile, the count and the maximum",
     parse_latency, check_latency},
    {"latency_p99_ms", R"({"latency_p99_ms": {"max": 500}})",
     "latency_ms at the 99th percentile", "the percentile, the count and the maximum",
     parse_latency, check_latency},
    {"latency_max_ms", R"({"latency_max_ms": {"outcome": "any", "max": 500}})",
     "latency_ms of the slowest answer", "the percentile, the count and the maximum",
     parse_latency, check_latency},
    {"latency_order",
     R"({"latency_order": {"faster": "interactive", "slower": "bulk", "percentile": 50}})",
     "the first group's latency percentile (50) of \"outcome\" (ok) answers is below "
     "the second's",
     "both groups' percentiles", parse_latency_order, check_latency_order},
    {"counter", R"({"counter": "breaker_opened", "min": 1})",
     "a runtime counter at the end of the load is within [min, max]",
     "the counter's value", parse_counter, check_counter},
    {"event",
     R"({"event": "breaker_transitioned", "detail": "closed->open", "max": 1})",
     "how many runtime events of a kind (with that detail) were published",
     "the number of such events", parse_event, check_event},
    {"upstream_requests",
     R"({"upstream_requests": {"status": 503, "phase": "outage", "inputs": 1, "min": 1}})",
     "requests the mock received (with that status; in that phase; carrying that "
     "many inputs) are within [min, max]",
     "the number of such requests (and any dropped from the mock's log)",
     parse_upstream_requests, check_upstream_requests},
    {"mock_connections", R"({"mock_connections": {"max": 8}})",
     "TCP connections the mock accepted are within [min, max]",
     "the connections accepted", parse_bounds_only, check_mock_connections},
    {"wall_time_ms", R"({"wall_time_ms": {"max": 5000}})",
     "from the start of the load to its last answer, in ms (max scaled)",
     "the wall time", parse_bounds_only, check_wall_time},
    {"stop_ms", R"({"stop_ms": {"max": 1000}})",
     "how long runtime::stop took, in ms (max scaled); needs load.shutdown",
     "stop's duration", parse_bounds_only, check_stop_time},
    {"breaker_trials_per_open_period",
     R"({"breaker_trials_per_open_period": {"max": 10, "periods": "all"}})",
     "upstream requests from each open->half_open to the next one (or to "
     "half_open->closed) are at most \"max\"; \"periods\": \"reopened\" checks only "
     "the periods whose trials failed",
     "the requests of each period", parse_breaker_trials, check_breaker_trials},
  };
  return table;
}

const expectation_kind* find_expectation_kind(std::string_view name) {
  for (auto& k : expectation_kinds())
    if (k.name == name)
      return &k;
  return nullptr;
}

std::string known_kind_names() {
  std::string out;
  for (auto& k : expectation_kinds()) {
    if (!out.empty())
      out += ", ";
    out += k.name;
  }
  return out;
}

bool parse_expectation(const json& j, const std::string& path, expectation& e,
                       const scenario& sc, std::string& error) {
  if (!j.is_object() || j.empty()) {
    error = path + ": must be an object naming one expectation, got " + show(j);
    return false;
  }
  for (auto& item : j.items()) {
    auto kind = find_expectation_kind(item.key());
    if (kind == nullptr)
      continue;
    if (e.kind != nullptr) {
      error = path + ": names two expectations (\"" + std::string{e.kind->name}
              + "\" and \"" + item.key() + "\"); write one object per expectation";
      return false;
    }
    e.kind = kind;
  }
  if (e.kind == nullptr) {
    error = path + ": unknown expectation " + show(j)
            + "; known: " + known_kind_names();
    return false;
  }
  e.label = std::string{e.kind->name};
  kind_parser p{j, path, e.label, sc, error};
  if (!e.kind->parse(p, e) || !error.empty())
    return false;
  return p.top.finish();
}

std::string describe_kinds_markdown() {
  std::string out = "| expectation | example | what must hold | seen |\n"
                    "| --- | --- | --- | --- |\n";
  for (auto& k : expectation_kinds())
    out += "| `" + std::string{k.name} + "` | `" + std::string{k.example} + "` | "
           + std::string{k.checks} + " | " + std::string{k.figures} + " |\n";
  return out;
}

std::vector<verdict> check(const scenario& sc, const observation& obs,
                           double time_scale) {
  check_input in{sc, obs, time_scale};
  auto judge = [&](const expectation_kind& kind, const expectation& e) {
    verdict v;
    v.label = e.label.empty() ? std::string{kind.name} : e.label;
    kind.check(in, e, v);
    return v;
  };
  std::vector<verdict> out;
  auto always = find_expectation_kind(always_checked_kind);
  bool listed = std::any_of(sc.expect.begin(), sc.expect.end(),
                            [&](const expectation& e) { return e.kind == always; });
  if (!listed)
    out.push_back(judge(*always, expectation{}));
  for (auto& e : sc.expect)
    if (e.kind != nullptr)
      out.push_back(judge(*e.kind, e));
  out.push_back(check_well_formed(sc, obs));
  return out;
}

std::string format_verdict(const verdict& v) {
  return std::string{v.pass ? "PASS  " : "FAIL  "} + v.label + ": expected "
         + v.expected + "; seen " + v.seen;
}

} // namespace embedrt::scenario
