#define CAF_SUITE dispatch.admission
#include "src/dispatch/admission.hpp"

#include <caf/test/unit_test.hpp>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

using namespace embedrt;
using namespace embedrt::dispatch;

namespace {

runtime_config caps(uint32_t interactive, uint32_t bulk) {
  runtime_config cfg;
  cfg.limits.interactive_capacity = interactive;
  cfg.limits.bulk_capacity = bulk;
  return cfg;
}

} // namespace

CAF_TEST(each lane sheds beyond its own bound and counts the shed once) {
  admission_gate g{2, 1};
  CAF_CHECK(g.try_enter(lane::interactive));
  CAF_CHECK(g.try_enter(lane::interactive));
  CAF_CHECK(!g.try_enter(lane::interactive));
  CAF_CHECK(g.try_enter(lane::bulk)); // the other lane is not touched
  CAF_CHECK(!g.try_enter(lane::bulk));
  CAF_CHECK_EQUAL(g.shed(lane::interactive), 1u);
  CAF_CHECK_EQUAL(g.shed(lane::bulk), 1u);
  CAF_CHECK_EQUAL(g.entered(lane::interactive), 2u);
  g.leave(lane::interactive);
  CAF_CHECK(g.try_enter(lane::interactive)); // room again
  CAF_CHECK_EQUAL(g.occupied(lane::interactive), 2u);
}

CAF_TEST(bulk credit takes places of the bulk bound and a credited request keeps one) {
  admission_gate g{4, 3};
  CAF_CHECK_EQUAL(g.take_credit(2), 2u);
  CAF_CHECK_EQUAL(g.take_credit(5), 1u); // what is left
  CAF_CHECK_EQUAL(g.take_credit(1), 0u);
  CAF_CHECK(!g.try_enter(lane::bulk)); // credit counts against the same bound
  CAF_CHECK(g.use_credit());
  CAF_CHECK_EQUAL(g.credits_out(), 2u);
  CAF_CHECK_EQUAL(g.occupied(lane::bulk), 3u); // the request took over the place
  CAF_CHECK_EQUAL(g.return_credit(5), 2u);     // only what is out comes back
  CAF_CHECK_EQUAL(g.occupied(lane::bulk), 1u);
  CAF_CHECK(!g.use_credit());
  g.leave(lane::bulk);
  CAF_CHECK_EQUAL(g.occupied(lane::bulk), 0u);
}

CAF_TEST(threads hammering the gate never exceed the bound and every offer is counted) {
  // Seeded runs: 4 threads, each offering 20000 requests and answering a random
  // share of what it holds; the occupancy seen is never above the capacity.
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    constexpr uint32_t capacity = 16;
    constexpr int offers = 20000;
    admission_gate g{capacity, capacity};
    std::atomic<uint32_t> worst{0};
    std::vector<std::thread> threads;
    for (uint32_t t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        std::minstd_rand rng{seed * 31 + t};
        std::vector<lane> held;
        for (int i = 0; i < offers; ++i) {
          auto l = rng() % 4 == 0 ? lane::bulk : lane::interactive;
          if (g.try_enter(l))
            held.push_back(l);
          auto o = g.occupied(lane::interactive);
          auto w = worst.load();
          while (o > w && !worst.compare_exchange_weak(w, o)) {
          }
          if (!held.empty() && rng() % 2 == 0) {
            g.leave(held.back());
            held.pop_back();
          }
        }
        for (auto l : held)
          g.leave(l);
      });
    for (auto& th : threads)
      th.join();
    CAF_CHECK(worst.load() <= capacity);
    auto offered = g.entered(lane::interactive) + g.shed(lane::interactive)
                   + g.entered(lane::bulk) + g.shed(lane::bulk);
    CAF_CHECK_EQUAL(offered, 4u * offers);
    CAF_CHECK(g.shed_total() > 0u);
    CAF_CHECK_EQUAL(g.occupied(lane::interactive), 0u);
    CAF_CHECK_EQUAL(g.occupied(lane::bulk), 0u);
  }
}

CAF_TEST(a request entered by the host is not entered again and not left by the core) {
  auto gate = std::make_shared<admission_gate>(1, 1);
  admission a{caps(1, 1), gate};
  CAF_REQUIRE(gate->try_enter(lane::interactive)); // runtime::embed
  admission_ticket t;
  std::string why;
  CAF_CHECK(a.enter(lane::interactive, admission_path::entered, t, why));
  CAF_CHECK(!t.dispatcher_leaves);
  a.leave(t);
  CAF_CHECK_EQUAL(gate->occupied(lane::interactive), 1u); // the completion leaves
  // A CAF host's request is entered here, and shed with the lane's name.
  CAF_CHECK(!a.enter(lane::interactive, admission_path::at_dispatcher, t, why));
  CAF_CHECK_EQUAL(why, "the interactive lane is full (1 requests admitted)");
  CAF_CHECK_EQUAL(gate->shed_total(), 1u);
}

CAF_TEST(credit waiters are granted oldest first while the bulk lane has room) {
  admission a{caps(4, 3), nullptr};
  std::vector<std::pair<uint64_t, uint32_t>> grants;
  auto record = [&](uint64_t w, uint32_t n) { grants.emplace_back(w, n); };
  a.wait_for_credit(1, 2);
  a.wait_for_credit(2, 5);
  a.wait_for_credit(3, 1);
  a.grant(record);
  CAF_REQUIRE_EQUAL(grants.size(), 2u);
  CAF_CHECK_EQUAL(grants[0], std::make_pair(uint64_t{1}, 2u));
  CAF_CHECK_EQUAL(grants[1], std::make_pair(uint64_t{2}, 1u));
  // A credited request spends a credit; without credit out it enters like others.
  admission_ticket t;
  std::string why;
  CAF_CHECK(a.enter(lane::bulk, admission_path::credit, t, why));
  CAF_CHECK(t.dispatcher_leaves);
  a.release_credit(1);
  a.grant(record);
  CAF_REQUIRE_EQUAL(grants.size(), 3u);
  CAF_CHECK_EQUAL(grants[2], std::make_pair(uint64_t{3}, 1u));
  CAF_CHECK_EQUAL(a.credits_granted(), 4u);
  a.wait_for_credit(4, 1);
  CAF_CHECK_EQUAL(a.take_waiters(), std::vector<uint64_t>{4});
  CAF_CHECK(a.take_waiters().empty());
}
