#define CAF_SUITE observability.metrics
#include "src/observability/metrics.hpp"

#include <caf/test/unit_test.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <thread>
#include <unistd.h>

#include <prometheus/registry.h>

#include "src/observability/histogram.hpp"
#include "src/observability/json_log.hpp"
#include "tests/support/metrics_text.hpp"
#include "tests/support/promtool.hpp"

// The metrics store without actors: fabricated traces, events and counters in, the
// prometheus-cpp exposition out (checked by promtool).

using namespace embedrt;
using namespace embedrt::test;
using namespace embedrt::observability;
using namespace std::chrono_literals;

namespace {

steady_time at(std::chrono::milliseconds ms) {
  return steady_time{} + ms;
}

runtime_event event(event_kind kind, std::string source, std::string detail,
                    std::chrono::milliseconds when = 0ms) {
  return runtime_event{kind, std::move(source), std::move(detail),
                       caf::actor_clock::time_point{when}};
}

} // namespace

CAF_TEST(histogram buckets are upper bounds and counts add up across threads) {
  atomic_histogram h{duration_buckets_ns()};
  h.observe(1000000);           // exactly 1 ms: the first bucket (le=0.001)
  h.observe(1000001);           // just above: the second
  h.observe(uint64_t{1} << 62); // beyond 60 s: +Inf
  auto s = h.read();
  CAF_CHECK_EQUAL(s.counts.front(), 1u);
  CAF_CHECK_EQUAL(s.counts[1], 1u);
  CAF_CHECK_EQUAL(s.counts.back(), 1u);
  // Many threads, seeded values: nothing lost without a lock.
  atomic_histogram many{batch_input_buckets()};
  std::vector<std::thread> threads;
  std::atomic<uint64_t> expected_sum{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      std::mt19937_64 rng{static_cast<uint64_t>(t) + 1};
      uint64_t sum = 0;
      for (int i = 0; i < 50000; ++i) {
        auto v = rng() % 5000;
        many.observe(v);
        sum += v;
      }
      expected_sum += sum;
    });
  for (auto& t : threads)
    t.join();
  auto m = many.read();
  CAF_CHECK_EQUAL(m.total(), 200000u);
  CAF_CHECK_EQUAL(m.sum, expected_sum.load());
}

CAF_TEST(status classes follow the attempt and the http status) {
  status_class c;
  CAF_CHECK(classify(attempt_status::succeeded, 200, c) && c == status_class::ok_2xx);
  CAF_CHECK(classify(attempt_status::http_error, 429, c)
            && c == status_class::rate_limited_429);
  CAF_CHECK(classify(attempt_status::http_error, 503, c)
            && c == status_class::server_5xx);
  CAF_CHECK(classify(attempt_status::http_error, 400, c)
            && c == status_class::client_4xx);
  CAF_CHECK(classify(attempt_status::timed_out, 0, c) && c == status_class::transport);
  CAF_CHECK(classify(attempt_status::bad_response, 200, c)
            && c == status_class::bad_response);
  CAF_CHECK(!classify(attempt_status::expired, 0, c));
}

