#include "actors/rate_limiter.hpp"

#include <algorithm>
#include <string>

namespace embedrt {

namespace {

using self_ptr = rate_limiter_impl::stateful_pointer<rate_limiter_state>;
using time_point = caf::actor_clock::time_point;

void reply(self_ptr self, rate_limiter_state::waiting& w, permit_status status,
           time_point now) {
  auto& c = self->state.counters;
  switch (status) {
    case permit_status::granted: ++c.permits_granted; break;
    case permit_status::denied_queue_full: ++c.permits_denied_queue_full; break;
    default: ++c.permits_denied_deadline; break;
  }
  w.promise.deliver(permit_decision{w.request.ticket, status, now - w.since});
}

/// Grants from the head of the FIFO while the buckets allow, denies what can no
/// longer be granted in time, and arms one timer for the next change.
void process(self_ptr self, time_point now) {
  auto& st = self->state;
  auto next = time_point::max();
  while (!st.queue.empty()) {
    auto& front = st.queue.front();
    auto wait = st.policy->try_acquire(front.request.tokens, now);
    if (wait.count() == 0) {
      reply(self, front, permit_status::granted, now);
    } else if (policy::saturating_add(now, wait) > front.request.deadline) {
      reply(self, front, permit_status::denied_deadline, now);
    } else {
      next = policy::saturating_add(now, wait);
      break;
    }
    st.queue.pop_front();
  }
  // Waiters behind the head may reach their deadline first.
  for (auto i = st.queue.begin(); i != st.queue.end();) {
    if (i->request.deadline <= now) {
      reply(self, *i, permit_status::denied_deadline, now);
      i = st.queue.erase(i);
    } else {
      next = std::min(next, i->request.deadline);
      ++i;
    }
  }
  if (next < st.tick_at) {
    st.tick_at = next;
    self->delayed_send(self, next - now, caf::tick_atom::value);
  }
}

/// Learns from how one earlier permit ended.
void apply(self_ptr self, const permit_feedback& fb, time_point now) {
  auto& s = self->state;
  auto clamped_before = s.policy->usage_reports_clamped();
  s.policy->reconcile(fb.reserved_tokens, fb.actual_tokens, now);
  s.counters.usage_reports_clamped += s.policy->usage_reports_clamped()
                                      - clamped_before;
  s.policy->observe(fb.headers, now);
  if (fb.pause.count() > 0) {
    auto before = s.policy->paused_until();
    s.policy->pause(fb.pause, now);
    if (s.policy->paused_until() > before) {
      ++s.counters.grants_paused_rate_limited;
      // The pause actually applied (capped), not the one asked for.
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        s.policy->paused_until() - now);
      self->send(s.events, runtime_event{event_kind::grants_paused, "rate_limiter",
                                         std::to_string(ms.count()) + " ms", now});
    }
  }
}

} // namespace

rate_limiter_impl::behavior_type
rate_limiter(rate_limiter_impl::stateful_pointer<rate_limiter_state> self,
             rate_limiter_config cfg, event_sink_actor events,
             caf::timespan max_upstream_hold) {
  auto& st = self->state;
  st.policy = std::make_unique<policy::rate_limit_policy>(cfg, self->clock().now(),
                                                          max_upstream_hold);
  st.max_queued = cfg.max_queued;
  st.events = std::move(events);
  return {
    // -- requests ---------------------------------------------------------------------
    [=](acquire_permit& req) -> caf::result<permit_decision> {
      auto& s = self->state;
      auto now = self->clock().now();
      // Feedback on earlier permits rides on this request: learn from it first.
      for (auto& fb : req.feedback)
        apply(self, fb, now);
      req.feedback.clear();
      if (s.queue.empty() && now <= req.deadline
          && s.policy->try_acquire(req.tokens, now).count() == 0) {
        ++s.counters.permits_granted;
        return permit_decision{req.ticket, permit_status::granted, caf::timespan{0}};
      }
      if (s.queue.size() >= s.max_queued) {
        ++s.counters.permits_denied_queue_full;
        return permit_decision{req.ticket, permit_status::denied_queue_full,
                               caf::timespan{0}};
      }
      auto rp = self->make_response_promise<permit_decision>();
      s.queue.push_back(rate_limiter_state::waiting{rp, std::move(req), now});
      process(self, now);
      return rp;
    },
    // -- events -----------------------------------------------------------------------
    [=](feedback_report& x) {
      auto now = self->clock().now();
      for (auto& fb : x.feedback)
        apply(self, fb, now);
      process(self, now);
    },
    [=](caf::tick_atom) {
      self->state.tick_at = time_point::max();
      process(self, self->clock().now());
    },
    [=](caf::get_atom) { return self->state.counters; },
  };
}

} // namespace embedrt
