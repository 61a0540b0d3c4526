#define CAF_SUITE actors.http_worker_pool
#include "actors/http_worker_pool.hpp"

#include "tests/support/actor_helpers.hpp"
#include "tests/support/fake_transport.hpp"
#include "tests/support/fixture.hpp"

using namespace embedrt;
using namespace embedrt::test;
using namespace std::chrono_literals;

namespace {

/// What the pool and its workers sent to "the dispatcher".
struct sink_log {
  std::vector<worker_joined> joined;
  std::vector<http_call_results> batches;
};

call_sink_actor::behavior_type fake_dispatcher(std::shared_ptr<sink_log> log) {
  return {
    [log](http_call_results& x) { log->batches.push_back(std::move(x)); },
    [log](worker_joined& x) { log->joined.push_back(std::move(x)); },
  };
}

struct pool_fixture : fixture {
  std::shared_ptr<fake_upstream> upstream = std::make_shared<fake_upstream>();
  std::shared_ptr<std::vector<runtime_event>> events
    = std::make_shared<std::vector<runtime_event>>();
  std::shared_ptr<sink_log> log = std::make_shared<sink_log>();
  call_sink_actor sink;
  event_sink_actor event_sink;
  http_pool_actor pool;
  uint64_t next_attempt = 1;

  pool_fixture() { sink = sys.spawn(fake_dispatcher, log); }

  ~pool_fixture() {
    // Pool and workers reference each other: stop them explicitly.
    if (pool)
      caf::anon_send_exit(pool, caf::exit_reason::user_shutdown);
    run();
  }

  void start(uint32_t workers, uint32_t connections, uint32_t max_restarts = 10) {
    http_pool_args args;
    args.pool.workers = workers;
    args.pool.max_connections = connections;
    args.supervision.test_hooks = true;
    args.supervision.restart_min_backoff_ms = 100;
    args.supervision.restart_max_backoff_ms = 1000;
    args.supervision.restart_jitter_percent = 0;
    args.supervision.max_worker_restarts = max_restarts;
    args.supervision.restart_window_ms = 60000;
    args.make_transport = upstream->factory();
    args.transport.counters = std::make_shared<http::transport_counters>();
    args.dispatcher = sink;
    event_sink = collect_events(sys, events);
    args.events = event_sink;
    args.seed = 1;
    pool = sys.spawn(http_worker_pool, std::move(args));
    sched.run();
  }

  http_worker_actor worker(size_t joined_index) {
    return caf::actor_cast<http_worker_actor>(log->joined.at(joined_index).worker);
  }

  uint64_t call(const http_worker_actor& w, std::string text) {
    http_call c;
    c.attempt_id = next_attempt++;
    c.body = R"({"model":"m","input":[")" + text + R"("],"encoding_format":"float"})";
    c.input_count = 1;
    c.encoding = encoding_format::float_array;
    c.timeout = 5s;
    c.deadline = sys.clock().now() + 10s;
    self->send(w, std::move(c));
    sched.run();
    return next_attempt - 1;
  }

  std::vector<http_call_result> results() const {
    std::vector<http_call_result> all;
    for (auto& b : log->batches)
      for (auto& r : b.results)
        all.push_back(r);
    return all;
  }

  // -- message by message (CAF's expect/disallow) ------------------------------------

  http_pool_state& state() {
    using actor_type
      = std::remove_pointer_t<http_pool_impl::stateful_pointer<http_pool_state>>;
    return deref<actor_type>(pool).state;
  }

  /// Kills worker `index` as a crash would; the pool sees it go and says so.
  void kill_worker(uint32_t index) {
    auto w = state().workers.at(index).handle;
    CAF_REQUIRE(w);
    caf::anon_send_exit(w, caf::exit_reason::kill);
    expect((caf::exit_msg), from(_).to(w));
    expect((caf::down_msg), from(_).to(pool));
    expect((runtime_event),
           from(pool)
             .to(event_sink)
             .with(runtime_event{
               event_kind::worker_failed, "worker " + std::to_string(index),
               caf::to_string(caf::make_error(caf::exit_reason::kill)),
               sys.clock().now()}));
  }

