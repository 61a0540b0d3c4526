// Checking a run's observation against a scenario's expectations, and printing what
// was measured. Pure functions of (scenario, observation): the unit tests feed them
// made-up observations.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "src/cli/scenario_runner.hpp"
#include "src/mock/mock_script.hpp"

namespace embedrt::cli::scenario {

namespace {

std::string outcome_of(const request_record& r) {
  if (r.answers == 0)
    return "hung";
  return r.code == embed_errc::none ? "ok" : to_string(r.code);
}

bool in_group(const scenario& sc, const request_record& r, const std::string& group) {
  return group.empty()
         || (r.group < sc.load.groups.size() && sc.load.groups[r.group].name == group);
}

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

std::optional<int64_t> scaled_max(const expectation& e, double scale) {
  if (!e.max)
    return std::nullopt;
  if (!e.scaled)
    return e.max;
  return static_cast<int64_t>(std::ceil(static_cast<double>(*e.max) * scale));
}

std::string scale_note(const expectation& e, double scale) {
  if (!e.scaled || scale == 1.0)
    return {};
  std::ostringstream out;
  out << " (" << e.max.value_or(0) << " x time scale " << scale << ")";
  return out.str();
}

std::string ms_text(int64_t us) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.0f ms", static_cast<double>(us) / 1000.0);
  return buf;
}

/// Seconds since the load started, "1.23 s".
std::string at_text(const observation& obs, int64_t t_us) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f s",
                static_cast<double>(t_us - obs.load_start_us) / 1e6);
  return buf;
}

/// Nearest-rank percentile of sorted values.
int64_t percentile_of(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty())
    return 0;
  auto n = sorted.size();
  auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(n)));
  rank = std::clamp<size_t>(rank, 1, n);
  return sorted[rank - 1];
}

std::string pct_name(double p) {
  if (p >= 100)
    return "max";
  std::ostringstream out;
  out << "p" << p;
  return out.str();
}

