#define CAF_SUITE cli.reorder_window
#include <caf/test/unit_test.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "src/cli/reorder_window.hpp"

// The reorder window: lines leave in input order, and what it holds stays within its
// bounds whatever order the answers come in.

using namespace embedrt::cli;

namespace {

line_record record(uint64_t line, size_t bytes) {
  line_record r;
  r.main = std::to_string(line) + ":";
  r.main.resize(std::max(bytes, r.main.size()), '.');
  return r;
}

} // namespace

CAF_TEST(a stuck head line pauses admission at the line bound) {
  reorder_window w{3, 1 << 20};
  CAF_CHECK_EQUAL(w.admit(10), 1u);
  CAF_CHECK_EQUAL(w.admit(10), 2u);
  CAF_CHECK_EQUAL(w.admit(10), 3u);
  CAF_CHECK(!w.has_room(10));
  // Answers behind the head do not make room.
  CAF_CHECK(!w.resolve(2, record(2, 10)));
  CAF_CHECK(!w.resolve(3, record(3, 10)));
  CAF_CHECK(!w.has_room(10));
  std::vector<line_record> out;
  CAF_CHECK_EQUAL(w.take_ready(out), 0u);
  // The head resolves: all three leave, in order.
  CAF_CHECK(w.resolve(1, record(1, 10)));
  CAF_CHECK_EQUAL(w.take_ready(out), 3u);
  CAF_CHECK_EQUAL(out[0].main.substr(0, 2), "1:");
  CAF_CHECK_EQUAL(out[2].main.substr(0, 2), "3:");
  CAF_CHECK(w.has_room(10));
  CAF_CHECK_EQUAL(w.next_line(), 4u);
}

CAF_TEST(the byte bound counts estimates then actual sizes) {
  reorder_window w{100, 1000};
  w.admit(400);
  w.admit(400);
  CAF_CHECK(!w.has_room(300));
  CAF_CHECK(w.has_room(200));
  // The second answer is smaller than its estimate: room again.
  w.resolve(2, record(2, 100));
  CAF_CHECK_EQUAL(w.bytes(), 500u);
  CAF_CHECK(w.has_room(300));
  // Duplicates and unknown lines are ignored.
  CAF_CHECK(!w.resolve(2, record(2, 999)));
  CAF_CHECK(!w.resolve(77, record(77, 1)));
  CAF_CHECK_EQUAL(w.bytes(), 500u);
}

CAF_TEST(an empty window admits a line larger than the byte bound) {
  reorder_window w{10, 100};
  CAF_CHECK(w.has_room(5000));
  w.admit(5000);
  CAF_CHECK(!w.has_room(1));
}

CAF_TEST(random answer orders keep input order and the bounds) {
  // Property over seeded runs: a reader admits while there is room, answers (no
  // larger than estimated) arrive in random order; every line leaves exactly once,
  // in order, and the window never holds more than its bounds (a single line larger
  // than the byte bound excepted).
  auto estimate_of = [](uint64_t line) { return 8 + (line * 7919) % 53; };
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    std::mt19937_64 rng{seed};
    const uint64_t max_lines = 1 + rng() % 20;
    const uint64_t max_bytes = 50 + rng() % 500;
    const uint64_t total = 300;
    reorder_window w{max_lines, max_bytes};
    std::vector<uint64_t> pending;
    std::vector<line_record> out;
    uint64_t admitted = 0;
    uint64_t next_expected = 1;
    while (next_expected <= total) {
      auto est = estimate_of(admitted + 1);
      if (admitted < total && w.has_room(est) && rng() % 2 == 0) {
        pending.push_back(w.admit(est));
        ++admitted;
      } else if (!pending.empty()) {
        auto i = rng() % pending.size();
        auto line = pending[i];
        pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(i));
        w.resolve(line, record(line, 5 + rng() % (estimate_of(line) - 4)));
      }
      CAF_REQUIRE(w.open_lines() <= max_lines);
      CAF_REQUIRE(w.bytes() <= std::max<uint64_t>(max_bytes, 61));
      out.clear();
      w.take_ready(out);
      for (auto& r : out) {
        CAF_REQUIRE_EQUAL(r.main.substr(0, r.main.find(':')),
                          std::to_string(next_expected));
        ++next_expected;
      }
      if (admitted == total && pending.empty() && w.open_lines() > 0)
        CAF_FAIL("resolved lines left behind");
    }
    CAF_CHECK_EQUAL(w.open_lines(), 0u);
    CAF_CHECK_EQUAL(w.bytes(), 0u);
  }
}
