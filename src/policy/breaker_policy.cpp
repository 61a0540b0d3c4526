// The circuit breaker's state machine; see the header for the transitions.
//
// Assumptions and choices:
// * Rates are evaluated after every counted call, successes included (as resilience4j
//   does): a success that brings the window to `minimum_calls` can open the breaker
//   when the rate is already past the evidence bar.
// * `minimum_calls` above `window_calls` is treated as `window_calls`.
// * A slow call is counted as slow whether it succeeded or failed (resilience4j); it
//   is a failure only if it failed. There is no consecutive rule for slow calls.
// * While half-open, `ignored` and `cancelled` trial outcomes both hand the permit
//   back without counting; otherwise an ignored trial (say a 429) would keep a permit
//   forever and the breaker could never decide.
// * With the failure-rate rule off (`failure_rate_percent` 0), one failed trial
//   re-opens a half-open breaker and K successes close it.
// * Outcomes that do not match the state they arrive in (a trial outcome while
//   closed, a non-trial one while half-open) are ignored.
// * `retry_at` is `open_until` for `rejected_open` and `now` otherwise.
#include "src/policy/breaker_policy.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace embedrt::policy {

namespace {

duration millis(uint32_t ms) {
  return std::chrono::milliseconds{ms};
}

} // namespace

bool rate_exceeds(uint64_t bad, uint64_t n, uint32_t percent, double sigmas) {
  if (percent == 0 || n == 0)
    return false;
  if (percent >= 100)
    return bad >= n;
  if (!(sigmas > 0.0)) // exact integer comparison for plain resilience4j
    return bad * 100 >= uint64_t{percent} * n;
  auto t = percent / 100.0;
  auto nd = static_cast<double>(n);
  return static_cast<double>(bad) >= nd * t + sigmas * std::sqrt(nd * t * (1.0 - t));
}

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
  bool neutral = result == call_result::ignored || result == call_result::cancelled;
  bool failed = result == call_result::failure;
  bool slow = !neutral && cfg_.slow_call_ms > 0
              && wire_time > millis(cfg_.slow_call_ms);
  switch (state_) {
    case breaker_state::closed:
      if (trial || neutral)
        return std::nullopt;
      return record_closed(failed, slow, now);
    case breaker_state::half_open:
      if (!trial)
        return std::nullopt;
      // A trial that said nothing about health hands its permit back; one that
      // reported keeps it spent, so a half-open period sends at most K trials.
      if (neutral) {
        if (trials_out_ > 0)
          --trials_out_;
        return std::nullopt;
      }
      return record_trial(failed, slow, now);
    case breaker_state::open: break;
  }
  return std::nullopt;
}

std::optional<breaker_transition> breaker_policy::record_closed(bool failed, bool slow,
                                                                time_point now) {
  consecutive_failures_ = failed ? consecutive_failures_ + 1 : 0;
  auto capacity = std::max<uint32_t>(cfg_.window_calls, 1);
  if (window_.size() != capacity)
    window_.assign(capacity, 0);
  if (window_size_ == capacity) {
    auto old = window_[window_next_];
    window_failures_ -= old & 1u;
    window_slow_ -= (old >> 1) & 1u;
  } else {
    ++window_size_;
  }
  window_[window_next_] = static_cast<uint8_t>((failed ? 1u : 0u) | (slow ? 2u : 0u));
  window_next_ = (window_next_ + 1) % capacity;
  window_failures_ += failed ? 1 : 0;
  window_slow_ += slow ? 1 : 0;
  bool too_many_in_a_row = cfg_.consecutive_failures > 0
                           && consecutive_failures_ >= cfg_.consecutive_failures;
  auto minimum = std::min(std::max<uint32_t>(cfg_.minimum_calls, 1), capacity);
  bool enough = window_size_ >= minimum;
  bool failing = enough
                 && rate_exceeds(window_failures_, window_size_,
                                 cfg_.failure_rate_percent, cfg_.evidence_sigmas);
  bool slowing = enough && cfg_.slow_call_ms > 0
                 && rate_exceeds(window_slow_, window_size_,
                                 cfg_.slow_call_rate_percent, cfg_.evidence_sigmas);
  if (too_many_in_a_row || failing || slowing)
    return move_to(breaker_state::open, now);
  return std::nullopt;
}

std::optional<breaker_transition> breaker_policy::record_trial(bool failed, bool slow,
                                                               time_point now) {
  auto k = uint64_t{std::max<uint32_t>(cfg_.half_open_trials, 1)};
  ++trials_done_;
  trial_failures_ += failed ? 1 : 0;
  trial_slow_ += slow ? 1 : 0;
  auto left = k - std::min<uint64_t>(trials_done_, k);
  // "At or above the threshold over the K trials", once certain either way.
  auto at_or_above = [k](uint64_t bad, uint32_t percent) {
    return percent == 0 ? bad > 0 : bad * 100 >= uint64_t{percent} * k;
  };
  bool slow_rule = cfg_.slow_call_ms > 0;
  if (at_or_above(trial_failures_, cfg_.failure_rate_percent)
      || (slow_rule && at_or_above(trial_slow_, cfg_.slow_call_rate_percent)))
    return reopen(now);
  if (!at_or_above(trial_failures_ + left, cfg_.failure_rate_percent)
      && !(slow_rule && at_or_above(trial_slow_ + left, cfg_.slow_call_rate_percent)))
    return move_to(breaker_state::closed, now);
  return std::nullopt;
}

breaker_transition breaker_policy::reopen(time_point now) {
  auto max_open = millis(cfg_.max_open_duration_ms);
  auto grown = std::chrono::duration<double, std::nano>(open_duration_)
               * cfg_.open_duration_multiplier;
  open_duration_ = grown >= std::chrono::duration<double, std::nano>(max_open)
                     ? max_open
                     : std::chrono::duration_cast<duration>(grown);
  return move_to(breaker_state::open, now);
}

void breaker_policy::clear_window() {
  std::fill(window_.begin(), window_.end(), uint8_t{0});
  window_next_ = 0;
  window_size_ = 0;
  window_failures_ = 0;
  window_slow_ = 0;
  consecutive_failures_ = 0;
}

breaker_transition breaker_policy::move_to(breaker_state to, time_point now) {
  breaker_transition result{state_, to, now, duration::zero()};
  state_ = to;
  ++generation_;
  trials_out_ = 0;
  trials_done_ = 0;
  trial_failures_ = 0;
  trial_slow_ = 0;
  switch (to) {
    case breaker_state::open:
      open_until_ = now + open_duration_;
      result.open_for = open_duration_;
      break;
    case breaker_state::half_open: break;
    case breaker_state::closed:
      clear_window();
      open_duration_ = millis(cfg_.open_duration_ms);
      break;
  }
  return result;
}

} // namespace embedrt::policy
