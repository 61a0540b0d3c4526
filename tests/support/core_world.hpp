// dispatcher_core in a small simulated world: the rate limiter and the breaker allow
// everything at once, and the upstream is a function of the request that writes a
// real response body, decoded by the runtime's codec exactly as the worker does. Time
// is virtual: `run` answers what is outstanding and jumps to the next timer.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/dispatch/dispatcher_core.hpp"
#include "src/openai/embeddings_codec.hpp"
#include "tools/mock/mock_embeddings.hpp"

namespace embedrt::test {

/// What the simulated upstream does to one vector.
enum class vector_fate : uint8_t { good, truncated, nan };

struct core_world : dispatch::effects {
  using time_point = policy::time_point;
  using duration = policy::duration;

  time_point now = time_point{} + std::chrono::seconds{1000};
  std::unique_ptr<dispatch::dispatcher_core> core;

  // -- recorded effects ---------------------------------------------------------------
  std::vector<acquire_permit> permits;
  std::vector<breaker_check> checks;
  std::vector<http_call> calls;
  std::vector<call_outcome> outcomes;
  std::map<uint64_t, embed_result> answers;
  std::map<uint64_t, embed_failure> failures;
  std::map<uint64_t, int> answer_count;
  std::vector<std::pair<event_kind, std::string>> events;
  time_point wake = time_point::max();

  // -- the upstream
  // ---------------------------------------------------------------------
  /// Vector length when the request has no `dimensions`.
  uint32_t dimension = 8;
  /// Decides each vector's fate from (text, how often this text was sent before).
  std::function<vector_fate(const std::string&, uint32_t)> fate;
  /// Answer with float arrays whatever was asked.
  bool always_float = false;
  /// Changes the body of upstream call `n` (0-based) before it is decoded.
  std::function<void(std::string&, uint64_t)> mangle;
  /// Upstream requests seen, and how often each text was sent.
  uint64_t upstream_calls = 0;
  std::map<std::string, uint32_t> sends;
  std::vector<size_t> batch_sizes;
  std::vector<encoding_format> asked;

  void start(const runtime_config& cfg) {
    core = std::make_unique<dispatch::dispatcher_core>(cfg, *this, now);
  }

  // -- effects
  // --------------------------------------------------------------------------
  void request_permit(acquire_permit msg) override {
    permits.push_back(std::move(msg));
  }
  void check_breaker(breaker_check msg) override { checks.push_back(std::move(msg)); }
  void send_call(http_call msg) override { calls.push_back(std::move(msg)); }
  void report_outcome(call_outcome msg) override { outcomes.push_back(std::move(msg)); }
  void report_permit(permit_feedback) override {}
  void answer(uint64_t id, embed_result result) override {
    ++answer_count[id];
    answers[id] = std::move(result);
  }
  void fail(uint64_t id, embed_failure failure) override {
    ++answer_count[id];
    failures[id] = std::move(failure);
  }
  void grant_credit(uint64_t, uint32_t) override {}
  void wake_at(time_point at) override { wake = std::min(wake, at); }
  void publish(event_kind kind, std::string detail) override {
    events.emplace_back(kind, std::move(detail));
  }

  // -- driving
  // --------------------------------------------------------------------------

  /// The response body for `call`, as an OpenAI-compatible server would write it.
  std::string body_for(const http_call& call) {
    auto j = nlohmann::json::parse(call.body);
    auto dims = j.contains("dimensions") ? j["dimensions"].get<uint32_t>() : dimension;
    bool b64 = j.value("encoding_format", "float") == "base64" && !always_float;
    asked.push_back(j.value("encoding_format", "float") == "base64"
                      ? encoding_format::base64
                      : encoding_format::float_array);
    auto& inputs = j.at("input");
    batch_sizes.push_back(inputs.size());
    ++upstream_calls;
    std::string out = R"({"object":"list","data":[)";
    std::vector<float> v;
    for (size_t i = 0; i < inputs.size(); ++i) {
      auto text = inputs[i].get<std::string>();
      auto sent_before = sends[text]++;
      mock::mock_vector(text, dims, v);
      auto f = fate ? fate(text, sent_before) : vector_fate::good;
      if (f == vector_fate::truncated)
        v.pop_back();
      if (i > 0)
        out += ',';
      out += R"({"object":"embedding","index":)" + std::to_string(i)
             + R"(,"embedding":)";
      if (b64) {
        if (f == vector_fate::nan)
          v[0] = std::numeric_limits<float>::quiet_NaN();
        out += '"' + openai::base64_encode(v.data(), v.size() * sizeof(float)) + '"';
      } else {
        out += '[';
        for (size_t k = 0; k < v.size(); ++k) {
          if (k > 0)
            out += ',';
          if (k == 0 && f == vector_fate::nan) {
            out += "1e999";
          } else {
            char buf[32];
            std::snprintf(buf, sizeof(buf), "%.9g", static_cast<double>(v[k]));
            out += buf;
          }
        }
        out += ']';
      }
      out += '}';
    }
    out += R"(],"model":"m","usage":{"prompt_tokens":1,"total_tokens":1}})";
    return out;
  }

  /// What the worker makes of the body (actors/http_worker.cpp, to_call_result).
  http_call_result respond(const http_call& call) {
    auto body = body_for(call);
    if (mangle)
      mangle(body, upstream_calls - 1);
    body.reserve(body.size() + 64);
    http_call_result r;
    r.attempt_id = call.attempt_id;
    r.http_status = 200;
    openai::decoded_response d;
    auto st = openai::decode_response(body, call.input_count, call.expected_dimension,
                                      call.encoding, d);
    if (!st.ok()) {
      r.status = attempt_status::bad_response;
      r.detail = std::string{openai::to_string(st.defect)} + ": " + st.reason;
      return r;
    }
    r.status = attempt_status::succeeded;
    r.embeddings = std::move(d.embeddings);
    r.item_faults = std::move(d.item_faults);
    r.encoding_mismatches = d.encoding_mismatches;
    r.usage = embedding_usage{d.prompt_tokens, d.total_tokens};
    return r;
  }

  /// Grants permits and allows checks until nothing is outstanding but calls.
  void grant_all() {
    while (!permits.empty() || !checks.empty()) {
      auto ps = std::move(permits);
      permits.clear();
      for (auto& p : ps)
        core->on_permit(permit_decision{p.ticket, permit_status::granted, {}}, now);
      auto cs = std::move(checks);
      checks.clear();
      for (auto& c : cs)
        core->on_verdict(breaker_verdict{c.ticket, breaker_decision::allowed, 1, {}},
                         now);
    }
  }

  /// Answers every outstanding call, in order.
  void answer_calls() {
    auto cs = std::move(calls);
    calls.clear();
    for (auto& c : cs)
      core->on_call_result(respond(c), now);
  }

  void advance_to(time_point t) {
    now = std::max(now, t);
    wake = time_point::max();
    core->on_timer(now);
  }

  /// Answers everything (upstream time zero) and jumps to the next timer until no
  /// request is pending or `limit` of virtual time passed.
  void run(duration limit = std::chrono::seconds{60}) {
    auto end = now + limit;
    for (;;) {
      while (!permits.empty() || !checks.empty() || !calls.empty()) {
        grant_all();
        answer_calls();
      }
      if (core->pending_requests() == 0 || wake == time_point::max() || wake > end)
        return;
      advance_to(wake);
    }
  }

  bool answered_once(uint64_t id) const {
    auto i = answer_count.find(id);
    return i != answer_count.end() && i->second == 1;
  }
};

} // namespace embedrt::test
