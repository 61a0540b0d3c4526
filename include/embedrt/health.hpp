// Readiness as a host's probe sees it (runtime::health()).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace embedrt::observability {

enum class health_status : uint8_t {
  /// Accepting work, nothing known to be wrong.
  ready = 0,
  /// Accepting work, but some of it will wait or fail: a breaker is open, the rate
  /// limiter is paused by a 429, workers are restarting.
  degraded,
  /// Refusing work: supervision gave up or paused the pool, or the runtime is stopping.
  unavailable,
};

const char* to_string(health_status x);

struct health_report {
  health_status status = health_status::ready;
  /// Why it is not ready, for people (no secrets: built from fixed texts, model names
  /// and counts).
  std::vector<std::string> reasons;
  /// {"status":"degraded","reasons":["..."]}
  std::string to_json() const;
};

} // namespace embedrt::observability
