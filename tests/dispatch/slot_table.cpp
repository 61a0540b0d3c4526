#define CAF_SUITE dispatch.slot_table
#include "src/dispatch/slot_table.hpp"

#include <caf/test/unit_test.hpp>

using namespace embedrt;
using namespace embedrt::dispatch;

namespace {

const policy::time_point t0 = policy::time_point{} + std::chrono::seconds{10};

} // namespace

CAF_TEST(identical texts of one key share a slot and other keys do not ) {
  slot_table st{true};
  auto a = st.add(0, "same", 1, waiter{1, 0}, t0);
  auto b = st.add(0, "same", 1, waiter{2, 3}, t0);
  auto c = st.add(1, "same", 1, waiter{3, 0}, t0);
  CAF_CHECK(!a.joined);
  CAF_CHECK(b.joined);
  CAF_CHECK_EQUAL(a.id, b.id);
  CAF_CHECK(!c.joined);
  CAF_CHECK_NOT_EQUAL(a.id, c.id);
  CAF_CHECK_EQUAL(st.at(a.id).waiters.size(), 2u);
  CAF_CHECK_EQUAL(st.at(a.id).waiters[1].position, 3u);
  CAF_CHECK_EQUAL(st.size(), 2u);
}

CAF_TEST(without dedup every text gets its own slot) {
  slot_table st{false};
  auto a = st.add(0, "same", 1, waiter{1, 0}, t0);
  auto b = st.add(0, "same", 1, waiter{2, 0}, t0);
  CAF_CHECK(!b.joined);
  CAF_CHECK_NOT_EQUAL(a.id, b.id);
}

CAF_TEST(a slot is released only once nobody waits and then leaves the dedup index) {
  slot_table st{true};
  auto a = st.add(0, "x", 1, waiter{1, 0}, t0);
  st.add(0, "x", 1, waiter{2, 0}, t0);
  st.drop_waiter(a.id, 1);
  CAF_CHECK(!st.release_if_orphaned(a.id)); // request 2 still waits
  CAF_CHECK(st.live(a.id));
  st.drop_waiter(a.id, 2);
  CAF_CHECK(!st.live(a.id));
  CAF_CHECK(st.release_if_orphaned(a.id)); // it was queued
  CAF_CHECK(st.find(a.id) == nullptr);
  auto again = st.add(0, "x", 1, waiter{3, 0}, t0);
  CAF_CHECK(!again.joined); // the index forgot the old slot
}

CAF_TEST(a released batched slot does not report a queued one) {
  slot_table st{true};
  auto a = st.add(0, "x", 1, waiter{1, 0}, t0);
  st.at(a.id).place = slot_place::batched;
  st.drop_waiter(a.id, 1);
  CAF_CHECK(!st.release_if_orphaned(a.id));
  CAF_CHECK(st.find(a.id) == nullptr);
}

CAF_TEST(take hands out every waiter and erases the slot) {
  slot_table st{true};
  auto a = st.add(0, "x", 1, waiter{1, 0}, t0);
  st.add(0, "x", 1, waiter{2, 1}, t0);
  auto ws = st.take(a.id);
  CAF_REQUIRE_EQUAL(ws.size(), 2u);
  CAF_CHECK_EQUAL(ws[1].request, 2u);
  CAF_CHECK(st.find(a.id) == nullptr);
  CAF_CHECK(st.take(a.id).empty());
  CAF_CHECK(!st.add(0, "x", 1, waiter{3, 0}, t0).joined);
}