/// Latencies in microseconds of answered requests of `group` with `outcome`.
std::vector<int64_t> latencies(const scenario& sc, const observation& obs,
                               const std::string& group, const std::string& outcome) {
  std::vector<int64_t> out;
  for (auto& r : obs.requests)
    if (r.answers > 0 && in_group(sc, r, group)
        && (outcome == "any" || outcome_of(r) == outcome))
      out.push_back(r.answered_us - r.issued_us);
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<int64_t> resolve(const anchor& a, const observation& obs) {
  std::optional<int64_t> t;
  switch (a.what) {
    case anchor::kind::at: t = obs.load_start_us + a.ms * 1000; break;
    case anchor::kind::event: {
      uint32_t seen = 0;
      for (auto& ev : obs.events)
        if (a.event == to_string(ev.kind) && (a.detail.empty() || a.detail == ev.detail)
            && ++seen == a.nth) {
          t = ev.t_us;
          break;
        }
      break;
    }
    case anchor::kind::phase:
      for (size_t i = 0; i < obs.mock.phases.size(); ++i) {
        auto& p = obs.mock.phases[i];
        if (p.name != a.phase)
          continue;
        if (a.edge == anchor::phase_edge::first_request) {
          for (auto& e : obs.mock.log)
            if (e.phase == i) {
              t = e.t_us;
              break;
            }
        } else {
          auto x = a.edge == anchor::phase_edge::end ? p.ended_at_us : p.started_at_us;
          if (x >= 0)
            t = x;
        }
        break;
      }
      break;
    case anchor::kind::status: {
      uint32_t seen = 0;
      for (auto& e : obs.mock.log)
        if (e.status == a.status && ++seen == a.nth) {
          t = e.t_us;
          break;
        }
      break;
    }
  }
  if (t)
    *t += a.offset_ms * 1000;
  return t;
}

std::vector<std::string> transitions(const observation& obs) {
  std::vector<std::string> out;
  for (auto& ev : obs.events)
    if (ev.kind == event_kind::breaker_transitioned)
      out.push_back(ev.detail);
  return out;
}

std::string join(const std::vector<std::string>& xs, size_t keep_head = 8,
                 size_t keep_tail = 4) {
  std::string out;
  auto n = xs.size();
  for (size_t i = 0; i < n; ++i) {
    if (n > keep_head + keep_tail + 1 && i == keep_head) {
      out += ", ... (" + std::to_string(n - keep_head - keep_tail) + " more)";
      i = n - keep_tail - 1;
      continue;
    }
    if (!out.empty())
      out += ", ";
    out += xs[i];
  }
  return out.empty() ? "none" : out;
}

/// Upstream arrivals (µs) in [from, to).
std::vector<int64_t> arrivals(const observation& obs, int64_t from, int64_t to) {
  std::vector<int64_t> out;
  for (auto& e : obs.mock.log)
    if (e.t_us >= from && e.t_us < to)
      out.push_back(e.t_us);
  std::sort(out.begin(), out.end());
  return out;
}

struct open_period {
  int64_t from = 0;
  int64_t to = 0;
  /// The period ended half_open->open (its trials failed).
  bool reopened = false;
  uint64_t requests = 0;
  /// Arrival offsets from `from`, µs.
  std::vector<int64_t> offsets;
};

/// From each open->half_open to the next one, or to half_open->closed.
std::vector<open_period> half_open_periods(const observation& obs) {
  std::vector<open_period> out;
  const observed_event* start = nullptr;
  bool reopened = false;
  for (auto& ev : obs.events) {
    if (ev.kind != event_kind::breaker_transitioned)
      continue;
    if (ev.detail == "open->half_open") {
      if (start != nullptr)
        out.push_back({start->t_us, ev.t_us, reopened, 0, {}});
      start = &ev;
      reopened = false;
    } else if (ev.detail == "half_open->open") {
      reopened = true;
    } else if (ev.detail == "half_open->closed" && start != nullptr) {
      out.push_back({start->t_us, ev.t_us, false, 0, {}});
      start = nullptr;
    }
  }
  if (start != nullptr)
    out.push_back(
      {start->t_us, std::max(obs.load_end_us, start->t_us), reopened, 0, {}});
  for (auto& p : out)
    for (auto& e : obs.mock.log)
      if (e.t_us >= p.from && e.t_us < p.to) {
        ++p.requests;
        p.offsets.push_back(e.t_us - p.from);
      }
  return out;
}

uint32_t expected_dimension_note(const scenario& sc) {
  return sc.upstream.dimension;
}

// -- one check per expectation type -----------------------------------------------

verdict check_exactly_once(const scenario& sc, const observation& obs, double scale) {
  verdict v;
  v.label = "answered_exactly_once";
  auto slack_us = static_cast<int64_t>(static_cast<double>(sc.load.answer_slack_ms)
                                       * scale * 1000.0)
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
  return v;
}

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
               + std::to_string(expected_dimension_note(sc)) + ")";
  v.seen = std::to_string(ok - bad) + " of " + std::to_string(ok) + " well-formed";
  if (bad > 0)
    v.seen += " (e.g. " + example + ")";
  v.pass = bad == 0;
  return v;
}

