// The circuit breaker's state machine (resilience4j semantics), pure and clock-free.
//   closed --(N consecutive failures, or failure rate >= X% over the last W calls with
//            at least M calls)--> open
//   open --(open period elapsed, checked lazily on the next check)--> half_open
//   half_open --(K trial successes)--> closed (open period reset)
//   half_open --(a trial failure)--> open, open period * multiplier, capped
// Every transition increments the generation; outcomes quoting an older generation are
// ignored (a late result from before the breaker opened says nothing about now).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>

#include "config/runtime_config.hpp"
#include "messages/circuit.hpp"
#include "src/policy/clock.hpp"

namespace embedrt::policy {

struct breaker_transition {
  breaker_state from;
  breaker_state to;
  time_point at;
  /// For transitions to open: how long it stays open.
  duration open_for{0};
};

class breaker_policy {
public:
  explicit breaker_policy(const circuit_breaker_config& cfg);

  struct check_result {
    breaker_decision decision;
    uint64_t generation;
    /// For rejected_open: when it half-opens.
    time_point retry_at;
    /// Set when this check moved open -> half_open.
    std::optional<breaker_transition> transition;
  };

  /// Decides whether one call may go out now; hands out at most K trial permits while
  /// half-open.
  check_result check(time_point now);

  /// Records the outcome of a call allowed under `generation`. `wire_time` above the
  /// slow-call threshold turns a success into a failure. Returns the transition, if
  /// any.
  std::optional<breaker_transition> record(uint64_t generation, bool trial,
                                           call_result result, duration wire_time,
                                           time_point now);

  breaker_state state() const noexcept { return state_; }
  uint64_t generation() const noexcept { return generation_; }
  time_point open_until() const noexcept { return open_until_; }
  duration current_open_duration() const noexcept { return open_duration_; }

private:
  breaker_transition move_to(breaker_state to, time_point now);
  circuit_breaker_config cfg_;
  breaker_state state_ = breaker_state::closed;
  uint64_t generation_ = 0;
  uint32_t consecutive_failures_ = 0;
  /// Last `window_calls` outcomes while closed: true = failure.
  std::deque<bool> window_;
  uint32_t window_failures_ = 0;
  time_point open_until_;
  duration open_duration_;
  uint32_t trials_out_ = 0;
  uint32_t trial_successes_ = 0;
};

} // namespace embedrt::policy
