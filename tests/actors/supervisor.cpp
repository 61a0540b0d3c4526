#define CAF_SUITE actors.supervisor
#include "actors/supervisor.hpp"

#include <cmath>

#include "tests/support/actor_helpers.hpp"
#include "tests/support/fake_transport.hpp"
#include "tests/support/fixture.hpp"

using namespace embedrt;
using namespace embedrt::test;
using namespace std::chrono_literals;

namespace {

/// The whole runtime on the deterministic scheduler, with a scripted upstream.
struct pipeline_fixture : fixture {
  std::shared_ptr<fake_upstream> upstream = std::make_shared<fake_upstream>();
  std::shared_ptr<std::vector<runtime_event>> events
    = std::make_shared<std::vector<runtime_event>>();
  runtime_config rc;
  supervisor_actor sup;
  embedder_actor embedder;
  caf::actor subscriber;
  /// Handed to the supervisor when set before `start`.
  std::shared_ptr<observability::runtime_metrics> metrics;

  pipeline_fixture() {
    rc.endpoint.model = "m";
    // Vectors of this length are confirmed from the start (an unknown length is
    // learned by agreement: dispatch.batch_outcome).
    rc.endpoint.dimensions = 4;
    rc.endpoint.encoding_format = "float";
    rc.http_pool.workers = 1;
    rc.http_pool.max_connections = 4;
    rc.batching.linger_us = 0;
    rc.retry.seed = 3;
    rc.retry.base_delay_ms = 100;
    rc.retry.max_delay_ms = 100;
    rc.circuit_breaker.consecutive_failures = 3;
    rc.circuit_breaker.failure_rate_percent = 0;
    rc.circuit_breaker.open_duration_ms = 30000;
    rc.circuit_breaker.half_open_trials = 1;
    rc.supervision.test_hooks = true;
    rc.supervision.restart_min_backoff_ms = 10;
    rc.supervision.restart_max_backoff_ms = 10;
    rc.supervision.restart_jitter_percent = 0;
  }

  ~pipeline_fixture() {
    // The supervisor and its children reference each other (events, results): stop
    // them explicitly, as runtime::stop does.
    if (sup)
      caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
    run();
  }

  void start() {
    supervisor_args args;
    args.config = rc;
    args.transport.counters = std::make_shared<http::transport_counters>();
    args.make_transport = upstream->factory();
    args.metrics = metrics;
    sup = sys.spawn(supervisor, std::move(args));
    sched.run();
    // The sink is a spawn argument: CAF 0.17.6 trips UBSan on argument-less actors.
    subscriber = sys.spawn(
      [](caf::event_based_actor*,
         std::shared_ptr<std::vector<runtime_event>> ev) -> caf::behavior {
        return {[ev](runtime_event& x) { ev->push_back(std::move(x)); }};
      },
      events);
    self->send(sup, caf::subscribe_atom::value, subscriber);
    embedder = request<embedder_actor>(sup, caf::get_atom::value, embedder_atom::value);
    sched.run();
  }

  std::shared_ptr<answer<embed_result>> embed(std::vector<std::string> texts,
                                              lane l = lane::interactive) {
    embed_request req;
    req.texts = std::move(texts);
    req.options.priority = l;
    auto a = ask<embed_result>(sys, embedder, std::move(req));
    sched.run();
    return a;
  }

  std::vector<std::string> details(event_kind k) const {
    std::vector<std::string> result;
    for (auto& e : *events)
      if (e.kind == k)
        result.push_back(e.detail);
    return result;
  }

  embed_errc code_of(const answer<embed_result>& a) const {
    return to_failure(a.error).code;
  }

  // -- message by message (CAF's expect/disallow) ------------------------------------

  supervisor_state& state() {
    using actor_type
      = std::remove_pointer_t<supervisor_impl::stateful_pointer<supervisor_state>>;
    return deref<actor_type>(sup).state;
  }

  /// Kills `component` as a crash would and lets the supervisor see it go.
  template<class Handle>
  void kill(const Handle& component) {
    caf::anon_send_exit(component, caf::exit_reason::kill);
    expect((caf::exit_msg), from(_).to(component));
    expect((caf::down_msg), from(_).to(sup));
  }

  /// The `detail` of the events about a killed child.
  static std::string killed() {
    return caf::to_string(caf::make_error(caf::exit_reason::kill));
  }

