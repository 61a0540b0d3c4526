#define CAF_SUITE actors.http_worker_pool
#include "actors/http_worker_pool.hpp"

#include "tests/support/actor_helpers.hpp"
#include "tests/support/fake_transport.hpp"
#include "tests/support/fixture.hpp"

using namespace embedrt;
using namespace embedrt::test;
using namespace std::chrono_literals;

namespace {

struct pool_fixture : fixture {
  std::shared_ptr<fake_upstream> upstream = std::make_shared<fake_upstream>();
  std::shared_ptr<std::vector<runtime_event>> events
    = std::make_shared<std::vector<runtime_event>>();
  http_pool_actor pool;
  uint64_t next_attempt = 1;

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
    args.events = collect_events(sys, events);
    args.seed = 1;
    pool = sys.spawn(http_worker_pool, std::move(args));
    sched.run();
  }

  std::shared_ptr<answer<http_call_result>> call(std::string text,
                                                 caf::timespan within = 10s) {
    http_call c;
    c.attempt_id = next_attempt++;
    c.body = R"({"model":"m","input":[")" + text + R"("],"encoding_format":"float"})";
    c.input_count = 1;
    c.encoding = encoding_format::float_array;
    c.timeout = 5s;
    c.deadline = sys.clock().now() + within;
    auto a = ask<http_call_result>(sys, pool, std::move(c));
    sched.run();
    return a;
  }

  void crash(uint32_t worker) {
    self->send(pool, crash_worker_for_test{worker});
    sched.run();
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

CAF_TEST(a call goes to a worker and comes back decoded and checked) {
  start(1, 2);
  auto a = call("abc");
  CAF_REQUIRE_EQUAL(upstream->pending().size(), 1u);
  CAF_CHECK(upstream->pending()[0].request.timeout == 5s);
  upstream->complete_ok(0, 4);
  sched.run();
  CAF_REQUIRE(a->done);
  CAF_CHECK(a->value.status == attempt_status::succeeded);
  CAF_CHECK(a->value.embeddings
            == std::vector<std::vector<float>>{fake_upstream::vector_for("abc", 4)});
  CAF_CHECK_EQUAL(a->value.usage.prompt_tokens, 3u);
}

CAF_TEST(an error status comes back with the upstream message) {
  start(1, 2);
  auto a = call("x");
  upstream->complete_status(0, 503);
  sched.run();
  CAF_REQUIRE(a->done);
  CAF_CHECK(a->value.status == attempt_status::http_error);
  CAF_CHECK_EQUAL(a->value.http_status, 503);
  CAF_CHECK_EQUAL(a->value.detail, "scripted failure");
  CAF_CHECK_EQUAL(request<runtime_counters>(pool, caf::get_atom::value).responses_5xx,
                  1u);
}

CAF_TEST(calls are spread over workers within their capacity) {
  start(2, 4);
  for (int i = 0; i < 6; ++i)
    call("t" + std::to_string(i));
  CAF_CHECK_EQUAL(upstream->pending().size(), 4u); // 2 + 2; the rest wait in the pool
  CAF_CHECK(upstream->pending()[0].transport != upstream->pending()[1].transport);
  upstream->complete_ok(0);
  sched.run();
  CAF_CHECK_EQUAL(upstream->pending().size(), 4u);
}

CAF_TEST(the calls of a crashed worker are answered worker_failed and it restarts) {
  start(1, 2);
  auto a = call("a");
  auto b = call("b");
  crash(0);
  CAF_REQUIRE(a->done && b->done);
  CAF_CHECK(a->value.status == attempt_status::worker_failed);
  CAF_CHECK(b->value.status == attempt_status::worker_failed);
  CAF_CHECK_EQUAL(upstream->transports_alive(), 0u);
  auto c = call("c"); // waits for the restart
  CAF_CHECK(!c->done);
  advance_time(100ms); // restart backoff, no jitter
  sched.run();
  CAF_CHECK_EQUAL(upstream->transports_created(), 2u);
  CAF_REQUIRE_EQUAL(upstream->pending().size(), 1u);
  upstream->complete_ok(0);
  sched.run();
  CAF_CHECK(c->done && c->value.status == attempt_status::succeeded);
  CAF_CHECK_EQUAL(count(event_kind::worker_failed), 1u);
  CAF_CHECK_EQUAL(count(event_kind::worker_restarted), 1u);
  auto counters = request<runtime_counters>(pool, caf::get_atom::value);
  CAF_CHECK_EQUAL(counters.workers_failed, 1u);
  CAF_CHECK_EQUAL(counters.workers_restarted, 1u);
}

CAF_TEST(a late result of a crashed worker is dropped) {
  start(1, 2);
  auto a = call("a");
  // The transfer completes on the transport thread just as the worker dies: the
  // worker is gone, so the completion has nowhere to go, and `a` has one answer.
  crash(0);
  CAF_CHECK(a->done);
  CAF_CHECK(upstream->pending().empty()); // aborted with the transport
}

CAF_TEST(restarts beyond the intensity fail the pool after answering everything) {
  start(1, 2, 2);
  auto m = sys.spawn([](caf::event_based_actor* watcher,
                        const http_pool_actor& p) { watcher->monitor(p); },
                     pool);
  sched.run();
  for (int i = 0; i < 2; ++i) {
    crash(0);
    advance_time(1s);
    sched.run();
  }
  auto a = call("a");
  crash(0); // third restart within the window: escalate
  CAF_REQUIRE(a->done);
  CAF_CHECK(a->value.status == attempt_status::worker_failed);
  auto late = call("late");
  CAF_CHECK(late->done); // the pool is gone: the request bounces
  CAF_CHECK(late->error != caf::none);
  static_cast<void>(m);
}

CAF_TEST(a call waiting for a worker past its deadline is answered expired) {
  start(1, 1);
  call("busy");
  auto b = call("waits", 2s);
  CAF_CHECK(!b->done);
  advance_time(2s);
  sched.run();
  CAF_REQUIRE(b->done);
  CAF_CHECK(b->value.status == attempt_status::expired);
}

CAF_TEST_FIXTURE_SCOPE_END()
