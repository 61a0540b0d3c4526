#define CAF_SUITE dispatch.attempt_pipeline
#include "src/dispatch/attempt_pipeline.hpp"

#include <caf/test/unit_test.hpp>

#include <random>

using namespace embedrt;
using namespace embedrt::dispatch;
using namespace std::chrono_literals;

namespace {

const policy::time_point t0 = policy::time_point{} + 100s;

uint64_t add(attempt_pipeline& p, lane l, uint64_t bytes = 10) {
  batch_state b;
  b.batch_lane = l;
  b.response_bytes = bytes;
  b.slots = {1};
  return p.add(std::move(b));
}

} // namespace

CAF_TEST(bulk may not take the interactive reserve but always keeps one slot) {
  attempt_pipeline p{3, 1};
  auto b1 = add(p, lane::bulk);
  auto b2 = add(p, lane::bulk);
  p.begin(b1, *p.find(b1), t0);
  CAF_CHECK(p.has_room(lane::bulk));
  p.begin(b2, *p.find(b2), t0);
  CAF_CHECK(!p.has_room(lane::bulk));
  CAF_CHECK(p.has_room(lane::interactive));
  CAF_CHECK_EQUAL(p.active_in(lane::bulk), 2u);
  attempt_pipeline tiny{1, 5};
  CAF_CHECK(tiny.has_room(lane::bulk));
}

CAF_TEST(an attempt is found only while current and in the stage asked) {
  attempt_pipeline p{4, 0};
  auto id = add(p, lane::interactive);
  auto& b = *p.find(id);
  auto ticket = p.begin(id, b, t0);
  CAF_CHECK(p.attempt(ticket, batch_stage::waiting_permit).second == &b);
  CAF_CHECK(p.attempt(ticket, batch_stage::waiting_breaker).second == nullptr);
  CAF_CHECK(p.advance(b, batch_stage::waiting_breaker, t0 + 3ms) == 3ms);
  CAF_CHECK(p.advance(b, batch_stage::in_flight, t0 + 10ms) == 7ms);
  CAF_CHECK_EQUAL(p.attempt(ticket, batch_stage::in_flight).first, id);
  p.end(b);
  CAF_CHECK(p.attempt(ticket).second == nullptr); // a late answer finds nothing
  CAF_CHECK_EQUAL(p.active(), 0u);
  p.end(b); // twice: no effect
  CAF_CHECK_EQUAL(p.active(), 0u);
  auto next = p.begin(id, b, t0);
  CAF_CHECK_NOT_EQUAL(next, ticket);
}

CAF_TEST(removing a batch ends its attempt and gives back its bytes) {
  attempt_pipeline p{2, 0};
  auto id = add(p, lane::interactive, 100);
  CAF_CHECK_EQUAL(p.bytes_in_flight(), 100u);
  auto ticket = p.begin(id, *p.find(id), t0);
  auto gone = p.remove(id);
  CAF_REQUIRE(gone.has_value());
  CAF_CHECK_EQUAL(p.active(), 0u);
  CAF_CHECK_EQUAL(p.bytes_in_flight(), 0u);
  CAF_CHECK(p.attempt(ticket).second == nullptr);
  CAF_CHECK(!p.remove(id).has_value());
}

CAF_TEST(ready batches keep their order and bulk ones wait for room) {
  attempt_pipeline p{2, 1}; // bulk: one slot
  auto busy = add(p, lane::bulk);
  p.begin(busy, *p.find(busy), t0);
  auto b = add(p, lane::bulk);
  auto i = add(p, lane::interactive);
  p.make_ready(b, *p.find(b), t0);
  p.make_ready(i, *p.find(i), t0);
  CAF_CHECK_EQUAL(p.next_ready(), std::optional<uint64_t>{i});
  CAF_CHECK(!p.next_ready().has_value()); // the bulk one waits, still queued
  p.end(*p.find(busy));
  CAF_CHECK_EQUAL(p.next_ready(), std::optional<uint64_t>{b});
}

CAF_TEST(parked batches wake together and stale epochs are told apart) {
  attempt_pipeline p{2, 0};
  auto a = add(p, lane::interactive);
  auto& b = *p.find(a);
  auto e1 = p.park(a, b, t0);
  auto e2 = p.back_off(b, t0);
  CAF_CHECK_NOT_EQUAL(e1, e2);
  CAF_CHECK(b.stage == batch_stage::backing_off);
  p.wake_parked(t0); // no longer parked: stays backing off
  CAF_CHECK(b.stage == batch_stage::backing_off);
  p.park(a, b, t0);
  p.wake_parked(t0 + 1ms);
  CAF_CHECK(b.stage == batch_stage::ready);
  CAF_CHECK_EQUAL(p.next_ready(), std::optional<uint64_t>{a});
}

CAF_TEST(the slot count never drifts over random begin and end sequences) {
  for (uint32_t seed = 1; seed <= 50; ++seed) {
    std::minstd_rand rng{seed};
    attempt_pipeline p{8, 2};
    std::vector<uint64_t> ids;
    for (int i = 0; i < 40; ++i)
      ids.push_back(add(p, rng() % 2 ? lane::bulk : lane::interactive));
    uint32_t held = 0;
    for (int step = 0; step < 2000; ++step) {
      auto id = ids[rng() % ids.size()];
      auto& b = *p.find(id);
      switch (rng() % 3) {
        case 0:
          if (b.attempt == 0 && p.has_room(b.batch_lane)) {
            p.begin(id, b, t0);
            ++held;
          }
          break;
        case 1:
          if (b.attempt != 0) {
            p.end(b);
            --held;
          }
          break;
        default:
          if (b.attempt != 0)
            p.advance(b, batch_stage::in_flight, t0);
      }
      CAF_REQUIRE_EQUAL(p.active(), held);
      CAF_REQUIRE(p.active() <= 8u);
      CAF_REQUIRE(p.active_in(lane::bulk) <= 6u);
    }
  }
}
