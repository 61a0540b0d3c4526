// The circuit breaker's state machine; see the header for the transitions.
//
// Assumptions and choices:
// * The failure rate is evaluated after every counted call, successes included (as
//   resilience4j does): a success that brings the window to `minimum_calls` can open
//   the breaker when the rate is already at the threshold.
// * `minimum_calls` above `window_calls` is treated as `window_calls`.
// * While half-open, `ignored` and `cancelled` trial outcomes both hand the permit
//   back without counting; otherwise an ignored trial (say a 429) would keep a permit
//   forever and the breaker could never close.
// * Outcomes that do not match the state they arrive in (a trial outcome while
//   closed, a non-trial one while half-open) are ignored.
// * `retry_at` is `open_until` for `rejected_open` and `now` otherwise.
#include "src/policy/breaker_policy.hpp"

#include <algorithm>
#include <chrono>

namespace embedrt::policy {

namespace {

duration millis(uint32_t ms) {
  return std::chrono::milliseconds{ms};
}

} // namespace

breaker_policy::breaker_policy(const circuit_breaker_config& cfg)
  : cfg_(cfg), open_duration_(millis(cfg.open_duration_ms)) {
  // nop
}

breaker_policy::check_result breaker_policy::check(time_point now) {
  check_result result{breaker_decision::allowed, generation_, now, std::nullopt};
  if (state_ == breaker_state::open) {
    if (now < open_until_) {
      result.decision = breaker_decision::rejected_open;
      result.retry_at = open_until_;
      return result;
    }
    result.transition = move_to(breaker_state::half_open, now);
    result.generation = generation_;
  }
  if (state_ == breaker_state::half_open) {
    if (trials_out_ >= std::max<uint32_t>(cfg_.half_open_trials, 1)) {
      result.decision = breaker_decision::rejected_half_open_busy;
      return result;
    }
    ++trials_out_;
    result.decision = breaker_decision::allowed_trial;
  }
  return result;
}

std::optional<breaker_transition>
breaker_policy::record(uint64_t generation, bool trial, call_result result,
                       duration wire_time, time_point now) {
  if (generation != generation_)
    return std::nullopt;
  if (result == call_result::success && cfg_.slow_call_ms > 0
      && wire_time > millis(cfg_.slow_call_ms))
    result = call_result::failure;
  switch (state_) {
    case breaker_state::closed: {
      if (trial || result == call_result::ignored || result == call_result::cancelled)
        return std::nullopt;
      bool failed = result == call_result::failure;
      consecutive_failures_ = failed ? consecutive_failures_ + 1 : 0;
      window_.push_back(failed);
      window_failures_ += failed ? 1 : 0;
      if (window_.size() > std::max<uint32_t>(cfg_.window_calls, 1)) {
        window_failures_ -= window_.front() ? 1 : 0;
        window_.pop_front();
      }
      bool too_many_in_a_row = cfg_.consecutive_failures > 0
                               && consecutive_failures_ >= cfg_.consecutive_failures;
      auto minimum = std::min(std::max<uint32_t>(cfg_.minimum_calls, 1),
                              std::max<uint32_t>(cfg_.window_calls, 1));
      bool rate_too_high = cfg_.failure_rate_percent > 0 && window_.size() >= minimum
                           && uint64_t{window_failures_} * 100
                                >= uint64_t{cfg_.failure_rate_percent} * window_.size();
      if (too_many_in_a_row || rate_too_high)
        return move_to(breaker_state::open, now);
      return std::nullopt;
    }
    case breaker_state::half_open: {
      if (!trial)
        return std::nullopt;
      // A trial that said nothing about health hands its permit back; one that
      // succeeded keeps it spent, so a half-open period sends at most K trials.
      if (result == call_result::ignored || result == call_result::cancelled) {
        if (trials_out_ > 0)
          --trials_out_;
        return std::nullopt;
      }
      if (result == call_result::success) {
        if (++trial_successes_ >= std::max<uint32_t>(cfg_.half_open_trials, 1))
          return move_to(breaker_state::closed, now);
        return std::nullopt;
      }
      if (result == call_result::failure) {
        auto max_open = millis(cfg_.max_open_duration_ms);
        auto grown = std::chrono::duration<double, std::nano>(open_duration_)
                     * cfg_.open_duration_multiplier;
        open_duration_ = grown >= std::chrono::duration<double, std::nano>(max_open)
                           ? max_open
                           : std::chrono::duration_cast<duration>(grown);
        return move_to(breaker_state::open, now);
      }
      return std::nullopt;
    }
    case breaker_state::open: break;
  }
  return std::nullopt;
}

breaker_transition breaker_policy::move_to(breaker_state to, time_point now) {
  breaker_transition result{state_, to, now, duration::zero()};
  state_ = to;
  ++generation_;
  trials_out_ = 0;
  trial_successes_ = 0;
  switch (to) {
    case breaker_state::open:
      open_until_ = now + open_duration_;
      result.open_for = open_duration_;
      break;
    case breaker_state::half_open: break;
    case breaker_state::closed:
      consecutive_failures_ = 0;
      window_.clear();
      window_failures_ = 0;
      open_duration_ = millis(cfg_.open_duration_ms);
      break;
  }
  return result;
}

} // namespace embedrt::policy
