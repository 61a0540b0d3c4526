#define CAF_SUITE policy.lease_policy
#include <caf/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <random>
#include <vector>

#include "src/policy/lease_policy.hpp"
#include "src/policy/token_bucket.hpp"

using namespace embedrt;
using namespace embedrt::policy;
using namespace std::chrono_literals;

namespace {

const time_point t0 = time_point{} + 1h;

lease_settings settings_rpm(uint64_t rpm) {
  lease_settings s;
  s.requests_per_minute = rpm;
  return s;
}

shared_budget_grant grant(const shared_budget_ask& ask, int64_t requests,
                          int64_t tokens = 0, int64_t pause_ms = 0) {
  shared_budget_grant g;
  g.seq = ask.seq;
  g.ok = true;
  g.requests = requests;
  g.tokens = tokens;
  g.pause_ms = pause_ms;
  return g;
}

shared_budget_grant failure(const shared_budget_ask& ask) {
  shared_budget_grant g;
  g.seq = ask.seq;
  g.error = "connection refused";
  return g;
}

/// The store's side, modelled with the local token bucket (the Lua script implements
/// the same arithmetic): grants what the bucket holds, up to what is wanted.
struct fake_store {
  token_bucket requests;
  time_point paused_until;
  bool down = false;
  bool hung = false;

  fake_store(double per_second, double capacity, time_point now)
    : requests(per_second, capacity, now), paused_until(now) {}

  shared_budget_grant answer(const shared_budget_ask& ask, time_point now) {
    shared_budget_grant g;
    g.seq = ask.seq;
    if (down) {
      g.error = "down";
      return g;
    }
    g.ok = true;
    requests.put_back(static_cast<double>(ask.return_requests), now);
    if (ask.pause_ms > 0)
      paused_until = std::max(paused_until,
                              now + std::chrono::milliseconds{ask.pause_ms});
    if (paused_until > now) {
      g.pause_ms
        = std::chrono::duration_cast<std::chrono::milliseconds>(paused_until - now)
            .count();
      g.retry_us = g.pause_ms * 1000;
      return g;
    }
    auto have = static_cast<int64_t>(std::floor(requests.available(now)));
    g.requests = std::clamp<int64_t>(ask.want_requests, 0, std::max<int64_t>(have, 0));
    requests.try_take(static_cast<double>(g.requests), now);
    if (g.requests < ask.want_requests)
      g.retry_us = std::chrono::duration_cast<std::chrono::microseconds>(
                     requests.time_until(1, now))
                     .count();
    return g;
  }
};

/// One simulated process: Poisson arrivals, a FIFO of waiting permits, the policy, and
/// at most one call to the store on the wire.
struct sim_process {
  lease_policy lease;
  double arrivals_per_second;
  uint64_t waiting = 0;
  uint64_t granted = 0;
  std::vector<time_point> grants;
  std::optional<shared_budget_ask> on_wire;
  time_point answer_at;
  time_point last_grant;
  /// When the policy asked to be woken up, and how often that wake-up found nothing
  /// to do (a timer that fires for nothing, in an actor a busy loop).
  time_point wake = time_point::max();
  uint64_t idle_wakeups = 0;

  sim_process(const lease_settings& s, uint64_t seed, double rate, time_point now)
    : lease(s, seed, now), arrivals_per_second(rate), last_grant(now) {}
};

struct sim_result {
  std::vector<uint64_t> granted;
  uint64_t total = 0;
};

/// Runs `n` processes for `length` in 1 ms steps against one store. `outage`: the
/// store refuses calls in [from, to).
struct simulation {
  std::mt19937_64 rng;
  fake_store store;
  std::vector<sim_process> procs;
  duration latency_max = 2ms;

  simulation(uint64_t seed, uint64_t rpm, uint32_t burst_seconds, size_t n,
             double demand_per_process, const lease_settings& s)
    : rng(seed), store(rpm / 60.0, std::max(1.0, rpm / 60.0 * burst_seconds), t0) {
    for (size_t i = 0; i < n; ++i)
      procs.emplace_back(s, seed * 31 + i, demand_per_process, t0);
  }