  void expect_event(event_kind kind, const std::string& detail) {
    expect((runtime_event),
           from(_)
             .to(subscriber)
             .with(runtime_event{kind, "supervisor", detail, sys.clock().now()}));
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(supervisor_tests, pipeline_fixture)

CAF_TEST(an embed request travels through every stage and comes back) {
  start();
  auto a = embed({"hello", "world!"});
  CAF_REQUIRE_EQUAL(upstream->pending().size(), 1u);
  upstream->complete_ok(0, 4);
  sched.run();
  CAF_REQUIRE(a->done);
  CAF_REQUIRE(!a->error);
  CAF_CHECK(a->value.embeddings[0] == fake_upstream::vector_for("hello", 4));
  CAF_CHECK(a->value.embeddings[1] == fake_upstream::vector_for("world!", 4));
  auto c = request<runtime_counters>(sup, caf::get_atom::value);
  CAF_CHECK_EQUAL(c.requests_succeeded, 1u);
  CAF_CHECK_EQUAL(c.permits_granted, 1u);
  CAF_CHECK_EQUAL(c.calls_completed, 1u);
  CAF_CHECK_EQUAL(c.responses_2xx, 1u);
}

CAF_TEST(a crash in flight is re - sent and answered exactly once) {
  start();
  auto a = embed({"x"});
  CAF_REQUIRE_EQUAL(upstream->pending().size(), 1u);
  self->send(sup, crash_worker_for_test{0});
  sched.run();
  CAF_CHECK(!a->done);
  advance_time(100ms); // worker restart (10 ms) and retry backoff (<= 100 ms)
  sched.run();
  advance_time(100ms);
  sched.run();
  CAF_REQUIRE_EQUAL(upstream->pending().size(), 1u);
  upstream->complete_ok(0);
  sched.run();
  CAF_REQUIRE(a->done);
  CAF_CHECK(!a->error);
  auto c = request<runtime_counters>(sup, caf::get_atom::value);
  CAF_CHECK_EQUAL(c.attempts_redispatched_worker_failed, 1u);
  CAF_CHECK_EQUAL(c.workers_restarted, 1u);
  CAF_CHECK_EQUAL(c.requests_succeeded, 1u);
}

CAF_TEST(a restarted limiter and breaker reach the dispatcher as typed handles) {
  start();
  using sup_t = caf::stateful_actor<supervisor_state, supervisor_impl::base>;
  using disp_t = caf::stateful_actor<dispatcher_state, dispatcher_impl::base>;
  auto& sv = deref<sup_t>(sup).state;
  auto& dp = deref<disp_t>(sv.dispatcher).state;
  auto old_limiter = sv.limiter;
  auto old_breaker = sv.breaker;
  CAF_REQUIRE(dp.limiter == old_limiter);
  caf::anon_send_exit(old_limiter, caf::exit_reason::kill);
  caf::anon_send_exit(old_breaker, caf::exit_reason::kill);
  sched.run();
  CAF_CHECK(sv.limiter != old_limiter);
  CAF_CHECK(sv.breaker != old_breaker);
  CAF_CHECK(dp.limiter == sv.limiter);
  CAF_CHECK(dp.breaker == sv.breaker);
  // The new ones serve.
  auto a = embed({"after the restart"});
  CAF_REQUIRE_EQUAL(upstream->pending().size(), 1u);
  upstream->complete_ok(0, 4);
  sched.run();
  CAF_REQUIRE(a->done);
  CAF_CHECK(!a->error);
}

CAF_TEST(three 503s open the breaker and a trial closes it after the open period) {
  rc.retry.max_attempts = 1;
  start();
  for (int i = 0; i < 3; ++i) {
    auto a = embed({"t" + std::to_string(i)});
    upstream->complete_status(0, 503);
    sched.run();
    CAF_CHECK(code_of(*a) == embed_errc::upstream_unavailable);
  }
  auto fast = embed({"interactive"});
  CAF_CHECK(fast->done);
  CAF_CHECK(code_of(*fast) == embed_errc::circuit_open);
  CAF_CHECK(upstream->pending().empty()); // no network traffic
  auto bulk = embed({"bulk"}, lane::bulk);
  CAF_CHECK(!bulk->done); // waits for the half-open outcome
  advance_time(30s);
  sched.run();
  CAF_REQUIRE_EQUAL(upstream->pending().size(), 1u);
  upstream->complete_ok(0);
  sched.run();
  CAF_REQUIRE(bulk->done);
  CAF_CHECK(!bulk->error);
  // The trial's outcome reaches the breaker with the next check, or within 1 ms.
  advance_time(1ms);
  sched.run();
  CAF_CHECK_EQUAL(
    details(event_kind::breaker_transitioned),
    (std::vector<std::string>{"closed->open", "open->half_open", "half_open->closed"}));
  auto c = request<runtime_counters>(sup, caf::get_atom::value);
  CAF_CHECK_EQUAL(c.breaker_opened, 1u);
  CAF_CHECK_EQUAL(c.requests_failed_circuit_open, 1u);
}

CAF_TEST(with give up a pool failing past its intensity is restarted then given up) {
  rc.supervision.max_worker_restarts = 0; // the first crash escalates
  rc.supervision.max_pool_restarts = 1;
  rc.supervision.give_up = true;
  start();
  self->send(sup, crash_worker_for_test{0});
  sched.run();
  CAF_CHECK_EQUAL(details(event_kind::pool_restarted).size(), 1u);
  auto a = embed({"still served"});
  CAF_REQUIRE_EQUAL(upstream->pending().size(), 1u);
  upstream->complete_ok(0);
  sched.run();
  CAF_CHECK(a->done && !a->error);
  self->send(sup, crash_worker_for_test{0});
  sched.run();
  CAF_CHECK_EQUAL(details(event_kind::runtime_unavailable).size(), 1u);
  auto b = embed({"refused"});
  CAF_CHECK(b->done);
  CAF_CHECK(code_of(*b) == embed_errc::runtime_unavailable);
}

CAF_TEST(a pool failing past its intensity is down for a growing pause then back) {
  rc.supervision.max_worker_restarts = 0; // the first crash escalates
  rc.supervision.max_pool_restarts = 0;   // the first pool failure takes it down
  rc.supervision.restart_max_backoff_ms = 100;
  rc.supervision.pool_max_backoff_ms = 150;
  start();
  for (auto pause : {100ms, 150ms, 150ms}) {
    self->send(sup, crash_worker_for_test{0});
    sched.run();
    // Down: answered at once, and said so.
    auto refused = embed({"refused"});
    CAF_CHECK(refused->done);
    CAF_CHECK(code_of(*refused) == embed_errc::runtime_unavailable);
    // Not back a moment before the pause ends (100 ms, doubling, capped at 150 ms).
    advance_time(pause - 1ms);
    sched.run();
    CAF_CHECK(code_of(*embed({"still refused"})) == embed_errc::runtime_unavailable);
    advance_time(1ms);
    sched.run();
    // Back by itself: the same runtime serves again.
    auto served = embed({"served again"});
    CAF_REQUIRE_EQUAL(upstream->pending().size(), 1u);
    upstream->complete_ok(0);
    sched.run();
    CAF_CHECK(served->done && !served->error);
  }
  CAF_CHECK_EQUAL(details(event_kind::runtime_unavailable).size(), 3u);
  CAF_CHECK_EQUAL(details(event_kind::runtime_available).size(), 3u);
}

CAF_TEST(a failed limiter or breaker is replaced and the dispatcher told at once) {
  start();
  auto& st = state();
  auto dispatcher = st.dispatcher;
  auto old_limiter = st.limiter;
  kill(old_limiter);
  CAF_REQUIRE(st.limiter && st.limiter != old_limiter);
  expect((rate_limiter_replaced),
         from(sup).to(dispatcher).with(rate_limiter_replaced{st.limiter}));
  disallow((availability_changed), from(sup).to(dispatcher));
  sched.run();
  auto old_breaker = st.breaker;
  kill(old_breaker);
  CAF_REQUIRE(st.breaker && st.breaker != old_breaker);
  expect((circuit_breaker_replaced),
         from(sup).to(dispatcher).with(circuit_breaker_replaced{st.breaker}));
  disallow((availability_changed), from(sup).to(dispatcher));
  sched.run();
  // The runtime works through the new ones: the new limiter granted the permit.
  auto a = embed({"after the restarts"});
  CAF_REQUIRE_EQUAL(upstream->pending().size(), 1u);
  upstream->complete_ok(0);
  sched.run();
  CAF_CHECK(a->done && !a->error);
  auto c = request<runtime_counters>(sup, caf::get_atom::value);
  CAF_CHECK_EQUAL(c.permits_granted, 1u);
  CAF_CHECK(details(event_kind::runtime_unavailable).empty());
}

CAF_TEST(the metrics see our rate budget and a replaced breaker as closed) {
  rc.rate_limiter.requests_per_minute = 60; // a burst of one
  metrics = std::make_shared<observability::runtime_metrics>(nullptr);
  start();
  CAF_CHECK_EQUAL(metrics->rate_budget_requests(), 1);
  CAF_CHECK(std::isnan(metrics->rate_budget_tokens())); // no tokens-per-minute limit
  auto a = embed({"one"});
  CAF_REQUIRE_EQUAL(upstream->pending().size(), 1u);
  CAF_CHECK_EQUAL(metrics->rate_budget_requests(), 0);
  upstream->complete_ok(0);
  sched.run();
  CAF_CHECK(a->done && !a->error);
  // The gauge says open (as the event observer would have set it); the breaker actor
  // fails and its successor starts closed without an event.
  auto series = std::string{R"(embedrt_breaker_state{model="m"} )"};
  auto gauge = [&] {
    metrics->sync(runtime_counters{}, std::chrono::steady_clock::now());
    auto text = metrics->text();
    auto pos = text.find(series);
    return pos == std::string::npos ? -1.0
                                    : std::stod(text.substr(pos + series.size()));
  };
  metrics->on_event(runtime_event{event_kind::breaker_transitioned, "circuit_breaker m",
                                  "closed->open", sys.clock().now()});
  CAF_CHECK_EQUAL(gauge(), 2);
  auto& st = state();
  auto old_breaker = st.breaker;
  kill(old_breaker);
  CAF_REQUIRE(st.breaker && st.breaker != old_breaker);
  sched.run();
  CAF_CHECK_EQUAL(gauge(), 0);
  CAF_CHECK_EQUAL(metrics->health(std::chrono::steady_clock::now()).status,
                  observability::health_status::ready);
}

CAF_TEST(
  a pool failing past its restart limit escalates to unavailable then comes back) {
  rc.supervision.max_pool_restarts = 1;
  rc.supervision.restart_max_backoff_ms = 100; // the first pause
  start();
  auto& st = state();
  auto dispatcher = st.dispatcher;
  // Within the limit: a new pool at once, the dispatcher is not bothered.
  auto first = st.pool;
  kill(first);
  CAF_REQUIRE(st.pool && st.pool != first);
  expect_event(event_kind::pool_restarted, killed());
  disallow((availability_changed), from(sup).to(dispatcher));
  sched.run();
  // Past the limit: no pool, the dispatcher learns first, then the subscribers.
  kill(st.pool);
  CAF_CHECK(!st.pool);
  auto why = "the HTTP pool kept failing (" + killed() + "); it restarts in 100 ms";
  expect((availability_changed),
         from(sup).to(dispatcher).with(availability_changed{false, why}));
  expect_event(event_kind::runtime_unavailable, why);
  sched.run();
  auto refused = embed({"refused"});
  CAF_CHECK(refused->done);
  CAF_CHECK(code_of(*refused) == embed_errc::runtime_unavailable);
  // The pause ends by the test clock: a new pool, then available again.
  advance_time(99ms);
  disallow((caf::spawn_atom, uint64_t), from(sup).to(sup));
  advance_time(1ms);
  expect((caf::spawn_atom, uint64_t), from(sup).to(sup).with(_, uint64_t{1}));
  CAF_CHECK(st.pool);
  expect((availability_changed),
         from(sup).to(dispatcher).with(availability_changed{true, ""}));
  expect_event(event_kind::pool_restarted, "after a pause");
  expect_event(event_kind::runtime_available, "the HTTP pool is back");
  sched.run();
  auto served = embed({"served again"});
  CAF_REQUIRE_EQUAL(upstream->pending().size(), 1u);
  upstream->complete_ok(0);
  sched.run();
  CAF_CHECK(served->done && !served->error);
}

CAF_TEST_FIXTURE_SCOPE_END()
