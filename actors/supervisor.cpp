#include "actors/supervisor.hpp"

#include <algorithm>
#include <chrono>
#include <string>

#include <caf/send.hpp>

#include "actors/circuit_breaker.hpp"
#include "actors/rate_limiter.hpp"

namespace embedrt {

namespace {

using self_ptr = supervisor_impl::stateful_pointer<supervisor_state>;

void publish(self_ptr self, runtime_event ev) {
  for (auto& s : self->state.subscribers)
    caf::anon_send(s, ev);
}

event_sink_actor events_of(self_ptr self) {
  return caf::actor_cast<event_sink_actor>(self);
}

void spawn_limiter(self_ptr self) {
  auto& args = self->state.args;
  auto max_hold
    = caf::timespan{std::chrono::milliseconds{args.config.retry.max_retry_after_ms}};
  self->state.limiter = self->spawn<caf::monitored>(
    carrying_rate_limiter, args.config.rate_limiter, args.shared_budget,
    events_of(self), max_hold, self->state.limiter_counters, args.metrics);
}

void spawn_breaker(self_ptr self) {
  self->state.breaker = self->spawn<caf::monitored>(
    carrying_circuit_breaker, self->state.args.config.circuit_breaker, events_of(self),
    self->state.breaker_counters);
}

void spawn_pool(self_ptr self) {
  auto& st = self->state;
  http_pool_args pa;
  pa.pool = st.args.config.http_pool;
  pa.supervision = st.args.config.supervision;
  pa.transport = st.args.transport;
  pa.make_transport = st.args.make_transport;
  pa.dispatcher = caf::actor_cast<call_sink_actor>(st.dispatcher);
  pa.events = events_of(self);
  pa.carried = st.pool_counters;
  pa.seed = st.args.config.retry.seed == 0
              ? 0
              : st.args.config.retry.seed + ++st.pool_incarnation;
  st.pool = self->spawn<caf::monitored>(http_worker_pool, std::move(pa));
  st.pool_started = self->clock().now();
}

/// The pause before restarting a pool taken down: restart_max_backoff_ms doubling
/// per pause in a row, capped at pool_max_backoff_ms.
caf::timespan pool_pause(const supervision_config& sup, uint32_t pauses_before) {
  auto first = std::max<uint64_t>(sup.restart_max_backoff_ms, 1);
  auto cap = std::max<uint64_t>(sup.pool_max_backoff_ms, 1);
  auto ms = first;
  for (uint32_t i = 0; i < pauses_before && ms < cap; ++i)
    ms *= 2;
  return std::chrono::milliseconds{std::min(ms, cap)};
}

template<class Handle>
bool is(const Handle& h, const caf::actor_addr& addr) {
  return h && h.address() == addr;
}

void on_down(self_ptr self, caf::down_msg& dm) {
  auto& st = self->state;
  auto now = self->clock().now();
  if (is(st.pool, dm.source)) {
    st.pool = nullptr;
    if (st.pool_intensity->record(now)) {
      // The old workers died with the old pool (the dispatcher, which monitors them,
      // re-sends what they carried); the new pool announces its own.
      spawn_pool(self);
      ++st.counters.pools_restarted;
      publish(self, runtime_event{event_kind::pool_restarted, "supervisor",
                                  to_string(dm.reason), now});
    } else if (st.args.config.supervision.give_up) {
      st.available = false;
      auto why = "the HTTP pool kept failing (" + to_string(dm.reason)
                 + "); the runtime stopped accepting work";
      self->send(st.dispatcher, availability_changed{false, why});
      publish(self,
              runtime_event{event_kind::runtime_unavailable, "supervisor", why, now});
    } else {
      // Take the pool down for a pause instead of crash-looping; a pool that stayed
      // up for a whole window before failing starts over at the first pause.
      const auto& sup = st.args.config.supervision;
      if (now - st.pool_started
          >= caf::timespan{std::chrono::milliseconds{sup.pool_restart_window_ms}})
        st.pool_pauses = 0;
      auto pause = pool_pause(sup, st.pool_pauses++);
      st.available = false;
      auto why = "the HTTP pool kept failing (" + to_string(dm.reason)
                 + "); it restarts in "
                 + std::to_string(
                   std::chrono::duration_cast<std::chrono::milliseconds>(pause).count())
                 + " ms";
      self->send(st.dispatcher, availability_changed{false, why});
      publish(self,
              runtime_event{event_kind::runtime_unavailable, "supervisor", why, now});
      self->delayed_send(self, pause, caf::spawn_atom::value, ++st.pause_epoch);
    }
  } else if (is(st.limiter, dm.source)) {
    spawn_limiter(self);
    self->send(st.dispatcher, rate_limiter_replaced{st.limiter});
  } else if (is(st.breaker, dm.source)) {
    spawn_breaker(self);
    self->send(st.dispatcher, circuit_breaker_replaced{st.breaker});
  } else if (is(st.dispatcher, dm.source)) {
    st.dispatcher = nullptr;
    st.available = false;
    publish(self, runtime_event{event_kind::runtime_unavailable, "supervisor",
                                "the dispatcher failed: " + to_string(dm.reason), now});
  }
}

} // namespace

supervisor_state::~supervisor_state() {
  auto stop = [](const auto& h) {
    if (h)
      caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
  };
  stop(dispatcher);
  stop(pool);
  stop(breaker);
  stop(limiter);
}

supervisor_impl::behavior_type
supervisor(supervisor_impl::stateful_pointer<supervisor_state> self,
           supervisor_args args) {
  auto& st = self->state;
  st.args = std::move(args);
  const auto& sup = st.args.config.supervision;
  st.pool_intensity = std::make_unique<policy::restart_intensity>(
    sup.max_pool_restarts, std::chrono::milliseconds{sup.pool_restart_window_ms});
  spawn_limiter(self);
  spawn_breaker(self);
  st.dispatcher = self->spawn<caf::monitored>(dispatcher,
                                              dispatcher_args{st.args.config,
                                                              st.limiter,
                                                              st.breaker,
                                                              events_of(self),
                                                              st.args.gate,
                                                              st.args.metrics,
                                                              {}});
  spawn_pool(self); // announces its workers to the dispatcher
  self->set_down_handler([=](caf::down_msg& dm) { on_down(self, dm); });
  return {
    // -- events -----------------------------------------------------------------------
    [=](runtime_event& ev) { publish(self, std::move(ev)); },
    [=](caf::subscribe_atom, caf::actor& who) {
      auto& subs = self->state.subscribers;
      if (std::find(subs.begin(), subs.end(), who) == subs.end())
        subs.push_back(std::move(who));
    },
    [=](caf::unsubscribe_atom, caf::actor& who) {
      auto& subs = self->state.subscribers;
      subs.erase(std::remove(subs.begin(), subs.end(), who), subs.end());
    },
    // -- requests ---------------------------------------------------------------------
    [=](caf::get_atom, embedder_atom) -> embedder_actor {
      return self->state.dispatcher; // the host's view of it
    },
    [=](caf::get_atom, dispatcher_atom) { return self->state.dispatcher; },
    [=](caf::get_atom) -> caf::result<runtime_counters> {
      // Fan out to every child and add up; a child that does not answer in time (or
      // is gone) contributes nothing rather than blocking the answer.
      auto& s = self->state;
      auto rp = self->make_response_promise<runtime_counters>();
      struct join_state {
        runtime_counters sum;
        int left = 4;
      };
      auto acc = std::make_shared<join_state>();
      acc->sum = s.counters;
      auto add = [=](runtime_counters& c) mutable {
        acc->sum += c;
        if (--acc->left == 0)
          rp.deliver(acc->sum);
      };
      auto skip = [=](caf::error&) mutable {
        if (--acc->left == 0)
          rp.deliver(acc->sum);
      };
      // A component that is gone (or the pool down for a pause) counts what it
      // handed over when its state went.
      auto skip_with = [=](std::shared_ptr<runtime_counters> carried) {
        return [=](caf::error& err) mutable {
          if (err != caf::sec::request_timeout)
            acc->sum += *carried;
          skip(err);
        };
      };
      auto timeout = std::chrono::seconds{5};
      self->request(s.limiter, timeout, caf::get_atom::value)
        .then(add, skip_with(s.limiter_counters));
      self->request(s.breaker, timeout, caf::get_atom::value)
        .then(add, skip_with(s.breaker_counters));
      if (s.pool) // none while the pool is down for a pause
        self->request(s.pool, timeout, caf::get_atom::value)
          .then(add, skip_with(s.pool_counters));
      else {
        acc->sum += *s.pool_counters;
        --acc->left;
      }
      self->request(s.dispatcher, timeout, caf::get_atom::value).then(add, skip);
      return rp;
    },
    // -- supervision ------------------------------------------------------------------
    [=](caf::spawn_atom, uint64_t epoch) {
      // The pause is over: restart the pool and accept work again.
      auto& s = self->state;
      if (epoch != s.pause_epoch || s.pool || !s.dispatcher)
        return;
      spawn_pool(self);
      ++s.counters.pools_restarted;
      s.available = true;
      self->send(s.dispatcher, availability_changed{true, ""});
      auto now = self->clock().now();
      publish(self, runtime_event{event_kind::pool_restarted, "supervisor",
                                  "after a pause", now});
      publish(self, runtime_event{event_kind::runtime_available, "supervisor",
                                  "the HTTP pool is back", now});
    },
    [=](crash_worker_for_test& x) {
      if (self->state.pool)
        self->send(self->state.pool, x);
    },
  };
}

} // namespace embedrt
