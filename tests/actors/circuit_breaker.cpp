#define CAF_SUITE actors.circuit_breaker
#include "actors/circuit_breaker.hpp"

#include "tests/support/actor_helpers.hpp"
#include "tests/support/fixture.hpp"

using namespace embedrt;
using namespace embedrt::test;
using namespace std::chrono_literals;

namespace {

struct breaker_fixture : fixture {
  std::shared_ptr<std::vector<runtime_event>> events
    = std::make_shared<std::vector<runtime_event>>();
  circuit_breaker_actor breaker;

  breaker_fixture() {
    circuit_breaker_config bc;
    bc.consecutive_failures = 3;
    bc.failure_rate_percent = 0;
    bc.open_duration_ms = 30000;
    bc.half_open_trials = 1;
    breaker = sys.spawn(circuit_breaker, bc, collect_events(sys, events));
    sched.run();
  }

  breaker_verdict check(const std::string& model = "m") {
    auto a = ask<breaker_verdict>(sys, breaker, breaker_check{1, model, {}});
    sched.run();
    CAF_REQUIRE(a->done);
    return a->value;
  }

  void report(const breaker_verdict& v, call_result r, const std::string& model = "m") {
    call_outcome x{model, v.generation, v.decision == breaker_decision::allowed_trial,
                   r, 10ms};
    self->send(breaker, outcome_report{{x}});
    sched.run();
  }

  std::vector<std::string> transitions() const {
    std::vector<std::string> result;
    for (auto& e : *events)
      result.push_back(e.source + " " + e.detail);
    return result;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(circuit_breaker_tests, breaker_fixture)

CAF_TEST(a third consecutive failure opens the breaker and it publishes it) {
  for (int i = 0; i < 3; ++i)
    report(check(), call_result::failure);
  auto v = check();
  CAF_CHECK(v.decision == breaker_decision::rejected_open);
  CAF_CHECK(v.retry_at == sys.clock().now() + 30s);
  CAF_CHECK_EQUAL(transitions(),
                  std::vector<std::string>{"circuit_breaker m closed->open"});
}

CAF_TEST(the breaker half opens lazily and one trial success closes it) {
  for (int i = 0; i < 3; ++i)
    report(check(), call_result::failure);
  advance_time(30s);
  sched.run();
  auto trial = check();
  CAF_CHECK(trial.decision == breaker_decision::allowed_trial);
  CAF_CHECK(check().decision == breaker_decision::rejected_half_open_busy);
  report(trial, call_result::success);
  CAF_CHECK(check().decision == breaker_decision::allowed);
  CAF_CHECK_EQUAL(transitions(),
                  (std::vector<std::string>{"circuit_breaker m closed->open",
                                            "circuit_breaker m open->half_open",
                                            "circuit_breaker m half_open->closed"}));
  auto c = request<runtime_counters>(breaker, caf::get_atom::value);
  CAF_CHECK_EQUAL(c.breaker_opened, 1u);
  CAF_CHECK_EQUAL(c.breaker_half_opened, 1u);
  CAF_CHECK_EQUAL(c.breaker_closed, 1u);
  CAF_CHECK_EQUAL(c.calls_rejected_circuit_open, 1u);
}

CAF_TEST(each model has its own breaker) {
  for (int i = 0; i < 3; ++i)
    report(check("a"), call_result::failure, "a");
  CAF_CHECK(check("a").decision == breaker_decision::rejected_open);
  CAF_CHECK(check("b").decision == breaker_decision::allowed);
}

CAF_TEST(outcomes of an earlier period are ignored) {
  auto old = check();
  for (int i = 0; i < 3; ++i)
    report(check(), call_result::failure);
  advance_time(30s);
  sched.run();
  auto trial = check();
  report(old, call_result::success); // from before the breaker opened
  CAF_CHECK(check().decision == breaker_decision::rejected_half_open_busy);
  report(trial, call_result::success);
  CAF_CHECK(check().decision == breaker_decision::allowed);
}

CAF_TEST(outcomes riding on a check are recorded before it is decided) {
  for (int i = 0; i < 2; ++i)
    report(check(), call_result::failure);
  auto v = check();
  auto a = ask<breaker_verdict>(
    sys, breaker,
    breaker_check{
      2, "m", {call_outcome{"m", v.generation, false, call_result::failure, 10ms}}});
  sched.run();
  CAF_REQUIRE(a->done);
  CAF_CHECK(a->value.decision == breaker_decision::rejected_open);
}

CAF_TEST_FIXTURE_SCOPE_END()
