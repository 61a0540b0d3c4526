#define CAF_SUITE actors.counter_carry
#include "actors/circuit_breaker.hpp"
#include "actors/rate_limiter.hpp"

#include "tests/support/actor_helpers.hpp"
#include "tests/support/fixture.hpp"

// Counters survive the restart of the actor holding them: a component's incarnation
// starts from the slot's totals and hands its own back when it goes, also when it is
// killed.

using namespace embedrt;
using namespace embedrt::test;
using namespace std::chrono_literals;

namespace {

struct carry_fixture : fixture {
  std::shared_ptr<std::vector<runtime_event>> events
    = std::make_shared<std::vector<runtime_event>>();
  std::shared_ptr<runtime_counters> slot = std::make_shared<runtime_counters>();

  rate_limiter_actor start_limiter() {
    auto h = sys.spawn(carrying_rate_limiter, rate_limiter_config{},
                       std::optional<shared_budget_args>{}, collect_events(sys, events),
                       caf::timespan{60s}, slot, nullptr);
    sched.run();
    return h;
  }

  void grant(const rate_limiter_actor& limiter, uint64_t ticket) {
    auto a = ask<permit_decision>(
      sys, limiter, acquire_permit{ticket, 1, sys.clock().now() + 60s, {}});
    sched.run();
    CAF_REQUIRE(a->done);
    CAF_CHECK(a->value.status == permit_status::granted);
  }

  template<class Handle>
  runtime_counters counters_of(const Handle& h) {
    auto a = ask<runtime_counters>(sys, h, caf::get_atom::value);
    sched.run();
    CAF_REQUIRE(a->done);
    return a->value;
  }

  template<class Handle>
  void kill(const Handle& h) {
    caf::anon_send_exit(h, caf::exit_reason::kill);
    sched.run();
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(counter_carry_tests, carry_fixture)

CAF_TEST(a killed limiter hands its counters to the next one) {
  slot->permits_granted = 40; // from incarnations before
  auto first = start_limiter();
  grant(first, 1);
  grant(first, 2);
  CAF_CHECK_EQUAL(counters_of(first).permits_granted, 42u);
  kill(first);
  CAF_CHECK_EQUAL(slot->permits_granted, 42u);
  auto second = start_limiter();
  CAF_CHECK_EQUAL(counters_of(second).permits_granted, 42u);
  grant(second, 3);
  CAF_CHECK_EQUAL(counters_of(second).permits_granted, 43u);
  kill(second);
  CAF_CHECK_EQUAL(slot->permits_granted, 43u);
}

CAF_TEST(a killed breaker hands its counters to the next one) {
  slot->breaker_opened = 7;
  slot->calls_rejected_circuit_open = 3;
  auto first = sys.spawn(carrying_circuit_breaker, circuit_breaker_config{},
                         collect_events(sys, events), slot);
  sched.run();
  CAF_CHECK_EQUAL(counters_of(first).breaker_opened, 7u);
  kill(first);
  auto second = sys.spawn(carrying_circuit_breaker, circuit_breaker_config{},
                          collect_events(sys, events), slot);
  sched.run();
  auto c = counters_of(second);
  CAF_CHECK_EQUAL(c.breaker_opened, 7u);
  CAF_CHECK_EQUAL(c.calls_rejected_circuit_open, 3u);
}

CAF_TEST_FIXTURE_SCOPE_END()
