// The circuit breaker's state machine (resilience4j semantics), pure and clock-free.
//   closed --(evidence: the failure or slow-call rate over the last W calls, with at
//            least M calls, at or above its threshold by more than chance; or N
//            consecutive failures)--> open
//   open --(open period elapsed, checked lazily on the next check)--> half_open
//   half_open --(K trials: failure and slow-call rates below the thresholds)--> closed
//               (open period reset)
//   half_open --(K trials: a rate at or above its threshold)--> open, open period *
//               multiplier, capped
// "By more than chance": over n calls and a threshold t, the rule asks for
// failures >= n*t + z*sqrt(n*t*(1-t)) (z = `evidence_sigmas`; 0 is plain
// resilience4j). A window of calls failing at random below t essentially never gets
// there, while a high rate does at `minimum_calls`.
// A half-open period decides as soon as its K trials' rate is certain (enough
// failures to reach the threshold whatever the rest do, or enough successes to stay
// below it), else when all K have reported.
// Every transition increments the generation; outcomes quoting an older generation are
// ignored (a late result from before the breaker opened says nothing about now).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "messages/circuit.hpp"
#include "src/policy/clock.hpp"
#include <embedrt/runtime_config.hpp>

namespace embedrt::policy {

struct breaker_transition {
  breaker_state from;
  breaker_state to;
  time_point at;
  /// For transitions to open: how long it stays open.
  duration open_for{0};
};

/// Whether `bad` of `n` calls are evidence of a rate at or above `percent`:
/// bad >= n*t + sigmas*sqrt(n*t*(1-t)) with t = percent / 100. Pure; exposed for
/// tests and documentation.
bool rate_exceeds(uint64_t bad, uint64_t n, uint32_t percent, double sigmas);

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
  /// slow-call threshold makes it a slow call (counted by the slow-call rule, whether
  /// it succeeded or failed). Returns the transition, if any.
  std::optional<breaker_transition> record(uint64_t generation, bool trial,
                                           call_result result, duration wire_time,
                                           time_point now);

  breaker_state state() const noexcept { return state_; }
  uint64_t generation() const noexcept { return generation_; }
  time_point open_until() const noexcept { return open_until_; }
  duration current_open_duration() const noexcept { return open_duration_; }

private:
  std::optional<breaker_transition> record_closed(bool failed, bool slow,
                                                  time_point now);
  std::optional<breaker_transition> record_trial(bool failed, bool slow,
                                                 time_point now);
  breaker_transition reopen(time_point now);
  breaker_transition move_to(breaker_state to, time_point now);
  void clear_window();

  circuit_breaker_config cfg_;
  breaker_state state_ = breaker_state::closed;
  uint64_t generation_ = 0;
  uint32_t consecutive_failures_ = 0;
  /// Ring buffer of the last `window_calls` outcomes while closed: bit 0 failure,
  /// bit 1 slow. Allocated on the first counted call.
  std::vector<uint8_t> window_;
  uint32_t window_next_ = 0;
  uint32_t window_size_ = 0;
  uint32_t window_failures_ = 0;
  uint32_t window_slow_ = 0;
  time_point open_until_;
  duration open_duration_;
  /// Half-open: permits handed out, and the outcomes of this period's trials.
  uint32_t trials_out_ = 0;
  uint32_t trials_done_ = 0;
  uint32_t trial_failures_ = 0;
  uint32_t trial_slow_ = 0;
};

} // namespace embedrt::policy
