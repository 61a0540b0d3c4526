// The measured figures printed after the verdicts: requests by group and outcome, the
// upstream's view, the breaker, events and counters. A pure function of the
// observation, like the checks.
#include <algorithm>
#include <map>
#include <sstream>

#include "tools/scenario/measure.hpp"
#include "tools/scenario/scenario.hpp"

namespace embedrt::scenario {

namespace {

/// Requests by group and outcome, with their latencies.
void group_figures(const scenario& sc, const observation& obs, std::ostream& out) {
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
}

/// The headline: what share of the texts got vectors, how fast, at what cost.
void summary_figures(const observation& obs, std::ostream& out) {
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
}

/// What the mock saw: statuses, connections, faults, phases.
void upstream_figures(const observation& obs, std::ostream& out) {
  auto& m = obs.mock;
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
}

/// The breaker's transitions, its half-open periods, pauses and other events.
void event_figures(const observation& obs, std::ostream& out) {
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
}

} // namespace

std::string format_figures(const scenario& sc, const observation& obs) {
  std::ostringstream out;
  group_figures(sc, obs, out);
  summary_figures(obs, out);
  upstream_figures(obs, out);
  event_figures(obs, out);
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

} // namespace embedrt::scenario
