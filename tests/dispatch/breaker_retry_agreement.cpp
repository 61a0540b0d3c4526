// Retries and the circuit breaker agree (cockatiel `wrap(retry, breaker)`): a retry
// that the breaker refuses is not an attempt, so it neither spends `max_attempts` nor
// counts as a failure anywhere; a bulk text waiting through open periods spends
// nothing. Driven on the pure dispatcher core with a hand-moved clock.
#define CAF_SUITE dispatch.breaker_retry_agreement
#include "src/dispatch/dispatcher_core.hpp"

#include <caf/test/unit_test.hpp>

#include <map>

#include <nlohmann/json.hpp>

using namespace embedrt;
using namespace embedrt::dispatch;
using namespace std::chrono_literals;

namespace {

/// Records every effect the core asks for.
struct recorder : effects {
  std::vector<acquire_permit> permits;
  std::vector<breaker_check> checks;
  std::vector<http_call> calls;
  std::vector<call_outcome> outcomes;
  std::map<uint64_t, embed_result> answers;
  std::map<uint64_t, embed_failure> failures;
  std::map<uint64_t, int> answer_count;

  void request_permit(acquire_permit msg) override {
    permits.push_back(std::move(msg));
  }
  void check_breaker(breaker_check msg) override {
    for (auto& o : msg.outcomes)
      outcomes.push_back(o);
    checks.push_back(std::move(msg));
  }
  void send_call(http_call msg) override { calls.push_back(std::move(msg)); }
  void report_outcome(call_outcome msg) override { outcomes.push_back(std::move(msg)); }
  void report_permit(permit_feedback) override {
    // not needed here
  }
  void answer(uint64_t id, embed_result result) override {
    ++answer_count[id];
    answers[id] = std::move(result);
  }
  void fail(uint64_t id, embed_failure failure) override {
    ++answer_count[id];
    failures[id] = std::move(failure);
  }
  void grant_credit(uint64_t, uint32_t) override {
    // no bulk sessions here
  }
  void wake_at(time_point) override {
    // the tests call on_timer themselves
  }
  void publish(event_kind, std::string) override {
    // not needed here
  }
};

http_call_result ok_result(const http_call& call) {
  http_call_result r;
  r.attempt_id = call.attempt_id;
  r.status = attempt_status::succeeded;
  r.http_status = 200;
  auto j = nlohmann::json::parse(call.body);
  for (size_t i = 0; i < j.at("input").size(); ++i)
    r.embeddings.push_back({1.0f, 2.0f});
  r.usage = embedding_usage{10, 10};
  r.wire_time = 5ms;
  return r;
}

http_call_result status_503(const http_call& call) {
  http_call_result r;
  r.attempt_id = call.attempt_id;
  r.status = attempt_status::http_error;
  r.http_status = 503;
  r.detail = "status 503";
  return r;
}

struct fixture {
  recorder fx;
  runtime_config cfg;
  time_point now = time_point{} + 1000s;
  std::unique_ptr<dispatcher_core> core;
  uint64_t generation = 1;

  fixture() {
    cfg.endpoint.model = "m";
    // Known length: no vector is held for dimension confirmation.
    cfg.endpoint.dimensions = 2;
    cfg.http_pool.max_connections = 4;
    cfg.batching.linger_us = 0;
    cfg.retry.seed = 7;
    cfg.retry.base_delay_ms = 100;
    cfg.retry.max_delay_ms = 100;
    cfg.retry.max_attempts = 2;
    cfg.request.timeout_ms = 60000;
  }

  void start() { core = std::make_unique<dispatcher_core>(cfg, fx, now); }

  embed_request text(std::string x, lane l) {
    embed_request req;
    req.texts = {std::move(x)};
    req.options.priority = l;
    return req;
  }