  size_t count(event_kind k) const {
    size_t n = 0;
    for (auto& e : *events)
      n += e.kind == k ? 1 : 0;
    return n;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(http_worker_pool_tests, pool_fixture)

CAF_TEST(the pool announces every worker with its share of the connections) {
  start(3, 8);
  CAF_REQUIRE_EQUAL(log->joined.size(), 3u);
  CAF_CHECK_EQUAL(log->joined[0].capacity, 3u);
  CAF_CHECK_EQUAL(log->joined[1].capacity, 3u);
  CAF_CHECK_EQUAL(log->joined[2].capacity, 2u);
  CAF_CHECK_EQUAL(upstream->transports_created(), 3u);
}

CAF_TEST(a worker answers a call decoded and checked) {
  start(1, 2);
  auto id = call(worker(0), "abc");
  CAF_REQUIRE_EQUAL(upstream->pending().size(), 1u);
  CAF_CHECK(upstream->pending()[0].request.timeout == 5s);
  upstream->complete_ok(0, 4);
  sched.run();
  auto rs = results();
  CAF_REQUIRE_EQUAL(rs.size(), 1u);
  CAF_CHECK_EQUAL(rs[0].attempt_id, id);
  CAF_CHECK(rs[0].status == attempt_status::succeeded);
  CAF_CHECK(rs[0].embeddings
            == std::vector<std::vector<float>>{fake_upstream::vector_for("abc", 4)});
  CAF_CHECK_EQUAL(rs[0].usage.prompt_tokens, 3u);
}

CAF_TEST(an error status comes back with the upstream message) {
  start(1, 2);
  call(worker(0), "x");
  upstream->complete_status(0, 503);
  sched.run();
  auto rs = results();
  CAF_REQUIRE_EQUAL(rs.size(), 1u);
  CAF_CHECK(rs[0].status == attempt_status::http_error);
  CAF_CHECK_EQUAL(rs[0].http_status, 503);
  CAF_CHECK_EQUAL(rs[0].detail, "scripted failure");
}

CAF_TEST(a worker beyond its capacity answers at once instead of queueing) {
  start(1, 1);
  call(worker(0), "first");
  auto second = call(worker(0), "second");
  auto rs = results();
  CAF_REQUIRE_EQUAL(rs.size(), 1u);
  CAF_CHECK_EQUAL(rs[0].attempt_id, second);
  CAF_CHECK(rs[0].status == attempt_status::transport_error);
}

CAF_TEST(a crashed worker is restarted after its backoff and announced again) {
  start(1, 2);
  auto first = worker(0);
  call(first, "a");
  self->send(pool, crash_worker_for_test{0});
  sched.run();
  CAF_CHECK_EQUAL(upstream->transports_alive(), 0u);
  CAF_CHECK(upstream->pending().empty()); // aborted with the transport, no answer
  CAF_CHECK(results().empty()); // the dispatcher answers what a dead worker carried
  CAF_CHECK_EQUAL(log->joined.size(), 1u);
  advance_time(100ms); // restart backoff, no jitter
  sched.run();
  CAF_REQUIRE_EQUAL(log->joined.size(), 2u);
  CAF_CHECK(log->joined[1].worker != log->joined[0].worker);
  call(worker(1), "b");
  upstream->complete_ok(0);
  sched.run();
  CAF_CHECK_EQUAL(results().size(), 1u);
  CAF_CHECK_EQUAL(count(event_kind::worker_failed), 1u);
  CAF_CHECK_EQUAL(count(event_kind::worker_restarted), 1u);
  auto counters = request<runtime_counters>(pool, caf::get_atom::value);
  CAF_CHECK_EQUAL(counters.workers_failed, 1u);
  CAF_CHECK_EQUAL(counters.workers_restarted, 1u);
}

CAF_TEST(restart backoff grows while a worker keeps failing) {
  start(1, 2);
  self->send(pool, crash_worker_for_test{0});
  sched.run();
  advance_time(100ms);
  sched.run();
  CAF_REQUIRE_EQUAL(log->joined.size(), 2u);
  self->send(pool, crash_worker_for_test{0});
  sched.run();
  advance_time(100ms); // not yet: the second backoff is 200 ms
  sched.run();
  CAF_CHECK_EQUAL(log->joined.size(), 2u);
  advance_time(100ms);
  sched.run();
  CAF_CHECK_EQUAL(log->joined.size(), 3u);
}

CAF_TEST(a worker that stayed up a while restarts at the smallest backoff again) {
  start(1, 2); // restart_reset_after_ms: default 100
  self->send(pool, crash_worker_for_test{0});
  sched.run();
  advance_time(100ms);
  sched.run();
  CAF_REQUIRE_EQUAL(log->joined.size(), 2u);
  // Up for 100 ms before failing again: the backoff starts over at 100 ms.
  advance_time(100ms);
  sched.run();
  self->send(pool, crash_worker_for_test{0});
  sched.run();
  advance_time(100ms);
  sched.run();
  CAF_CHECK_EQUAL(log->joined.size(), 3u);
  // Failing right after that start: the backoff grows (200 ms).
  self->send(pool, crash_worker_for_test{0});
  sched.run();
  advance_time(100ms);
  sched.run();
  CAF_CHECK_EQUAL(log->joined.size(), 3u);
  advance_time(100ms);
  sched.run();
  CAF_CHECK_EQUAL(log->joined.size(), 4u);
}

CAF_TEST(restarts beyond the intensity fail the pool as a whole) {
  start(1, 2, 2);
  auto down = std::make_shared<bool>(false);
  // Keep the handle: an actor nobody references is terminated as unreachable.
  auto watcher_handle = sys.spawn(
    [down](caf::event_based_actor* watcher, const http_pool_actor& p) -> caf::behavior {
      watcher->monitor(p);
      watcher->set_down_handler([down](caf::down_msg&) { *down = true; });
      return {[](caf::unit_t) {}}; // stay alive to receive the down message
    },
    pool);
  sched.run();
  for (int i = 0; i < 2; ++i) {
    self->send(pool, crash_worker_for_test{0});
    sched.run();
    advance_time(1s);
    sched.run();
  }
  CAF_CHECK(!*down);
  self->send(pool, crash_worker_for_test{0}); // third failure within the window
  sched.run();
  CAF_CHECK(*down);
  CAF_CHECK_EQUAL(upstream->transports_alive(), 0u);
  caf::anon_send_exit(watcher_handle, caf::exit_reason::user_shutdown);
}

CAF_TEST(a worker restart waits its backoff and past the limit the pool fails) {
  start(1, 2, 1); // one restart within the window
  self->monitor(pool);
  kill_worker(0);
  // The restart waits for its backoff (100 ms, no jitter) on the test clock.
  disallow((worker_joined), from(pool).to(sink));
  advance_time(99ms);
  disallow((caf::spawn_atom, uint32_t, uint64_t), from(pool).to(pool));
  advance_time(1ms);
  expect((caf::spawn_atom, uint32_t, uint64_t), from(pool).to(pool).with(_, 0u, 1u));
  auto restarted = state().workers[0].handle;
  CAF_REQUIRE(restarted);
  expect((worker_joined), from(pool).to(sink).with(worker_joined{
                            caf::actor_cast<caf::actor>(restarted), 2u, 0u}));
  expect((runtime_event),
         from(pool)
           .to(event_sink)
           .with(runtime_event{event_kind::worker_restarted, "worker 0", "restarted",
                               sys.clock().now()}));
  sched.run();
  // Past the limit: no restart timer, the pool fails as a whole (its supervisor
  // sees it go).
  kill_worker(0);
  disallow((caf::spawn_atom, uint32_t, uint64_t), from(pool).to(pool));
  expect((caf::down_msg), from(_).to(self));
  CAF_CHECK_EQUAL(advance_time(10s), 0u);
  pool = nullptr; // gone already
}

CAF_TEST_FIXTURE_SCOPE_END()
