#define CAF_SUITE integration.runtime_mock
#include <embedrt/runtime.hpp>

#include <caf/test/unit_test.hpp>

#include <atomic>
#include <cstdlib>
#include <thread>

#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "tests/support/mock_runtime.hpp"
#include "tools/mock/mock_server.hpp"

// The real path: host API -> actors -> libcurl -> embedrt-mock on 127.0.0.1:0.

using namespace embedrt;
using namespace embedrt::test;
using namespace std::chrono_literals;

namespace {

/// Every wait in this suite is bounded, so a hang fails a check instead of the run.
constexpr auto max_wait = 60s;

template<class T>
bool ready(std::future<T>& f) {
  return f.wait_for(max_wait) == std::future_status::ready;
}

struct server_fixture {
  mock::mock_server server;

  server_fixture() : server(options(16)) { server.start(); }

  static mock::mock_options options(uint32_t dimension, std::string key = {}) {
    mock::mock_options opts;
    opts.dimension = dimension;
    opts.api_key = std::move(key);
    return opts;
  }

  void script(const std::string& json) {
    std::string error;
    if (!server.load_script_json(json, error))
      CAF_FAIL("bad script: " << error);
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(runtime_mock_tests, server_fixture)

CAF_TEST(a thousand concurrent calls finish and use no more connections than the pool) {
  auto cfg = config_for(server);
  cfg.http_pool.max_connections = 16;
  cfg.http_pool.workers = 2;
  auto rt = start(cfg);
  std::vector<std::future<embed_outcome>> futures;
  for (int i = 0; i < 1000; ++i)
    futures.push_back(rt->embed({"text number " + std::to_string(i)}));
  size_t ok = 0;
  for (int i = 0; i < 1000; ++i) {
    CAF_REQUIRE(ready(futures[i]));
    auto x = futures[i].get();
    if (x.ok()
        && x.value().embeddings.at(0)
             == mock::mock_vector("text number " + std::to_string(i), 16))
      ++ok;
  }
  CAF_CHECK_EQUAL(ok, 1000u);
  auto c = rt->counters();
  CAF_CHECK(c.connections_opened <= 16u);
  CAF_CHECK(server.stats(false).total.connections_accepted <= 16u);
  CAF_CHECK_EQUAL(c.requests_succeeded, 1000u);
  CAF_MESSAGE("upstream requests: " << c.upstream_requests_formed
                                    << ", connections: " << c.connections_opened);
}

CAF_TEST(vectors come back in input order when the upstream shuffles the index) {
  script(R"([{"faults":[{"kind":"shuffle_index"}]}])");
  auto cfg = config_for(server);
  auto rt = start(cfg);
  std::vector<std::string> texts;
  for (int i = 0; i < 50; ++i)
    texts.push_back("shuffled " + std::to_string(i));
  auto f = rt->embed(texts);
  CAF_REQUIRE(ready(f));
  auto x = f.get();
  CAF_REQUIRE(x.ok());
  for (size_t i = 0; i < texts.size(); ++i)
    CAF_CHECK(x.value().embeddings[i] == mock::mock_vector(texts[i], 16));
  CAF_CHECK(server.stats(false).total.faults["shuffle_index"] >= 1u);
}

CAF_TEST(the float encoding gives the same vectors as base64) {
  auto cfg = config_for(server);
  cfg.endpoint.encoding_format = "float";
  auto rt = start(cfg);
  auto f = rt->embed({"alpha", "beta"});
  CAF_REQUIRE(ready(f));
  auto x = f.get();
  CAF_REQUIRE(x.ok());
  // The mock writes floats in shortest round-trip form, so they parse back exactly.
  CAF_CHECK(x.value().embeddings[0] == mock::mock_vector("alpha", 16));
  CAF_CHECK(x.value().embeddings[1] == mock::mock_vector("beta", 16));
}

CAF_TEST(a host that is a caf actor gets the typed reply) {
  auto rt = start(config_for(server));
  caf::scoped_actor self{rt->system()};
  embed_request req;
  req.texts = {"from an actor"};
  bool ok = false;
  self->request(rt->embedder(), 30s, req)
    .receive(
      [&](embed_result& r) {
        ok = r.embeddings.at(0) == mock::mock_vector("from an actor", 16);
      },
      [&](caf::error& e) { CAF_FAIL("unexpected error: " << to_string(e)); });
  CAF_CHECK(ok);
  req.texts = {""};
  self->request(rt->embedder(), 30s, req)
    .receive([&](embed_result&) { CAF_FAIL("an empty text must be refused"); },
             [&](caf::error& e) {
               CAF_CHECK(e == embed_errc::invalid_input);
               CAF_CHECK_EQUAL(to_failure(e).message, "input 0 is empty");
             });
}

CAF_TEST(embed_many waits for credit instead of being shed) {
  auto cfg = config_for(server);
  cfg.limits.bulk_capacity = 4; // far fewer than the requests embed_many makes
  auto rt = start(cfg);
  std::vector<std::string> texts;
  for (int i = 0; i < 2000; ++i)
    texts.push_back("bulk " + std::to_string(i));
  auto f = rt->embed_many(texts, {}, 16);
  CAF_REQUIRE(ready(f));
  auto x = f.get();
  CAF_REQUIRE_EQUAL(x.texts.size(), texts.size());
  CAF_REQUIRE_EQUAL(x.failures, 0u);
  for (size_t i = 0; i < texts.size(); i += 97)
    CAF_CHECK(x.texts[i].embedding == mock::mock_vector(texts[i], 16));
  auto c = rt->counters();
  CAF_CHECK_EQUAL(c.requests_shed_overloaded, 0u);
  CAF_CHECK(c.credits_granted >= 125u);
}

CAF_TEST(a bulk session blocks the producer instead of queueing without bound) {
  auto cfg = config_for(server);
  cfg.limits.bulk_capacity = 8;
  auto rt = start(cfg);
  std::atomic<int> ok{0};
  std::atomic<int> done{0};
  std::promise<void> all_done;
  {
    bulk_session session{*rt, 4};
    for (int i = 0; i < 500; ++i)
      CAF_REQUIRE(
        session.submit({"session " + std::to_string(i)}, {}, [&](embed_outcome x) {
          ok += x.ok() ? 1 : 0;
          if (++done == 500)
            all_done.set_value();
        }));
  }
  CAF_REQUIRE(all_done.get_future().wait_for(max_wait) == std::future_status::ready);
  CAF_CHECK_EQUAL(ok.load(), 500);
  CAF_CHECK_EQUAL(rt->counters().requests_shed_overloaded, 0u);
}

CAF_TEST(stop answers everything and later calls get shutting_down) {
  script(R"([{"latency_ms":300}])");
  auto cfg = config_for(server);
  cfg.http_pool.max_connections = 2;
  cfg.batching.enabled = false;
  auto rt = start(cfg);
  std::vector<std::future<embed_outcome>> futures;
  for (int i = 0; i < 20; ++i)
    futures.push_back(rt->embed({"slow " + std::to_string(i)}));
  // Two go out at once and take 300 ms; the grace of 800 ms lets them finish, while
  // the 18 queued behind them cannot all finish in it.
  auto report = rt->stop(800ms);
  size_t ok = 0;
  size_t stopped = 0;
  for (auto& f : futures) {
    CAF_REQUIRE(ready(f));
    auto x = f.get();
    ok += x.ok() ? 1 : 0;
    stopped += x.error().code == embed_errc::shutting_down ? 1 : 0;
  }
  CAF_CHECK_EQUAL(ok + stopped, 20u);
  CAF_CHECK(ok >= 2u);
  CAF_CHECK(stopped >= 10u);
  CAF_CHECK_EQUAL(report.answered_shutting_down, stopped);
  auto late = rt->embed({"after stop"});
  CAF_REQUIRE(ready(late));
  CAF_CHECK(late.get().error().code == embed_errc::shutting_down);
}

CAF_TEST(the api key is sent and a wrong key is rejected once without retries) {
  mock::mock_server keyed{options(8, "sk-right-key")};
  keyed.start();
  auto cfg = config_for(keyed);
  cfg.endpoint.api_key_env = "EMBEDRT_TEST_API_KEY";
  ::setenv("EMBEDRT_TEST_API_KEY", "sk-right-key", 1);
  {
    auto rt = start(cfg);
    auto f = rt->embed({"keyed"});
    CAF_REQUIRE(ready(f));
    CAF_CHECK(f.get().ok());
  }
  ::setenv("EMBEDRT_TEST_API_KEY", "sk-wrong-key-123456", 1);
  {
    auto rt = start(cfg);
    auto f = rt->embed({"keyed"});
    CAF_REQUIRE(ready(f));
    auto x = f.get();
    CAF_CHECK(x.error().code == embed_errc::upstream_rejected);
    CAF_CHECK_EQUAL(x.error().upstream_status, 401);
    CAF_CHECK(x.error().message.find("sk-wrong") == std::string::npos);
    CAF_CHECK_EQUAL(rt->counters().attempts_started, 1u);
  }
  ::unsetenv("EMBEDRT_TEST_API_KEY");
}

CAF_TEST(a response with a nan is a bad_response and never reaches the caller) {
  script(R"([{"faults":[{"kind":"nan"}]}])");
  auto rt = start(config_for(server));
  auto f = rt->embed({"poison"});
  CAF_REQUIRE(ready(f));
  auto x = f.get();
  CAF_CHECK(x.error().code == embed_errc::bad_response);
  CAF_MESSAGE("message: " << x.error().message);
}

CAF_TEST(a refused connection is retried and then reported unavailable) {
  mock::mock_server gone;
  gone.start();
  auto cfg = config_for(gone);
  gone.stop(); // nothing listens there any more
  cfg.retry.max_attempts = 2;
  auto rt = start(cfg);
  auto f = rt->embed({"nobody home"});
  CAF_REQUIRE(ready(f));
  auto x = f.get();
  CAF_CHECK(x.error().code == embed_errc::upstream_unavailable);
  CAF_CHECK_EQUAL(rt->counters().attempts_started, 2u);
}

CAF_TEST(stop from other threads races embeds and every call answers once) {
  script(R"([{"latency_ms":50}])");
  auto cfg = config_for(server);
  cfg.http_pool.max_connections = 4;
  auto rt = start(cfg); // this thread started it (and spawned actors doing so)
  auto first = rt->embed({"before"});
  CAF_REQUIRE(ready(first));
  CAF_CHECK(first.get().ok());
  auto before = rt->counters();
  CAF_CHECK_EQUAL(before.requests_succeeded, 1u);
  // Three host threads keep embedding while two others stop the runtime at once.
  std::atomic<uint64_t> answered{0};
  std::atomic<uint64_t> calls{0};
  std::atomic<uint64_t> unexpected{0};
  std::atomic<bool> stopping{false};
  std::vector<std::thread> callers;
  for (int t = 0; t < 3; ++t)
    callers.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        ++calls;
        rt->embed({"t" + std::to_string(t) + " " + std::to_string(i)}, {},
                  [&](embed_outcome x) {
                    // Runs on a CAF thread: count here, check on this one.
                    if (!(x.ok() || x.error().code == embed_errc::shutting_down
                          || x.error().code == embed_errc::overloaded))
                      ++unexpected;
                    ++answered;
                  });
        if (stopping && i % 50 == 0)
          std::this_thread::yield();
      }
    });
  // Stop under real load: once some answers are back (a signal, not a sleep).
  auto until = std::chrono::steady_clock::now() + max_wait;
  while (answered.load() < 30 && std::chrono::steady_clock::now() < until)
    std::this_thread::yield();
  CAF_REQUIRE_GREATER_OR_EQUAL(answered.load(), 30u);
  stopping = true;
  shutdown_report reports[2];
  std::thread stop_a{[&] { reports[0] = rt->stop(200ms); }};
  std::thread stop_b{[&] { reports[1] = rt->stop(200ms); }};
  stop_a.join();
  stop_b.join();
  for (auto& c : callers)
    c.join();
  CAF_CHECK_EQUAL(reports[0].answered_shutting_down, reports[1].answered_shutting_down);
  // Every callback ran exactly once, also for calls that raced with the stop, and
  // without waiting: stop() returns after every actor (and dropped message) is gone,
  // and a call after that answers in the caller's thread.
  CAF_CHECK_EQUAL(answered.load(), calls.load());
  CAF_CHECK_EQUAL(unexpected.load(), 0u);
  // After stop the counters are the final ones, not zeros.
  auto after = rt->counters();
  CAF_CHECK_GREATER_OR_EQUAL(after.requests_admitted, before.requests_admitted);
  CAF_CHECK_GREATER_OR_EQUAL(after.requests_succeeded, 1u);
  // The runtime is destroyed on yet another thread.
  std::thread{[&] { rt.reset(); }}.join();
  CAF_CHECK(rt == nullptr);
}

CAF_TEST_FIXTURE_SCOPE_END()
