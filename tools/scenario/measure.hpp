// Reading an observation: the measures both the expectation checks and the printed
// figures use (outcomes, latencies, anchors, upstream arrivals, half-open periods) and
// how they are written for people.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tools/scenario/scenario.hpp"

namespace embedrt::scenario {

/// "ok", "hung" or the embed_errc name of a request's answer.
std::string outcome_of(const request_record& r);

/// Whether `r` belongs to `group` (empty: to any).
bool in_group(const scenario& sc, const request_record& r, const std::string& group);

/// Sorted latencies (µs) of answered requests of `group` with `outcome` ("any": all).
std::vector<int64_t> latencies(const scenario& sc, const observation& obs,
                               const std::string& group, const std::string& outcome);

/// Nearest-rank percentile of sorted values (0 when empty).
int64_t percentile_of(const std::vector<int64_t>& sorted, double p);

/// "p99", "p50", or "max" for 100.
std::string pct_name(double p);

/// When an anchor happened (µs on the mock's clock), if it did.
std::optional<int64_t> resolve(const anchor& a, const observation& obs);

/// The breaker's transitions in order, e.g. "closed->open".
std::vector<std::string> transitions(const observation& obs);

/// Upstream arrivals (µs) in [from, to), sorted.
std::vector<int64_t> arrivals(const observation& obs, int64_t from, int64_t to);

struct open_period {
  int64_t from = 0;
  int64_t to = 0;
  /// The period ended half_open->open (its trials failed).
  bool reopened = false;
  uint64_t requests = 0;
  /// Arrival offsets from `from`, µs.
  std::vector<int64_t> offsets;
};

/// From each open->half_open to the next one, or to half_open->closed, with the
/// upstream requests that arrived in it.
std::vector<open_period> half_open_periods(const observation& obs);

/// "12 ms".
std::string ms_text(int64_t us);

/// Seconds since the load started, "1.23 s".
std::string at_text(const observation& obs, int64_t t_us);

/// "a, b, ... (7 more), y, z", or "none".
std::string join(const std::vector<std::string>& xs, size_t keep_head = 8,
                 size_t keep_tail = 4);

} // namespace embedrt::scenario
