// Erlang/OTP restart intensity: more than `max_restarts` within `window` means the
// failure is not transient and must escalate.
#pragma once

#include <cstdint>
#include <deque>

#include "src/policy/clock.hpp"

namespace embedrt::policy {

class restart_intensity {
public:
  restart_intensity(uint32_t max_restarts, duration window);

  /// Records a restart; returns false when this one exceeds the intensity (escalate).
  bool record(time_point now);

  /// Restarts within the window ending at `now`.
  uint32_t recent(time_point now);

  void reset() { stamps_.clear(); }

private:
  uint32_t max_restarts_;
  duration window_;
  std::deque<time_point> stamps_;
};

} // namespace embedrt::policy
