#define CAF_SUITE dispatch.request_trace
#include "src/dispatch/dispatcher_core.hpp"

#include <caf/test/unit_test.hpp>

#include <map>
#include <random>

#include <nlohmann/json.hpp>

// The core fills one request_trace per answered request and hands it over right
// after the answer: durations from the `now` values it was given, the attempts that
// carried the request's texts.

using namespace embedrt;
using namespace embedrt::dispatch;
using namespace std::chrono_literals;

namespace {

struct recorder : effects {
  std::vector<acquire_permit> permits;
  std::vector<breaker_check> checks;
  std::vector<http_call> calls;
  std::vector<uint64_t> answered; // in order: answers and failures
  std::map<uint64_t, embed_failure> failures;
  std::vector<request_trace> traces;
  /// Each trace came right after its request's answer.
  bool trace_follows_answer = true;

  void request_permit(acquire_permit m) override { permits.push_back(std::move(m)); }
  void check_breaker(breaker_check m) override { checks.push_back(std::move(m)); }
  void send_call(http_call m) override { calls.push_back(std::move(m)); }
  void report_outcome(call_outcome) override {}
  void report_permit(permit_feedback) override {}
  void answer(uint64_t id, embed_result) override { answered.push_back(id); }
  void fail(uint64_t id, embed_failure f) override {
    answered.push_back(id);
    failures[id] = std::move(f);
  }
  void grant_credit(uint64_t, uint32_t) override {}
  void wake_at(time_point) override {}
  void publish(event_kind, std::string) override {}
  void request_done(const request_trace& t) override {
    trace_follows_answer &= !answered.empty() && answered.back() == t.request_id
                            && traces.size() + 1 == answered.size();
    traces.push_back(t);
  }

  const request_trace* trace_of(uint64_t id) const {
    for (auto& t : traces)
      if (t.request_id == id)
        return &t;
    return nullptr;
  }
};

http_call_result result_for(const http_call& call, uint16_t status) {
  http_call_result r;
  r.attempt_id = call.attempt_id;
  r.http_status = status;
  if (status == 200) {
    r.status = attempt_status::succeeded;
    for (size_t i = 0; i < call.input_count; ++i)
      r.embeddings.push_back({1.0f, 2.0f});
  } else {
    r.status = attempt_status::http_error;
  }
  return r;
}

struct fixture {
  recorder fx;
  runtime_config cfg;
  time_point now = time_point{} + 1000s;
  std::unique_ptr<dispatcher_core> core;

  fixture() {
    cfg.endpoint.model = "configured";
    cfg.endpoint.dimensions = 2;
    cfg.retry.seed = 3;
    cfg.retry.base_delay_ms = 100;
    cfg.retry.max_delay_ms = 100;
    cfg.request.timeout_ms = 10000;
    cfg.limits.interactive_capacity = 2;
    core = std::make_unique<dispatcher_core>(cfg, fx, now);
  }

  embed_request req(std::vector<std::string> texts, std::string model = {}) {
    embed_request r;
    r.texts = std::move(texts);
    r.options.model = std::move(model);
    return r;
  }

