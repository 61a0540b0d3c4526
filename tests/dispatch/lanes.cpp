#define CAF_SUITE dispatch.lanes
#include "src/dispatch/dispatcher_core.hpp"

#include <caf/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "tests/support/core_world.hpp"

using namespace embedrt;
using namespace embedrt::test;
using namespace std::chrono_literals;

// Priority lanes under batching (issue 9 E): an interactive text never rides in a
// bulk batch, and bulk can never take the last pipeline slots, so an interactive text
// starts at once however much bulk work is queued or in flight.

namespace {

runtime_config lane_config() {
  runtime_config cfg;
  cfg.endpoint.model = "m";
  cfg.endpoint.dimensions = 8;
  cfg.http_pool.max_connections = 4;
  cfg.limits.interactive_reserved_attempts = 1;
  cfg.batching.bulk_max_inputs = 16;
  cfg.retry.seed = 3;
  cfg.request.timeout_ms = 60000;
  return cfg;
}

std::vector<std::string> inputs_of(const http_call& call) {
  std::vector<std::string> out;
  auto j = nlohmann::json::parse(call.body);
  for (auto& x : j.at("input"))
    out.push_back(x.get<std::string>());
  return out;
}

void admit(core_world& w, uint64_t id, std::string text, lane l) {
  embed_request req;
  req.texts = {std::move(text)};
  req.options.priority = l;
  w.core->admit(id, std::move(req), w.now);
}

} // namespace

CAF_TEST(interactive texts are never batched with bulk texts) {
  core_world w;
  w.start(lane_config());
  uint64_t id = 1;
  std::vector<http_call> seen;
  // Many rounds: texts of both lanes arrive together while calls are out, then the
  // outstanding calls are answered.
  for (int round = 0; round < 40; ++round) {
    for (int k = 0; k < 30; ++k, ++id)
      admit(w, id, "bulk " + std::to_string(id), lane::bulk);
    for (int k = 0; k < 3; ++k, ++id)
      admit(w, id, "interactive " + std::to_string(id), lane::interactive);
    w.advance_to(w.now + 2ms);
    w.grant_all();
    seen.insert(seen.end(), w.calls.begin(), w.calls.end());
    w.answer_calls();
  }
  w.run();
  for (uint64_t i = 1; i < id; ++i)
    if (!w.answered_once(i))
      CAF_FAIL("request " << i << " answered " << w.answer_count[i]
                          << " times; pending " << w.core->pending_requests()
                          << " batches " << w.core->pending_batches() << " active "
                          << w.core->active_attempts());
  CAF_CHECK_EQUAL(w.answers.size(), id - 1);
  size_t mixed = 0;
  size_t bulk_batches = 0;
  for (auto& c : seen) {
    auto texts = inputs_of(c);
    size_t bulk = 0;
    for (auto& t : texts)
      bulk += t.rfind("bulk", 0) == 0 ? 1 : 0;
    if (bulk != 0 && bulk != texts.size())
      ++mixed;
    if (bulk > 0) {
      ++bulk_batches;
      CAF_CHECK_LESS_OR_EQUAL(texts.size(), 16u); // batching.bulk_max_inputs
    }
  }
  CAF_CHECK_EQUAL(mixed, 0u);
  CAF_CHECK_GREATER(bulk_batches, 0u);
}

CAF_TEST(with every bulk slot busy an interactive text still starts at once) {
  core_world w;
  w.start(lane_config());
  // 200 bulk texts: bulk takes 3 of the 4 slots and no more.
  for (uint64_t i = 1; i <= 200; ++i)
    admit(w, i, "bulk " + std::to_string(i), lane::bulk);
  w.advance_to(w.now + 2ms);
  w.grant_all();
  CAF_CHECK_EQUAL(w.calls.size(), 3u);
  CAF_CHECK_EQUAL(w.core->active_attempts(), 3u);
  auto bulk_calls = std::move(w.calls);
  w.calls.clear();
  // An interactive text arrives: it is sent at once, alone, without any time passing.
  admit(w, 1000, "interactive question", lane::interactive);
  w.grant_all();
  CAF_REQUIRE_EQUAL(w.calls.size(), 1u);
  CAF_CHECK_EQUAL(inputs_of(w.calls[0]),
                  std::vector<std::string>{"interactive question"});
  w.answer_calls();
  CAF_CHECK(w.answered_once(1000));
  // The bulk work is not starved: it finishes once its calls are answered.
  for (auto& c : bulk_calls)
    w.core->on_call_result(w.respond(c), w.now);
  w.run();
  for (uint64_t i = 1; i <= 200; ++i)
    CAF_CHECK(w.answered_once(i));
}

CAF_TEST(without a reserve bulk may fill every slot) {
  auto cfg = lane_config();
  cfg.limits.interactive_reserved_attempts = 0;
  core_world w;
  w.start(cfg);
  for (uint64_t i = 1; i <= 200; ++i)
    admit(w, i, "bulk " + std::to_string(i), lane::bulk);
  w.advance_to(w.now + 2ms);
  w.grant_all();
  CAF_CHECK_EQUAL(w.calls.size(), 4u);
  admit(w, 1000, "interactive question", lane::interactive);
  w.grant_all();
  CAF_CHECK_EQUAL(w.calls.size(), 4u); // it waits for a slot
  w.run();
  CAF_CHECK(w.answered_once(1000));
}

CAF_TEST(a reserve as large as the window still leaves bulk one slot) {
  auto cfg = lane_config();
  cfg.limits.interactive_reserved_attempts = 100;
  core_world w;
  w.start(cfg);
  for (uint64_t i = 1; i <= 50; ++i)
    admit(w, i, "bulk " + std::to_string(i), lane::bulk);
  w.advance_to(w.now + 2ms);
  w.grant_all();
  CAF_CHECK_EQUAL(w.calls.size(), 1u);
  w.run();
  for (uint64_t i = 1; i <= 50; ++i)
    CAF_CHECK(w.answered_once(i));
}
