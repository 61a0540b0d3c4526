#define CAF_SUITE dispatch.batch_former
#include "src/dispatch/batch_former.hpp"

#include <caf/test/unit_test.hpp>

#include <algorithm>
#include <random>
#include <string>

using namespace embedrt;
using namespace embedrt::dispatch;
using namespace std::chrono_literals;

namespace {

struct fixture {
  runtime_config cfg;
  slot_table slots{true};
  policy::time_point now = policy::time_point{} + 100s;
  uint64_t next_request = 1;

  fixture() {
    cfg.batching.linger_us = 1000;
    cfg.batching.max_inputs = 4;
    cfg.batching.bulk_max_inputs = 4;
  }

  uint64_t queue(batch_former& f, const std::string& text, lane l, uint32_t key = 0,
                 uint32_t tokens = 1) {
    auto a = slots.add(key, std::string{text}, tokens, waiter{next_request++, 0}, now);
    f.enqueue(a.id, slots.at(a.id), l);
    return a.id;
  }
};

pipeline_room idle() {
  return pipeline_room{};
}

pipeline_room busy(lane l) {
  pipeline_room r;
  r.active = 1;
  r.active_lane[static_cast<size_t>(l)] = 1;
  return r;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(batch_former_tests, fixture)

CAF_TEST(a lone request never lingers) {
  batch_former f{cfg};
  f.key_index("m", 0);
  queue(f, "a", lane::interactive);
  auto b = f.form(slots, idle(), encoding_format::base64, now);
  CAF_REQUIRE(b.what == formed_batch::verdict::formed);
  CAF_CHECK_EQUAL(b.slots.size(), 1u);
  CAF_CHECK(slots.at(b.slots[0]).place == slot_place::batched);
}

CAF_TEST(a partial batch lingers while its lane is busy and goes when the linger ends) {
  batch_former f{cfg};
  f.key_index("m", 0);
  queue(f, "a", lane::interactive);
  auto b = f.form(slots, busy(lane::interactive), encoding_format::base64, now);
  CAF_REQUIRE(b.what == formed_batch::verdict::lingering);
  CAF_CHECK(b.linger_until == now + 1ms);
  // Asked again before the end: lingers, without asking for a second timer.
  auto again = f.form(slots, busy(lane::interactive), encoding_format::base64, now);
  CAF_CHECK(again.what == formed_batch::verdict::lingering);
  CAF_CHECK(again.linger_until == policy::time_point::max());
  // Bulk being busy does not hold an interactive text back.
  CAF_CHECK(f.form(slots, busy(lane::bulk), encoding_format::base64, now).what
            == formed_batch::verdict::formed);
  queue(f, "b", lane::interactive);
  auto late = f.form(slots, busy(lane::interactive), encoding_format::base64,
                     now + 1ms);
  CAF_CHECK(late.what == formed_batch::verdict::formed);
}

CAF_TEST(a full batch does not linger and respects max inputs and max tokens) {
  cfg.batching.max_tokens = 5;
  batch_former f{cfg};
  f.key_index("m", 0);
  for (int i = 0; i < 6; ++i)
    queue(f, "t" + std::to_string(i), lane::interactive, 0, 2);
  auto b = f.form(slots, busy(lane::interactive), encoding_format::base64, now);
  CAF_REQUIRE(b.what == formed_batch::verdict::formed);
  CAF_CHECK_EQUAL(b.slots.size(), 2u); // 3 x 2 tokens > 5
}

CAF_TEST(the memory budget holds back a second batch but never the first) {
  cfg.limits.response_memory_mib = 1;
  batch_former f{cfg};
  f.key_index("m", 0);
  for (int i = 0; i < 4; ++i)
    queue(f, "t" + std::to_string(i), lane::interactive);
  auto per_input = f.bytes_per_input(0, encoding_format::base64);
  auto room = busy(lane::bulk);
  room.bytes_in_flight = (uint64_t{1} << 20) - per_input / 2;
  CAF_CHECK(f.form(slots, room, encoding_format::base64, now).what
            == formed_batch::verdict::over_budget);
  room = idle();
  room.bytes_in_flight = (uint64_t{1} << 20) - per_input / 2;
  auto b = f.form(slots, room, encoding_format::base64, now);
  CAF_REQUIRE(b.what == formed_batch::verdict::formed);
  CAF_CHECK_EQUAL(b.slots.size(), 1u);
  CAF_CHECK_EQUAL(b.response_bytes, per_input);
}

CAF_TEST(lanes never share a batch and bulk waits while it has no room) {
  batch_former f{cfg};
  f.key_index("m", 0);
  queue(f, "b", lane::bulk);
  queue(f, "i", lane::interactive);
  auto room = idle();
  room.bulk = false;
  auto b = f.form(slots, room, encoding_format::base64, now);
  CAF_REQUIRE(b.what == formed_batch::verdict::formed);
  CAF_CHECK(b.batch_lane == lane::interactive);
  CAF_CHECK_EQUAL(b.slots.size(), 1u);
  CAF_CHECK(f.form(slots, room, encoding_format::base64, now).what
            == formed_batch::verdict::nothing);
  auto bulk = f.form(slots, idle(), encoding_format::base64, now);
  CAF_CHECK(bulk.batch_lane == lane::bulk);
}

CAF_TEST(a promoted text leaves a stale bulk entry behind) {
  batch_former f{cfg};
  f.key_index("m", 0);
  auto id = queue(f, "x", lane::bulk);
  f.promote(id, slots.at(id));
  auto b = f.form(slots, idle(), encoding_format::base64, now);
  CAF_REQUIRE(b.what == formed_batch::verdict::formed);
  CAF_CHECK(b.batch_lane == lane::interactive);
  // Nothing left to form: the stale bulk entry is skipped, never sent twice.
  CAF_CHECK(f.form(slots, idle(), encoding_format::base64, now).what
            == formed_batch::verdict::nothing);
}

CAF_TEST(bulk keeps its configured share of batches while both lanes wait) {
  // Seeded random arrivals: while bulk texts wait, at most (100 - share) / share
  // interactive batches go in a row before a bulk one; interactive still goes first.
  for (uint32_t share : {10u, 25u, 50u}) {
    for (uint32_t seed = 1; seed <= 20; ++seed) {
      cfg.limits.bulk_min_share_percent = share;
      cfg.batching.max_inputs = 1;
      cfg.batching.bulk_max_inputs = 1;
      batch_former f{cfg};
      f.key_index("m", 0);
      std::minstd_rand rng{seed};
      auto run = (100 - share) / share;
      uint32_t in_a_row = 0;
      uint32_t longest = 0;
      uint32_t both = 0;
      uint32_t interactive_when_both = 0;
      for (int step = 0; step < 400; ++step) {
        for (uint32_t k = rng() % 3; k > 0; --k)
          queue(f, "i" + std::to_string(step) + "-" + std::to_string(k),
                lane::interactive);
        for (uint32_t k = rng() % 2; k > 0; --k)
          queue(f, "b" + std::to_string(step) + "-" + std::to_string(k), lane::bulk);
        bool i_waiting = !f.key(0).lanes[0].empty();
        bool b_waiting = !f.key(0).lanes[1].empty();
        auto b = f.form(slots, idle(), encoding_format::base64, now);
        if (b.what != formed_batch::verdict::formed)
          continue;
        bool interactive = b.batch_lane == lane::interactive;
        if (b_waiting) {
          in_a_row = interactive ? in_a_row + 1 : 0;
          longest = std::max(longest, in_a_row);
        } else {
          in_a_row = 0;
        }
        if (i_waiting && b_waiting) {
          ++both;
          interactive_when_both += interactive ? 1 : 0;
        }
      }
      CAF_REQUIRE(both > 50u);
      CAF_CHECK(longest <= run);
      CAF_CHECK(interactive_when_both * 100 >= both * (100 - share) - 100 * 2);
    }
  }
}

CAF_TEST_FIXTURE_SCOPE_END()
