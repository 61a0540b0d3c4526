#define CAF_SUITE integration.supervision_load
#include <embedrt/runtime.hpp>

#include <caf/test/unit_test.hpp>

#include <atomic>
#include <memory>
#include <thread>

#include "tests/support/mock_runtime.hpp"
#include "tools/mock/mock_server.hpp"

// Supervision under real threads and a real upstream: workers crash on a timer during
// a long run. Every request must get exactly one answer.

using namespace embedrt;
using namespace embedrt::test;
using namespace std::chrono_literals;

namespace {

constexpr auto max_wait = std::chrono::seconds{120};

/// Counts answers per request; `all_answered` becomes ready when every request has
/// at least one answer.
struct answer_book {
  explicit answer_book(size_t n) : counts(n), ok(0), total(n) {
    for (auto& c : counts)
      c = 0;
  }
  std::vector<std::atomic<int>> counts;
  std::atomic<size_t> ok;
  std::atomic<size_t> answered{0};
  std::atomic<size_t> failed_worker{0};
  std::atomic<size_t> failed_overloaded{0};
  std::atomic<size_t> failed_other{0};
  size_t total;
  std::promise<void> all_answered;

  void record(size_t i, const embed_outcome& x) {
    if (x.ok())
      ++ok;
    else if (x.error().code == embed_errc::worker_failed)
      ++failed_worker;
    else if (x.error().code == embed_errc::overloaded)
      ++failed_overloaded;
    else
      ++failed_other;
    if (++counts[i] == 1 && ++answered == total)
      all_answered.set_value();
  }
};

} // namespace

CAF_TEST(crashing a worker every 100 ms loses and doubles nothing in 10000 requests) {
  mock::mock_options mo;
  mo.dimension = 8;
  mock::mock_server server{mo};
  server.start();
  std::string err;
  CAF_REQUIRE(server.load_script_json(R"([{"latency_ms":10}])", err));
  runtime_config cfg;
  cfg.endpoint.base_url = server.base_url();
  cfg.endpoint.api_key_env = "EMBEDRT_TEST_NO_SUCH_KEY";
  cfg.http_pool.workers = 2;
  cfg.http_pool.max_connections = 32;
  cfg.batching.enabled = false; // one text per upstream request: many in flight
  cfg.limits.interactive_capacity = 20000;
  cfg.retry.max_attempts = 5;
  cfg.retry.base_delay_ms = 5;
  cfg.retry.max_delay_ms = 20;
  cfg.retry.budget_percent = 100;
  cfg.supervision.test_hooks = true;
  cfg.supervision.restart_min_backoff_ms = 5;
  cfg.supervision.restart_max_backoff_ms = 20;
  cfg.supervision.max_worker_restarts = 1000;
  cfg.supervision.restart_window_ms = 10000;
  auto rt = start(cfg);
  constexpr size_t n = 10000;
  answer_book book{n};
  std::atomic<bool> crashing{true};
  std::atomic<uint32_t> crashes{0};
  std::thread crasher{[&] {
    // Real time is the point here: crashes land at arbitrary points of real transfers.
    while (crashing) {
      std::this_thread::sleep_for(100ms);
      rt->crash_worker_for_test(crashes++ % 2);
    }
  }};
  auto started = std::chrono::steady_clock::now();
  for (size_t i = 0; i < n; ++i)
    rt->embed({"crash run " + std::to_string(i)}, {},
              [&book, i](embed_outcome x) { book.record(i, x); });
  auto status = book.all_answered.get_future().wait_for(max_wait);
  auto elapsed
    = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  crashing = false;
  crasher.join();
  CAF_REQUIRE(status == std::future_status::ready);
  size_t doubled = 0;
  for (auto& c : book.counts)
    doubled += c > 1 ? 1 : 0;
  CAF_CHECK_EQUAL(doubled, 0u);
  auto c = rt->counters();
  // The dispatcher counts each answer once; a second answer would push the sum up.
  auto answered = c.requests_succeeded + c.requests_failed_worker_failed
                  + c.requests_failed_upstream_unavailable
                  + c.requests_failed_deadline_exceeded;
  CAF_CHECK_EQUAL(answered, n);
  CAF_CHECK_EQUAL(book.ok + book.failed_worker + book.failed_other, n);
  CAF_CHECK(book.ok >= n * 99 / 100);
  CAF_CHECK(c.workers_failed >= 5u);
  CAF_CHECK(c.attempts_redispatched_worker_failed >= 1u);
  CAF_MESSAGE(
    "crash run: " << n << " requests in " << elapsed << " s, " << crashes.load()
                  << " crashes requested, " << c.workers_failed << " workers failed, "
                  << c.workers_restarted << " restarted, "
                  << c.attempts_redispatched_worker_failed << " attempts re-sent, "
                  << book.ok << " ok, " << book.failed_worker << " worker_failed, "
                  << book.failed_other << " other");
}