CAF_TEST(requests attempts and traces show up in the exposition and pass promtool) {
  runtime_metrics m{nullptr};
  std::vector<request_trace> seen;
  m.on_request_done = [&](const request_trace& t) { seen.push_back(t); };
  m.request_admitted(lane::interactive);
  m.request_admitted(lane::interactive);
  m.request_admitted(lane::bulk);
  m.request_answered(lane::interactive, embed_errc::none, 3ms);
  m.request_answered(lane::bulk, embed_errc::rate_limited, 2s);
  m.attempt_sent(16);
  m.attempt_finished(attempt_status::http_error, 503, 40ms);
  m.attempt_finished(attempt_status::succeeded, 200, 20ms);
  m.attempt_finished(attempt_status::expired, 0, 0ms); // never on the wire
  m.response_received(3000);
  m.upstream_remaining(-1, -1); // not reported: stays unknown
  m.upstream_remaining(41, -1);
  m.set_queued(lane::bulk, 7);
  request_trace t;
  t.request_id = 9;
  t.request_lane = lane::interactive;
  t.model = "m";
  t.inputs = 16;
  t.total = 3ms;
  t.queue = 1500us;
  t.attempts.push_back(attempt_trace{attempt_status::http_error, 503, 40ms, 1, 16});
  t.attempts.push_back(attempt_trace{attempt_status::succeeded, 200, 20ms, 1, 16});
  m.request_done(t);
  runtime_counters c;
  c.requests_admitted = 3;
  c.workers_failed = 5;
  m.sync(c, at(0ms));
  auto text = m.text();
  CAF_CHECK_EQUAL(
    sample(text, R"(embedrt_requests_total{lane="interactive",outcome="ok"})"), 1);
  CAF_CHECK_EQUAL(
    sample(text, R"(embedrt_requests_total{lane="bulk",outcome="rate_limited"})"), 1);
  CAF_CHECK_EQUAL(sample(text, R"(embedrt_inflight_requests{lane="interactive"})"), 1);
  CAF_CHECK_EQUAL(sample(text, R"(embedrt_inflight_requests{lane="bulk"})"), 0);
  CAF_CHECK_EQUAL(sample(text, R"(embedrt_queued_requests{lane="bulk"})"), 7);
  CAF_CHECK_EQUAL(
    sample(text, R"(embedrt_request_duration_seconds_count{lane="interactive"})"), 1);
  CAF_CHECK_EQUAL(
    sample(text, R"(embedrt_request_duration_seconds_bucket{lane="bulk",le="1"})"), 0);
  CAF_CHECK_EQUAL(
    sample(text, R"(embedrt_request_duration_seconds_bucket{lane="bulk",le="2.5"})"),
    1);
  CAF_CHECK_EQUAL(
    sample(text,
           R"(embedrt_request_queue_seconds_bucket{lane="interactive",le="0.0025"})"),
    1);
  CAF_CHECK_EQUAL(
    sample(text, R"(embedrt_upstream_attempts_total{status_class="5xx"})"), 1);
  CAF_CHECK_EQUAL(
    sample(text, R"(embedrt_upstream_attempts_total{status_class="2xx"})"), 1);
  CAF_CHECK_EQUAL(sample(text, "embedrt_attempt_duration_seconds_count"), 2);
  CAF_CHECK_EQUAL(sample(text, R"(embedrt_retries_total{reason="5xx"})"), 1);
  CAF_CHECK_EQUAL(sample(text, R"(embedrt_batch_inputs_bucket{le="16"})"), 1);
  CAF_CHECK_EQUAL(sample(text, R"(embedrt_response_bytes_bucket{le="4096"})"), 1);
  CAF_CHECK_EQUAL(sample(text, "embedrt_upstream_ratelimit_remaining_requests"), 41);
  CAF_CHECK_EQUAL(sample(text, "embedrt_upstream_ratelimit_remaining_tokens"), -1);
  // No limiter reported a budget: our own gauges are absent, not a made-up number.
  CAF_CHECK_EQUAL(text.find("embedrt_ratelimit_available_"), std::string::npos);
  CAF_CHECK_EQUAL(sample(text, "embedrt_requests_admitted_total"), 3);
  CAF_CHECK_EQUAL(sample(text, "embedrt_workers_failed_total"), 5);
  CAF_REQUIRE_EQUAL(seen.size(), 1u);
  CAF_CHECK_EQUAL(seen[0].request_id, 9u);
  // Every runtime_counters field has its counter.
  size_t fields = 0;
  c.for_each([&](const char* name, uint64_t) {
    ++fields;
    CAF_CHECK_GREATER_OR_EQUAL(sample(text, std::string{"embedrt_"} + name + "_total"),
                               0);
  });
  CAF_CHECK_EQUAL(fields, sizeof(runtime_counters) / sizeof(uint64_t));
  std::string complaint;
  auto accepted = test::promtool_accepts(text, complaint);
  CAF_CHECK_EQUAL(complaint, "");
  CAF_CHECK(accepted);
}

CAF_TEST(syncing twice adds only what is new and counters never go backwards) {
  runtime_metrics m{nullptr};
  runtime_counters c;
  c.responses_5xx = 4;
  m.sync(c, at(0ms));
  m.sync(c, at(0ms));
  CAF_CHECK_EQUAL(m.synced_counter("responses_5xx"), 4);
  c.responses_5xx = 10;
  m.sync(c, at(0ms));
  CAF_CHECK_EQUAL(m.synced_counter("responses_5xx"), 10);
  c.responses_5xx = 2; // a stale snapshot must not lower it
  m.sync(c, at(0ms));
  CAF_CHECK_EQUAL(m.synced_counter("responses_5xx"), 10);
}

