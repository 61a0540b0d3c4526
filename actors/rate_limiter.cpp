#include "actors/rate_limiter.hpp"

#include <algorithm>
#include <string>

namespace embedrt {

namespace {

using self_ptr = rate_limiter_impl::stateful_pointer<rate_limiter_state>;
using time_point = caf::actor_clock::time_point;

// -- shared budget (all no-ops when local only) -------------------------------------

bool sharing(const rate_limiter_state& st) {
  return st.lease && st.lease->current() == policy::lease_policy::mode::shared;
}

/// From the lease while the store answers, else from the local (share of the) budget.
caf::timespan acquire(rate_limiter_state& st, uint32_t tokens, time_point now) {
  if (sharing(st))
    return st.lease->try_acquire(tokens, now);
  if (st.lease && st.lease->paused_until() > now)
    return st.lease->paused_until() - now; // a shared pause outlives a fallback
  return st.policy->try_acquire(tokens, now);
}

void arm(self_ptr self, time_point at, time_point now) {
  auto& st = self->state;
  if (at < st.tick_at) {
    st.tick_at = at;
    self->delayed_send(self, at - now, caf::tick_atom::value);
  }
}

void report(self_ptr self, policy::lease_policy::change c, time_point now) {
  auto& st = self->state;
  st.counters.shared_store_failures = st.carry.base().shared_store_failures
                                      + st.lease->failed_calls();
  if (c == policy::lease_policy::change::fell_back) {
    ++st.counters.shared_budget_fallbacks;
    st.policy->drain(now); // the local share starts empty: no burst per fallback
    self->send(st.events, runtime_event{event_kind::shared_budget_fallback,
                                        "rate_limiter", st.lease->last_error(), now});
  } else if (c == policy::lease_policy::change::rejoined) {
    self->send(st.events, runtime_event{event_kind::shared_budget_rejoined,
                                        "rate_limiter", "", now});
  }
}

void process(self_ptr self, time_point now);

/// What is left of the local budget, for the metrics (two relaxed stores). A shared
/// budget is the store's: not reported.
void publish_budget(self_ptr self, time_point now) {
  auto& st = self->state;
  if (!st.metrics || st.lease)
    return;
  auto left = st.policy->available(now);
  st.metrics->rate_budget(left.requests, left.tokens);
}

// -- fast path: leases to the dispatcher
// ------------------------------------------------

/// Takes every lease back at once (the holder closes them with their usage).
void revoke_loans(self_ptr self) {
  auto& st = self->state;
  for (auto& [id, loan] : st.loans) {
    if (loan.revoked)
      continue;
    loan.revoked = true;
    if (auto holder = caf::actor_cast<lease_holder_actor>(st.holder))
      self->send(holder, lease_revoked{id});
  }
}

void close_loan(self_ptr self, const lease_usage& used, time_point now) {
  auto& st = self->state;
  auto i = st.loans.find(used.lease);
  if (i == st.loans.end())
    return; // already counted as spent
  st.policy->settle(i->second.lent, {used.requests, used.tokens}, now);
  st.counters.permits_granted += std::min(used.requests, i->second.lent.requests);
  st.loans.erase(i);
}

/// Leases past their grace count as spent; returns when the next one is due.
time_point reclaim_loans(self_ptr self, time_point now) {
  auto& st = self->state;
  auto next = time_point::max();
  for (auto i = st.loans.begin(); i != st.loans.end();) {
    auto due = policy::saturating_add(i->second.expires, loan_grace);
    if (now >= due) {
      st.policy->settle(i->second.lent, i->second.lent, now);
      st.counters.permits_granted += i->second.lent.requests;
      i = st.loans.erase(i);
    } else {
      next = std::min(next, due);
      ++i;
    }
  }
  return next;
}

/// Whether the upstream's headers leave less than the leases hold.
bool headers_undercut_loans(const rate_limiter_state& st, const rate_limit_headers& h) {
  if (st.loans.empty() || !st.policy->follows_headers())
    return false;
  uint64_t requests = 0;
  uint64_t tokens = 0;
  for (auto& [id, loan] : st.loans) {
    requests += loan.lent.requests;
    if (loan.lent.tokens != unlimited_tokens)
      tokens += loan.lent.tokens;
  }
  return (h.remaining_requests >= 0
          && static_cast<uint64_t>(h.remaining_requests) < requests)
         || (h.remaining_tokens >= 0
             && static_cast<uint64_t>(h.remaining_tokens) < tokens);
}

/// Sends the call to the store the lease policy wants, if any, and returns when the
/// lease policy wants to be woken up next. The limiter never waits for the answer.
time_point pump(self_ptr self, time_point now) {
  auto& st = self->state;
  if (!st.lease)
    return time_point::max();
  report(self, st.lease->on_tick(now), now);
  uint64_t waiting_tokens = 0;
  size_t n = 0;
  for (auto i = st.queue.begin(); i != st.queue.end() && n < 64; ++i, ++n)
    waiting_tokens += i->request.tokens;
  if (auto ask = st.lease->next_ask(now, st.queue.size(), waiting_tokens)) {
    ++st.counters.shared_store_calls;
    auto seq = ask->seq;
    auto answered = [self](shared_budget_grant& g) {
      auto t = self->clock().now();
      report(self, self->state.lease->on_answer(g, t), t);
      process(self, t);
    };
    self->request(st.store, caf::infinite, std::move(*ask))
      .then(answered, [answered, seq](caf::error& e) mutable {
        shared_budget_grant g;
        g.seq = seq;
        g.error = "store actor: " + caf::to_string(e);
        answered(g);
      });
  }
  return st.lease->next_wakeup(now, st.queue.size());
}

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
  auto next = reclaim_loans(self, now);
  while (!st.queue.empty()) {
    auto& front = st.queue.front();
    auto wait = acquire(st, front.request.tokens, now);
    if (wait.count() == 0) {
      reply(self, front, permit_status::granted, now);
    } else if (policy::saturating_add(now, wait) > front.request.deadline
               && (!sharing(st) || st.lease->paused_until() > now)) {
      // (A lease's wait is a hint, not a bound: only a pause says "too late".)
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
  // One timer for both the queue and the lease policy.
  next = std::min(next, pump(self, now));
  if (next < time_point::max())
    arm(self, next, now);
  publish_budget(self, now);
}

/// Learns from how one earlier permit ended.
void apply(self_ptr self, const permit_feedback& fb, time_point now) {
  auto& s = self->state;
  auto clamped_before = s.policy->usage_reports_clamped();
  s.policy->reconcile(fb.reserved_tokens, fb.actual_tokens, now);
  s.counters.usage_reports_clamped += s.policy->usage_reports_clamped()
                                      - clamped_before;
  if (headers_undercut_loans(s, fb.headers))
    revoke_loans(self);
  s.policy->observe(fb.headers, now);
  if (s.lease) {
    // What other processes will obey is bounded like what this one obeys.
    auto hold = s.policy->max_upstream_hold();
    s.lease->note_usage(fb.reserved_tokens,
                        s.policy->bounded_usage(fb.reserved_tokens, fb.actual_tokens));
    if (s.policy->follows_headers()) {
      auto headers = fb.headers;
      if (headers.reset_requests.count() >= 0)
        headers.reset_requests = policy::clamp_upstream_duration(headers.reset_requests,
                                                                 hold);
      if (headers.reset_tokens.count() >= 0)
        headers.reset_tokens = policy::clamp_upstream_duration(headers.reset_tokens,
                                                               hold);
      s.lease->note_headers(headers);
    }
    s.lease->note_pause(policy::clamp_upstream_duration(fb.pause, hold), now);
  }
  if (fb.pause.count() > 0) {
    auto before = s.policy->paused_until();
    s.policy->pause(fb.pause, now);
    if (s.policy->paused_until() > before) {
      revoke_loans(self);
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
  if (!st.policy)
    st.policy = std::make_unique<policy::rate_limit_policy>(cfg, self->clock().now(),
                                                            max_upstream_hold);
  st.max_queued = cfg.max_queued;
  st.events = std::move(events);
  publish_budget(self, self->clock().now());
  return {
    // -- requests ---------------------------------------------------------------------
    [=](acquire_permit& req) -> caf::result<permit_decision> {
      auto& s = self->state;
      auto now = self->clock().now();
      // Feedback on earlier permits rides on this request: learn from it first.
      for (auto& fb : req.feedback)
        apply(self, fb, now);
      req.feedback.clear();
      if (s.lease)
        s.lease->note_demand(req.tokens, now);
      if (s.queue.empty() && now <= req.deadline
          && acquire(s, req.tokens, now).count() == 0) {
        ++s.counters.permits_granted;
        if (s.lease)
          arm(self, pump(self, now), now);
        publish_budget(self, now);
        return permit_decision{req.ticket, permit_status::granted, caf::timespan{0}};
      }
      if (s.queue.size() >= s.max_queued) {
        ++s.counters.permits_denied_queue_full;
        return permit_decision{req.ticket, permit_status::denied_queue_full,
                               caf::timespan{0}};
      }
      auto rp = self->make_response_promise<permit_decision>();
      s.queue.push_back(rate_limiter_state::waiting{rp, std::move(req), now});
      revoke_loans(self); // what is lent goes back to the FIFO's head first
      process(self, now);
      return rp;
    },
    [=](lease_request& req) -> permit_lease {
      auto& s = self->state;
      auto now = self->clock().now();
      for (auto& fb : req.feedback)
        apply(self, fb, now);
      for (auto& used : req.closed)
        close_loan(self, used, now);
      permit_lease result;
      // Permits waiting in the FIFO go first; a shared budget leases from the store.
      if (req.requests > 0 && s.queue.empty() && !s.lease) {
        policy::rate_limit_policy::loan want{std::min(req.requests, max_loan_requests),
                                             req.tokens};
        auto loan = s.policy->lend(want, req.tokens / req.requests, now);
        if (loan.requests > 0) {
          s.holder = caf::actor_cast<caf::actor_addr>(self->current_sender());
          result.id = s.next_loan++;
          result.requests = loan.requests;
          result.tokens = loan.tokens;
          result.expires = policy::saturating_add(now, loan_ttl);
          s.loans.emplace(result.id,
                          rate_limiter_state::loan_state{loan, result.expires, false});
        }
      }
      process(self, now); // closed leases may let the FIFO's head through
      return result;
    },
    // -- events -----------------------------------------------------------------------
    [=](feedback_report& x) {
      auto now = self->clock().now();
      for (auto& fb : x.feedback)
        apply(self, fb, now);
      process(self, now);
    },
    [=](caf::tick_atom) {
      // A tick replaced by an earlier one still arrives: only the one armed last
      // (the earliest pending) processes, so ticks never multiply.
      auto now = self->clock().now();
      if (now < self->state.tick_at)
        return;
      self->state.tick_at = time_point::max();
      process(self, now);
    },
    [=](caf::get_atom) { return self->state.counters; },
  };
}

rate_limiter_impl::behavior_type
shared_rate_limiter(rate_limiter_impl::stateful_pointer<rate_limiter_state> self,
                    rate_limiter_config cfg, shared_budget_args shared,
                    event_sink_actor events, caf::timespan max_upstream_hold) {
  auto& st = self->state;
  auto now = self->clock().now();
  st.policy = std::make_unique<policy::rate_limit_policy>(fallback_share(cfg), now,
                                                          max_upstream_hold);
  st.lease = std::make_unique<policy::lease_policy>(shared.lease, shared.seed, now);
  st.store = self->spawn<caf::detached + caf::linked>(shared_budget_store,
                                                      std::move(shared.store));
  return rate_limiter(self, cfg, std::move(events), max_upstream_hold);
}

rate_limiter_impl::behavior_type
carrying_rate_limiter(rate_limiter_impl::stateful_pointer<rate_limiter_state> self,
                      rate_limiter_config cfg, std::optional<shared_budget_args> shared,
                      event_sink_actor events, caf::timespan max_upstream_hold,
                      std::shared_ptr<runtime_counters> carried,
                      std::shared_ptr<observability::runtime_metrics> metrics) {
  self->state.metrics = std::move(metrics);
  self->state.carry = observability::counter_carry{std::move(carried),
                                                   self->state.counters};
  if (shared)
    return shared_rate_limiter(self, std::move(cfg), std::move(*shared),
                               std::move(events), max_upstream_hold);
  return rate_limiter(self, std::move(cfg), std::move(events), max_upstream_hold);
}

} // namespace embedrt