  /// Grants the one outstanding permit and answers its check with `decision`.
  void next_verdict(breaker_decision decision, time_point retry_at = {}) {
    CAF_REQUIRE_EQUAL(fx.permits.size(), 1u);
    auto p = fx.permits.front();
    fx.permits.clear();
    core->on_permit(permit_decision{p.ticket, permit_status::granted, {}}, now);
    CAF_REQUIRE_EQUAL(fx.checks.size(), 1u);
    auto c = fx.checks.front();
    fx.checks.clear();
    core->on_verdict(breaker_verdict{c.ticket, decision, generation, retry_at}, now);
  }

  /// Answers the one outstanding call.
  void answer(http_call_result (*make)(const http_call&)) {
    CAF_REQUIRE_EQUAL(fx.calls.size(), 1u);
    auto call = fx.calls.front();
    fx.calls.clear();
    core->on_call_result(make(call), now);
  }

  /// Moves the clock and fires the core's timers.
  void advance(duration d) {
    now += d;
    core->on_timer(now);
  }

  size_t failures_reported() const {
    size_t n = 0;
    for (auto& o : fx.outcomes)
      n += o.result == call_result::failure ? 1 : 0;
    return n;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(breaker_retry_agreement_tests, fixture)

CAF_TEST(a bulk retry refused by an open breaker does not spend an attempt) {
  start(); // max_attempts = 2
  core->admit(1, text("doc", lane::bulk), now);
  core->on_timer(now);
  next_verdict(breaker_decision::allowed);
  answer(status_503); // attempt 1 of 2 fails
  advance(100ms);     // past the retry backoff
  // The retry meets an open breaker: it waits, twice, without being an attempt.
  next_verdict(breaker_decision::rejected_open, now + 5s);
  CAF_CHECK(fx.calls.empty());
  advance(5s);
  next_verdict(breaker_decision::rejected_half_open_busy);
  CAF_CHECK(fx.calls.empty());
  CAF_CHECK_EQUAL(fx.answer_count.count(1), 0u);
  advance(1s); // the half-open poll
  // Attempt 2 of 2 still exists and succeeds.
  next_verdict(breaker_decision::allowed_trial);
  answer(ok_result);
  CAF_CHECK_EQUAL(fx.answer_count[1], 1);
  CAF_CHECK_EQUAL(fx.answers.count(1), 1u);
  CAF_CHECK_EQUAL(core->counters().attempts_started, 2u);
  CAF_CHECK_EQUAL(core->counters().waits_circuit_open, 2u);
  // Only the real 503 was a failure; the refusals reported nothing.
  core->on_timer(now);
  CAF_CHECK_EQUAL(failures_reported(), 1u);
}

CAF_TEST(an interactive retry refused by an open breaker answers circuit_open) {
  cfg.retry.max_attempts = 5;
  start();
  core->admit(1, text("query", lane::interactive), now);
  core->on_timer(now);
  next_verdict(breaker_decision::allowed);
  answer(status_503);
  advance(100ms);
  next_verdict(breaker_decision::rejected_open, now + 5s);
  // Fails fast with the breaker's reason, not as an exhausted upstream, after one
  // real attempt.
  CAF_REQUIRE_EQUAL(fx.failures.count(1), 1u);
  CAF_CHECK(fx.failures[1].code == embed_errc::circuit_open);
  CAF_CHECK_EQUAL(fx.answer_count[1], 1);
  CAF_CHECK_EQUAL(core->counters().attempts_started, 1u);
}

CAF_TEST(a bulk text with one attempt waits through open periods and still gets it) {
  cfg.retry.max_attempts = 1;
  start();
  core->admit(1, text("doc", lane::bulk), now);
  core->on_timer(now);
  for (int period = 0; period < 5; ++period) {
    next_verdict(breaker_decision::rejected_open, now + 2s);
    CAF_CHECK(fx.calls.empty());
    advance(2s);
  }
  next_verdict(breaker_decision::allowed_trial);
  answer(ok_result);
  CAF_CHECK_EQUAL(fx.answers.count(1), 1u);
  CAF_CHECK_EQUAL(core->counters().attempts_started, 1u);
}

CAF_TEST_FIXTURE_SCOPE_END()
