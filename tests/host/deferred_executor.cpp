#define CAF_SUITE host.deferred_executor
#include "src/host/deferred_executor.hpp"

#include <caf/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

using namespace embedrt;

CAF_TEST(posted work runs in order on another thread) {
  host::deferred_executor ex;
  std::vector<int> seen;
  std::promise<std::thread::id> where;
  auto caller = std::this_thread::get_id();
  for (int i = 0; i < 100; ++i)
    ex.post([&, i] {
      seen.push_back(i);
      if (i == 99)
        where.set_value(std::this_thread::get_id());
    });
  auto f = where.get_future();
  CAF_REQUIRE(f.wait_for(std::chrono::seconds{30}) == std::future_status::ready);
  CAF_CHECK(f.get() != caller);
  ex.shutdown();
  CAF_REQUIRE_EQUAL(seen.size(), 100u);
  for (int i = 0; i < 100; ++i)
    CAF_CHECK_EQUAL(seen[i], i);
}

CAF_TEST(shutdown runs what callbacks post while draining) {
  std::atomic<int> runs{0};
  {
    host::deferred_executor ex;
    std::function<void()> again;
    again = [&] {
      if (++runs < 1000)
        ex.post(again);
    };
    ex.post(again);
    ex.shutdown();
  }
  CAF_CHECK_EQUAL(runs.load(), 1000);
}

CAF_TEST(never_inline defers only inside an entry scope) {
  auto ex = std::make_shared<host::deferred_executor>();
  std::promise<std::thread::id> ran_on;
  auto f = host::never_inline<int>(ex, [&](int) {
    ran_on.set_value(std::this_thread::get_id());
  });
  {
    host::entry_scope scope;
    f(1);
  }
  auto where = ran_on.get_future();
  CAF_REQUIRE(where.wait_for(std::chrono::seconds{30}) == std::future_status::ready);
  CAF_CHECK(where.get() != std::this_thread::get_id());
  int direct = 0;
  auto g = host::never_inline<int>(ex, [&](int x) { direct = x; });
  g(7); // no entry scope: runs here, at once
  CAF_CHECK_EQUAL(direct, 7);
  ex->shutdown();
}
