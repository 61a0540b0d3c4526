// Erlang/OTP restart intensity.
//
// Assumptions and choices:
// * A restart `window` or more ago is outside the window (OTP counts restarts within
//   the last `Period` seconds).
// * A restart that exceeds the intensity is still recorded; the caller escalates and
//   usually calls `reset()`.
#include "src/policy/restart_intensity.hpp"

namespace embedrt::policy {

restart_intensity::restart_intensity(uint32_t max_restarts, duration window)
  : max_restarts_(max_restarts), window_(window) {
  // nop
}

bool restart_intensity::record(time_point now) {
  stamps_.push_back(now);
  return recent(now) <= max_restarts_;
}

uint32_t restart_intensity::recent(time_point now) {
  while (!stamps_.empty() && now - stamps_.front() >= window_)
    stamps_.pop_front();
  return static_cast<uint32_t>(stamps_.size());
}

} // namespace embedrt::policy
