#define CAF_SUITE integration.supervision_heals
#include <embedrt/runtime.hpp>

#include <caf/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/support/mock_runtime.hpp"
#include "tools/mock/mock_server.hpp"

// Supervision's last resort, through the public API: a crash storm (a worker crashed
// every 100 ms under a closed-loop load of 64 callers), then calm. The runtime must
// come back by itself (no new runtime), answer every request exactly once, and answer
// fast while it is down. Real threads and time: crashes land at arbitrary points of
// real transfers; every wait is bounded.

using namespace embedrt;
using namespace embedrt::test;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr size_t max_requests = 2000000;
constexpr auto storm = 8s;
constexpr auto max_calm = 40s;
/// After the storm, this many answers in a row with vectors mean the service is back.
constexpr size_t back_after = 2000;

/// Answers per request, and the outcome counts of each phase.
struct ledger {
  std::vector<std::atomic<uint8_t>> answers
    = std::vector<std::atomic<uint8_t>>(max_requests);
  std::mutex mtx;
  std::condition_variable cv;
  size_t in_flight = 0;
  // Phase 0: storm, 1: calm.
  std::atomic<int> phase{0};
  std::atomic<size_t> ok[2] = {{0}, {0}};
  std::atomic<size_t> unavailable[2] = {{0}, {0}};
  std::atomic<size_t> other[2] = {{0}, {0}};
  std::atomic<size_t> ok_in_a_row{0};
  std::atomic<int64_t> slowest_unavailable_us{0};
  clock_type::time_point back_at{};

  void record(size_t i, const embed_outcome& x, clock_type::time_point sent) {
    auto p = phase.load();
    if (x.ok()) {
      ++ok[p];
      if (p == 1 && ++ok_in_a_row == back_after) {
        std::lock_guard<std::mutex> guard{mtx};
        back_at = clock_type::now();
      }
    } else {
      ok_in_a_row = 0;
      if (x.error().code == embed_errc::runtime_unavailable) {
        ++unavailable[p];
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                    clock_type::now() - sent)
                    .count();
        auto prev = slowest_unavailable_us.load();
        while (us > prev && !slowest_unavailable_us.compare_exchange_weak(prev, us))
          ; // retry
      } else {
        ++other[p];
        CAF_MESSAGE("other outcome: " << to_string(x.error().code) << ": "
                                      << x.error().message);
      }
    }
    ++answers[i];
    std::lock_guard<std::mutex> guard{mtx};
    --in_flight;
    cv.notify_all();
  }
};

struct storm_result {
  double storm_ok_per_s = 0;
  size_t storm_unavailable = 0;
  double seconds_to_recover = -1;
  size_t issued = 0;
};

/// Runs the storm then the calm on a fresh runtime with `cfg`; returns the figures.
storm_result storm_then_calm(runtime_config cfg, const std::string& label) {
  mock::mock_options mo;
  mo.dimension = 8;
  mock::mock_server server{mo};
  server.start();
  // 10 ms per request keeps 64 callers at a few thousand requests per second: enough
  // in flight for crashes to hit transfers, without starving tests run in parallel.
  std::string err;
  CAF_REQUIRE(server.load_script_json(R"([{"latency_ms":10}])", err));
  cfg.endpoint.base_url = server.base_url();
  cfg.endpoint.api_key_env = "EMBEDRT_TEST_NO_SUCH_KEY";
  cfg.http_pool.workers = 2;
  cfg.supervision.test_hooks = true;
  auto rt = start(cfg);
  auto book = std::make_unique<ledger>();
  std::atomic<bool> crashing{true};
  std::atomic<uint32_t> crashes{0};
  auto started = clock_type::now();
  std::thread crasher{[&] {
    while (crashing && clock_type::now() - started < storm) {
      std::this_thread::sleep_for(100ms);
      rt->crash_worker_for_test(crashes++ % 2);
    }
  }};
  // Closed loop: 64 callers; one that was refused `runtime_unavailable` waits 1 ms
  // before its next request, as a host backing off would.
  size_t issued = 0;
  auto calm_start = started + storm;
  while (issued < max_requests) {
    auto now = clock_type::now();
    if (now >= calm_start && book->phase.load() == 0)
      book->phase = 1;
    if (now >= calm_start + max_calm || book->ok_in_a_row.load() >= back_after)
      break;
    {
      std::unique_lock<std::mutex> guard{book->mtx};
      book->cv.wait_for(guard, 10ms, [&] { return book->in_flight < 64; });
      if (book->in_flight >= 64)
        continue;
      ++book->in_flight;
    }
    if (book->ok_in_a_row.load() == 0 && book->unavailable[book->phase.load()] > 0)
      std::this_thread::sleep_for(1ms);
    auto i = issued++;
    auto sent = clock_type::now();
    rt->embed({"storm " + std::to_string(i)}, {},
              [b = book.get(), i, sent](embed_outcome x) { b->record(i, x, sent); });
  }
  crashing = false;
  crasher.join();
  {
    std::unique_lock<std::mutex> guard{book->mtx};
    CAF_REQUIRE(book->cv.wait_for(guard, 60s, [&] { return book->in_flight == 0; }));
  }
  size_t twice = 0;
  size_t never = 0;
  for (size_t i = 0; i < issued; ++i) {
    twice += book->answers[i] > 1 ? 1 : 0;
    never += book->answers[i] == 0 ? 1 : 0;
  }
  CAF_CHECK_EQUAL(twice, 0u);
  CAF_CHECK_EQUAL(never, 0u);
  auto c = rt->counters();
  storm_result r;
  r.issued = issued;
  r.storm_ok_per_s = static_cast<double>(book->ok[0])
                     / std::chrono::duration<double>(storm).count();
  r.storm_unavailable = book->unavailable[0];
  if (book->ok_in_a_row >= back_after)
    r.seconds_to_recover
      = std::chrono::duration<double>(book->back_at - calm_start).count();
  CAF_MESSAGE(label << ": storm " << crashes.load() << " crashes, " << book->ok[0]
                    << " ok (" << r.storm_ok_per_s << "/s), " << book->unavailable[0]
                    << " runtime_unavailable, " << book->other[0]
                    << " other; calm: " << book->ok[1] << " ok, "
                    << book->unavailable[1] << " runtime_unavailable, "
                    << book->other[1] << " other; back " << r.seconds_to_recover
                    << " s after the storm; slowest runtime_unavailable "
                    << book->slowest_unavailable_us.load() / 1000 << " ms; workers "
                    << c.workers_failed << " failed / " << c.workers_restarted
                    << " restarted, pools restarted " << c.pools_restarted);
  rt->stop(std::chrono::seconds{5});
  return r;
}

} // namespace

CAF_TEST(after a crash storm the runtime serves again without a new runtime) {
  auto r = storm_then_calm(runtime_config{}, "default config");
  // Service is back: 2,000 answers in a row with vectors, within the calm period.
  CAF_CHECK_GREATER_OR_EQUAL(r.seconds_to_recover, 0.0);
}

CAF_TEST(with a high restart intensity a crash storm costs little throughput) {
  runtime_config cfg;
  cfg.supervision.max_worker_restarts = 1000;
  auto r = storm_then_calm(cfg, "max_worker_restarts=1000");
  CAF_CHECK_GREATER_OR_EQUAL(r.seconds_to_recover, 0.0);
  CAF_CHECK_EQUAL(r.storm_unavailable, 0u);
}
