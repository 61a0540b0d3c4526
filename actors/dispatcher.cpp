#include "actors/dispatcher.hpp"

namespace embedrt {

namespace {

using self_ptr = dispatcher_impl::stateful_pointer<dispatcher_state>;
using time_point = caf::actor_clock::time_point;

/// How long a breaker outcome or permit feedback may wait for a message to ride on
/// (or for `fast_path_settings::report_batch` others). What must act at once (a
/// failure, a slow call, a trial, a 429) does not wait.
constexpr auto report_delay = std::chrono::milliseconds{4};

time_point now(self_ptr self) {
  return self->clock().now();
}

void maybe_finish_shutdown(self_ptr self) {
  auto& st = self->state;
  if (st.shutdown && st.core->drained()) {
    st.shutdown->deliver(st.core->shutdown_result());
    st.shutdown.reset();
  }
}

/// Arms the tick for `at` unless an earlier one is pending.
void wake_at(self_ptr self, time_point at) {
  auto& st = self->state;
  if (at >= st.tick_at)
    return;
  st.tick_at = at;
  auto t = now(self);
  self->delayed_send(self, at > t ? at - t : caf::timespan{0}, caf::tick_atom::value);
}

/// Sends waiting calls to workers with room.
void route(self_ptr self) {
  auto& st = self->state;
  while (auto r = st.router.next()) {
    auto w = st.workers.find(r->worker);
    if (w != st.workers.end())
      self->send(w->second, std::move(r->call));
  }
  if (st.router.waiting() > 0)
    wake_at(self, st.router.next_deadline());
}

void arm_flush(self_ptr self) {
  auto& st = self->state;
  if (!st.flush_armed) {
    st.flush_armed = true;
    self->delayed_send(self, report_delay, caf::flush_atom::value);
  }
}

void flush_outcomes(self_ptr self) {
  auto& st = self->state;
  if (!st.pending_outcomes.empty())
    self->send(st.breaker, outcome_report{std::move(st.pending_outcomes)});
  st.pending_outcomes.clear();
}

void flush_feedback(self_ptr self) {
  auto& st = self->state;
  if (!st.pending_feedback.empty())
    self->send(st.limiter, feedback_report{std::move(st.pending_feedback)});
  st.pending_feedback.clear();
}

void flush_reports(self_ptr self) {
  flush_outcomes(self);
  flush_feedback(self);
}

// -- fast path
// ----------------------------------------------------------------------------

void on_lease(self_ptr self, const permit_lease& x);

/// Asks the limiter for a lease when one is due.
void ask_lease(self_ptr self, time_point t) {
  auto& st = self->state;
  auto req = st.lease->next_request(t);
  if (!req)
    return;
  auto limiter = st.limiter;
  self->request(limiter, caf::infinite, std::move(*req))
    .then(
      [self, limiter](permit_lease& x) {
        if (limiter == self->state.limiter) // else: from a limiter since replaced
          on_lease(self, x);
      },
      [self, limiter](caf::error&) {
        if (limiter == self->state.limiter)
          self->state.lease->on_lost(now(self));
      });
}

/// Closes the leases no longer used at once (with the feedback waiting, applied first:
/// a 429's pause before the lease's permits go back).
void close_leases(self_ptr self) {
  auto& st = self->state;
  if (!st.lease->has_closed() || st.lease->in_flight()) {
    flush_feedback(self); // the closed leases ride on the request in flight's successor
    return;
  }
  lease_request req;
  req.closed = st.lease->take_closed();
  req.feedback = std::move(st.pending_feedback);
  st.pending_feedback.clear();
  self->request(st.limiter, caf::infinite, std::move(req))
    .then([](permit_lease&) {}, [](caf::error&) {});
}

void on_lease(self_ptr self, const permit_lease& x) {
  auto& st = self->state;
  auto t = now(self);
  st.lease->on_granted(x, t);
  if (st.lease->holding() && st.lease->expires() > t)
    // Wakes the flush handler, which closes the lease if it is still the current one.
    self->delayed_send(self, st.lease->expires() - t, caf::flush_atom::value);
  if (st.lease->has_closed())
    close_leases(self);
}

/// Feeds the permits and verdicts answered here to the core, after the core call that
/// asked for them returned; what they start may be answered here too.
void settle(self_ptr self) {
  auto& st = self->state;
  if (st.settling)
    return;
  st.settling = true;
  auto t = now(self);
  while (!st.local_permits.empty() || !st.local_verdicts.empty()) {
    std::swap(st.local_permits, st.permits_feeding);
    for (auto& d : st.permits_feeding)
      st.core->on_permit(d, t);
    st.permits_feeding.clear();
    std::swap(st.local_verdicts, st.verdicts_feeding);
    for (auto& v : st.verdicts_feeding)
      st.core->on_verdict(v, t);
    st.verdicts_feeding.clear();
  }
  st.settling = false;
}

/// Turns the core's requests into messages. Answers from components come back as
/// response handlers or messages that call the core again.
class shell final : public dispatch::effects {
public:
  explicit shell(self_ptr self) : self_(self) {}