verdict check_one(const scenario& sc, const observation& obs, const expectation& e,
                  double scale) {
  verdict v;
  v.label = e.label;
  auto max = scaled_max(e, scale);
  auto note = scale_note(e, scale);
  auto group_note = e.group.empty() ? std::string{} : " [group " + e.group + "]";
  switch (e.type) {
    case expectation_type::answered_exactly_once:
      return check_exactly_once(sc, obs, scale);
    case expectation_type::outcome: {
      int64_t n = 0;
      for (auto& r : obs.requests)
        if (in_group(sc, r, e.group) && (e.name == "any" || outcome_of(r) == e.name))
          ++n;
      v.label += " " + e.name + group_note;
      v.expected = range_text(e.min, e.max);
      v.seen = std::to_string(n) + " of " + std::to_string(obs.requests.size());
      v.pass = in_range(n, e.min, e.max);
      break;
    }
    case expectation_type::allowed_outcomes: {
      std::map<std::string, uint64_t> counts;
      for (auto& r : obs.requests)
        if (in_group(sc, r, e.group))
          ++counts[outcome_of(r)];
      v.label += group_note;
      v.expected = "only " + join(e.list, 100, 0);
      v.pass = true;
      std::vector<std::string> seen;
      for (auto& [name, n] : counts) {
        bool allowed = std::find(e.list.begin(), e.list.end(), name) != e.list.end();
        v.pass = v.pass && allowed;
        seen.push_back(name + " " + std::to_string(n)
                       + (allowed ? "" : " (not allowed)"));
      }
      v.seen = join(seen, 100, 0);
      break;
    }
    case expectation_type::breaker_transitions: {
      auto seen = transitions(obs);
      v.expected = join(e.list, 100, 0) + (e.exact ? " (exactly)" : " (in order)");
      v.seen = join(seen);
      if (e.exact) {
        v.pass = seen == e.list;
      } else {
        size_t k = 0;
        for (auto& x : seen)
          if (k < e.list.size() && x == e.list[k])
            ++k;
        v.pass = k == e.list.size();
      }
      break;
    }
    case expectation_type::attempts_per_text: {
      uint64_t texts = 0;
      int64_t most = 0;
      int64_t least = INT64_MAX;
      std::string most_text;
      for (auto& [text, n] : obs.mock.text_requests) {
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
      } else {
        v.seen = "max " + std::to_string(most) + " (\"" + most_text.substr(0, 40)
                 + "\"), min " + std::to_string(least) + ", over "
                 + std::to_string(texts) + " texts";
        v.pass = in_range(most, e.min, e.max) && in_range(least, e.min, e.max);
      }
      break;
    }
    case expectation_type::upstream_requests_between: {
      auto from = resolve(e.from, obs);
      auto to = resolve(e.to, obs);
      v.expected = range_text(e.min, e.max) + " upstream requests from "
                   + e.from.describe() + " to " + e.to.describe();
      if (!from || !to) {
        v.seen = "not measurable: " + (from ? e.to.describe() : e.from.describe())
                 + " did not happen";
        v.pass = false;
        break;
      }
      auto xs = arrivals(obs, *from, *to);
      v.expected += " (" + at_text(obs, *from) + " .. " + at_text(obs, *to) + ")";
      v.seen = std::to_string(xs.size());
      if (!xs.empty()) {
        std::vector<std::string> when;
        for (auto t : xs)
          when.push_back("+" + ms_text(t - *from));
        v.seen += " (at " + join(when, 5, 1) + " after the start)";
      }
      v.pass = in_range(static_cast<int64_t>(xs.size()), e.min, e.max) && *to >= *from;
      break;
    }
    case expectation_type::upstream_silence: {
      auto from = resolve(e.from, obs);
      v.expected = "no upstream request for >= " + std::to_string(e.min.value_or(0))
                   + " ms, starting within " + std::to_string(e.within_ms)
                   + " ms after " + e.from.describe();
      if (!from) {
        v.seen = "not measurable: " + e.from.describe() + " did not happen";
        v.pass = false;
        break;
      }
      auto end = std::max(obs.load_end_us, *from);
      auto xs = arrivals(obs, *from + 1, end + 1);
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
      break;
    }
    case expectation_type::time_between: {
      auto from = resolve(e.from, obs);
      auto to = resolve(e.to, obs);
      v.expected = "from " + e.from.describe() + " to " + e.to.describe() + ": "
                   + range_text(e.min, max) + " ms" + note;
      if (!from || !to) {
        v.seen = "not measurable: " + (from ? e.to.describe() : e.from.describe())
                 + " did not happen";
        v.pass = false;
        break;
      }
      auto ms = (*to - *from) / 1000;
      v.seen = std::to_string(ms) + " ms (" + at_text(obs, *from) + " .. "
               + at_text(obs, *to) + ")";
      v.pass = in_range(ms, e.min, max);
      break;
    }
    case expectation_type::latency: {
      auto xs = latencies(sc, obs, e.group, e.name);
      v.label += group_note;
      v.expected = pct_name(e.percentile) + " latency of " + e.name
                   + " answers <= " + std::to_string(max.value_or(0)) + " ms" + note;
      if (xs.empty()) {
        v.seen = "no " + e.name + " answers";
        v.pass = false;
        break;
      }
      auto p = percentile_of(xs, e.percentile);
      v.seen = ms_text(p) + " over " + std::to_string(xs.size()) + " answers (max "
               + ms_text(xs.back()) + ")";
      v.pass = p <= max.value_or(0) * 1000;
      break;
    }
    case expectation_type::latency_order: {
      auto fast = latencies(sc, obs, e.name, e.match);
      auto slow = latencies(sc, obs, e.detail, e.match);
      auto p = pct_name(e.percentile);
      v.expected = p + " latency of " + e.match + " answers: group " + e.name
                   + " below group " + e.detail;
      if (fast.empty() || slow.empty()) {
        v.seen = "no " + e.match + " answers in group "
                 + (fast.empty() ? e.name : e.detail);
        v.pass = false;
        break;
      }
      auto a = percentile_of(fast, e.percentile);
      auto b = percentile_of(slow, e.percentile);
      v.seen = e.name + " " + ms_text(a) + ", " + e.detail + " " + ms_text(b);
      v.pass = a < b;
      break;
    }
    case expectation_type::counter: {
      uint64_t value = 0;
      obs.counters.for_each([&](const char* name, uint64_t x) {
        if (e.name == name)
          value = x;
      });
      v.label += " " + e.name;
      v.expected = range_text(e.min, e.max);
      v.seen = std::to_string(value);
      v.pass = in_range(static_cast<int64_t>(value), e.min, e.max);
      break;
    }
    case expectation_type::event_count: {
      int64_t n = 0;
      for (auto& ev : obs.events)
        if (e.name == to_string(ev.kind) && (e.detail.empty() || e.detail == ev.detail))
          ++n;
      v.label += " " + e.name + (e.detail.empty() ? "" : " " + e.detail);
      v.expected = range_text(e.min, e.max);
      v.seen = std::to_string(n);
      v.pass = in_range(n, e.min, e.max);
      break;
    }
    case expectation_type::upstream_requests: {
      int64_t phase = -1;
      for (size_t i = 0; i < obs.mock.phases.size(); ++i)
        if (!e.phase.empty() && obs.mock.phases[i].name == e.phase)
          phase = static_cast<int64_t>(i);
      int64_t n = 0;
      for (auto& x : obs.mock.log)
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
      if (obs.mock.log_dropped > 0)
        v.seen += " (" + std::to_string(obs.mock.log_dropped)
                  + " dropped from the log)";
      v.pass = in_range(n, e.min, e.max) && obs.mock.log_dropped == 0;
      break;
    }
    case expectation_type::mock_connections: {
      auto n = static_cast<int64_t>(obs.mock.total.connections_accepted);
      v.expected = range_text(e.min, e.max) + " connections accepted by the mock";
      v.seen = std::to_string(n);
      v.pass = in_range(n, e.min, e.max);
      break;
    }
    case expectation_type::wall_time: {
      auto ms = (obs.load_end_us - obs.load_start_us) / 1000;
      v.expected = range_text(e.min, max)
                   + " ms from the start of the load to its "
                     "last answer"
                   + note;
      v.seen = std::to_string(ms) + " ms";
      v.pass = in_range(ms, e.min, max) && !obs.timed_out;
      break;
    }
    case expectation_type::stop_time: {
      v.expected = range_text(e.min, max) + " ms for runtime::stop" + note;
      if (!obs.stop_ms) {
        v.seen = obs.stop_hung ? "stop did not return" : "stop was not called";
        v.pass = false;
        break;
      }
      v.seen = std::to_string(*obs.stop_ms) + " ms";
      v.pass = in_range(*obs.stop_ms, e.min, max);
      break;
    }
    case expectation_type::breaker_trials_per_open_period: {
      auto periods = half_open_periods(obs);
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
        v.pass = false;
        break;
      }
      std::vector<std::string> counts;
      v.pass = true;
      for (auto& p : periods) {
        counts.push_back(std::to_string(p.requests));
        v.pass = v.pass && static_cast<int64_t>(p.requests) <= e.max.value_or(0);
      }
      v.seen = std::to_string(periods.size()) + " periods: " + join(counts, 20, 0);
      break;
    }
  }
  return v;
}

} // namespace

