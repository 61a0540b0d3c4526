#define CAF_SUITE integration.shared_budget
#include <caf/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unistd.h>

#include "tests/support/redis_server.hpp"
#include "tools/mock/mock_server.hpp"
#include <embedrt/runtime.hpp>

// A budget shared through a real Redis (started here on a free loopback port, without
// persistence, and stopped here) by several processes: the embedrt CLI as separate
// processes, or several runtimes in this one (each its own actor system and Redis
// connection, for the tests that watch events). One mock upstream records arrivals.

using namespace embedrt;
using namespace std::chrono_literals;

namespace {

using steady = std::chrono::steady_clock;

const std::string cli = EMBEDRT_BINARY_DIR "/embedrt";

/// Skips (with a clear message) only when redis-server is not installed.
#define REQUIRE_REDIS()                                                                \
  if (!test::redis_server::installed()) {                                              \
    CAF_MESSAGE("SKIPPED: redis-server is not installed (scripts/install-deps.sh "     \
                "installs it)");                                                       \
    return;                                                                            \
  }

std::string unique_name(const char* what) {
  std::random_device rd;
  return std::string{what} + "-" + std::to_string(rd());
}

struct temp_dir {
  std::string path;
  temp_dir() {
    char tmpl[] = "/tmp/embedrt-shared-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~temp_dir() { std::system(("rm -rf " + path).c_str()); }
};

struct fixture {
  mock::mock_server server;
  test::redis_server redis;
  temp_dir dir;

  fixture() : server(options()) { server.start(); }

  static mock::mock_options options() {
    mock::mock_options opts;
    opts.dimension = 8;
    opts.track_texts = true;
    opts.threads = 1;
    return opts;
  }

  void script(const std::string& json) {
    std::string error;
    if (!server.load_script_json(json, error))
      CAF_FAIL("bad script: " << error);
  }

  /// Starts one CLI process embedding `lines` texts "p<index> <k>" with the shared
  /// budget `name` of `rpm` requests per minute.
  pid_t start_cli(int index, int lines, uint32_t rpm, const std::string& name) {
    auto input = dir.path + "/in" + std::to_string(index) + ".jsonl";
    std::ofstream out{input};
    for (int k = 0; k < lines; ++k)
      out << R"({"id": )" << k << R"(, "text": "p)" << index << " " << k << "\"}\n";
    out.close();
    return test::spawn_process(
      {cli, "embed", "--input", input, "--output",
       dir.path + "/out" + std::to_string(index) + ".jsonl", "--no-progress",
       "--base-url", server.base_url(),
       "--embedrt.endpoint.api_key_env=EMBEDRT_TEST_NO_SUCH_KEY",
       "--embedrt.rate_limiter.requests_per_minute=" + std::to_string(rpm),
       "--embedrt.rate_limiter.shared_store=" + redis.url(),
       "--embedrt.rate_limiter.shared_name=" + name,
       "--embedrt.rate_limiter.shared_expected_replicas=4",
       "--embedrt.batching.enabled=false", "--embedrt.request.timeout_ms=300000"},
      dir.path + "/log" + std::to_string(index) + ".txt");
  }

  /// Arrival of the first logged request, µs; waits for it up to 20 s.
  int64_t first_arrival() {
    for (int i = 0; i < 200; ++i) {
      auto s = server.stats(true);
      if (!s.log.empty())
        return s.log.front().t_us;
      std::this_thread::sleep_for(100ms);
    }
    CAF_FAIL("no request reached the mock");
    return 0;
  }

  void wait_mock_until(int64_t t_us) {
    while (server.now_us() < t_us)
      std::this_thread::sleep_for(50ms);
  }

