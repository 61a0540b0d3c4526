#define CAF_SUITE actors.rate_limiter
#include "actors/rate_limiter.hpp"

#include "tests/support/actor_helpers.hpp"
#include "tests/support/fixture.hpp"

using namespace embedrt;
using namespace embedrt::test;
using namespace std::chrono_literals;

namespace {

struct limiter_fixture : fixture {
  std::shared_ptr<std::vector<runtime_event>> events
    = std::make_shared<std::vector<runtime_event>>();
  rate_limiter_actor limiter;

  void start(rate_limiter_config rl) {
    limiter = sys.spawn(rate_limiter, rl, collect_events(sys, events),
                        caf::timespan{std::chrono::seconds{60}});
    sched.run();
  }

  std::shared_ptr<answer<permit_decision>> permit(uint64_t ticket, uint32_t tokens,
                                                  caf::timespan within = 60s) {
    auto deadline = sys.clock().now() + within;
    auto a = ask<permit_decision>(sys, limiter,
                                  acquire_permit{ticket, tokens, deadline, {}});
    sched.run();
    return a;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(rate_limiter_tests, limiter_fixture)

CAF_TEST(an unlimited limiter grants at once) {
  start(rate_limiter_config{});
  auto a = permit(1, 1000);
  CAF_REQUIRE(a->done);
  CAF_CHECK(a->value.status == permit_status::granted);
  CAF_CHECK_EQUAL(a->value.ticket, 1u);
}

CAF_TEST(at 60 requests per minute the second permit waits one second) {
  rate_limiter_config rl;
  rl.requests_per_minute = 60;
  start(rl);
  auto a = permit(1, 1);
  auto b = permit(2, 1);
  auto c = permit(3, 1);
  CAF_CHECK(a->done && a->value.status == permit_status::granted);
  CAF_CHECK(!b->done);
  advance_time(999ms);
  sched.run();
  CAF_CHECK(!b->done);
  advance_time(1ms);
  sched.run();
  CAF_REQUIRE(b->done);
  CAF_CHECK(b->value.status == permit_status::granted);
  CAF_CHECK(b->value.waited == 1s);
  CAF_CHECK(!c->done); // FIFO: c is behind b
  advance_time(1s);
  sched.run();
  CAF_CHECK(c->done && c->value.status == permit_status::granted);
}

CAF_TEST(a permit that cannot be granted before its deadline is denied at once) {
  rate_limiter_config rl;
  rl.requests_per_minute = 6; // one per 10 s
  start(rl);
  permit(1, 1);
  auto b = permit(2, 1, 2s);
  CAF_REQUIRE(b->done);
  CAF_CHECK(b->value.status == permit_status::denied_deadline);
}

CAF_TEST(a full queue denies with queue_full) {
  rate_limiter_config rl;
  rl.requests_per_minute = 60;
  rl.max_queued = 1;
  start(rl);
  permit(1, 1);
  auto b = permit(2, 1);
  auto c = permit(3, 1);
  CAF_CHECK(!b->done);
  CAF_REQUIRE(c->done);
  CAF_CHECK(c->value.status == permit_status::denied_queue_full);
}

CAF_TEST(a 429 pause holds every grant and is published) {
  start(rate_limiter_config{});
  self->send(limiter, feedback_report{{permit_feedback{0, -1, {}, 2s}}});
  sched.run();
  auto a = permit(1, 1);
  CAF_CHECK(!a->done);
  advance_time(2s);
  sched.run();
  CAF_REQUIRE(a->done);
  CAF_CHECK(a->value.status == permit_status::granted);
  CAF_REQUIRE_EQUAL(events->size(), 1u);
  CAF_CHECK(events->at(0).kind == event_kind::grants_paused);
  CAF_CHECK_EQUAL(events->at(0).detail, "2000 ms");
  CAF_CHECK_EQUAL(
    request<runtime_counters>(limiter, caf::get_atom::value).grants_paused_rate_limited,
    1u);
}

CAF_TEST_FIXTURE_SCOPE_END()
