#define CAF_SUITE dispatch.dispatcher_core
#include "src/dispatch/dispatcher_core.hpp"

#include <caf/test/unit_test.hpp>

#include <map>

#include <nlohmann/json.hpp>

using namespace embedrt;
using namespace embedrt::dispatch;
using namespace std::chrono_literals;

namespace {

/// Records every effect; answers are checked to arrive exactly once per request.
struct recorder : effects {
  std::vector<acquire_permit> permits;
  std::vector<breaker_check> checks;
  std::vector<http_call> calls;
  std::vector<call_outcome> outcomes;
  std::vector<permit_feedback> feedback;
  std::map<uint64_t, embed_result> answers;
  std::map<uint64_t, embed_failure> failures;
  std::map<uint64_t, int> answer_count;
  std::vector<std::pair<uint64_t, uint32_t>> credits;
  std::vector<time_point> wakes;
  std::vector<std::pair<event_kind, std::string>> events;

  void request_permit(acquire_permit msg) override {
    permits.push_back(std::move(msg));
  }
  void check_breaker(breaker_check msg) override { checks.push_back(std::move(msg)); }
  void send_call(http_call msg) override { calls.push_back(std::move(msg)); }
  void report_outcome(call_outcome msg) override { outcomes.push_back(std::move(msg)); }
  void report_permit(permit_feedback msg) override {
    feedback.push_back(std::move(msg));
  }
  void answer(uint64_t id, embed_result result) override {
    ++answer_count[id];
    answers[id] = std::move(result);
  }
  void fail(uint64_t id, embed_failure failure) override {
    ++answer_count[id];
    failures[id] = std::move(failure);
  }
  void grant_credit(uint64_t waiter, uint32_t requests) override {
    credits.emplace_back(waiter, requests);
  }
  void wake_at(time_point at) override { wakes.push_back(at); }
  void publish(event_kind kind, std::string detail) override {
    events.emplace_back(kind, std::move(detail));
  }

  bool answered_once(uint64_t id) const {
    auto i = answer_count.find(id);
    return i != answer_count.end() && i->second == 1;
  }
};

std::vector<std::string> inputs_of(const http_call& call) {
  auto j = nlohmann::json::parse(call.body);
  std::vector<std::string> result;
  for (auto& x : j.at("input"))
    result.push_back(x.get<std::string>());
  return result;
}

/// A vector that encodes the text's first byte, so tests can check placement.
std::vector<float> vec_for(const std::string& text) {
  return {static_cast<float>(static_cast<unsigned char>(text[0])), 1.0f};
}

http_call_result ok_result(const http_call& call) {
  http_call_result r;
  r.attempt_id = call.attempt_id;
  r.status = attempt_status::succeeded;
  r.http_status = 200;
  for (auto& text : inputs_of(call))
    r.embeddings.push_back(vec_for(text));
  r.usage = embedding_usage{10, 10};
  r.wire_time = 5ms;
  return r;
}

http_call_result status_result(const http_call& call, uint16_t status,
                               caf::timespan retry_after = caf::timespan{-1}) {
  http_call_result r;
  r.attempt_id = call.attempt_id;
  r.status = attempt_status::http_error;
  r.http_status = status;
  r.detail = "status " + std::to_string(status);
  r.retry_after = retry_after;
  return r;
}

runtime_config test_config() {
  runtime_config cfg;
  cfg.endpoint.model = "m";
  // Sent as "dimensions": vectors of this length are confirmed from the start (the
  // learning of an unknown length has its own tests).
  cfg.endpoint.dimensions = 2;
  cfg.http_pool.max_connections = 4;
  cfg.batching.linger_us = 1000;
  cfg.retry.seed = 7;
  cfg.retry.base_delay_ms = 100;
  cfg.retry.max_delay_ms = 1000;
  cfg.request.timeout_ms = 10000;
  return cfg;
}

embed_request texts(std::vector<std::string> xs, lane l = lane::interactive) {
  embed_request req;
  req.texts = std::move(xs);
  req.options.priority = l;
  return req;
}

struct fixture {
  recorder fx;
  runtime_config cfg = test_config();
  time_point now = time_point{} + 1000s;
  std::unique_ptr<dispatcher_core> core;

