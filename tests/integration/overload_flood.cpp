#define CAF_SUITE integration.overload_flood
#include <embedrt/runtime.hpp>

#include <caf/test/unit_test.hpp>

#include <atomic>
#include <fstream>
#include <future>
#include <memory>

#include "tools/mock/mock_server.hpp"

// Backpressure under real threads: a flood far beyond the admission bound meets a slow
// upstream. Everything beyond the bound is shed `overloaded` at once, the rest is
// answered, and memory stays bounded (its own ctest process, so the peak RSS is this
// test's alone).

using namespace embedrt;
using namespace std::chrono_literals;

namespace {

constexpr auto max_wait = std::chrono::seconds{120};

#if defined(__SANITIZE_ADDRESS__)
// ASan's shadow memory and quarantine multiply RSS; the bound still catches growth
// with the offered load (100,000 requests would need far more).
constexpr double rss_bound_mib = 1024;
#else
// Stated bound for 10,000 requests in flight plus the in-process mock upstream.
constexpr double rss_bound_mib = 128;
#endif

/// Peak resident set size of this process, in MiB (VmHWM).
double peak_rss_mib() {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0)
      return std::stod(line.substr(6)) / 1024.0;
  return -1;
}

struct flood_book {
  explicit flood_book(size_t n) : total(n) {}
  std::atomic<size_t> ok{0};
  std::atomic<size_t> overloaded{0};
  std::atomic<size_t> other{0};
  std::atomic<size_t> answered{0};
  size_t total;
  std::promise<void> all_answered;

  void record(const embed_outcome& x) {
    if (x.ok())
      ++ok;
    else if (x.error().code == embed_errc::overloaded)
      ++overloaded;
    else
      ++other;
    if (++answered == total)
      all_answered.set_value();
  }
};

} // namespace

CAF_TEST(a flood of 100000 requests on a slow upstream is shed and stays bounded) {
  mock::mock_options mo;
  mo.dimension = 64;
  mock::mock_server server{mo};
  server.start();
  std::string err;
  CAF_REQUIRE(server.load_script_json(R"([{"latency_ms":20}])", err));
  runtime_config cfg;
  cfg.endpoint.base_url = server.base_url();
  cfg.endpoint.api_key_env = "EMBEDRT_TEST_NO_SUCH_KEY";
  cfg.http_pool.max_connections = 32;
  cfg.limits.interactive_capacity = 10000;
  std::vector<config_error> errors;
  auto rt = runtime::start(cfg, errors);
  CAF_REQUIRE(rt != nullptr);
  auto before = peak_rss_mib();
  constexpr size_t n = 100000;
  flood_book book{n};
  for (size_t i = 0; i < n; ++i)
    rt->embed({"flood " + std::to_string(i)}, {},
              [&book](embed_outcome x) { book.record(x); });
  CAF_REQUIRE(book.all_answered.get_future().wait_for(max_wait)
              == std::future_status::ready);
  auto peak = peak_rss_mib();
  auto c = rt->counters();
  CAF_CHECK_EQUAL(book.other.load(), 0u);
  CAF_CHECK_EQUAL(book.ok + book.overloaded, n);
  CAF_CHECK(book.overloaded > 0u);
  CAF_CHECK_EQUAL(c.requests_shed_overloaded, book.overloaded.load());
  CAF_CHECK_EQUAL(c.requests_succeeded, book.ok.load());
  CAF_CHECK(peak < rss_bound_mib);
  CAF_MESSAGE("flood: " << n << " offered, " << book.ok << " embedded, "
                        << book.overloaded << " shed overloaded; peak RSS " << peak
                        << " MiB (before " << before << " MiB)");
}