CAF_TEST(a host registry receives the metrics) {
  auto registry = std::make_shared<prometheus::Registry>();
  runtime_metrics m{registry};
  m.request_admitted(lane::bulk);
  m.request_answered(lane::bulk, embed_errc::none, 5ms);
  m.sync(runtime_counters{}, at(0ms));
  bool found = false;
  for (auto& f : registry->Collect())
    if (f.name == "embedrt_request_duration_seconds")
      for (auto& x : f.metric)
        found = found || x.histogram.sample_count == 1;
  CAF_CHECK(found);
}

CAF_TEST(health follows breaker pauses workers and availability) {
  runtime_metrics m{nullptr};
  CAF_CHECK_EQUAL(m.health(at(0ms)).status, health_status::ready);
  m.on_event(event(event_kind::breaker_transitioned, "circuit_breaker emb-small",
                   "closed->open"));
  auto h = m.health(at(1ms));
  CAF_CHECK_EQUAL(h.status, health_status::degraded);
  CAF_REQUIRE_EQUAL(h.reasons.size(), 1u);
  CAF_CHECK_NOT_EQUAL(h.reasons[0].find("emb-small"), std::string::npos);
  m.sync(runtime_counters{}, at(1ms));
  CAF_CHECK_EQUAL(sample(m.text(), R"(embedrt_breaker_state{model="emb-small"})"), 2);
  m.on_event(event(event_kind::breaker_transitioned, "circuit_breaker emb-small",
                   "open->half_open"));
  CAF_CHECK_EQUAL(m.health(at(2ms)).status, health_status::degraded);
  m.on_event(event(event_kind::breaker_transitioned, "circuit_breaker emb-small",
                   "half_open->closed"));
  CAF_CHECK_EQUAL(m.health(at(3ms)).status, health_status::ready);
  CAF_CHECK_EQUAL(sample(m.text(), R"(embedrt_breaker_state{model="emb-small"})"), 0);
  // A 429 pause of 500 ms from t=100 ms: degraded until 600 ms.
  m.on_event(event(event_kind::grants_paused, "rate_limiter", "500 ms", 100ms));
  CAF_CHECK_EQUAL(m.health(at(599ms)).status, health_status::degraded);
  m.sync(runtime_counters{}, at(350ms));
  CAF_CHECK_EQUAL(sample(m.text(), "embedrt_ratelimit_pause_seconds"), 0.25);
  CAF_CHECK_EQUAL(m.health(at(600ms)).status, health_status::ready);
  // Workers restarting.
  m.on_event(event(event_kind::worker_failed, "worker 0", "crash"));
  CAF_CHECK_EQUAL(m.health(at(700ms)).status, health_status::degraded);
  m.on_event(event(event_kind::worker_restarted, "worker 0", "restarted"));
  CAF_CHECK_EQUAL(m.health(at(700ms)).status, health_status::ready);
  // Supervision paused the pool, then it came back.
  m.on_event(event(event_kind::runtime_unavailable, "supervisor", "pool kept failing"));
  CAF_CHECK_EQUAL(m.health(at(800ms)).status, health_status::unavailable);
  m.on_event(event(event_kind::runtime_available, "supervisor", "back"));
  CAF_CHECK_EQUAL(m.health(at(800ms)).status, health_status::ready);
  m.set_stopping();
  CAF_CHECK_EQUAL(m.health(at(900ms)).status, health_status::unavailable);
  CAF_CHECK_EQUAL(m.health(at(900ms)).to_json(),
                  R"({"reasons":["the runtime is stopping"],"status":"unavailable"})");
}

CAF_TEST(our rate budget gauges appear only for a bucket with a limit) {
  runtime_metrics m{nullptr};
  auto none = std::numeric_limits<double>::quiet_NaN();
  m.rate_budget(12, none); // requests limited, tokens not
  m.sync(runtime_counters{}, at(0ms));
  auto text = m.text();
  CAF_CHECK_EQUAL(sample(text, "embedrt_ratelimit_available_requests"), 12);
  CAF_CHECK_EQUAL(text.find("embedrt_ratelimit_available_tokens"), std::string::npos);
  m.rate_budget(-3, none); // in debt: reads 0
  m.sync(runtime_counters{}, at(0ms));
  CAF_CHECK_EQUAL(sample(m.text(), "embedrt_ratelimit_available_requests"), 0);
}

