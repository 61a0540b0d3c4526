#define CAF_SUITE dispatch.worker_router
#include "src/dispatch/worker_router.hpp"

#include <caf/test/unit_test.hpp>

using namespace embedrt;
using namespace embedrt::dispatch;
using namespace std::chrono_literals;

namespace {

http_call call(uint64_t attempt, policy::time_point deadline = {}) {
  http_call c;
  c.attempt_id = attempt;
  c.deadline = deadline;
  return c;
}

} // namespace

CAF_TEST(calls go to the least loaded worker within its capacity) {
  worker_router r;
  r.add(1, 2);
  r.add(2, 1);
  for (uint64_t a = 1; a <= 4; ++a)
    r.submit(call(a));
  std::vector<uint64_t> to;
  while (auto x = r.next())
    to.push_back(x->worker);
  CAF_CHECK_EQUAL(to.size(), 3u); // capacity 2 + 1
  CAF_CHECK_EQUAL(std::count(to.begin(), to.end(), 1u), 2);
  CAF_CHECK_EQUAL(r.waiting(), 1u);
  CAF_CHECK(r.finish(1));
  CAF_CHECK(r.next().has_value());
  CAF_CHECK(!r.finish(99));
}

CAF_TEST(a removed worker returns the attempts it carried) {
  worker_router r;
  r.add(7, 3);
  for (uint64_t a = 1; a <= 3; ++a)
    r.submit(call(a));
  while (r.next()) {
  }
  auto lost = r.remove(7);
  std::sort(lost.begin(), lost.end());
  CAF_CHECK_EQUAL(lost, (std::vector<uint64_t>{1, 2, 3}));
  CAF_CHECK(!r.finish(2)); // a late answer is stale
  r.submit(call(4));
  CAF_CHECK(!r.next().has_value()); // nobody to send it to
}

CAF_TEST(waiting calls expire at their deadline) {
  worker_router r;
  auto t0 = policy::time_point{} + 10s;
  r.submit(call(1, t0 + 1s));
  r.submit(call(2, t0 + 2s));
  CAF_CHECK(r.next_deadline() == t0 + 1s);
  CAF_CHECK(r.expire(t0).empty());
  CAF_CHECK_EQUAL(r.expire(t0 + 1s), std::vector<uint64_t>{1});
  CAF_CHECK_EQUAL(r.waiting(), 1u);
  CAF_CHECK(r.next_deadline() == t0 + 2s);
}
