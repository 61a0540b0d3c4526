// Retry decisions: retry after a delay or give up with the caller's error.
//
// Checks, in order: what failed (never-retryable outcomes give up at once), attempts
// left, the delay (Retry-After or full-jitter backoff, drawn only when needed), the
// Retry-After cap, the deadline, and last the budget, so a retry is only charged to
// the budget when it is really going to happen.
//
// Assumptions and choices:
// * A non-retryable 5xx (501, 505, ...) gives up `upstream_unavailable` after one
//   attempt; any other non-retryable status (4xx, or a stray 1xx/3xx) gives up
//   `upstream_rejected`.
// * The `max_retry_after_ms` cap applies to every Retry-After, not just a 429's: a 503
//   asking for more than the cap gives up `upstream_unavailable` instead of waiting.
// * When the attempts are used up, that is reported even if the Retry-After would
//   also have been above the cap.
#include "src/policy/retry_policy.hpp"

#include <chrono>
#include <random>
#include <string>

namespace embedrt::policy {

namespace {

duration millis(uint32_t ms) {
  return std::chrono::milliseconds{ms};
}

/// "120 s" for whole seconds, else "1500 ms" (or "250 us" below a millisecond).
std::string describe(duration d) {
  using namespace std::chrono;
  if (d % seconds{1} == duration::zero())
    return std::to_string(duration_cast<seconds>(d).count()) + " s";
  if (d % milliseconds{1} == duration::zero())
    return std::to_string(duration_cast<milliseconds>(d).count()) + " ms";
  return std::to_string(duration_cast<microseconds>(d).count()) + " us";
}

/// The last failure, for people: "HTTP 503: overloaded" or "timed_out: ...".
std::string describe(const http_call_result& result) {
  std::string out;
  if (result.status == attempt_status::http_error)
    out = "HTTP " + std::to_string(result.http_status);
  else
    out = to_string(result.status);
  if (!result.detail.empty()) {
    out += ": ";
    out += result.detail;
  }
  return out;
}

bool is_429(const http_call_result& result) {
  return result.status == attempt_status::http_error && result.http_status == 429;
}

/// The error the caller gets when no (further) retry happens for a retryable failure.
embed_errc exhausted_error(const http_call_result& result) {
  if (is_429(result))
    return embed_errc::rate_limited;
  if (result.status == attempt_status::worker_failed)
    return embed_errc::worker_failed;
  if (result.status == attempt_status::too_large
      || result.status == attempt_status::bad_response)
    return embed_errc::bad_response;
  return embed_errc::upstream_unavailable;
}

retry_decision give_up(embed_errc error, std::string reason) {
  retry_decision result;
  result.error = error;
  result.reason = std::move(reason);
  return result;
}

uint64_t seed_or_random(uint64_t seed) {
  if (seed != 0)
    return seed;
  std::random_device device;
  return (uint64_t{device()} << 32) ^ uint64_t { device() };
}

} // namespace

bool is_retryable_status(uint16_t status) noexcept {
  switch (status) {
    case 408:
    case 409:
    case 429:
    case 500:
    case 502:
    case 503:
    case 504: return true;
    default: return false;
  }
}

call_result classify_for_breaker(attempt_status status, uint16_t http_status) noexcept {
  switch (status) {
    case attempt_status::succeeded: return call_result::success;
    case attempt_status::http_error:
      return http_status >= 500 ? call_result::failure : call_result::ignored;
    case attempt_status::connect_failed:
    case attempt_status::timed_out:
    case attempt_status::connection_lost:
    case attempt_status::transport_error:
    // A 2xx whose body cannot be used as a whole (unparseable, truncated, wrong count
    // or index) is a failed call like a 5xx. Bad single items never get here.
    case attempt_status::bad_response: return call_result::failure;
    case attempt_status::worker_failed:
      // A crashed worker says nothing about the upstream's health.
      return call_result::ignored;
    case attempt_status::expired: return call_result::cancelled;
    case attempt_status::tls_rejected: return call_result::failure;
    case attempt_status::too_large: return call_result::ignored;
  }
  return call_result::ignored;
}

retry_policy::retry_policy(const retry_config& retry, const request_config& request,
                           uint64_t seed)
  : cfg_(retry), min_attempt_(millis(request.min_attempt_ms)),
    backoff_(millis(retry.base_delay_ms), retry.multiplier, millis(retry.max_delay_ms),
             backoff_policy::jitter_mode::full),
    budget_(static_cast<double>(retry.budget_percent) / 100.0,
            static_cast<double>(retry.budget_min_per_second),
            millis(retry.budget_window_ms)),
    rng_(seed_or_random(seed)) {
  // nop
}

void retry_policy::on_first_attempt(time_point now) {
  budget_.record_first_attempt(now);
}

retry_decision retry_policy::decide(const http_call_result& result,
                                    uint32_t attempts_made, time_point now,
                                    time_point deadline) {
  // -- outcomes that are never retried ---------------------------------------------
  switch (result.status) {
    case attempt_status::succeeded: return retry_decision{};
    case attempt_status::expired:
      return give_up(embed_errc::deadline_exceeded, "deadline passed before attempt "
                                                      + std::to_string(attempts_made)
                                                      + " could start");
    case attempt_status::tls_rejected:
      return give_up(embed_errc::upstream_unavailable, describe(result));
    case attempt_status::http_error:
      if (!is_retryable_status(result.http_status))
        return give_up(result.http_status >= 500 ? embed_errc::upstream_unavailable
                                                 : embed_errc::upstream_rejected,
                       "upstream answered HTTP " + std::to_string(result.http_status)
                         + " (not retryable)"
                         + (result.detail.empty() ? "" : ": " + result.detail));
      break;
    default: break;
  }
  // -- attempts ----------------------------------------------------------------------
  auto error = exhausted_error(result);
  if (attempts_made >= cfg_.max_attempts)
    return give_up(error, "gave up after " + std::to_string(attempts_made)
                            + (attempts_made == 1 ? " attempt" : " attempts")
                            + "; last: " + describe(result));
  // -- delay
  // ---------------------------------------------------------------------------
  retry_decision decision;
  decision.retry = true;
  if (result.retry_after >= duration::zero()) {
    auto cap = millis(cfg_.max_retry_after_ms);
    if (result.retry_after > cap)
      return give_up(error, "Retry-After " + describe(result.retry_after)
                              + " exceeds the " + describe(cap)
                              + " cap; last: " + describe(result));
    decision.delay = result.retry_after;
    decision.from_retry_after = true;
  } else {
    decision.delay = backoff_.delay(attempts_made, rng_);
  }
  // -- deadline
  // ------------------------------------------------------------------------
  auto next = attempts_made + 1;
  if (now + decision.delay > deadline - min_attempt_) {
    auto left = deadline > now ? deadline - now : duration::zero();
    // A broken body stays the caller's error: it says more than the deadline.
    return give_up(result.status == attempt_status::bad_response
                     ? embed_errc::bad_response
                     : embed_errc::deadline_exceeded,
                   "no time left for attempt " + std::to_string(next) + " (retry in "
                     + describe(decision.delay) + ", " + describe(left)
                     + " left before the deadline); last: " + describe(result));
  }
  // -- budget
  // --------------------------------------------------------------------------
  if (!budget_.try_spend(now)) {
    auto out = give_up(error, "retry budget exhausted, attempt " + std::to_string(next)
                                + " not made; last: " + describe(result));
    out.budget_exhausted = true;
    return out;
  }
  return decision;
}

} // namespace embedrt::policy
