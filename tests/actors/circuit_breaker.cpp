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
  event_sink_actor sink;
  circuit_breaker_actor breaker;

  breaker_fixture() {
    circuit_breaker_config bc;
    bc.consecutive_failures = 3;
    bc.failure_rate_percent = 0;
    bc.open_duration_ms = 30000;
    bc.half_open_trials = 1;
    sink = collect_events(sys, events);
    breaker = sys.spawn(circuit_breaker, bc, sink);
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

  // -- message by message (CAF's expect/disallow) ------------------------------------

  /// The generation the breaker quotes after `transitions` state changes.
  uint64_t generation(uint64_t transitions) const {
    return (static_cast<uint64_t>(breaker.id()) << 32) + transitions;
  }

  /// `self` sends a check; the breaker takes it, publishes `transition` (if any) to the
  /// sink, and answers `expected` to `self`, and nothing else happens.
  void expect_check(uint64_t ticket, const breaker_verdict& expected,
                    const std::string& transition = "") {
    self->send(breaker, breaker_check{ticket, "m", {}});
    expect((breaker_check),
           from(self).to(breaker).with(breaker_check{ticket, "m", {}}));
    expect_transition(transition);
    expect((breaker_verdict), from(breaker).to(self).with(expected));
    expect_quiet();
  }

  /// `self` reports an outcome; the breaker takes it and publishes `transition` (if
  /// any), and nothing else happens (an outcome has no answer).
  void expect_outcome(uint64_t generation, bool trial, call_result r,
                      const std::string& transition = "") {
    outcome_report report{{call_outcome{"m", generation, trial, r, 10ms}}};
    self->send(breaker, report);
    expect((outcome_report), from(self).to(breaker).with(report));
    expect_transition(transition);
    expect_quiet();
  }

  void expect_transition(const std::string& detail) {
    if (detail.empty()) {
      disallow((runtime_event), from(breaker).to(sink));
      return;
    }
    expect((runtime_event), from(breaker).to(sink).with(runtime_event{
                              event_kind::breaker_transitioned, "circuit_breaker m",
                              detail, sys.clock().now()}));
  }

  /// No actor has work left and nothing waits for `self`.
  void expect_quiet() {
    CAF_CHECK(!sched.has_job());
    CAF_CHECK(self->mailbox().empty());
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

CAF_TEST(every transition is one event before the verdict that saw it) {
  using d = breaker_decision;
  auto now = [this] { return sys.clock().now(); };
  // Closed: calls go; two failures are not enough evidence.
  for (uint64_t ticket = 1; ticket <= 3; ++ticket) {
    expect_check(ticket, breaker_verdict{ticket, d::allowed, generation(0), now()});
    expect_outcome(generation(0), false, call_result::failure,
                   ticket == 3 ? "closed->open" : "");
  }
  // Open: rejected until the open period ends; no timer runs meanwhile.
  expect_check(4, breaker_verdict{4, d::rejected_open, generation(1), now() + 30s});
  CAF_CHECK_EQUAL(advance_time(30s), 0u);
  expect_quiet();
  // Half-open, decided by the next check: one trial, the next caller waits.
  expect_check(5, breaker_verdict{5, d::allowed_trial, generation(2), now()},
               "open->half_open");
  expect_check(6, breaker_verdict{6, d::rejected_half_open_busy, generation(2), now()});
  // A failed trial re-opens for twice as long (open_duration_multiplier 2.0).
  expect_outcome(generation(2), true, call_result::failure, "half_open->open");
  expect_check(7, breaker_verdict{7, d::rejected_open, generation(3), now() + 60s});
  CAF_CHECK_EQUAL(advance_time(60s), 0u);
  expect_check(8, breaker_verdict{8, d::allowed_trial, generation(4), now()},
               "open->half_open");
  // A late outcome of the closed period changes nothing.
  expect_outcome(generation(0), false, call_result::success);
  // The trial succeeds: closed again.
  expect_outcome(generation(4), true, call_result::success, "half_open->closed");
  expect_check(9, breaker_verdict{9, d::allowed, generation(5), now()});
}

CAF_TEST(ignored and cancelled outcomes neither open nor close the breaker) {
  using d = breaker_decision;
  auto now = [this] { return sys.clock().now(); };
  for (uint64_t ticket = 1; ticket <= 5; ++ticket) {
    expect_check(ticket, breaker_verdict{ticket, d::allowed, generation(0), now()});
    expect_outcome(generation(0), false,
                   ticket % 2 == 0 ? call_result::ignored : call_result::cancelled);
  }
  for (uint64_t ticket = 6; ticket <= 8; ++ticket)
    expect_outcome(generation(0), false, call_result::failure,
                   ticket == 8 ? "closed->open" : "");
  CAF_CHECK_EQUAL(advance_time(30s), 0u);
  expect_check(9, breaker_verdict{9, d::allowed_trial, generation(2), now()},
               "open->half_open");
  // A cancelled trial hands its permit back without a verdict on the upstream.
  expect_outcome(generation(2), true, call_result::cancelled);
  expect_check(10, breaker_verdict{10, d::allowed_trial, generation(2), now()});
}

CAF_TEST_FIXTURE_SCOPE_END()
