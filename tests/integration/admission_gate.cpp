#define CAF_SUITE integration.admission_gate
#include <embedrt/runtime.hpp>

#include <caf/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <future>

#include <caf/scoped_actor.hpp>

#include "tests/support/metrics_text.hpp"
#include "tools/mock/mock_server.hpp"

// One admission point for every path: runtime::embed and a CAF host's embed_request
// take places of the same lane bound; beyond it, `overloaded` at once, and the
// dispatcher never sees the request (so no mailbox grows). Against the mock on
// 127.0.0.1 with a slow reply, so admitted requests hold their places.

using namespace embedrt;
using namespace std::chrono_literals;

namespace {

constexpr auto max_wait = 60s;
constexpr uint32_t capacity = 8;

struct fixture {
  mock::mock_server server{options()};

  static mock::mock_options options() {
    mock::mock_options o;
    o.dimension = 8;
    return o;
  }

  fixture() {
    server.start();
    std::string err;
    if (!server.load_script_json(R"([{"latency_ms":1500}])", err))
      CAF_FAIL("bad script: " << err);
  }

  std::unique_ptr<runtime> start(runtime_options opts = {}) {
    runtime_config cfg;
    cfg.endpoint.base_url = server.base_url();
    cfg.endpoint.api_key_env = "EMBEDRT_TEST_NO_SUCH_KEY";
    cfg.limits.interactive_capacity = capacity;
    cfg.http_pool.max_connections = 4;
    cfg.batching.enabled = false; // each request its own upstream call
    std::vector<config_error> errors;
    auto rt = runtime::start(cfg, errors, std::move(opts));
    CAF_REQUIRE(rt != nullptr);
    return rt;
  }
};

struct book {
  std::atomic<uint32_t> ok{0};
  std::atomic<uint32_t> shed{0};
  std::atomic<uint32_t> other{0};
  std::atomic<uint32_t> answered{0};
  /// Sheds answered after the first vectors arrived (must be none).
  std::atomic<uint32_t> late_sheds{0};
  std::promise<void> done;
  uint32_t total;

  explicit book(uint32_t n) : total(n) {}

