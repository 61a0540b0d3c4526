#include "tools/scenario/measure.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace embedrt::scenario {

std::string outcome_of(const request_record& r) {
  if (r.answers == 0)
    return "hung";
  return r.code == embed_errc::none ? "ok" : to_string(r.code);
}

bool in_group(const scenario& sc, const request_record& r, const std::string& group) {
  return group.empty()
         || (r.group < sc.load.groups.size() && sc.load.groups[r.group].name == group);
}

std::string ms_text(int64_t us) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.0f ms", static_cast<double>(us) / 1000.0);
  return buf;
}

std::string at_text(const observation& obs, int64_t t_us) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f s",
                static_cast<double>(t_us - obs.load_start_us) / 1e6);
  return buf;
}

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

std::string join(const std::vector<std::string>& xs, size_t keep_head,
                 size_t keep_tail) {
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

std::vector<int64_t> arrivals(const observation& obs, int64_t from, int64_t to) {
  std::vector<int64_t> out;
  for (auto& e : obs.mock.log)
    if (e.t_us >= from && e.t_us < to)
      out.push_back(e.t_us);
  std::sort(out.begin(), out.end());
  return out;
}

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

} // namespace embedrt::scenario