CAF_TEST(a replaced breaker actor puts every breaker gauge back to closed) {
  runtime_metrics m{nullptr};
  m.on_event(event(event_kind::breaker_transitioned, "circuit_breaker emb-small",
                   "closed->open"));
  m.on_event(event(event_kind::breaker_transitioned, "circuit_breaker emb-large",
                   "open->half_open"));
  m.sync(runtime_counters{}, at(0ms));
  CAF_CHECK_EQUAL(sample(m.text(), R"(embedrt_breaker_state{model="emb-small"})"), 2);
  CAF_CHECK_EQUAL(m.health(at(0ms)).status, health_status::degraded);
  m.breakers_replaced();
  auto text = m.text();
  CAF_CHECK_EQUAL(sample(text, R"(embedrt_breaker_state{model="emb-small"})"), 0);
  CAF_CHECK_EQUAL(sample(text, R"(embedrt_breaker_state{model="emb-large"})"), 0);
  CAF_CHECK_EQUAL(m.health(at(0ms)).status, health_status::ready);
}

CAF_TEST(breaker series per model are bounded) {
  runtime_metrics m{nullptr};
  for (int i = 0; i < 100; ++i)
    m.on_event(event(event_kind::breaker_transitioned,
                     "circuit_breaker model-" + std::to_string(i), "closed->open"));
  m.sync(runtime_counters{}, at(0ms));
  auto text = m.text();
  size_t series = 0;
  for (size_t pos = 0;
       (pos = text.find("embedrt_breaker_state{", pos)) != std::string::npos; ++pos)
    ++series;
  CAF_CHECK_LESS_OR_EQUAL(series, 33u); // 32 models and "other"
}

CAF_TEST(log lines are json and never hold a key shaped secret) {
  const std::string key = "sk-proj-Zq81xVb0Lm27TyHc5NwEr4UaKd9fGi3o";
  json_log log{log_level::debug, "", key};
  auto line = log.format(log_level::warn, "worker_failed",
                         {{"source", "worker 0"},
                          {"detail", "upstream said: invalid key " + key},
                          {"other", "Authorization: Bearer " + key}});
  CAF_CHECK_EQUAL(line.find(key), std::string::npos);
  CAF_CHECK_EQUAL(line.find("Zq81xVb0"), std::string::npos);
  CAF_CHECK_NOT_EQUAL(line.find(R"("event":"worker_failed")"), std::string::npos);
  CAF_CHECK_NOT_EQUAL(line.find(R"("level":"warn")"), std::string::npos);
  // A config whose URL carries the key as a password.
  char path[] = "/tmp/embedrt-log-XXXXXX";
  int fd = mkstemp(path);
  CAF_REQUIRE(fd >= 0);
  close(fd);
  {
    json_log file_log{log_level::info, path, key};
    runtime_config cfg;
    cfg.endpoint.base_url = "https://user:" + key + "@api.example.com/v1";
    cfg.endpoint.proxy = "http://proxy-user:" + key + "@127.0.0.1:3128";
    file_log.config(cfg);
    file_log.event(runtime_event{
      event_kind::worker_failed, "worker 1", "reset while sending Bearer " + key, {}});
    file_log.event(runtime_event{event_kind::runtime_available, "supervisor", "", {}});
    file_log.write(log_level::debug, "not_written", {});
  }
  std::ifstream in{path};
  std::stringstream all;
  all << in.rdbuf();
  std::remove(path);
  auto text = all.str();
  CAF_CHECK_EQUAL(text.find(key), std::string::npos);
  CAF_CHECK_NOT_EQUAL(text.find(R"("event":"config")"), std::string::npos);
  CAF_CHECK_NOT_EQUAL(text.find(R"("embedrt.log.level":"off")"), std::string::npos);
  CAF_CHECK_NOT_EQUAL(text.find(R"("event":"worker_failed")"), std::string::npos);
  CAF_CHECK_NOT_EQUAL(text.find(R"("event":"runtime_available")"), std::string::npos);
  CAF_CHECK_EQUAL(text.find("not_written"), std::string::npos);
  size_t lines = 0;
  for (auto c : text)
    lines += c == '\n' ? 1 : 0;
  CAF_CHECK_EQUAL(lines, 3u);
  // Off writes nothing.
  json_log off{log_level::off, "", key};
  CAF_CHECK(!off.enabled(log_level::error));
  log_level l;
  CAF_CHECK(parse_log_level("warn", l) && l == log_level::warn);
  CAF_CHECK(!parse_log_level("loud", l));
}