  void permit(size_t i, duration after) {
    now += after;
    core->on_permit(
      permit_decision{fx.permits.at(i).ticket, permit_status::granted, {}}, now);
  }
  void verdict(size_t i, duration after,
               breaker_decision d = breaker_decision::allowed) {
    now += after;
    core->on_verdict(breaker_verdict{fx.checks.at(i).ticket, d, 1, now + 1s}, now);
  }
  void reply(size_t i, duration after, uint16_t status) {
    now += after;
    core->on_call_result(result_for(fx.calls.at(i), status), now);
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(request_trace_tests, fixture)

CAF_TEST(a retried request shows both attempts and its summed waits) {
  core->admit(1, req({"a", "b"}), now);
  auto admitted = now;
  permit(0, 2ms);
  verdict(0, 3ms);
  reply(0, 40ms, 503);
  CAF_CHECK(fx.traces.empty());
  now += 100ms; // the retry delay
  core->on_timer(now);
  CAF_REQUIRE_EQUAL(fx.permits.size(), 2u);
  permit(1, 5ms);
  verdict(1, 1ms);
  reply(1, 20ms, 200);
  CAF_REQUIRE_EQUAL(fx.traces.size(), 1u);
  CAF_CHECK(fx.trace_follows_answer);
  auto& t = fx.traces[0];
  CAF_CHECK_EQUAL(t.request_id, 1u);
  CAF_CHECK(t.outcome == embed_errc::none);
  CAF_CHECK_EQUAL(t.model, "configured");
  CAF_CHECK_EQUAL(t.inputs, 2u);
  CAF_CHECK(t.queue == 5ms); // admission -> first attempt on the wire
  CAF_CHECK(t.permit == 7ms);
  CAF_CHECK(t.breaker == 4ms);
  CAF_CHECK(t.attempt == 60ms);
  CAF_CHECK(t.total == now - admitted);
  CAF_REQUIRE_EQUAL(t.attempts.size(), 2u);
  CAF_CHECK(t.attempts[0].status == attempt_status::http_error);
  CAF_CHECK_EQUAL(t.attempts[0].http_status, 503u);
  CAF_CHECK(t.attempts[0].duration == 40ms);
  CAF_CHECK_EQUAL(t.attempts[0].batch_inputs, 2u);
  CAF_CHECK(t.attempts[1].status == attempt_status::succeeded);
  CAF_CHECK(t.attempts[1].duration == 20ms);
  CAF_CHECK_EQUAL(t.attempts[0].batch_id, t.attempts[1].batch_id);
}

CAF_TEST(a shed request and a refused one show no attempts and zero durations) {
  core->admit(1, req({"a"}), now);
  core->admit(2, req({"b"}), now);
  core->admit(3, req({"c"}, "other-model"), now); // the lane holds 2
  core->admit(4, req({" "}), now);                // invalid
  CAF_REQUIRE_EQUAL(fx.traces.size(), 2u);
  CAF_CHECK(fx.trace_follows_answer);
  auto shed = fx.trace_of(3);
  CAF_REQUIRE(shed != nullptr);
  CAF_CHECK(shed->outcome == embed_errc::overloaded);
  CAF_CHECK_EQUAL(shed->model, "other-model");
  CAF_CHECK(shed->attempts.empty());
  CAF_CHECK(shed->total == 0ns);
  CAF_CHECK(shed->queue == 0ns);
  auto bad = fx.trace_of(4);
  CAF_REQUIRE(bad != nullptr);
  CAF_CHECK(bad->outcome == embed_errc::invalid_input);
  CAF_CHECK(bad->attempts.empty());
}

CAF_TEST(a request that never reached the wire spent its whole time queued) {
  core->admit(1, req({"a"}), now);
  now += 10s + 1ms;
  core->on_timer(now);
  auto t = fx.trace_of(1);
  CAF_REQUIRE(t != nullptr);
  CAF_CHECK(t->outcome == embed_errc::deadline_exceeded);
  CAF_CHECK(t->queue == t->total);
  CAF_CHECK(t->total == 10s + 1ms);
  CAF_CHECK(t->attempts.empty());
}

CAF_TEST(a request joining a text already on the wire did not queue) {
  core->admit(1, req({"same"}), now);
  permit(0, 1ms);
  verdict(0, 1ms);
  now += 10ms;
  core->admit(2, req({"same"}), now); // dedup: rides the call in flight
  reply(0, 5ms, 200);
  auto t = fx.trace_of(2);
  CAF_REQUIRE(t != nullptr);
  CAF_CHECK(t->queue == 0ns);
  CAF_CHECK(t->total == 5ms);
  CAF_CHECK(t->attempt == 5ms); // its share, not the call's 15 ms
  CAF_REQUIRE_EQUAL(t->attempts.size(), 1u);
  CAF_CHECK(t->attempts[0].duration == 15ms);
  CAF_CHECK(fx.trace_of(1)->attempt == 15ms);
}

CAF_TEST(the circuit open answer names the request model) {
  auto r = req({"a"}, "their-model");
  core->admit(1, std::move(r), now);
  permit(0, 1ms);
  verdict(0, 1ms, breaker_decision::rejected_open);
  CAF_REQUIRE_EQUAL(fx.failures.count(1), 1u);
  CAF_CHECK_EQUAL(fx.failures[1].message,
                  "the circuit breaker for model their-model is open");
  CAF_CHECK(fx.trace_of(1)->breaker == 1ms);
}

CAF_TEST(every request gets exactly one trace over random seeded runs) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    recorder rec;
    cfg.limits.interactive_capacity = 8;
    cfg.batching.dedup = true;
    dispatcher_core c{cfg, rec, now};
    std::minstd_rand rng{seed};
    uint64_t next = 1;
    for (int step = 0; step < 300; ++step) {
      now += std::chrono::milliseconds{rng() % 20};
      switch (rng() % 4) {
        case 0: c.admit(next++, req({"t" + std::to_string(rng() % 10)}), now); break;
        case 1:
          for (auto& p : std::exchange(rec.permits, {}))
            c.on_permit(permit_decision{p.ticket, permit_status::granted, {}}, now);
          break;
        case 2:
          for (auto& k : std::exchange(rec.checks, {}))
            c.on_verdict(breaker_verdict{k.ticket, breaker_decision::allowed, 1, {}},
                         now);
          break;
        default:
          for (auto& call : std::exchange(rec.calls, {}))
            c.on_call_result(result_for(call, rng() % 3 == 0 ? 500 : 200), now);
          c.on_timer(now);
      }
    }
    now += 20s; // every deadline passes
    c.on_timer(now);
    CAF_CHECK(rec.trace_follows_answer);
    CAF_CHECK_EQUAL(rec.traces.size(), next - 1);
    CAF_CHECK_EQUAL(rec.answered.size(), next - 1);
    for (auto& t : rec.traces)
      CAF_CHECK(t.attempts.size() <= 16u);
  }
}

CAF_TEST_FIXTURE_SCOPE_END()
