// Choices:
// * A lease asks for twice the demand of a horizon (it is asked for again when half
//   spent), at least one permit, at most `max_lease_requests`; tokens likewise, at
//   least enough for one average request. Below `min_lease_demand` permits per horizon
//   no lease is asked for (the slow path costs little at that rate).
// * An empty answer (paused, permits queued, buckets empty) holds the next ask for one
//   horizon; so does a lost request.
// * A replaced lease is closed when its successor arrives (it stays usable while the
//   request is in flight, so the fast path never stalls on a round trip).
#include "src/dispatch/fast_path.hpp"

#include <algorithm>
#include <cmath>

namespace embedrt::dispatch {

namespace {

double seconds(policy::duration d) {
  return std::chrono::duration<double>(d).count();
}

} // namespace

permit_lease_holder::permit_lease_holder(const fast_path_settings& settings,
                                         policy::time_point now)
  : settings_(settings), demand_(settings.demand_window, now), retry_at_(now) {
  // nop
}

bool permit_lease_holder::try_take(uint32_t tokens, policy::time_point now) {
  demand_.note(tokens, now);
  if (current_.id == 0 || now >= current_.expires
      || used_.requests >= current_.requests)
    return false;
  if (current_.tokens != unlimited_tokens
      && current_.tokens - used_.tokens < static_cast<uint64_t>(tokens))
    return false;
  ++used_.requests;
  used_.tokens += tokens;
  ++taken_;
  return true;
}

void permit_lease_holder::expire(policy::time_point now) {
  if (current_.id != 0 && now >= current_.expires)
    close_current();
}

void permit_lease_holder::drop(uint64_t id) {
  // A lease asked for before the drop may come from before the pause: not used.
  if (in_flight_)
    discard_answer_ = true;
  if (current_.id == 0 || (id != 0 && id != current_.id))
    return;
  close_current();
}

void permit_lease_holder::close_current() {
  if (current_.id == 0)
    return;
  used_.lease = current_.id;
  closed_.push_back(used_);
  current_ = permit_lease{};
  used_ = lease_usage{};
}

std::vector<lease_usage> permit_lease_holder::take_closed() {
  auto result = std::move(closed_);
  closed_.clear();
  return result;
}

std::optional<lease_request> permit_lease_holder::next_request(policy::time_point now) {
  if (!settings_.leases || in_flight_ || now < retry_at_)
    return std::nullopt;
  expire(now);
  auto horizon = seconds(settings_.lease_horizon);
  auto rate_r = demand_.requests_per_second(now);
  if (rate_r * horizon < settings_.min_lease_demand)
    return std::nullopt;
  if (current_.id != 0) {
    bool low_requests = (current_.requests - used_.requests) * 2 < current_.requests;
    bool low_tokens = current_.tokens != unlimited_tokens
                      && (current_.tokens - used_.tokens) * 2 < current_.tokens;
    if (!low_requests && !low_tokens)
      return std::nullopt;
  }
  auto want_r = std::clamp(
    std::ceil(2 * rate_r * horizon), 1.0,
    static_cast<double>(std::max(settings_.max_lease_requests, uint32_t{1})));
  auto per_request = demand_.tokens_per_second(now) / std::max(rate_r, 1e-9);
  auto want_t = std::ceil(want_r * per_request);
  lease_request req;
  req.closed = take_closed();
  req.requests = static_cast<uint32_t>(want_r);
  req.tokens = static_cast<uint64_t>(std::min(want_t, 1e15));
  in_flight_ = true;
  return req;
}

void permit_lease_holder::on_granted(const permit_lease& x, policy::time_point now) {
  in_flight_ = false;
  if (discard_answer_) {
    discard_answer_ = false;
    if (x.id != 0)
      closed_.push_back(lease_usage{x.id, 0, 0});
    retry_at_ = now + settings_.lease_horizon;
    return;
  }
  if (x.id == 0 || x.requests == 0 || x.expires <= now) {
    retry_at_ = now + settings_.lease_horizon;
    return;
  }
  close_current(); // the lease it replaces (closed with the next request)
  current_ = x;
  used_ = lease_usage{};
}

void permit_lease_holder::on_lost(policy::time_point now) {
  in_flight_ = false;
  discard_answer_ = false;
  retry_at_ = now + settings_.lease_horizon;
}

void permit_lease_holder::forget() {
  current_ = permit_lease{};
  used_ = lease_usage{};
  closed_.clear();
  in_flight_ = false;
  discard_answer_ = false;
}

// -- breaker_view
// ----------------------------------------------------------------------

std::optional<uint64_t> breaker_view::closed(const std::string& model) const {
  auto i = models_.find(model);
  if (i == models_.end() || i->second.state != breaker_state::closed)
    return std::nullopt;
  return i->second.generation;
}

void breaker_view::learn(const std::string& model, breaker_state state,
                         uint64_t generation) {
  auto i = models_.find(model);
  if (i == models_.end())
    models_.emplace(model, entry{state, generation});
  else if (generation >= i->second.generation)
    i->second = entry{state, generation};
}

void breaker_view::on_verdict(const std::string& model, const breaker_verdict& v) {
  switch (v.decision) {
    case breaker_decision::allowed:
      learn(model, breaker_state::closed, v.generation);
      break;
    case breaker_decision::allowed_trial:
    case breaker_decision::rejected_half_open_busy:
      learn(model, breaker_state::half_open, v.generation);
      break;
    case breaker_decision::rejected_open:
      learn(model, breaker_state::open, v.generation);
      break;
  }
}

void breaker_view::on_push(const breaker_state_changed& x) {
  learn(x.model, x.state, x.generation);
}

bool urgent(const call_outcome& x, policy::duration slow_call) noexcept {
  return x.result == call_result::failure || x.trial
         || (slow_call > policy::duration::zero() && x.duration > slow_call);
}

} // namespace embedrt::dispatch
