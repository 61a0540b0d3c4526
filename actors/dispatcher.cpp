#include "actors/dispatcher.hpp"

namespace embedrt {

namespace {

using self_ptr = dispatcher_impl::stateful_pointer<dispatcher_state>;
using time_point = caf::actor_clock::time_point;

void maybe_finish_shutdown(self_ptr self) {
  auto& st = self->state;
  if (st.shutdown && st.core->drained()) {
    st.shutdown->deliver(st.core->shutdown_result());
    st.shutdown.reset();
  }
}

/// Turns the core's requests into messages. Answers from components come back as
/// response handlers that call the core again.
class shell final : public dispatch::effects {
public:
  explicit shell(self_ptr self) : self_(self) {}

  void request_permit(acquire_permit msg) override {
    auto self = self_;
    auto ticket = msg.ticket;
    self->request(self->state.limiter, caf::infinite, std::move(msg))
      .then([self](permit_decision& d) { core(self).on_permit(d, now(self)); },
            [self, ticket](caf::error&) {
              core(self).on_permit_lost(ticket, now(self));
            });
  }

  void check_breaker(breaker_check msg) override {
    auto self = self_;
    auto ticket = msg.ticket;
    self->request(self->state.breaker, caf::infinite, std::move(msg))
      .then([self](breaker_verdict& v) { core(self).on_verdict(v, now(self)); },
            [self, ticket](caf::error&) {
              core(self).on_verdict_lost(ticket, now(self));
            });
  }

  void start_call(http_call msg) override {
    auto self = self_;
    auto attempt = msg.attempt_id;
    self->request(self->state.pool, caf::infinite, std::move(msg))
      .then(
        [self](http_call_result& r) {
          core(self).on_call_result(std::move(r), now(self));
          maybe_finish_shutdown(self);
        },
        [self, attempt](caf::error&) {
          core(self).on_call_lost(attempt, now(self));
          maybe_finish_shutdown(self);
        });
  }

  void report_outcome(call_outcome msg) override {
    self_->send(self_->state.breaker, std::move(msg));
  }

  void report_permit(permit_feedback msg) override {
    self_->send(self_->state.limiter, std::move(msg));
  }

  void answer(uint64_t id, embed_result result) override {
    auto& replies = self_->state.replies;
    auto i = replies.find(id);
    if (i == replies.end())
      return;
    if (auto rp = std::get_if<0>(&i->second))
      rp->deliver(std::move(result));
    else
      std::get<1>(i->second)->deliver(embed_outcome{std::move(result)});
    replies.erase(i);
  }

  void fail(uint64_t id, embed_failure failure) override {
    auto& replies = self_->state.replies;
    auto i = replies.find(id);
    if (i == replies.end())
      return;
    if (auto rp = std::get_if<0>(&i->second))
      rp->deliver(to_error(failure));
    else
      std::get<1>(i->second)->deliver(embed_outcome{std::move(failure)});
    replies.erase(i);
  }

  void grant_credit(uint64_t waiter, uint32_t requests) override {
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

  void wake_at(time_point at) override {
    auto& st = self_->state;
    if (at >= st.tick_at)
      return;
    st.tick_at = at;
    auto t = now(self_);
    self_->delayed_send(self_, at > t ? at - t : caf::timespan{0},
                        caf::tick_atom::value);
  }

  void publish(event_kind kind, std::string detail) override {
    self_->send(self_->state.events,
                runtime_event{kind, "dispatcher", std::move(detail), now(self_)});
  }

private:
  static dispatch::dispatcher_core& core(self_ptr self) { return *self->state.core; }

  static time_point now(self_ptr self) { return self->clock().now(); }

  self_ptr self_;
};

uint64_t admit(self_ptr self, dispatcher_state::reply_channel channel,
               embed_request&& req) {
  auto& st = self->state;
  auto id = st.next_id++;
  st.replies.emplace(id, std::move(channel));
  st.core->admit(id, std::move(req), self->clock().now());
  return id;
}

void acquire(self_ptr self, dispatcher_state::credit_channel channel,
             const acquire_credit& req) {
  auto& st = self->state;
  auto id = st.next_id++;
  st.credit_replies.emplace(id, std::move(channel));
  st.core->acquire_credit(id, req.max_requests, self->clock().now());
}

} // namespace

dispatcher_impl::behavior_type
dispatcher(dispatcher_impl::stateful_pointer<dispatcher_state> self,
           dispatcher_args args) {
  auto& st = self->state;
  st.limiter = std::move(args.limiter);
  st.breaker = std::move(args.breaker);
  st.pool = std::move(args.pool);
  st.events = std::move(args.events);
  st.effects = std::make_unique<shell>(self);
  st.core = std::make_unique<dispatch::dispatcher_core>(args.config, *st.effects,
                                                        self->clock().now());
  return {
    // -- requests ---------------------------------------------------------------------
    [=](embed_request& req) -> caf::result<embed_result> {
      auto rp = self->make_response_promise<embed_result>();
      admit(self, rp, std::move(req));
      maybe_finish_shutdown(self);
      return rp;
    },
    [=](host_embed& req) {
      admit(self, std::move(req.completion), std::move(req.request));
      maybe_finish_shutdown(self);
    },
    [=](acquire_credit& req) -> caf::result<credit_grant> {
      auto rp = self->make_response_promise<credit_grant>();
      acquire(self, rp, req);
      return rp;
    },
    [=](host_acquire_credit& req) {
      acquire(self, std::move(req.completion), req.request);
    },
    [=](release_credit& x) {
      self->state.core->release_credit(x.requests, self->clock().now());
    },
    [=](begin_shutdown& x) -> caf::result<shutdown_report> {
      auto rp = self->make_response_promise<shutdown_report>();
      self->state.shutdown = rp;
      self->state.core->begin_shutdown(x.grace, self->clock().now());
      maybe_finish_shutdown(self);
      return rp;
    },
    [=](caf::get_atom) { return self->state.core->counters(); },
    // -- supervision ------------------------------------------------------------------
    [=](component_replaced& x) {
      auto& s = self->state;
      switch (x.kind) {
        case component_kind::rate_limiter:
          s.limiter = caf::actor_cast<rate_limiter_actor>(x.handle);
          break;
        case component_kind::circuit_breaker:
          s.breaker = caf::actor_cast<circuit_breaker_actor>(x.handle);
          break;
        case component_kind::http_pool:
          s.pool = caf::actor_cast<http_pool_actor>(x.handle);
          break;
      }
      s.core->on_component_replaced(x.kind, self->clock().now());
      maybe_finish_shutdown(self);
    },
    [=](availability_changed& x) {
      self->state.core->set_available(x.available, x.reason, self->clock().now());
      maybe_finish_shutdown(self);
    },
    // -- timer ------------------------------------------------------------------------
    [=](caf::tick_atom) {
      auto& s = self->state;
      s.tick_at = time_point::max();
      s.core->on_timer(self->clock().now());
      maybe_finish_shutdown(self);
    },
  };
}

} // namespace embedrt