  /// Requests per process, by the "p<i> " prefix of their text.
  std::map<int, uint64_t> per_process() {
    std::map<int, uint64_t> result;
    for (auto& [text, n] : server.stats(false).text_requests)
      result[std::atoi(text.c_str() + 1)] += n;
    return result;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(shared_budget_tests, fixture)

CAF_TEST(four processes admit the global rate within 3 percent over 30 s fairly) {
  REQUIRE_REDIS();
  CAF_REQUIRE(redis.start());
  constexpr uint32_t rpm = 1200; // 20/s for all four together
  auto name = unique_name("accuracy");
  std::vector<pid_t> pids;
  for (int i = 0; i < 4; ++i)
    pids.push_back(start_cli(i, 1200, rpm, name));
  for (auto pid : pids)
    CAF_REQUIRE_GREATER(pid, 0);
  auto t0 = first_arrival();
  // The first second holds the burst (one second of rate); measure 30 s after 2 s.
  wait_mock_until(t0 + 33'000'000);
  for (auto pid : pids)
    test::stop_process(pid, SIGKILL, 5000ms);
  auto in_window = server.requests_between(t0 + 2'000'000, t0 + 32'000'000);
  auto expected = rpm / 60.0 * 30;
  CAF_MESSAGE("admitted over 30 s: " << in_window << " of " << expected << " ("
                                     << (in_window / expected - 1) * 100 << "%)");
  CAF_CHECK_GREATER_OR_EQUAL(in_window, static_cast<uint64_t>(expected * 0.97));
  CAF_CHECK_LESS_OR_EQUAL(in_window, static_cast<uint64_t>(expected * 1.03));
  auto counts = per_process();
  uint64_t total = 0;
  for (auto& [i, n] : counts)
    total += n;
  CAF_CHECK_EQUAL(counts.size(), 4u);
  for (auto& [i, n] : counts) {
    CAF_MESSAGE("process " << i << ": " << n << " of " << total);
    CAF_CHECK_GREATER_OR_EQUAL(n, total / 4 / 2);
  }
  auto s = server.stats(false);
  CAF_CHECK_EQUAL(s.total.statuses[200], s.total.requests);
}

CAF_TEST(a 429 with retry after seen by one process pauses all of them) {
  REQUIRE_REDIS();
  CAF_REQUIRE(redis.start());
  script(R"({"phases": [
    {"name": "warm", "requests": 100},
    {"name": "throttle", "requests": 1,
     "faults": [{"kind": "status", "status": 429, "retry_after": 2}]},
    {"name": "after"}]})");
  auto name = unique_name("pause");
  std::vector<pid_t> pids;
  for (int i = 0; i < 4; ++i)
    pids.push_back(start_cli(i, 1200, 2400, name));
  auto t0 = first_arrival();
  wait_mock_until(t0 + 7'000'000);
  for (auto pid : pids)
    test::stop_process(pid, SIGKILL, 5000ms);
  auto s = server.stats(true);
  int64_t at = -1;
  for (auto& e : s.log)
    if (e.status == 429) {
      at = e.t_us;
      break;
    }
  CAF_REQUIRE_GREATER_OR_EQUAL(at, 0);
  // The process that got it pauses at once; the others learn it from Redis within
  // a lease horizon (100 ms) plus a call; requests already on the wire still land.
  auto during = server.requests_between(at + 300'000, at + 1'900'000);
  auto before = server.requests_between(at - 1'600'000, at);
  auto after = server.requests_between(at + 2'300'000, at + 3'900'000);
  CAF_MESSAGE("requests in 1.6 s before the 429: " << before << ", during the pause: "
                                                   << during << ", after: " << after);
  CAF_CHECK_EQUAL(during, 0u);
  CAF_CHECK_GREATER(before, 40u);
  CAF_CHECK_GREATER(after, 40u);
}

namespace {

/// One runtime of this process under closed-loop load: `callers` callers, each
/// sending its next text when the last one is answered.
struct loaded_runtime {
  std::unique_ptr<runtime> rt;
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> ok{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> in_flight{0};
  std::mutex mtx;
  std::vector<steady::time_point> answers;
  std::vector<std::pair<event_kind, steady::time_point>> events;
  int index = 0;

  void submit(uint64_t n) {
    if (stopping)
      return;
    ++in_flight;
    rt->embed({"r" + std::to_string(index) + " " + std::to_string(n)}, {},
              [this, n](embed_outcome out) {
                if (out) {
                  ++ok;
                  std::lock_guard<std::mutex> guard{mtx};
                  answers.push_back(steady::now());
                } else {
                  ++failed;
                  CAF_MESSAGE("runtime " << index
                                         << " failed: " << out.error().message);
                }
                submit(n + 1000);
                --in_flight;
              });
  }

  /// Longest time without an answer within [from, to).
  steady::duration longest_gap(steady::time_point from, steady::time_point to) {
    std::lock_guard<std::mutex> guard{mtx};
    auto last = from;
    steady::duration gap{0};
    for (auto t : answers) {
      if (t < from || t >= to)
        continue;
      gap = std::max(gap, t - last);
      last = t;
    }
    return std::max(gap, to - last);
  }

  std::optional<steady::time_point> first_event(event_kind k,
                                                steady::time_point after) {
    std::lock_guard<std::mutex> guard{mtx};
    for (auto& [kind, t] : events)
      if (kind == k && t >= after)
        return t;
    return std::nullopt;
  }

  uint64_t answers_between(steady::time_point from, steady::time_point to) {
    std::lock_guard<std::mutex> guard{mtx};
    return static_cast<uint64_t>(std::count_if(
      answers.begin(), answers.end(), [&](auto t) { return t >= from && t < to; }));
  }
};

/// Four runtimes sharing `rpm` through `redis`, each falling back to a quarter.
std::vector<std::unique_ptr<loaded_runtime>> start_four(const mock::mock_server& server,
                                                        const test::redis_server& redis,
                                                        uint32_t rpm) {
  auto name = unique_name("outage");
  std::vector<std::unique_ptr<loaded_runtime>> result;
  for (int i = 0; i < 4; ++i) {
    auto lr = std::make_unique<loaded_runtime>();
    lr->index = i;
    runtime_config cfg;
    cfg.endpoint.base_url = server.base_url();
    cfg.endpoint.api_key_env = "EMBEDRT_TEST_NO_SUCH_KEY";
    cfg.rate_limiter.requests_per_minute = rpm;
    cfg.rate_limiter.shared_store = redis.url();
    cfg.rate_limiter.shared_name = name;
    cfg.rate_limiter.shared_expected_replicas = 4;
    cfg.batching.enabled = false;
    cfg.request.timeout_ms = 30000;
    runtime_options opts;
    opts.scheduler_threads = 1;
    auto* raw = lr.get();
    opts.on_event = [raw](const runtime_event& ev) {
      std::lock_guard<std::mutex> guard{raw->mtx};
      raw->events.emplace_back(ev.kind, steady::now());
    };
    std::vector<config_error> errors;
    lr->rt = runtime::start(cfg, errors, opts);
    CAF_REQUIRE(lr->rt != nullptr);
    result.push_back(std::move(lr));
  }
  for (auto& lr : result)
    for (uint64_t c = 0; c < 8; ++c)
      lr->submit(c);
  return result;
}

void stop_all(std::vector<std::unique_ptr<loaded_runtime>>& rts) {
  for (auto& lr : rts)
    lr->stopping = true;
  for (auto& lr : rts)
    lr->rt->stop(std::chrono::milliseconds{10000});
}

} // namespace

CAF_TEST(redis killed mid run each process goes on with its share and rejoins) {
  REQUIRE_REDIS();
  CAF_REQUIRE(redis.start());
  auto rts = start_four(server, redis, 1200); // 5/s each, shared or not
  std::this_thread::sleep_for(3s);
  auto killed_at = steady::now();
  redis.kill();
  std::this_thread::sleep_for(4s);
  auto back_at = steady::now();
  CAF_REQUIRE(redis.start());
  // Every process reconnects within 5 s (its probes back off to at most 1.2 s).
  auto rejoin_deadline = back_at + 5s;
  int connected = 0;
  while (steady::now() < rejoin_deadline && (connected = redis.clients() - 1) < 4)
    std::this_thread::sleep_for(100ms);
  CAF_CHECK_EQUAL(connected, 4);
  std::this_thread::sleep_for(3s);
  auto end = steady::now();
  stop_all(rts);
  for (auto& lr : rts) {
    CAF_CHECK_EQUAL(lr->failed.load(), 0u);
    auto fell = lr->first_event(event_kind::shared_budget_fallback, killed_at);
    CAF_REQUIRE(fell);
    CAF_CHECK_LESS(*fell - killed_at, 1s);
    auto rejoined = lr->first_event(event_kind::shared_budget_rejoined, back_at);
    CAF_REQUIRE(rejoined);
    CAF_CHECK_LESS(*rejoined - back_at, 5s);
    auto gap = lr->longest_gap(killed_at - 1s, end);
    CAF_MESSAGE(
      "runtime "
      << lr->index << ": fallback after "
      << std::chrono::duration_cast<std::chrono::milliseconds>(*fell - killed_at)
           .count()
      << " ms, rejoined after "
      << std::chrono::duration_cast<std::chrono::milliseconds>(*rejoined - back_at)
           .count()
      << " ms, longest gap between answers "
      << std::chrono::duration_cast<std::chrono::milliseconds>(gap).count() << " ms");
    // The fallback itself is checked above (< 1 s); a gap also spans the switch
    // back, on a fallback share equal to the demand (no slack): 0.35-0.8 s measured
    // alone, ~1.1 s with both cores busy.
    CAF_CHECK_LESS(gap, 1500ms);
    // On its fallback share (a quarter of 20/s) while Redis is away.
    auto during = lr->answers_between(killed_at + 1s, back_at);
    CAF_CHECK_GREATER_OR_EQUAL(during, 10u);
    CAF_CHECK_LESS_OR_EQUAL(during, 3u * 5u + 5u + 2u);
  }
}

CAF_TEST(a hung redis costs a permit at most the call deadline) {
  REQUIRE_REDIS();
  CAF_REQUIRE(redis.start());
  auto rts = start_four(server, redis, 1200);
  std::this_thread::sleep_for(2s);
  auto frozen_at = steady::now();
  redis.freeze(); // accepts connections, never answers: only the deadline helps
  std::this_thread::sleep_for(3s);
  auto thawed_at = steady::now();
  redis.thaw();
  std::this_thread::sleep_for(3s);
  auto end = steady::now();
  stop_all(rts);
  for (auto& lr : rts) {
    CAF_CHECK_EQUAL(lr->failed.load(), 0u);
    auto fell = lr->first_event(event_kind::shared_budget_fallback, frozen_at);
    CAF_REQUIRE(fell);
    CAF_CHECK_LESS(*fell - frozen_at, 1s);
    auto rejoined = lr->first_event(event_kind::shared_budget_rejoined, thawed_at);
    CAF_REQUIRE(rejoined);
    CAF_CHECK_LESS(*rejoined - thawed_at, 5s);
    // A hung call costs its deadline (500 ms), then the local share (starting empty)
    // grants every 200 ms.
    CAF_CHECK_LESS(lr->longest_gap(frozen_at - 1s, end), 1500ms);
  }
}

CAF_TEST_FIXTURE_SCOPE_END()
