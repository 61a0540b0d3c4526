#include "actors/http_worker_pool.hpp"

#include <algorithm>
#include <random>
#include <string>

#include <caf/send.hpp>

namespace embedrt {

namespace {

using self_ptr = http_pool_impl::stateful_pointer<http_pool_state>;
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
  wargs.sink = st.args.dispatcher;
  wargs.settings = st.args.transport;
  wargs.settings.max_connections = slot.capacity;
  wargs.make_transport = st.args.make_transport;
  wargs.test_hooks = st.args.supervision.test_hooks;
  slot.handle = self->spawn<caf::monitored>(http_worker, std::move(wargs));
  slot.started = self->clock().now();
  self->send(st.args.dispatcher, worker_joined{caf::actor_cast<caf::actor>(slot.handle),
                                               slot.capacity, index});
}

void on_worker_down(self_ptr self, uint32_t index, const caf::error& reason) {
  auto& st = self->state;
  auto& slot = st.workers[index];
  slot.handle = nullptr;
  ++slot.epoch;
  ++st.counters.workers_failed;
  publish(self, event_kind::worker_failed, "worker " + std::to_string(index),
          to_string(reason));
  auto now = self->clock().now();
  if (!st.intensity->record(now)) {
    // Restarting one worker after another is not helping: fail as a whole.
    self->quit(
      caf::make_error(caf::sec::runtime_error, "worker restart intensity exceeded"));
    return;
  }
  // A worker that stayed up for a while before failing starts over at the smallest
  // backoff: the backoff is for workers that fail right after a start.
  if (now - slot.started >= milliseconds{st.args.supervision.restart_reset_after_ms})
    slot.consecutive_failures = 0;
  auto delay = st.backoff->delay(++slot.consecutive_failures, st.rng);
  self->delayed_send(self, delay, caf::spawn_atom::value, index, slot.epoch);
}

} // namespace

http_pool_state::~http_pool_state() {
  if (args.carried)
    *args.carried = counters;
  for (auto& w : workers)
    if (w.handle)
      caf::anon_send_exit(w.handle, caf::exit_reason::user_shutdown);
}

http_pool_impl::behavior_type
http_worker_pool(http_pool_impl::stateful_pointer<http_pool_state> self,
                 http_pool_args args) {
  auto& st = self->state;
  st.args = std::move(args);
  if (st.args.carried)
    st.counters = *st.args.carried;
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
    // -- supervision ------------------------------------------------------------------
    [=](caf::spawn_atom, uint32_t index, uint64_t epoch) {
      auto& s = self->state;
      if (index >= s.workers.size() || s.workers[index].handle
          || s.workers[index].epoch != epoch)
        return;
      spawn_worker(self, index);
      ++s.counters.workers_restarted;
      publish(self, event_kind::worker_restarted, "worker " + std::to_string(index),
              "restarted");
    },
    [=](crash_worker_for_test& x) {
      auto& s = self->state;
      if (s.args.supervision.test_hooks && x.worker_index < s.workers.size()
          && s.workers[x.worker_index].handle)
        self->send(s.workers[x.worker_index].handle, x);
    },
    // -- requests ---------------------------------------------------------------------
    [=](caf::get_atom) {
      auto c = self->state.counters;
      if (auto& tc = self->state.args.transport.counters)
        c.connections_opened = tc->connections_opened.load(std::memory_order_relaxed);
      return c;
    },
  };
}

} // namespace embedrt