std::vector<verdict> check(const scenario& sc, const observation& obs,
                           double time_scale) {
  std::vector<verdict> out;
  bool listed = false;
  for (auto& e : sc.expect)
    listed = listed || e.type == expectation_type::answered_exactly_once;
  if (!listed)
    out.push_back(check_exactly_once(sc, obs, time_scale));
  for (auto& e : sc.expect)
    out.push_back(check_one(sc, obs, e, time_scale));
  out.push_back(check_well_formed(sc, obs));
  return out;
}

std::string format_verdict(const verdict& v) {
  return std::string{v.pass ? "PASS  " : "FAIL  "} + v.label + ": expected "
         + v.expected + "; seen " + v.seen;
}

std::string format_figures(const scenario& sc, const observation& obs) {
  std::ostringstream out;
  // Requests by group and outcome.
  for (size_t g = 0; g < sc.load.groups.size(); ++g) {
    std::map<std::string, uint64_t> counts;
    uint64_t n = 0;
    for (auto& r : obs.requests)
      if (r.group == g) {
        ++counts[outcome_of(r)];
        ++n;
      }
    std::vector<std::string> parts;
    for (auto& [name, k] : counts)
      parts.push_back(name + " " + std::to_string(k));
    out << "  group " << sc.load.groups[g].name << ": " << n << " requests ("
        << join(parts, 100, 0) << ")";
    std::vector<std::string> lat;
    for (auto& [name, k] : counts) {
      if (name == "hung")
        continue;
      auto xs = latencies(sc, obs, sc.load.groups[g].name, name);
      if (xs.empty())
        continue;
      lat.push_back(name + " p50 " + ms_text(percentile_of(xs, 50)) + " p99 "
                    + ms_text(percentile_of(xs, 99)) + " max " + ms_text(xs.back()));
    }
    if (!lat.empty())
      out << "; latency " << join(lat, 100, 0);
    out << "\n";
  }
  if (obs.not_issued > 0)
    out << "  not issued (after the shutdown began): " << obs.not_issued << "\n";
  // The headline: what share of the texts got vectors, how fast, at what cost.
  auto& m = obs.mock;
  {
    uint64_t texts = 0;
    uint64_t embedded = 0;
    for (auto& r : obs.requests) {
      texts += r.texts;
      if (r.answers > 0 && r.code == embed_errc::none)
        embedded += r.texts;
    }
    auto seconds = static_cast<double>(obs.load_end_us - obs.load_start_us) / 1e6;
    uint64_t most = 0;
    for (auto& kv : m.text_requests)
      most = std::max(most, kv.second);
    std::ostringstream line;
    line.setf(std::ios::fixed);
    line.precision(1);
    line << "  summary: embedded " << embedded << " of " << texts << " texts ("
         << (texts > 0
               ? 100.0 * static_cast<double>(embedded) / static_cast<double>(texts)
               : 0.0)
         << " %), " << (seconds > 0 ? static_cast<double>(embedded) / seconds : 0.0)
         << " vectors/s over " << seconds << " s, breaker opened "
         << obs.counters.breaker_opened << "x, upstream attempts per text ";
    line.precision(2);
    line << (m.text_requests.empty() ? 0.0
                                     : static_cast<double>(m.total.inputs)
                                         / static_cast<double>(m.text_requests.size()))
         << " mean, " << most << " max\n";
    out << line.str();
  }
  // The upstream.
  std::vector<std::string> statuses;
  for (auto& [status, n] : m.total.statuses)
    statuses.push_back((status == 0 ? std::string{"none"} : std::to_string(status))
                       + ": " + std::to_string(n));
  uint64_t most = 0;
  for (auto& kv : m.text_requests)
    most = std::max(most, kv.second);
  out << "  upstream: " << m.total.requests << " requests (" << join(statuses, 100, 0)
      << "), " << m.total.inputs << " inputs, " << m.total.connections_accepted
      << " connections, max " << most << " requests per text over "
      << m.text_requests.size() << " texts\n";
  if (!m.total.faults.empty()) {
    std::vector<std::string> faults;
    for (auto& [kind, n] : m.total.faults)
      faults.push_back(kind + " " + std::to_string(n));
    out << "  faults acted: " << join(faults, 100, 0) << "\n";
  }
  if (m.phases.size() > 1) {
    std::vector<std::string> phases;
    for (auto& p : m.phases) {
      auto start = p.started_at_us < 0 ? std::string{"not reached"}
                                       : at_text(obs, p.started_at_us);
      phases.push_back(p.name + " @" + start + " ("
                       + std::to_string(p.counters.requests) + " requests)");
    }
    out << "  phases: " << join(phases, 100, 0) << "\n";
  }
  // The breaker and other events.
  std::vector<std::string> breaker;
  std::map<std::string, uint64_t> events;
  for (auto& ev : obs.events) {
    if (ev.kind == event_kind::breaker_transitioned)
      breaker.push_back(ev.detail + " @" + at_text(obs, ev.t_us));
    else
      ++events[to_string(ev.kind)];
  }
  if (!breaker.empty())
    out << "  breaker: " << join(breaker, 10, 4) << "\n";
  auto periods = half_open_periods(obs);
  if (!periods.empty()) {
    std::vector<std::string> counts;
    for (auto& p : periods) {
      std::vector<std::string> when;
      for (auto t : p.offsets)
        when.push_back("+" + ms_text(t));
      counts.push_back(std::to_string(p.requests) + " [" + join(when, 4, 0) + "]");
    }
    out << "  upstream requests per half-open period (trials, after its start): "
        << join(counts, 20, 0) << "\n";
  }
  for (auto& ev : obs.events)
    if (ev.kind == event_kind::grants_paused) {
      auto after = arrivals(obs, ev.t_us, std::max(obs.load_end_us, ev.t_us) + 1);
      auto first = after.empty() ? std::string{"none"}
                                 : "+" + ms_text(after.front() - ev.t_us);
      out << "  grants_paused " << ev.detail << " @" << at_text(obs, ev.t_us)
          << ": next upstream request " << first << "\n";
    }
  if (!events.empty()) {
    std::vector<std::string> parts;
    for (auto& [name, n] : events)
      parts.push_back(name + " " + std::to_string(n));
    out << "  events: " << join(parts, 100, 0) << "\n";
  }
  std::vector<std::string> counters;
  obs.counters.for_each([&](const char* name, uint64_t x) {
    if (x > 0)
      counters.push_back(std::string{name} + " " + std::to_string(x));
  });
  out << "  counters: " << join(counters, 100, 0) << "\n";
  if (obs.stop_ms)
    out << "  stop: " << *obs.stop_ms << " ms (finished in grace "
        << obs.report.finished_in_grace << ", answered shutting_down "
        << obs.report.answered_shutting_down << ")\n";
  for (auto& note : obs.notes)
    out << "  note: " << note << "\n";
  return out.str();
}

} // namespace embedrt::cli::scenario