  void record(const embed_outcome& x) {
    if (x.ok()) {
      ++ok;
    } else if (x.error().code == embed_errc::overloaded) {
      if (ok > 0)
        ++late_sheds;
      ++shed;
    } else {
      ++other;
    }
    if (++answered == total)
      done.set_value();
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(admission_gate_tests, fixture)

CAF_TEST(a host hammering embed beyond capacity is shed at once without a message) {
  auto rt = start();
  constexpr uint32_t n = 5000;
  book b{n};
  auto t0 = std::chrono::steady_clock::now();
  for (uint32_t i = 0; i < n; ++i)
    rt->embed({"hammer " + std::to_string(i)}, {},
              [&b](embed_outcome x) { b.record(x); });
  auto submit_time = std::chrono::steady_clock::now() - t0;
  CAF_REQUIRE(b.done.get_future().wait_for(max_wait) == std::future_status::ready);
  CAF_CHECK_EQUAL(b.other.load(), 0u);
  CAF_CHECK_EQUAL(b.ok + b.shed, n);
  // Every shed was answered before the first vectors (1.5 s upstream): at once.
  CAF_CHECK_EQUAL(b.late_sheds.load(), 0u);
  auto c = rt->counters();
  if (submit_time < 1s) {
    // No place freed while submitting: exactly `capacity` reached the dispatcher.
    CAF_CHECK_EQUAL(b.ok.load(), capacity);
    CAF_CHECK_EQUAL(c.requests_admitted, capacity);
  }
  CAF_CHECK_EQUAL(c.requests_admitted + c.requests_shed_overloaded, n);
  CAF_CHECK_EQUAL(c.requests_shed_overloaded, b.shed.load());
  CAF_CHECK_EQUAL(c.requests_shed_limiter_queue_full, 0u);
}

CAF_TEST(host side sheds are counted per outcome and traced like any request) {
  std::atomic<uint32_t> traces{0};
  std::atomic<uint32_t> traced_sheds{0};
  runtime_options opts;
  opts.on_request_done = [&](const request_trace& t) {
    ++traces;
    if (t.outcome == embed_errc::overloaded) {
      ++traced_sheds;
      CAF_CHECK_EQUAL(t.request_id, 0u); // never reached the dispatcher
      CAF_CHECK(t.attempts.empty());
    }
  };
  auto rt = start(std::move(opts));
  constexpr uint32_t n = 200;
  book b{n};
  for (uint32_t i = 0; i < n; ++i)
    rt->embed({"traced " + std::to_string(i)}, {},
              [&b](embed_outcome x) { b.record(x); });
  CAF_REQUIRE(b.done.get_future().wait_for(max_wait) == std::future_status::ready);
  auto text = rt->metrics_text();
  rt->stop();
  CAF_CHECK_GREATER(b.shed.load(), 0u);
  CAF_CHECK_EQUAL(traces.load(), n);
  CAF_CHECK_EQUAL(traced_sheds.load(), b.shed.load());
  CAF_CHECK_EQUAL(
    test::sample(text,
                 R"(embedrt_requests_total{lane="interactive",outcome="overloaded"})"),
    static_cast<double>(b.shed.load()));
  // Nothing stays "in flight" for a request refused at the door.
  CAF_CHECK_EQUAL(
    test::sample(text, R"(embedrt_inflight_requests{lane="interactive"})"), 0.0);
}

CAF_TEST(a caf host embed_request is bounded by the same gate) {
  auto rt = start();
  caf::scoped_actor self{rt->system()};
  embed_request req;
  req.texts = {"from an actor"};
  // An actor fills the interactive lane (distinct texts: no dedup).
  std::vector<decltype(self->request(rt->embedder(), max_wait, req))> handles;
  for (uint32_t i = 0; i < capacity; ++i) {
    req.texts = {"actor " + std::to_string(i)};
    handles.push_back(self->request(rt->embedder(), max_wait, req));
  }
  // The counters' request reaches the dispatcher after those: they are admitted.
  CAF_CHECK_EQUAL(rt->counters().requests_admitted, capacity);
  // A host embed now finds the lane full, at once.
  auto t0 = std::chrono::steady_clock::now();
  auto shed = rt->embed({"host one too many"});
  CAF_REQUIRE(shed.wait_for(max_wait) == std::future_status::ready);
  CAF_CHECK(std::chrono::steady_clock::now() - t0 < 1s); // not after the upstream
  CAF_CHECK(shed.get().error().code == embed_errc::overloaded);
  // And another actor's request too.
  caf::scoped_actor other{rt->system()};
  req.texts = {"actor one too many"};
  embed_errc code = embed_errc::none;
  other->request(rt->embedder(), max_wait, req)
    .receive([&](embed_result&) {}, [&](caf::error& e) { code = to_failure(e).code; });
  CAF_CHECK(code == embed_errc::overloaded);
  CAF_CHECK(std::chrono::steady_clock::now() - t0 < 1s);
  uint32_t ok = 0;
  for (auto& h : handles)
    h.receive([&](embed_result&) { ++ok; },
              [&](caf::error& e) { CAF_FAIL("unexpected: " << to_string(e)); });
  CAF_CHECK_EQUAL(ok, capacity);
  // Places were left when answered: the lane takes a host request again.
  auto again = rt->embed({"after"});
  CAF_REQUIRE(again.wait_for(max_wait) == std::future_status::ready);
  CAF_CHECK(again.get().ok());
  auto c = rt->counters();
  CAF_CHECK_EQUAL(c.requests_shed_overloaded, 2u);
  CAF_CHECK_EQUAL(c.requests_admitted + c.requests_shed_overloaded, capacity + 3);
}

CAF_TEST_FIXTURE_SCOPE_END()