  void step(time_point now, duration dt) {
    std::uniform_real_distribution<double> unit{0.0, 1.0};
    // Processes due in the same step go in a random order, as on a real machine.
    std::vector<size_t> order(procs.size());
    for (size_t i = 0; i < order.size(); ++i)
      order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    for (auto i : order) {
      auto& p = procs[i];
      // Arrivals (Poisson, one draw per step is enough at these rates).
      auto expected = p.arrivals_per_second * std::chrono::duration<double>(dt).count();
      std::poisson_distribution<int> arrivals{expected};
      for (int k = arrivals(rng); k > 0; --k) {
        p.lease.note_demand(0, now);
        ++p.waiting;
      }
      bool woke = p.wake <= now;
      bool acted = false;
      // Answers due.
      if (p.on_wire && now >= p.answer_at && !store.hung) {
        p.lease.on_answer(store.answer(*p.on_wire, now), now);
        p.on_wire.reset();
        acted = true;
      }
      auto failed_before = p.lease.failed_calls();
      p.lease.on_tick(now);
      acted = acted || p.lease.failed_calls() != failed_before;
      if (p.on_wire && !p.lease.in_flight())
        p.on_wire.reset(); // timed out: the late answer is dropped
      // Grants from the lease, or from a local share while in fallback (modelled as
      // always granting here: the local limiter is tested elsewhere).
      while (p.waiting > 0) {
        if (p.lease.current() == lease_policy::mode::fallback) {
          --p.waiting;
          continue;
        }
        if (p.lease.try_acquire(0, now) != duration::zero())
          break;
        --p.waiting;
        ++p.granted;
        p.grants.push_back(now);
      }
      if (auto ask = p.lease.next_ask(now, p.waiting, 0)) {
        p.on_wire = *ask;
        auto us = static_cast<int64_t>(unit(rng) * latency_max.count() / 1000);
        p.answer_at = now + std::chrono::microseconds{us};
        acted = true;
      }
      if (woke && !acted && !p.lease.in_flight())
        ++p.idle_wakeups;
      p.wake = p.lease.next_wakeup(now, p.waiting);
    }
  }

  void run(time_point from, time_point to, duration dt = 1ms) {
    for (auto now = from; now < to; now += dt)
      step(now, dt);
  }
};

} // namespace

// -- single process, by hand ---------------------------------------------------------

CAF_TEST(the first permit asks the store and a grant is then spent locally) {
  lease_policy lp{settings_rpm(6000), 1, t0};
  lp.note_demand(0, t0);
  CAF_CHECK_NOT_EQUAL(lp.try_acquire(0, t0), duration::zero());
  auto ask = lp.next_ask(t0, 1, 0);
  CAF_REQUIRE(ask);
  CAF_CHECK_GREATER_OR_EQUAL(ask->want_requests, 1);
  CAF_CHECK(!lp.next_ask(t0, 1, 0)); // one call at a time
  CAF_CHECK_EQUAL(lp.on_answer(grant(*ask, 3), t0), lease_policy::change::none);
  for (int i = 0; i < 3; ++i)
    CAF_CHECK_EQUAL(lp.try_acquire(0, t0), duration::zero());
  CAF_CHECK_NOT_EQUAL(lp.try_acquire(0, t0), duration::zero());
}

CAF_TEST(a lease is sized to recent demand and capped by the global rate) {
  auto s = settings_rpm(60000); // 1000/s: at most 100 per 100 ms horizon
  lease_policy lp{s, 1, t0};
  // 200 requests/s for 2 s: the estimate converges near 200/s.
  auto now = t0;
  for (int i = 0; i < 400; ++i, now += 5ms)
    lp.note_demand(0, now);
  CAF_CHECK_GREATER(lp.demand_per_second(now), 150.0);
  CAF_CHECK_LESS(lp.demand_per_second(now), 210.0);
  auto ask = lp.next_ask(now, 0, 0);
  CAF_REQUIRE(ask);
  // about 200/s * 100 ms = 20
  CAF_CHECK_GREATER_OR_EQUAL(ask->want_requests, 15);
  CAF_CHECK_LESS_OR_EQUAL(ask->want_requests, 22);
  lp.on_answer(grant(*ask, ask->want_requests), now);
  // A burst of 10000 waiting permits still asks for no more than the cap.
  auto ask2 = lp.next_ask(now + 1ms, 10000, 0);
  CAF_REQUIRE(ask2);
  CAF_CHECK_LESS_OR_EQUAL(ask2->want_requests + lp.held_requests(), 100);
}