  void request_permit(acquire_permit msg) override {
    auto self = self_;
    auto& st = self->state;
    if (st.fast.leases) {
      auto t = now(self);
      bool local = st.lease->try_take(msg.tokens, t);
      ask_lease(self, t);
      if (local) {
        st.local_permits.push_back(
          permit_decision{msg.ticket, permit_status::granted, caf::timespan{0}});
        return;
      }
    }
    auto ticket = msg.ticket;
    msg.feedback = std::move(self->state.pending_feedback);
    self->state.pending_feedback.clear();
    self->request(self->state.limiter, caf::infinite, std::move(msg))
      .then(
        [self](permit_decision& d) {
          core(self).on_permit(d, now(self));
          settle(self);
          maybe_finish_shutdown(self);
        },
        [self, ticket](caf::error&) {
          core(self).on_permit_lost(ticket, now(self));
          settle(self);
          maybe_finish_shutdown(self);
        });
  }

  void check_breaker(breaker_check msg) override {
    auto self = self_;
    auto& st = self->state;
    if (st.fast.breaker_push) {
      if (auto generation = st.breakers.closed(msg.model)) {
        st.local_verdicts.push_back(
          breaker_verdict{msg.ticket, breaker_decision::allowed, *generation, {}});
        return;
      }
    }
    auto ticket = msg.ticket;
    msg.outcomes = std::move(st.pending_outcomes);
    st.pending_outcomes.clear();
    auto breaker = st.breaker;
    auto model = msg.model;
    self->request(breaker, caf::infinite, std::move(msg))
      .then(
        [self, breaker, model](breaker_verdict& v) {
          if (breaker == self->state.breaker) // else: from a breaker since replaced
            self->state.breakers.on_verdict(model, v);
          core(self).on_verdict(v, now(self));
          settle(self);
          maybe_finish_shutdown(self);
        },
        [self, ticket](caf::error&) {
          core(self).on_verdict_lost(ticket, now(self));
          settle(self);
          maybe_finish_shutdown(self);
        });
  }

  void send_call(http_call msg) override {
    if (auto& m = self_->state.metrics)
      m->attempt_sent(msg.input_count);
    self_->state.router.submit(std::move(msg));
    route(self_);
  }

  void report_outcome(call_outcome msg) override {
    auto& st = self_->state;
    // A failure (or slow call, or trial) may open or close the breaker: it must hear
    // of it as soon as when every call asked.
    bool now_due = dispatch::urgent(msg, st.fast.slow_call);
    st.pending_outcomes.push_back(std::move(msg));
    if (now_due || st.pending_outcomes.size() >= st.fast.report_batch)
      flush_outcomes(self_);
    else
      arm_flush(self_);
  }

  void report_permit(permit_feedback msg) override {
    auto& st = self_->state;
    bool pause = msg.pause.count() > 0; // a 429 must stop everybody now
    st.pending_feedback.push_back(std::move(msg));
    if (pause) {
      st.lease->drop(); // at once: no further permit out of it
      close_leases(self_);
    } else if (st.pending_feedback.size() >= st.fast.report_batch) {
      flush_feedback(self_);
    } else {
      arm_flush(self_);
    }
  }

  void answer(uint64_t id, embed_result result) override {
    auto& replies = self_->state.replies;
    auto i = replies.find(id);
    if (i == replies.end())
      return;
    answered(i->second, embed_errc::none);
    if (auto rp = std::get_if<0>(&i->second.channel))
      rp->deliver(std::move(result));
    else
      std::get<1>(i->second.channel)->deliver(embed_outcome{std::move(result)});
    replies.erase(i);
  }

  void fail(uint64_t id, embed_failure failure) override {
    auto& replies = self_->state.replies;
    auto i = replies.find(id);
    if (i == replies.end())
      return;
    answered(i->second, failure.code);
    if (auto rp = std::get_if<0>(&i->second.channel))
      rp->deliver(to_error(failure));
    else
      std::get<1>(i->second.channel)->deliver(embed_outcome{std::move(failure)});
    replies.erase(i);
  }

  void request_done(const request_trace& trace) override {
    if (auto& m = self_->state.metrics)
      m->request_done(trace);
  }