  fixture() { core = std::make_unique<dispatcher_core>(cfg, fx, now); }

  void rebuild() { core = std::make_unique<dispatcher_core>(cfg, fx, now); }

  /// Grants every outstanding permit and allows every outstanding check.
  void grant_all() {
    for (size_t i = 0; i < 10; ++i) {
      auto permits = std::move(fx.permits);
      fx.permits.clear();
      for (auto& p : permits)
        core->on_permit(permit_decision{p.ticket, permit_status::granted, {}}, now);
      auto checks = std::move(fx.checks);
      fx.checks.clear();
      for (auto& c : checks)
        core->on_verdict(breaker_verdict{c.ticket, breaker_decision::allowed, 1, {}},
                         now);
      if (fx.permits.empty() && fx.checks.empty())
        return;
    }
  }

  /// Answers every outstanding call with valid vectors.
  void answer_all_ok() {
    auto calls = std::move(fx.calls);
    fx.calls.clear();
    for (auto& c : calls)
      core->on_call_result(ok_result(c), now);
  }

  void advance(duration d) {
    now += d;
    core->on_timer(now);
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(dispatcher_core_tests, fixture)

CAF_TEST(a single text passes permit breaker and worker and gets its vector) {
  core->admit(1, texts({"hello"}), now);
  CAF_REQUIRE_EQUAL(fx.permits.size(), 1u);
  CAF_CHECK_EQUAL(fx.permits[0].tokens, 2u); // 5 bytes / 4 bytes per token
  CAF_CHECK(fx.permits[0].deadline == now + 10s);
  grant_all();
  CAF_REQUIRE_EQUAL(fx.calls.size(), 1u);
  CAF_CHECK_EQUAL(fx.checks.size(), 0u);
  CAF_CHECK_EQUAL(inputs_of(fx.calls[0]), std::vector<std::string>{"hello"});
  CAF_CHECK_EQUAL(fx.calls[0].input_count, 1u);
  answer_all_ok();
  CAF_REQUIRE(fx.answered_once(1));
  CAF_CHECK(fx.answers[1].embeddings == std::vector<std::vector<float>>{vec_for("h")});
  CAF_CHECK_EQUAL(fx.answers[1].model, "m");
  CAF_REQUIRE_EQUAL(fx.outcomes.size(), 1u);
  CAF_CHECK(fx.outcomes[0].result == call_result::success);
  CAF_CHECK_EQUAL(fx.outcomes[0].model, "m");
  CAF_CHECK_EQUAL(core->counters().requests_succeeded, 1u);
  CAF_CHECK_EQUAL(core->pending_requests(), 0u);
  CAF_CHECK_EQUAL(core->pending_slots(), 0u);
  CAF_CHECK_EQUAL(core->pending_batches(), 0u);
  CAF_CHECK_EQUAL(core->active_attempts(), 0u);
}

CAF_TEST(blank and oversized inputs are rejected before the network) {
  cfg.input.max_text_bytes = 10;
  rebuild();
  core->admit(1, texts({"ok", ""}), now);
  core->admit(2, texts({" \t\n"}), now);
  core->admit(3, texts({"this text is too long"}), now);
  core->admit(4, texts({}), now);
  core->admit(5, texts({"\xc2\xa0\xe3\x80\x80"}), now); // NBSP + ideographic space
  CAF_CHECK(fx.permits.empty());
  for (uint64_t id = 1; id <= 5; ++id) {
    CAF_CHECK(fx.answered_once(id));
    CAF_CHECK(fx.failures[id].code == embed_errc::invalid_input);
  }
  CAF_CHECK_EQUAL(fx.failures[1].message, "input 1 is empty");
  CAF_CHECK_EQUAL(fx.failures[2].message, "input 0 is only whitespace");
  CAF_CHECK_EQUAL(fx.failures[3].message,
                  "input 0 has 21 bytes, more than the limit of 10");
  CAF_CHECK_EQUAL(core->counters().requests_failed_invalid_input, 5u);
}

CAF_TEST(a full interactive lane sheds with overloaded at once) {
  cfg.limits.interactive_capacity = 2;
  rebuild();
  core->admit(1, texts({"a"}), now);
  core->admit(2, texts({"b"}), now);
  core->admit(3, texts({"c"}), now);
  CAF_CHECK(fx.answered_once(3));
  CAF_CHECK(fx.failures[3].code == embed_errc::overloaded);
  CAF_CHECK_EQUAL(core->counters().requests_shed_overloaded, 1u);
  grant_all();
  answer_all_ok();
  core->admit(4, texts({"d"}), now); // room again
  CAF_CHECK_EQUAL(fx.answer_count.count(4), 0u);
}

CAF_TEST(identical texts in flight share one upstream input) {
  core->admit(1, texts({"same"}), now);
  core->admit(2, texts({"same", "other"}), now);
  core->admit(3, texts({"same"}), now);
  CAF_CHECK_EQUAL(core->counters().texts_deduplicated, 2u);
  // Drive everything to completion.
  for (int i = 0; i < 5; ++i) {
    grant_all();
    answer_all_ok();
    advance(2ms);
  }
  size_t upstream_inputs = core->counters().attempts_started;
  CAF_CHECK(upstream_inputs <= 2u);
  for (uint64_t id = 1; id <= 3; ++id)
    CAF_CHECK(fx.answered_once(id));
  CAF_CHECK(fx.answers[2].embeddings[0] == vec_for("s"));
  CAF_CHECK(fx.answers[2].embeddings[1] == vec_for("o"));
  CAF_CHECK(fx.answers[3].embeddings[0] == vec_for("s"));
}

CAF_TEST(texts arriving while others are in flight are packed into one request) {
  cfg.http_pool.max_connections = 1;
  rebuild();
  core->admit(1, texts({"first"}), now);
  grant_all();
  CAF_REQUIRE_EQUAL(fx.calls.size(), 1u);
  for (uint64_t id = 2; id <= 5; ++id)
    core->admit(id, texts({"t" + std::to_string(id)}), now);
  CAF_CHECK(fx.permits.empty()); // window of 1 is taken
  answer_all_ok();
  grant_all();
  CAF_REQUIRE_EQUAL(fx.calls.size(), 1u);
  CAF_CHECK_EQUAL(inputs_of(fx.calls[0]),
                  (std::vector<std::string>{"t2", "t3", "t4", "t5"}));
  answer_all_ok();
  for (uint64_t id = 2; id <= 5; ++id) {
    CAF_CHECK(fx.answered_once(id));
    CAF_CHECK(fx.answers[id].embeddings[0] == vec_for("t"));
  }
  CAF_CHECK_EQUAL(core->counters().upstream_requests_formed, 2u);
}

CAF_TEST(a partial batch lingers only while other attempts are in flight) {
  core->admit(1, texts({"alone"}), now);
  CAF_CHECK_EQUAL(fx.permits.size(), 1u); // nothing in flight: no linger
  core->admit(2, texts({"second"}), now);
  CAF_CHECK_EQUAL(fx.permits.size(), 1u); // lingers: one attempt is active
  CAF_REQUIRE(!fx.wakes.empty());
  CAF_CHECK(fx.wakes.back() == now + 1ms);
  advance(1ms);
  CAF_CHECK_EQUAL(fx.permits.size(), 2u);
}

CAF_TEST(without batching each upstream request carries one caller only) {
  cfg.batching.enabled = false;
  cfg.http_pool.max_connections = 1;
  rebuild();
  core->admit(1, texts({"a1"}), now);
  grant_all();
  core->admit(2, texts({"b1", "b2"}), now);
  core->admit(3, texts({"c1"}), now);
  answer_all_ok();
  grant_all();
  CAF_REQUIRE_EQUAL(fx.calls.size(), 1u);
  CAF_CHECK_EQUAL(inputs_of(fx.calls[0]), (std::vector<std::string>{"b1", "b2"}));
  answer_all_ok();
  grant_all();
  CAF_REQUIRE_EQUAL(fx.calls.size(), 1u);
  CAF_CHECK_EQUAL(inputs_of(fx.calls[0]), std::vector<std::string>{"c1"});
}

CAF_TEST(a 503 is retried after a backoff and then succeeds) {
  core->admit(1, texts({"x"}), now);
  grant_all();
  CAF_REQUIRE_EQUAL(fx.calls.size(), 1u);
  core->on_call_result(status_result(fx.calls[0], 503), now);
  fx.calls.clear();
  CAF_CHECK(fx.outcomes.back().result == call_result::failure);
  CAF_CHECK(fx.permits.empty()); // backing off
  CAF_REQUIRE(!fx.wakes.empty());
  auto wake = fx.wakes.back();
  CAF_CHECK(wake > now && wake <= now + 100ms); // full jitter within the first cap
  now = wake;
  core->on_timer(now);
  grant_all();
  CAF_REQUIRE_EQUAL(fx.calls.size(), 1u);
  answer_all_ok();
  CAF_CHECK(fx.answered_once(1));
  CAF_CHECK_EQUAL(fx.answers.count(1), 1u);
  CAF_CHECK_EQUAL(core->counters().attempts_started, 2u);
  CAF_CHECK_EQUAL(core->counters().attempts_retried, 1u);
}

CAF_TEST(a 400 on a batch is bisected until the bad text is isolated) {
  cfg.http_pool.max_connections = 1;
  rebuild();
  core->admit(1, texts({"warmup"}), now);
  grant_all();
  for (uint64_t id = 2; id <= 5; ++id)
    core->admit(id, texts({id == 4 ? std::string{"bad"} : "ok" + std::to_string(id)}),
                now);
  answer_all_ok();
  for (int round = 0; round < 10 && !fx.permits.empty(); ++round) {
    grant_all();
    auto calls = std::move(fx.calls);
    fx.calls.clear();
    for (auto& c : calls) {
      auto in = inputs_of(c);
      bool bad = std::find(in.begin(), in.end(), "bad") != in.end();
      core->on_call_result(bad ? status_result(c, 400) : ok_result(c), now);
    }
  }
  CAF_CHECK(fx.failures[4].code == embed_errc::upstream_rejected);
  CAF_CHECK_EQUAL(fx.failures[4].upstream_status, 400);
  for (uint64_t id : {2u, 3u, 5u})
    CAF_CHECK(fx.answers.count(id) == 1);
  for (uint64_t id = 1; id <= 5; ++id)
    CAF_CHECK(fx.answered_once(id));
  CAF_CHECK(core->counters().batches_split_rejected >= 2u);
  CAF_CHECK_EQUAL(core->pending_batches(), 0u);
}

CAF_TEST(a 401 is not retried and answers upstream_rejected after one attempt) {
  core->admit(1, texts({"x"}), now);
  grant_all();
  core->on_call_result(status_result(fx.calls[0], 401), now);
  CAF_CHECK(fx.failures[1].code == embed_errc::upstream_rejected);
  CAF_CHECK_EQUAL(core->counters().attempts_started, 1u);
  CAF_CHECK(fx.outcomes.back().result == call_result::ignored);
}

CAF_TEST(a deadline passing in flight answers once and drops the late result) {
  embed_request req = texts({"slow"});
  req.options.timeout = 500ms;
  core->admit(1, std::move(req), now);
  grant_all();
  CAF_REQUIRE_EQUAL(fx.calls.size(), 1u);
  CAF_CHECK(fx.calls[0].timeout <= 500ms);
  advance(500ms);
  CAF_CHECK(fx.answered_once(1));
  CAF_CHECK(fx.failures[1].code == embed_errc::deadline_exceeded);
  answer_all_ok(); // the late answer
  CAF_CHECK(fx.answered_once(1));
  CAF_CHECK_EQUAL(fx.outcomes.size(), 1u); // the breaker still learns the outcome
  CAF_CHECK_EQUAL(core->pending_batches(), 0u);
  CAF_CHECK_EQUAL(core->active_attempts(), 0u);
}

CAF_TEST(an open breaker fails interactive calls fast and parks bulk calls) {
  core->admit(1, texts({"query"}), now);
  core->admit(2, texts({"doc"}, lane::bulk), now);
  advance(2ms);
  CAF_REQUIRE_EQUAL(fx.permits.size(), 2u);
  for (auto& p : fx.permits)
    core->on_permit(permit_decision{p.ticket, permit_status::granted, {}}, now);
  fx.permits.clear();
  auto open_until = now + 5s;
  for (auto& c : fx.checks)
    core->on_verdict(
      breaker_verdict{c.ticket, breaker_decision::rejected_open, 3, open_until}, now);
  fx.checks.clear();
  CAF_CHECK(fx.failures[1].code == embed_errc::circuit_open);
  CAF_CHECK_EQUAL(fx.answer_count.count(2), 0u); // bulk waits
  CAF_CHECK_EQUAL(core->counters().attempts_started, 0u);
  CAF_CHECK_EQUAL(core->counters().waits_circuit_open, 1u);
  now = open_until;
  core->on_timer(now);
  CAF_REQUIRE_EQUAL(fx.permits.size(), 1u);
  core->on_permit(permit_decision{fx.permits[0].ticket, permit_status::granted, {}},
                  now);
  core->on_verdict(
    breaker_verdict{fx.checks[0].ticket, breaker_decision::allowed_trial, 4, {}}, now);
  CAF_REQUIRE_EQUAL(fx.calls.size(), 1u);
  answer_all_ok();
  CAF_CHECK(fx.answered_once(2));
  CAF_CHECK_EQUAL(fx.answers.count(2), 1u);
  CAF_CHECK(fx.outcomes.back().trial);
  CAF_CHECK_EQUAL(core->counters().attempts_started, 1u); // the wait cost nothing
}

CAF_TEST(interactive texts go ahead of queued bulk but bulk keeps its share) {
  cfg.http_pool.max_connections = 1;
  cfg.batching.max_inputs = 1;
  cfg.limits.bulk_min_share_percent = 25; // 3 interactive, then 1 bulk
  rebuild();
  core->admit(100, texts({"w"}), now);
  grant_all();
  for (uint64_t id = 1; id <= 4; ++id)
    core->admit(id, texts({"b" + std::to_string(id)}, lane::bulk), now);
  for (uint64_t id = 11; id <= 18; ++id)
    core->admit(id, texts({"i" + std::to_string(id)}), now);
  std::string order;
  for (int i = 0; i < 12; ++i) {
    answer_all_ok();
    advance(2ms);
    grant_all();
    if (fx.calls.empty())
      break;
    order += inputs_of(fx.calls[0])[0].substr(0, 1);
  }
  CAF_CHECK_EQUAL(order, "iiibiiibiibb");
}

CAF_TEST(bulk credit is granted while there is room and waits when there is none) {
  cfg.limits.bulk_capacity = 3;
  rebuild();
  core->acquire_credit(1, 2, now);
  CAF_REQUIRE_EQUAL(fx.credits.size(), 1u);
  CAF_CHECK_EQUAL(fx.credits[0].second, 2u);
  core->acquire_credit(2, 5, now);
  CAF_CHECK_EQUAL(fx.credits.back().second, 1u);
  core->acquire_credit(3, 5, now);
  CAF_CHECK_EQUAL(fx.credits.size(), 2u); // no room: waits
  // A bulk request without credit is shed; with credit it is admitted.
  core->admit(10, texts({"no credit"}, lane::bulk), now);
  CAF_CHECK(fx.failures[10].code == embed_errc::overloaded);
  core->admit(11, texts({"with credit"}, lane::bulk), admission_path::credit, now);
  CAF_CHECK_EQUAL(fx.answer_count.count(11), 0u);
  core->release_credit(1, now); // frees one
  CAF_REQUIRE_EQUAL(fx.credits.size(), 3u);
  CAF_CHECK_EQUAL(fx.credits.back().first, 3u);
  CAF_CHECK_EQUAL(fx.credits.back().second, 1u);
}

CAF_TEST(shutdown lets in flight work finish within grace and answers the rest) {
  cfg.http_pool.max_connections = 1;
  rebuild();
  core->admit(1, texts({"in flight"}), now);
  grant_all();
  core->admit(2, texts({"queued"}), now);
  core->acquire_credit(9, 1, now);
  fx.credits.clear();
  core->begin_shutdown(1s, now);
  core->admit(3, texts({"late"}), now);
  CAF_CHECK(fx.failures[3].code == embed_errc::shutting_down);
  core->acquire_credit(10, 1, now);
  CAF_CHECK_EQUAL(fx.credits.back().second, 0u);
  answer_all_ok();
  CAF_CHECK(fx.answers.count(1) == 1);
  CAF_CHECK(!core->drained());
  advance(1s);
  CAF_CHECK(fx.failures[2].code == embed_errc::shutting_down);
  CAF_CHECK(core->drained());
  CAF_CHECK_EQUAL(core->shutdown_result().finished_in_grace, 1u);
  CAF_CHECK_EQUAL(core->shutdown_result().answered_shutting_down, 1u);
}

CAF_TEST(a worker failure is re - sent as a retry and answered once) {
  core->admit(1, texts({"x"}), now);
  grant_all();
  core->on_call_lost(fx.calls[0].attempt_id, now);
  fx.calls.clear();
  CAF_CHECK_EQUAL(core->counters().attempts_redispatched_worker_failed, 1u);
  advance(1s);
  grant_all();
  CAF_REQUIRE_EQUAL(fx.calls.size(), 1u);
  answer_all_ok();
  CAF_CHECK(fx.answered_once(1));
  CAF_CHECK_EQUAL(fx.answers.count(1), 1u);
}

CAF_TEST(worker failures past max attempts answer worker_failed) {
  cfg.retry.max_attempts = 2;
  rebuild();
  core->admit(1, texts({"x"}), now);
  for (int i = 0; i < 3; ++i) {
    grant_all();
    for (auto& c : fx.calls)
      core->on_call_lost(c.attempt_id, now);
    fx.calls.clear();
    advance(1s);
  }
  CAF_CHECK(fx.answered_once(1));
  CAF_CHECK(fx.failures[1].code == embed_errc::worker_failed);
}

CAF_TEST(an unavailable runtime answers pending and new requests at once) {
  core->admit(1, texts({"x"}), now);
  core->set_available(false, "pool keeps failing", now);
  CAF_CHECK(fx.failures[1].code == embed_errc::runtime_unavailable);
  core->admit(2, texts({"y"}), now);
  CAF_CHECK(fx.failures[2].code == embed_errc::runtime_unavailable);
  CAF_CHECK_EQUAL(fx.failures[2].message, "pool keeps failing");
}

CAF_TEST(a denied permit maps to overloaded or rate_limited) {
  core->admit(1, texts({"a"}), now);
  core->on_permit(
    permit_decision{fx.permits[0].ticket, permit_status::denied_deadline, {}}, now);
  CAF_CHECK(fx.failures[1].code == embed_errc::rate_limited);
  core->admit(2, texts({"b"}), now);
  core->on_permit(
    permit_decision{fx.permits[1].ticket, permit_status::denied_queue_full, {}}, now);
  CAF_CHECK(fx.failures[2].code == embed_errc::overloaded);
}

CAF_TEST(a 429 with retry after pauses grants for that long) {
  core->admit(1, texts({"a"}), now);
  grant_all();
  core->on_call_result(status_result(fx.calls[0], 429, 2s), now);
  CAF_REQUIRE(!fx.feedback.empty());
  CAF_CHECK(fx.feedback.back().pause == 2s);
  CAF_CHECK(fx.outcomes.back().result == call_result::ignored);
  CAF_CHECK(fx.wakes.back() == now + 2s);
}

CAF_TEST(answered requests leave no timers behind) {
  cfg.http_pool.max_connections = 64;
  rebuild();
  for (uint64_t id = 1; id <= 20000; ++id) {
    core->admit(id, texts({"t" + std::to_string(id)}), now);
    grant_all();
    answer_all_ok();
  }
  CAF_CHECK_EQUAL(core->pending_requests(), 0u);
  CAF_CHECK_EQUAL(core->counters().requests_succeeded, 20000u);
  // Deadlines of answered requests are compacted away, so memory follows the live
  // set, not the request rate.
  CAF_CHECK(core->pending_timers() < 1000u);
}

// Dimension learning without configured dimensions: dispatch.batch_outcome.

CAF_TEST(configured dimensions are what every call expects) {
  cfg.endpoint.dimensions = 2;
  rebuild();
  core->admit(1, texts({"a"}), now);
  grant_all();
  CAF_REQUIRE_EQUAL(fx.calls.size(), 1u);
  CAF_CHECK_EQUAL(fx.calls[0].expected_dimension, 2u);
}

CAF_TEST(batches never hold more estimated response bytes than the budget) {
  cfg.limits.response_memory_mib = 1;
  cfg.endpoint.dimensions = 0; // unknown until the first answer (a batch of 72 agrees)
  rebuild();
  std::vector<std::string> many;
  for (int i = 0; i < 200; ++i)
    many.push_back("text " + std::to_string(i));
  core->admit(1, texts(many), now);
  grant_all();
  // 1536-d base64 (assumed before any answer): ~14 KB per input, 72 fit in 1 MiB.
  CAF_REQUIRE_EQUAL(fx.calls.size(), 1u);
  CAF_CHECK_EQUAL(inputs_of(fx.calls[0]).size(), 72u);
  CAF_CHECK_LESS_OR_EQUAL(core->response_bytes_in_flight(), uint64_t{1} << 20);
  advance(5ms); // no linger or timer lets a second batch past the budget
  grant_all();
  CAF_CHECK_EQUAL(fx.calls.size(), 1u);
  answer_all_ok(); // 2-d vectors: now the estimate is small, the rest fits at once
  grant_all();
  CAF_REQUIRE_EQUAL(fx.calls.size(), 1u);
  CAF_CHECK_EQUAL(inputs_of(fx.calls[0]).size(), 128u);
  answer_all_ok();
  CAF_REQUIRE(fx.answered_once(1));
  CAF_CHECK_EQUAL(fx.answers[1].embeddings.size(), 200u);
  CAF_CHECK_EQUAL(core->response_bytes_in_flight(), 0u);
}

CAF_TEST(each request leaves the shared gate once when answered or when the core dies) {
  auto gate = std::make_shared<admission_gate>(3, 3);
  core = std::make_unique<dispatcher_core>(cfg, fx, now, gate);
  core->admit(1, texts({"a"}), now);               // entered here
  CAF_REQUIRE(gate->try_enter(lane::interactive)); // entered by runtime::embed
  core->admit(2, texts({"b"}), admission_path::entered, now);
  CAF_CHECK_EQUAL(gate->occupied(lane::interactive), 2u);
  core->admit(3, texts({" "}), now); // refused before taking a place
  CAF_CHECK_EQUAL(gate->occupied(lane::interactive), 2u);
  for (int i = 0; i < 3; ++i) {
    grant_all();
    answer_all_ok();
    advance(2ms);
  }
  CAF_CHECK(fx.answered_once(1));
  CAF_CHECK(fx.answered_once(2));
  // Request 1's place is back; request 2's is its host's to give back.
  CAF_CHECK_EQUAL(gate->occupied(lane::interactive), 1u);
  gate->leave(lane::interactive);
  core->admit(4, texts({"c"}), now);
  core->admit(5, texts({"d"}), now);
  CAF_CHECK_EQUAL(gate->occupied(lane::interactive), 2u);
  core.reset(); // the dispatcher died with both pending
  CAF_CHECK_EQUAL(gate->occupied(lane::interactive), 0u);
  CAF_CHECK_EQUAL(gate->entered(lane::interactive), 4u);
}

CAF_TEST_FIXTURE_SCOPE_END()