CAF_TEST(an unused lease goes back to the store after its ttl) {
  auto s = settings_rpm(6000);
  s.ttl = 500ms;
  lease_policy lp{s, 1, t0};
  lp.note_demand(0, t0);
  auto ask = lp.next_ask(t0, 1, 0);
  CAF_REQUIRE(ask);
  lp.on_answer(grant(*ask, 5), t0);
  CAF_CHECK_EQUAL(lp.held_requests(), 5);
  // Demand stops; nothing is due until the ttl (the wakeup says when).
  auto wake = lp.next_wakeup(t0 + 1ms, 0);
  CAF_CHECK_LESS_OR_EQUAL(wake, t0 + 500ms);
  auto late = t0 + 2s;
  auto back = lp.next_ask(late, 0, 0);
  CAF_REQUIRE(back);
  CAF_CHECK_EQUAL(back->return_requests, 5);
  CAF_CHECK_EQUAL(lp.held_requests(), 0);
}

CAF_TEST(a pause seen here holds grants at once and travels with the next call) {
  lease_policy lp{settings_rpm(6000), 1, t0};
  lp.note_demand(0, t0);
  auto ask = lp.next_ask(t0, 1, 0);
  CAF_REQUIRE(ask);
  lp.on_answer(grant(*ask, 10), t0);
  lp.note_pause(2s, t0 + 1ms);
  CAF_CHECK_EQUAL(lp.try_acquire(0, t0 + 1ms), duration{2s});
  auto next = lp.next_ask(t0 + 1ms, 0, 0);
  CAF_REQUIRE(next);
  CAF_CHECK_EQUAL(next->pause_ms, 2000);
  // A failed call sends it again.
  lp.on_answer(failure(*next), t0 + 2ms);
  auto retry = lp.next_ask(t0 + 3s, 0, 0);
  CAF_REQUIRE(retry);
  CAF_CHECK_EQUAL(retry->pause_ms, 2000);
}

CAF_TEST(a pause set by another process reaches this one with an answer) {
  lease_policy lp{settings_rpm(6000), 1, t0};
  lp.note_demand(0, t0);
  auto ask = lp.next_ask(t0, 1, 0);
  CAF_REQUIRE(ask);
  lp.on_answer(grant(*ask, 10, 0, 1500), t0);
  CAF_CHECK_EQUAL(lp.try_acquire(0, t0 + 500ms), duration{1s});
  CAF_CHECK_EQUAL(lp.try_acquire(0, t0 + 1500ms), duration::zero());
}

CAF_TEST(reconciled usage and header observations ride on the next call) {
  lease_settings s;
  s.requests_per_minute = 6000;
  s.tokens_per_minute = 600000;
  lease_policy lp{s, 1, t0};
  lp.note_usage(100, 130);
  lp.note_usage(100, 60);
  rate_limit_headers h;
  h.remaining_requests = 7;
  h.reset_requests = std::chrono::milliseconds{250};
  lp.note_headers(h);
  auto ask = lp.next_ask(t0, 0, 0);
  CAF_REQUIRE(ask);
  CAF_CHECK_EQUAL(ask->usage_tokens, -10);
  CAF_CHECK_EQUAL(ask->remaining_requests, 7);
  CAF_CHECK_EQUAL(ask->reset_requests_ms, 250);
  CAF_CHECK_EQUAL(ask->remaining_tokens, -1);
  lp.on_answer(grant(*ask, 0), t0);
  // Sent once.
  CAF_CHECK(!lp.next_ask(t0 + 1ms, 0, 0));
}

CAF_TEST(a failure or a timeout falls back at once and a good answer rejoins) {
  auto s = settings_rpm(6000);
  lease_policy lp{s, 7, t0};
  lp.note_demand(0, t0);
  auto ask = lp.next_ask(t0, 1, 0);
  CAF_REQUIRE(ask);
  lp.on_answer(grant(*ask, 5), t0);
  // The next call hangs: the tick at the deadline fails it and drops the lease.
  auto a2 = lp.next_ask(t0 + 1s + 1ms, 1, 0);
  CAF_REQUIRE(a2);
  CAF_CHECK_EQUAL(lp.next_wakeup(t0 + 1s + 2ms, 1), t0 + 1s + 1ms + s.call_timeout);
  CAF_CHECK_EQUAL(lp.on_tick(t0 + 1s + 100ms), lease_policy::change::none);
  CAF_CHECK_EQUAL(lp.on_tick(t0 + 1s + 1ms + s.call_timeout),
                  lease_policy::change::fell_back);
  CAF_CHECK(lp.current() == lease_policy::mode::fallback);
  CAF_CHECK_EQUAL(lp.failed_calls(), 1u);
  // The late answer changes no mode, but its grant is kept for later.
  CAF_CHECK_EQUAL(lp.on_answer(grant(*a2, 5), t0 + 2s), lease_policy::change::none);
  CAF_CHECK(lp.current() == lease_policy::mode::fallback);
  CAF_CHECK_EQUAL(lp.held_requests(), 5);
  // Probes follow the backoff; the first good answer rejoins.
  auto now = t0 + 2s;
  auto probe = lp.next_ask(now, 0, 0);
  CAF_REQUIRE(probe);
  CAF_CHECK_EQUAL(lp.on_answer(failure(*probe), now), lease_policy::change::none);
  CAF_CHECK(!lp.next_ask(now + 1ms, 0, 0));
  auto wake = lp.next_wakeup(now, 0);
  CAF_CHECK_LESS_OR_EQUAL(wake, now + s.retry_max + s.retry_max / 5);
  auto probe2 = lp.next_ask(wake, 0, 0);
  CAF_REQUIRE(probe2);
  CAF_CHECK_EQUAL(lp.on_answer(grant(*probe2, 1), wake),
                  lease_policy::change::rejoined);
  CAF_CHECK(lp.current() == lease_policy::mode::shared);
}

