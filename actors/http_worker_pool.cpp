#include "actors/http_worker_pool.hpp"

#include <algorithm>
#include <random>
#include <string>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

namespace embedrt {

namespace {

using self_ptr = http_pool_impl::stateful_pointer<http_pool_state>;
using time_point = caf::actor_clock::time_point;
using std::chrono::milliseconds;

void publish(self_ptr self, event_kind kind, std::string source, std::string detail) {
  self->send(self->state.args.events,
             runtime_event{kind, std::move(source), std::move(detail),
                           self->clock().now()});
}

void spawn_worker(self_ptr self, uint32_t index) {
  auto& st = self->state;
  auto& slot = st.workers[index];
  http_worker_args wargs;
  wargs.index = index;
  wargs.pool = caf::actor_cast<worker_sink_actor>(self);
  wargs.settings = st.args.transport;
  wargs.settings.max_connections = slot.capacity;
  wargs.make_transport = st.args.make_transport;
  wargs.test_hooks = st.args.supervision.test_hooks;
  slot.handle = self->spawn<caf::monitored>(http_worker, std::move(wargs));
  slot.alive = true;
  slot.in_flight = 0;
}

void count_response(self_ptr self, const http_call_result& r) {
  auto& c = self->state.counters;
  ++c.calls_completed;
  auto s = r.http_status;
  if (s == 0)
    return;
  if (s >= 200 && s < 300)
    ++c.responses_2xx;
  else if (s == 429)
    ++c.responses_429;
  else if (s >= 400 && s < 500)
    ++c.responses_4xx_other;
  else if (s >= 500)
    ++c.responses_5xx;
}

http_call_result failed_call(uint64_t attempt, attempt_status status,
                             std::string detail) {
  http_call_result r;
  r.attempt_id = attempt;
  r.status = status;
  r.detail = std::move(detail);
  return r;
}

/// Starts queued calls on workers with free capacity (least loaded first); answers
/// `expired` for calls whose deadline passed while they waited.
void dispatch(self_ptr self) {
  auto& st = self->state;
  auto now = self->clock().now();
  auto next_deadline = time_point::max();
  while (!st.queue.empty()) {
    auto& front = st.queue.front();
    if (front.call.deadline <= now) {
      ++st.counters.calls_expired_in_pool;
      front.promise.deliver(failed_call(front.call.attempt_id, attempt_status::expired,
                                        "no worker was free before the deadline"));
      st.queue.pop_front();
      continue;
    }
    http_pool_state::worker_slot* best = nullptr;
    uint32_t index = 0;
    for (uint32_t i = 0; i < st.workers.size(); ++i) {
      auto& w = st.workers[i];
      if (w.alive && w.in_flight < w.capacity
          && (best == nullptr || w.in_flight < best->in_flight)) {
        best = &w;
        index = i;
      }
    }
    if (best == nullptr) {
      for (auto& q : st.queue)
        next_deadline = std::min(next_deadline, q.call.deadline);
      break;
    }
    ++best->in_flight;
    st.calls.emplace(front.call.attempt_id,
                     http_pool_state::pending_call{std::move(front.promise), index});
    self->send(best->handle, std::move(front.call));
    st.queue.pop_front();
  }
  if (next_deadline < st.tick_at) {
    st.tick_at = next_deadline;
    self->delayed_send(self, next_deadline - now, caf::tick_atom::value);
  }
}

/// Answers everything the pool holds with `worker_failed` (before the pool fails).
void fail_everything(self_ptr self, const std::string& why) {
  auto& st = self->state;
  for (auto& [attempt, pc] : st.calls)
    pc.promise.deliver(failed_call(attempt, attempt_status::worker_failed, why));
  st.calls.clear();
  for (auto& q : st.queue)
    q.promise.deliver(
      failed_call(q.call.attempt_id, attempt_status::worker_failed, why));
  st.queue.clear();
}

void on_worker_down(self_ptr self, uint32_t index, const caf::error& reason) {
  auto& st = self->state;
  auto& slot = st.workers[index];
  slot.alive = false;
  slot.handle = nullptr;
  ++slot.epoch;
  ++st.counters.workers_failed;
  auto why = "worker " + std::to_string(index) + " failed: " + to_string(reason);
  // Nothing lost: every call the worker carried is answered, so the dispatcher can
  // re-send it (as a retry attempt) or answer its callers.
  for (auto i = st.calls.begin(); i != st.calls.end();) {
    if (i->second.worker == index) {
      i->second.promise.deliver(
        failed_call(i->first, attempt_status::worker_failed, why));
      i = st.calls.erase(i);
    } else {
      ++i;
    }
  }
  publish(self, event_kind::worker_failed, "worker " + std::to_string(index),
          to_string(reason));
  auto now = self->clock().now();
  if (!st.intensity->record(now)) {
    // Restarting one worker after another is not helping: fail as a whole.
    fail_everything(self, why + " (restart intensity exceeded)");
    self->quit(
      caf::make_error(caf::sec::runtime_error, "worker restart intensity exceeded"));
    return;
  }
  auto delay = st.backoff->delay(++slot.consecutive_failures, st.rng);
  self->delayed_send(self, delay, caf::spawn_atom::value, index, slot.epoch);
  dispatch(self);
}

} // namespace

http_pool_state::~http_pool_state() {
  for (auto& w : workers)
    if (w.handle)
      caf::anon_send_exit(w.handle, caf::exit_reason::user_shutdown);
}

http_pool_impl::behavior_type
http_worker_pool(http_pool_impl::stateful_pointer<http_pool_state> self,
                 http_pool_args args) {
  auto& st = self->state;
  st.args = std::move(args);
  const auto& sup = st.args.supervision;
  st.intensity = std::make_unique<policy::restart_intensity>(
    sup.max_worker_restarts, milliseconds{sup.restart_window_ms});
  st.backoff = std::make_unique<policy::backoff_policy>(
    milliseconds{sup.restart_min_backoff_ms}, 2.0,
    milliseconds{sup.restart_max_backoff_ms},
    policy::backoff_policy::jitter_mode::proportional,
    sup.restart_jitter_percent / 100.0);
  st.rng.seed(st.args.seed != 0 ? st.args.seed : std::random_device{}());
  auto n = std::max(1u, st.args.pool.workers);
  auto total = std::max(n, st.args.pool.max_connections);
  st.workers.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    st.workers[i].capacity = total / n + (i < total % n ? 1 : 0);
    spawn_worker(self, i);
  }
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& workers = self->state.workers;
    for (uint32_t i = 0; i < workers.size(); ++i)
      if (workers[i].handle && workers[i].handle.address() == dm.source) {
        on_worker_down(self, i, dm.reason);
        return;
      }
  });
  return {
    // -- requests ---------------------------------------------------------------------
    [=](http_call& call) -> caf::result<http_call_result> {
      auto rp = self->make_response_promise<http_call_result>();
      self->state.queue.push_back(http_pool_state::queued_call{std::move(call), rp});
      dispatch(self);
      return rp;
    },
    // -- events -----------------------------------------------------------------------
    [=](http_call_result& r) {
      auto& s = self->state;
      auto i = s.calls.find(r.attempt_id);
      if (i == s.calls.end())
        return; // answered already (the worker was declared failed)
      auto& w = s.workers[i->second.worker];
      if (w.in_flight > 0)
        --w.in_flight;
      w.consecutive_failures = 0;
      count_response(self, r);
      i->second.promise.deliver(std::move(r));
      s.calls.erase(i);
      dispatch(self);
    },
    [=](caf::spawn_atom, uint32_t index, uint64_t epoch) {
      auto& s = self->state;
      if (index >= s.workers.size() || s.workers[index].alive
          || s.workers[index].epoch != epoch)
        return;
      spawn_worker(self, index);
      ++s.counters.workers_restarted;
      publish(self, event_kind::worker_restarted, "worker " + std::to_string(index),
              "restarted");
      dispatch(self);
    },
    [=](caf::tick_atom) {
      self->state.tick_at = time_point::max();
      dispatch(self);
    },
    // -- supervision ------------------------------------------------------------------
    [=](crash_worker_for_test& x) {
      auto& s = self->state;
      if (s.args.supervision.test_hooks && x.worker_index < s.workers.size()
          && s.workers[x.worker_index].alive)
        self->send(s.workers[x.worker_index].handle, x);
    },
    [=](caf::get_atom) {
      auto c = self->state.counters;
      if (auto& tc = self->state.args.transport.counters)
        c.connections_opened = tc->connections_opened.load(std::memory_order_relaxed);
      return c;
    },
  };
}

} // namespace embedrt
