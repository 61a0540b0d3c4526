// Leases of a shared budget. Assumptions and choices:
// * Demand is an exponentially weighted rate of permit requests (time constant
//   `demand_window`); a lease asks for `rate * horizon` plus what is queued, at most
//   the global rate times the horizon (one process never hoards the refill of others).
// * A call is made when the lease falls under half its target, when permits wait,
//   when a signal is pending (a 429 pause is due at once), when unused lease is older
//   than `ttl` (it goes back), and at least every `horizon` while there is demand, so
//   a pause set by another process reaches this one within about a horizon.
// * Short of budget, a process asks again when the store says a request will be
//   there, plus a random 0-50% of that wait (so the processes waiting take turns).
// * One call at a time. An answer after `call_timeout` is stale: it changes no mode,
//   but what the store granted with it is kept (a lease is never lost).
// * Any failure (error, timeout) falls back at once and sets the lease aside (it is
//   not used by the local share; it is used on rejoin or given back); probes then
//   follow a backoff from `retry_min` to `retry_max` (±20% jitter), and the first good
//   answer rejoins. A pause travels again after a failure (it is idempotent: a max);
//   usage reconciled during a failure is not resent.
#include "src/policy/lease_policy.hpp"

#include <algorithm>
#include <cmath>

namespace embedrt::policy {

namespace {

double seconds(duration d) {
  return std::chrono::duration<double>(d).count();
}

int64_t to_ms(duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

} // namespace

lease_policy::lease_policy(const lease_settings& settings, uint64_t seed,
                           time_point now)
  : settings_(settings), rng_(seed),
    backoff_(settings.retry_min, 2.0, std::max(settings.retry_min, settings.retry_max),
             backoff_policy::jitter_mode::proportional, 0.2),
    lease_at_(now), sent_at_(now), next_ask_at_(now), last_sent_(now),
    paused_until_(now), demand_(settings.demand_window, now) {
  // nop
}

double lease_policy::demand_per_second(time_point now) const {
  return demand_.requests_per_second(now);
}

void lease_policy::note_demand(uint32_t tokens, time_point now) {
  demand_.note(tokens, now);
}

duration lease_policy::try_acquire(uint32_t tokens, time_point now) {
  if (paused_until_ > now)
    return paused_until_ - now;
  bool need_requests = settings_.requests_per_minute > 0;
  bool need_tokens = settings_.tokens_per_minute > 0 && tokens > 0;
  if ((need_requests && held_requests_ < 1)
      || (need_tokens && held_tokens_ < static_cast<int64_t>(tokens)))
    return std::max(settings_.horizon, duration{1});
  if (need_requests)
    --held_requests_;
  if (need_tokens)
    held_tokens_ -= tokens;
  return duration::zero();
}

void lease_policy::note_usage(uint32_t reserved_tokens, int64_t actual_tokens) {
  if (actual_tokens < 0 || settings_.tokens_per_minute == 0)
    return;
  // Bounded: one delta is at most ~4e9, and the sum is sent within a horizon.
  auto delta = actual_tokens - static_cast<int64_t>(reserved_tokens);
  pending_usage_ = std::clamp<int64_t>(pending_usage_ + delta, -(int64_t{1} << 50),
                                       int64_t{1} << 50);
}

void lease_policy::note_pause(duration pause, time_point now) {
  if (pause <= duration::zero())
    return;
  paused_until_ = std::max(paused_until_, now + pause);
  pending_pause_ms_ = std::max(pending_pause_ms_, std::max<int64_t>(1, to_ms(pause)));
  // A pause must reach the others at once, backoff or not (unless in fallback).
  if (mode_ == mode::shared)
    next_ask_at_ = std::min(next_ask_at_, now);
}

void lease_policy::note_headers(const rate_limit_headers& headers) {
  if (headers.remaining_requests < 0 && headers.remaining_tokens < 0)
    return;
  pending_headers_ = headers;
}

bool lease_policy::signals_pending() const {
  return pending_usage_ != 0 || pending_pause_ms_ > 0 || pending_headers_.has_value();
}

int64_t lease_policy::low_watermark(double rate_per_second, time_point) const {
  return static_cast<int64_t>(
    std::ceil(rate_per_second * seconds(settings_.horizon) / 2));
}

std::optional<shared_budget_ask> lease_policy::next_ask(time_point now,
                                                        uint64_t waiting_requests,
                                                        uint64_t waiting_tokens) {
  if (in_flight_ || now < next_ask_at_)
    return std::nullopt;
  auto horizon_s = seconds(settings_.horizon);
  auto rate_r = demand_.requests_per_second(now);
  auto rate_t = demand_.tokens_per_second(now);
  bool limited_r = settings_.requests_per_minute > 0;
  bool limited_t = settings_.tokens_per_minute > 0;
  bool expired = (held_requests_ > 0 || held_tokens_ > 0)
                 && now - lease_at_ >= settings_.ttl;
  bool active = rate_r * horizon_s >= 0.5 || waiting_requests > 0;
  bool due = mode_ == mode::fallback || waiting_requests > 0 || signals_pending()
             || expired || (active && now - last_sent_ >= settings_.horizon)
             || (limited_r && held_requests_ < low_watermark(rate_r, now))
             || (limited_t && held_tokens_ < low_watermark(rate_t, now));
  if (!due)
    return std::nullopt;
  shared_budget_ask ask;
  if (expired) {
    ask.return_requests = held_requests_;
    ask.return_tokens = held_tokens_;
    held_requests_ = 0;
    held_tokens_ = 0;
  }
  auto cap = [&](double per_minute, double floor) {
    return std::max(floor, std::ceil(per_minute / 60.0 * horizon_s));
  };
  if (limited_r) {
    auto target = std::ceil(rate_r * horizon_s) + static_cast<double>(waiting_requests);
    target = std::min(target,
                      cap(static_cast<double>(settings_.requests_per_minute), 1.0));
    ask.want_requests = std::max<int64_t>(static_cast<int64_t>(target) - held_requests_,
                                          waiting_requests > 0 ? 1 : 0);
  }
  if (limited_t) {
    auto waiting = static_cast<double>(std::min<uint64_t>(waiting_tokens, 1ull << 40));
    auto target = std::ceil(rate_t * horizon_s) + waiting;
    // Never below what the permits waiting need, or the head could never be granted.
    target = std::min(target,
                      cap(static_cast<double>(settings_.tokens_per_minute), waiting));
    ask.want_tokens = std::max<int64_t>(static_cast<int64_t>(target) - held_tokens_, 0);
  }
  ask.usage_tokens = pending_usage_;
  ask.pause_ms = pending_pause_ms_;
  if (pending_headers_) {
    auto ms = [](caf::timespan d) { return d.count() < 0 ? int64_t{-1} : to_ms(d); };
    ask.remaining_requests = pending_headers_->remaining_requests;
    ask.reset_requests_ms = ms(pending_headers_->reset_requests);
    ask.remaining_tokens = pending_headers_->remaining_tokens;
    ask.reset_tokens_ms = ms(pending_headers_->reset_tokens);
  }
  pending_usage_ = 0;
  pending_pause_ms_ = 0;
  pending_headers_.reset();
  ask.seq = ++seq_;
  in_flight_ = true;
  sent_at_ = now;
  last_sent_ = now;
  asked_requests_ = ask.want_requests;
  asked_tokens_ = ask.want_tokens;
  // Remember the pause until the answer: a failed call sends it again.
  pending_pause_sent_ = ask.pause_ms;
  return ask;
}

lease_policy::change lease_policy::fail(std::string why, time_point now) {
  in_flight_ = false;
  ++failures_;
  ++failed_calls_;
  last_error_ = std::move(why);
  next_ask_at_ = now + backoff_.delay(failures_, rng_);
  pending_pause_ms_ = std::max(pending_pause_ms_, pending_pause_sent_);
  pending_pause_sent_ = 0;
  if (mode_ == mode::fallback)
    return change::none;
  mode_ = mode::fallback;
  return change::fell_back;
}

lease_policy::change lease_policy::on_answer(const shared_budget_grant& answer,
                                             time_point now) {
  if (!in_flight_ || answer.seq != seq_) {
    // Stale (past its deadline): what the store granted with it is still this
    // process's, so keep it (used on rejoin, or given back after the ttl).
    if (answer.ok && answer.seq <= seq_) {
      held_requests_ += std::clamp<int64_t>(answer.requests, 0, int64_t{1} << 40);
      held_tokens_ += std::clamp<int64_t>(answer.tokens, 0, int64_t{1} << 50);
      lease_at_ = now;
    }
    return change::none;
  }
  if (!answer.ok)
    return fail(answer.error.empty() ? "store error" : answer.error, now);
  in_flight_ = false;
  failures_ = 0;
  last_error_.clear();
  pending_pause_sent_ = 0;
  auto requests = std::clamp<int64_t>(answer.requests, 0, int64_t{1} << 40);
  auto tokens = std::clamp<int64_t>(answer.tokens, 0, int64_t{1} << 50);
  held_requests_ += requests;
  held_tokens_ += tokens;
  if (requests > 0 || tokens > 0)
    lease_at_ = now;
  auto pause_ms = std::clamp<int64_t>(answer.pause_ms, 0, 86400000);
  if (pause_ms > 0)
    paused_until_ = std::max(paused_until_, now + std::chrono::milliseconds{pause_ms});
  bool short_of = requests < asked_requests_ || tokens < asked_tokens_;
  if (short_of) {
    // Ask again when the store says something will be there (within a horizon),
    // plus up to half of that at random: processes short of budget would otherwise
    // poll in lockstep and the fastest would win every refill.
    auto retry = std::chrono::microseconds{
      std::clamp<int64_t>(answer.retry_us, 1000, 86400000000)};
    std::uniform_real_distribution<double> extra{0.0, 0.5};
    auto wait = std::min<duration>(retry, settings_.horizon);
    wait += duration{
      static_cast<int64_t>(static_cast<double>(wait.count()) * extra(rng_))};
    next_ask_at_ = now + wait;
  } else {
    next_ask_at_ = now;
  }
  if (mode_ == mode::shared)
    return change::none;
  mode_ = mode::shared;
  return change::rejoined;
}

lease_policy::change lease_policy::on_tick(time_point now) {
  if (in_flight_ && now - sent_at_ >= settings_.call_timeout)
    return fail(
      "no answer within " + std::to_string(to_ms(settings_.call_timeout)) + " ms", now);
  return change::none;
}

time_point lease_policy::next_wakeup(time_point now, uint64_t waiting_requests) const {
  if (in_flight_)
    return std::max(sent_at_ + settings_.call_timeout, now + duration{1});
  // When a call may become due; none is sent before `next_ask_at_` whatever the
  // reason (so a timer never fires only to find nothing to do).
  auto result = time_point::max();
  if (mode_ == mode::fallback || waiting_requests > 0 || signals_pending())
    result = now;
  if (held_requests_ > 0 || held_tokens_ > 0)
    result = std::min(result, lease_at_ + settings_.ttl);
  if (demand_per_second(now) * seconds(settings_.horizon) >= 0.5)
    result = std::min(result, last_sent_ + settings_.horizon);
  if (result == time_point::max())
    return result;
  return std::max({result, next_ask_at_, now + duration{1}});
}

} // namespace embedrt::policy