// -- properties over many seeded runs ---------------------------------------------

CAF_TEST(leases never grant more than the global budget and share it fairly) {
  // 4 processes, each wanting 40/s of a 60/s budget (1 s burst), 10 s, 20 seeds.
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    auto s = settings_rpm(3600);
    simulation sim{seed, 3600, 1, 4, 40.0, s};
    sim.run(t0, t0 + 10s);
    uint64_t total = 0;
    for (auto& p : sim.procs)
      total += p.granted;
    // Upper bound: burst + rate * time (exact accounting never overshoots).
    CAF_CHECK_LESS_OR_EQUAL(total, 60u + 600u);
    // Within 3% of the budget: leases do not strand capacity.
    CAF_CHECK_GREATER_OR_EQUAL(total, static_cast<uint64_t>(0.97 * 660));
    for (auto& p : sim.procs)
      CAF_CHECK_GREATER_OR_EQUAL(p.granted, total / 4 / 2);
  }
}

CAF_TEST(under light demand nearly every permit is served from a lease) {
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    auto s = settings_rpm(60000); // 1000/s budget, 4 x 50/s demand
    simulation sim{seed, 60000, 1, 4, 50.0, s};
    sim.run(t0, t0 + 5s);
    uint64_t granted = 0;
    for (auto& p : sim.procs) {
      granted += p.granted;
      CAF_CHECK_LESS_OR_EQUAL(p.waiting, 2u);
    }
    CAF_CHECK_GREATER(granted, 4u * 50u * 5u * 9u / 10u);
  }
}

CAF_TEST(every process falls back within the call timeout and rejoins after) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    auto s = settings_rpm(3600);
    simulation sim{seed, 3600, 1, 4, 10.0, s};
    sim.run(t0, t0 + 2s);
    for (auto& p : sim.procs)
      CAF_CHECK(p.lease.current() == lease_policy::mode::shared);
    // The store hangs (no answers at all): a process notices when it next needs the
    // store (its lease runs low, or at least every ttl) and falls back call_timeout
    // later: all within 1 s. No permit waits longer than call_timeout for it.
    sim.store.hung = true;
    auto hang_at = t0 + 2s;
    sim.run(hang_at, hang_at + 1s);
    for (auto& p : sim.procs)
      CAF_CHECK(p.lease.current() == lease_policy::mode::fallback);
    // It comes back: within retry_max (+20% jitter) + latency everyone rejoins.
    sim.store.hung = false;
    auto back_at = hang_at + 3s;
    sim.run(hang_at + 1s, back_at);
    sim.run(back_at, back_at + s.retry_max + s.retry_max / 5 + 5ms);
    for (auto& p : sim.procs) {
      CAF_CHECK(p.lease.current() == lease_policy::mode::shared);
      // A wake-up is due to something: at most a few find nothing (Poisson demand
      // can decay below "active" between the two), never a loop.
      CAF_CHECK_LESS_OR_EQUAL(p.idle_wakeups, 20u);
    }
  }
}

CAF_TEST(a refusing store means fallback on the first refused call) {
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    auto s = settings_rpm(3600);
    simulation sim{seed, 3600, 1, 3, 10.0, s};
    sim.run(t0, t0 + 1s);
    sim.store.down = true;
    sim.run(t0 + 1s, t0 + 2s);
    for (auto& p : sim.procs) {
      CAF_CHECK(p.lease.current() == lease_policy::mode::fallback);
      CAF_CHECK_GREATER_OR_EQUAL(p.lease.failed_calls(), 1u);
    }
  }
}
