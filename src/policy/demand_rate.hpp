// An exponentially weighted rate of permit requests and of their tokens (time
// constant `window`): how much a lease should cover. Shared by the shared-budget
// leases (lease_policy) and the dispatcher's local lease (dispatch/fast_path).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "src/policy/clock.hpp"

namespace embedrt::policy {

class demand_rate {
public:
  demand_rate(duration window, time_point now) : window_(window), at_(now) {}

  /// Counts one request carrying `tokens` tokens at `now`.
  void note(uint64_t tokens, time_point now) {
    auto decay = decay_to(now);
    auto tau = tau_seconds();
    requests_ = requests_ * decay + 1.0 / tau;
    tokens_ = tokens_ * decay + static_cast<double>(tokens) / tau;
    at_ = std::max(at_, now);
  }

  /// Requests per second at `now`.
  double requests_per_second(time_point now) const { return requests_ * decay_to(now); }

  /// Tokens per second at `now`.
  double tokens_per_second(time_point now) const { return tokens_ * decay_to(now); }

private:
  double tau_seconds() const {
    return std::max(std::chrono::duration<double>(window_).count(), 1e-3);
  }
  double decay_to(time_point now) const {
    auto dt = now > at_ ? std::chrono::duration<double>(now - at_).count() : 0.0;
    return std::exp(-dt / tau_seconds());
  }

  duration window_;
  double requests_ = 0;
  double tokens_ = 0;
  time_point at_;
};

} // namespace embedrt::policy
