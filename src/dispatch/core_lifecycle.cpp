// dispatcher_core: availability, shutdown, the timer heap and counting. Same class as
// dispatcher_core.cpp, same rules (no clock, `effects` only).
#include "src/dispatch/dispatcher_core.hpp"

namespace embedrt::dispatch {

namespace {

std::string ms_text(duration d) {
  using std::chrono::milliseconds;
  return std::to_string(std::chrono::duration_cast<milliseconds>(d).count()) + " ms";
}

} // namespace

// -- lifecycle ------------------------------------------------------------------------

void dispatcher_core::set_available(bool available, std::string reason,
                                    time_point now) {
  now_ = now;
  available_ = available;
  unavailable_reason_ = std::move(reason);
  if (!available_) {
    fail_all(embed_failure{embed_errc::runtime_unavailable, unavailable_reason_, 0});
    refuse_credit_waiters();
  }
  pump(now);
  request_wake();
}

void dispatcher_core::begin_shutdown(duration grace, time_point now) {
  if (shutting_down_)
    return;
  now_ = now;
  shutting_down_ = true;
  grace_end_ = now + grace;
  fx_.publish(event_kind::shutdown_started, std::to_string(requests_.size())
                                              + " requests pending, grace "
                                              + ms_text(grace));
  refuse_credit_waiters();
  schedule(grace_end_, timer_kind::grace_end, 0);
  if (grace.count() <= 0)
    on_timer(now);
  request_wake();
}

bool dispatcher_core::drained() const noexcept {
  return shutting_down_ && requests_.empty();
}

// -- time -----------------------------------------------------------------------------

void dispatcher_core::schedule(time_point at, timer_kind kind, uint64_t id,
                               uint64_t epoch) {
  timers_.push(timer_entry{at, kind, id, epoch});
  // Lazy deletion leaves dead entries (answered requests' deadlines); compact when
  // they dominate so memory follows the live set, not the request rate.
  auto live = requests_.size() + pipeline_.size() + former_.key_count() + 16;
  if (timers_.size() > 4 * live) {
    timers_.compact([this](const timer_entry& e) {
      switch (e.kind) {
        case timer_kind::request_deadline: return requests_.count(e.id) > 0;
        case timer_kind::batch_wake: {
          auto b = pipeline_.find(e.id);
          return b != nullptr && b->wake_epoch == e.epoch;
        }
        default: return true;
      }
    });
  }
}

void dispatcher_core::request_wake() {
  if (timers_.empty())
    return;
  auto at = timers_.top().at;
  if (at < requested_wake_) {
    requested_wake_ = at;
    fx_.wake_at(at);
  }
}

void dispatcher_core::on_timer(time_point now) {
  now_ = now;
  requested_wake_ = time_point::max();
  while (!timers_.empty() && timers_.top().at <= now) {
    auto e = timers_.top();
    timers_.pop();
    switch (e.kind) {
      case timer_kind::request_deadline: {
        auto it = requests_.find(e.id);
        if (it != requests_.end() && it->second.deadline <= now)
          fail_request(e.id, embed_failure{embed_errc::deadline_exceeded,
                                           "no answer before the deadline", 0});
        break;
      }
      case timer_kind::batch_wake: {
        auto b = pipeline_.find(e.id);
        if (b == nullptr || b->wake_epoch != e.epoch)
          break;
        if (b->stage == batch_stage::backing_off || b->stage == batch_stage::parked)
          pipeline_.make_ready(e.id, *b, now);
        break;
      }
      case timer_kind::linger_end: break; // pump below forms the batch
      case timer_kind::held_end: {
        if (e.id < former_.key_count() && former_.key(e.id).held_until <= now)
          release_held(static_cast<uint32_t>(e.id), now, true);
        break;
      }
      case timer_kind::grace_end: {
        if (shutting_down_)
          fail_all(embed_failure{embed_errc::shutting_down,
                                 "the runtime stopped before the request finished", 0});
        break;
      }
    }
  }
  pump(now);
  request_wake();
}

// -- counting -------------------------------------------------------------------------

void dispatcher_core::count_response(const http_call_result& x) {
  auto& c = counters_;
  if (x.status == attempt_status::expired) {
    ++c.calls_expired_in_flight;
    return;
  }
  ++c.calls_completed;
  auto s = x.http_status;
  if (s >= 200 && s < 300)
    ++c.responses_2xx;
  else if (s == 429)
    ++c.responses_429;
  else if (s >= 400 && s < 500)
    ++c.responses_4xx_other;
  else if (s >= 500)
    ++c.responses_5xx;
}

void dispatcher_core::count_failure(embed_errc code) {
  auto& c = counters_;
  switch (code) {
    case embed_errc::none: break;
    case embed_errc::invalid_input: ++c.requests_failed_invalid_input; break;
    // Lane-full sheds never get here (the admission gate counts them): an admitted
    // request answered `overloaded` was turned away by the rate limiter's full queue.
    case embed_errc::overloaded: ++c.requests_shed_limiter_queue_full; break;
    case embed_errc::circuit_open: ++c.requests_failed_circuit_open; break;
    case embed_errc::rate_limited: ++c.requests_failed_rate_limited; break;
    case embed_errc::deadline_exceeded: ++c.requests_failed_deadline_exceeded; break;
    case embed_errc::upstream_rejected: ++c.requests_failed_upstream_rejected; break;
    case embed_errc::upstream_unavailable:
      ++c.requests_failed_upstream_unavailable;
      break;
    case embed_errc::bad_response: ++c.requests_failed_bad_response; break;
    case embed_errc::shutting_down: ++c.requests_failed_shutting_down; break;
    case embed_errc::worker_failed: ++c.requests_failed_worker_failed; break;
    case embed_errc::runtime_unavailable:
      ++c.requests_failed_runtime_unavailable;
      break;
  }
}

} // namespace embedrt::dispatch