  void grant_credit(uint64_t waiter, uint32_t requests) override {
    auto& st = self_->state;
    if (auto a = st.credit_askers.find(waiter); a != st.credit_askers.end()) {
      if (requests > 0)
        st.credit_holders[a->second] += requests;
      st.credit_askers.erase(a);
    }
    auto& replies = self_->state.credit_replies;
    auto i = replies.find(waiter);
    if (i == replies.end())
      return;
    if (auto rp = std::get_if<0>(&i->second))
      rp->deliver(credit_grant{requests});
    else
      std::get<1>(i->second)->deliver(credit_grant{requests});
    replies.erase(i);
  }

  void wake_at(time_point at) override { embedrt::wake_at(self_, at); }

  void publish(event_kind kind, std::string detail) override {
    self_->send(self_->state.events,
                runtime_event{kind, "dispatcher", std::move(detail), now(self_)});
  }

private:
  static dispatch::dispatcher_core& core(self_ptr self) { return *self->state.core; }

  void answered(const dispatcher_state::pending_reply& r, embed_errc outcome) {
    if (auto& m = self_->state.metrics)
      m->request_answered(r.request_lane, outcome, now(self_) - r.admitted);
  }

  self_ptr self_;
};

/// The queue gauges, after each change of the queues (a few relaxed stores).
void sample_queues(self_ptr self) {
  auto& st = self->state;
  if (st.metrics)
    for (auto l : {lane::interactive, lane::bulk})
      st.metrics->set_queued(l, st.core->queued_texts(l));
}

void admit(self_ptr self, dispatcher_state::reply_channel channel, embed_request&& req,
           admission_path path) {
  auto& st = self->state;
  auto id = st.next_id++;
  auto l = req.options.priority;
  auto t = now(self);
  st.replies.emplace(id, dispatcher_state::pending_reply{std::move(channel), l, t});
  if (st.metrics)
    st.metrics->request_admitted(l);
  st.core->admit(id, std::move(req), path, t);
  settle(self);
  sample_queues(self);
}

caf::actor_addr sender_of(self_ptr self) {
  return caf::actor_cast<caf::actor_addr>(self->current_sender());
}

/// A bulk `embed_request` from an actor that holds credit spends one.
admission_path path_of(self_ptr self, const embed_request& req) {
  auto& holders = self->state.credit_holders;
  if (req.options.priority != lane::bulk || holders.empty() || !self->current_sender())
    return admission_path::at_dispatcher;
  auto i = holders.find(sender_of(self));
  if (i == holders.end())
    return admission_path::at_dispatcher;
  if (--i->second == 0)
    holders.erase(i);
  return admission_path::credit;
}

void release(self_ptr self, uint32_t requests) {
  auto& holders = self->state.credit_holders;
  if (self->current_sender())
    if (auto i = holders.find(sender_of(self)); i != holders.end()) {
      i->second -= std::min(i->second, requests);
      if (i->second == 0)
        holders.erase(i);
    }
  self->state.core->release_credit(requests, now(self));
}

void acquire(self_ptr self, dispatcher_state::credit_channel channel,
             const acquire_credit& req, caf::actor_addr asker) {
  auto& st = self->state;
  auto id = st.next_id++;
  if (asker)
    st.credit_askers.emplace(id, std::move(asker));
  st.credit_replies.emplace(id, std::move(channel));
  st.core->acquire_credit(id, req.max_requests, now(self));
}

/// A worker failed: everything it carried is answered `worker_failed` (and re-sent
/// by the core as a retry, within the deadline and the attempt limit).
void on_worker_down(self_ptr self, const caf::down_msg& dm) {
  auto& st = self->state;
  auto id = static_cast<uint64_t>(dm.source.id());
  if (st.workers.erase(id) == 0)
    return;
  auto t = now(self);
  for (auto attempt : st.router.remove(id))
    st.core->on_call_lost(attempt, t);
  settle(self);
  route(self);
  maybe_finish_shutdown(self);
}

} // namespace

dispatcher_impl::behavior_type
dispatcher(dispatcher_impl::stateful_pointer<dispatcher_state> self,
           dispatcher_args args) {
  auto& st = self->state;
  st.limiter = std::move(args.limiter);
  st.breaker = std::move(args.breaker);
  st.events = std::move(args.events);
  st.metrics = std::move(args.metrics);
  st.fast = args.fast;
  st.fast.slow_call
    = std::chrono::milliseconds{args.config.circuit_breaker.slow_call_ms};
  st.lease = std::make_unique<dispatch::permit_lease_holder>(st.fast, now(self));
  if (st.fast.breaker_push && st.breaker)
    self->send(st.breaker, caf::subscribe_atom::value);
  st.effects = std::make_unique<shell>(self);
  st.core = std::make_unique<dispatch::dispatcher_core>(
    args.config, *st.effects, now(self), std::move(args.gate));
  self->set_down_handler([=](caf::down_msg& dm) { on_worker_down(self, dm); });
  return {
    // -- requests ---------------------------------------------------------------------
    [=](embed_request& req) -> caf::result<embed_result> {
      auto path = path_of(self, req); // before the promise takes the sender
      auto rp = self->make_response_promise<embed_result>();
      admit(self, rp, std::move(req), path);
      maybe_finish_shutdown(self);
      return rp;
    },
    [=](host_embed& req) {
      admit(self, std::move(req.completion), std::move(req.request), req.admission);
      maybe_finish_shutdown(self);
    },
    [=](acquire_credit& req) -> caf::result<credit_grant> {
      auto asker = sender_of(self); // before the promise takes it
      auto rp = self->make_response_promise<credit_grant>();
      acquire(self, rp, req, std::move(asker));
      return rp;
    },
    [=](host_acquire_credit& req) {
      acquire(self, std::move(req.completion), req.request, {});
    },
    [=](release_credit& x) { release(self, x.requests); },
    [=](begin_shutdown& x) -> caf::result<shutdown_report> {
      auto rp = self->make_response_promise<shutdown_report>();
      self->state.shutdown = rp;
      self->state.core->begin_shutdown(x.grace, now(self));
      settle(self);
      maybe_finish_shutdown(self);
      return rp;
    },
    [=](caf::get_atom) { return self->state.core->counters(); },
    // -- data path --------------------------------------------------------------------
    [=](http_call_results& batch) {
      auto& s = self->state;
      auto t = now(self);
      for (auto& r : batch.results) {
        if (s.metrics) {
          s.metrics->attempt_finished(r.status, r.http_status, r.wire_time);
          s.metrics->upstream_remaining(r.limits.remaining_requests,
                                        r.limits.remaining_tokens);
        }
        if (s.router.finish(r.attempt_id)) // else: its worker was declared failed
          s.core->on_call_result(std::move(r), t);
      }
      settle(self);
      sample_queues(self);
      route(self);
      maybe_finish_shutdown(self);
    },
    [=](worker_joined& x) {
      auto& s = self->state;
      auto id = static_cast<uint64_t>(x.worker->id());
      self->monitor(x.worker);
      s.workers[id] = caf::actor_cast<http_worker_actor>(x.worker);
      s.router.add(id, x.capacity);
      route(self);
    },
    // -- supervision ------------------------------------------------------------------
    [=](rate_limiter_replaced& x) {
      auto& s = self->state;
      s.limiter = std::move(x.handle);
      s.lease->forget(); // its leases died with it
      s.core->on_component_replaced(component_kind::rate_limiter, now(self));
      settle(self);
      maybe_finish_shutdown(self);
    },
    [=](circuit_breaker_replaced& x) {
      auto& s = self->state;
      s.breaker = std::move(x.handle);
      s.breakers.forget();
      if (s.metrics)
        s.metrics->breakers_replaced(); // the new breaker starts closed, silently
      if (s.fast.breaker_push && s.breaker)
        self->send(s.breaker, caf::subscribe_atom::value);
      s.core->on_component_replaced(component_kind::circuit_breaker, now(self));
      settle(self);
      maybe_finish_shutdown(self);
    },
    [=](availability_changed& x) {
      self->state.core->set_available(x.available, x.reason, now(self));
      settle(self);
      maybe_finish_shutdown(self);
    },
    // -- fast path --------------------------------------------------------------------
    [=](lease_revoked& x) {
      self->state.lease->drop(x.lease);
      close_leases(self);
    },
    [=](breaker_state_changed& x) { self->state.breakers.on_push(x); },
    // -- timers -----------------------------------------------------------------------
    [=](caf::tick_atom) {
      auto& s = self->state;
      s.tick_at = time_point::max();
      auto t = now(self);
      for (auto attempt : s.router.expire(t)) {
        http_call_result r;
        r.attempt_id = attempt;
        r.status = attempt_status::expired;
        r.detail = "no worker was free before the deadline";
        s.core->on_call_result(std::move(r), t);
      }
      s.core->on_timer(t);
      settle(self);
      sample_queues(self);
      route(self);
      maybe_finish_shutdown(self);
    },
    [=](caf::flush_atom) {
      auto& s = self->state;
      s.flush_armed = false;
      s.lease->expire(now(self));
      if (s.lease->has_closed())
        close_leases(self);
      flush_reports(self);
    },
  };
}

} // namespace embedrt
