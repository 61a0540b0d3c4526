#define CAF_SUITE policy.permit_loans
#include <caf/test/unit_test.hpp>

#include <chrono>
#include <cmath>
#include <deque>
#include <functional>
#include <map>
#include <random>
#include <vector>

#include "src/dispatch/fast_path.hpp"
#include "src/policy/rate_limit_policy.hpp"
#include "src/policy/token_bucket.hpp"

using namespace embedrt;
using namespace embedrt::policy;
using namespace std::chrono_literals;

namespace {

const time_point t0 = time_point{} + 1h;

rate_limiter_config limits(uint32_t rpm, uint64_t tpm, uint32_t burst = 1) {
  rate_limiter_config cfg;
  cfg.requests_per_minute = rpm;
  cfg.tokens_per_minute = tpm;
  cfg.burst_seconds = burst;
  return cfg;
}

} // namespace

CAF_TEST(a loan counts against the capacity until it is settled) {
  token_bucket bucket{10.0, 10.0, t0};
  CAF_REQUIRE(bucket.lend(6, t0));
  CAF_CHECK_EQUAL(bucket.available(t0), 4.0);
  CAF_CHECK(!bucket.lend(5, t0));
  // Refill stops at capacity minus the loan: level plus loan never exceeds 10.
  CAF_CHECK_EQUAL(bucket.available(t0 + 10s), 4.0);
  CAF_CHECK(bucket.try_take(4, t0 + 10s));
  // Settled with 2 of 6 spent: 4 come back.
  bucket.settle(6, 2, t0 + 10s);
  CAF_CHECK_EQUAL(bucket.lent(), 0.0);
  CAF_CHECK_EQUAL(bucket.available(t0 + 10s), 4.0);
  CAF_CHECK_EQUAL(bucket.available(t0 + 20s), 10.0);
}

CAF_TEST(a request larger than what is left beside a loan waits for the loan) {
  token_bucket bucket{10.0, 10.0, t0};
  CAF_REQUIRE(bucket.lend(8, t0));
  // 5 tokens can never be there while 8 are lent: a hint (>= 1 ms), never "now".
  auto wait = bucket.time_until(5, t0 + 1h);
  CAF_CHECK_GREATER_OR_EQUAL(wait, duration{1ms});
  CAF_CHECK(!bucket.try_take(5, t0 + 1h));
  // Settled all spent: the level refills from where the loan capped it (the loan is
  // taken as spent at its settling, the conservative reading).
  bucket.settle(8, 8, t0 + 1h);
  CAF_CHECK(!bucket.try_take(5, t0 + 1h));
  CAF_CHECK(bucket.try_take(5, t0 + 1h + 300ms));
}

CAF_TEST(the policy lends whole available units and nothing while paused) {
  rate_limit_policy p{limits(600, 6000), t0}; // capacity 10 requests, 100 tokens
  auto loan = p.lend({4, 40}, 10, t0);
  CAF_CHECK_EQUAL(loan.requests, 4u);
  CAF_CHECK_EQUAL(loan.tokens, 40u);
  // Asking for more than is left gets what is left.
  auto more = p.lend({100, 1000}, 10, t0);
  CAF_CHECK_EQUAL(more.requests, 6u);
  CAF_CHECK_EQUAL(more.tokens, 60u);
  CAF_CHECK_EQUAL(p.lend({1, 10}, 10, t0).requests, 0u);
  CAF_CHECK_GREATER(p.try_acquire(1, t0), duration::zero());
  p.settle(loan, {1, 10}, t0);
  p.settle(more, {0, 0}, t0);
  // 9 requests and 90 tokens came back.
  CAF_CHECK_EQUAL(p.lend({100, 1000}, 1, t0).requests, 9u);
  rate_limit_policy paused{limits(600, 6000), t0};
  paused.pause(2s, t0);
  CAF_CHECK_EQUAL(paused.lend({1, 1}, 1, t0 + 1s).requests, 0u);
  CAF_CHECK_EQUAL(paused.lend({1, 1}, 1, t0 + 2s).requests, 1u);
}

CAF_TEST(without a tokens limit a loan carries unlimited tokens) {
  rate_limit_policy p{limits(600, 0), t0};
  auto loan = p.lend({3, 5}, 5, t0);
  CAF_CHECK_EQUAL(loan.requests, 3u);
  CAF_CHECK_EQUAL(loan.tokens, unlimited_tokens);
  rate_limit_policy none{limits(0, 0), t0};
  CAF_CHECK_EQUAL(none.lend({4096, 5}, 5, t0).requests, 4096u);
}

CAF_TEST(too few tokens for one average request lends nothing) {
  rate_limit_policy p{limits(600, 600), t0}; // 10 tokens of capacity
  CAF_CHECK_EQUAL(p.lend({2, 40}, 20, t0).requests, 0u);
  CAF_CHECK_EQUAL(p.lend({2, 40}, 5, t0).tokens, 10u);
}

// -- property: leases never let more through than the limits --------------------------

namespace {

struct grant {
  time_point at;
  uint32_t tokens;
};

/// Most requests / tokens in any window of `w` among `grants` (sorted by time).
std::pair<uint64_t, uint64_t> worst_window(const std::vector<grant>& grants,
                                           duration w) {
  uint64_t best_r = 0, best_t = 0, sum_t = 0;
  size_t lo = 0;
  for (size_t hi = 0; hi < grants.size(); ++hi) {
    sum_t += grants[hi].tokens;
    while (grants[hi].at - grants[lo].at >= w) {
      sum_t -= grants[lo].tokens;
      ++lo;
    }
    best_r = std::max<uint64_t>(best_r, hi - lo + 1);
    best_t = std::max(best_t, sum_t);
  }
  return {best_r, best_t};
}

/// Seeded random traffic above the limits through the dispatcher's lease holder and a
/// limiter simulated as the actor does it (latency, leases closed late or never,
/// 429 pauses dropping the lease, revocations). Returns every permit that went out.
std::vector<grant> simulate(uint64_t seed, const rate_limiter_config& cfg,
                            duration run_for, uint64_t& leased) {
  std::mt19937_64 rng{seed};
  auto uniform = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>{lo, hi}(rng);
  };
  rate_limit_policy limiter{cfg, t0};
  dispatch::fast_path_settings fs;
  fs.lease_horizon = std::chrono::milliseconds{uniform(20, 400)};
  fs.max_lease_requests = static_cast<uint32_t>(uniform(1, 64));
  fs.demand_window = std::chrono::milliseconds{uniform(100, 5000)};
  dispatch::permit_lease_holder holder{fs, t0};
  struct loan_state {
    rate_limit_policy::loan lent;
    time_point expires;
  };
  std::map<uint64_t, loan_state> loans;
  uint64_t next_loan = 1;
  // Messages in flight: (arrival time, action), delivered in time order.
  std::multimap<time_point, std::function<void(time_point)>> wire;
  auto latency = [&] { return duration{uniform(0, 3'000'000)}; };
  // Any lifetime: the bound must not depend on leases being short.
  auto ttl = std::chrono::milliseconds{uniform(100, 2000)};
  auto settle_closed = [&](const std::vector<lease_usage>& closed, time_point now) {
    for (auto& u : closed) {
      auto i = loans.find(u.lease);
      if (i == loans.end())
        continue;
      limiter.settle(i->second.lent, {u.requests, u.tokens}, now);
      loans.erase(i);
    }
  };
  auto send_request = [&](lease_request req, time_point now) {
    wire.emplace(now + latency(), [&, req](time_point at) {
      settle_closed(req.closed, at);
      permit_lease answer;
      if (req.requests > 0) {
        auto loan = limiter.lend({req.requests, req.tokens}, req.tokens / req.requests,
                                 at);
        if (loan.requests > 0) {
          answer = permit_lease{next_loan++, loan.requests, loan.tokens, at + ttl};
          loans.emplace(answer.id, loan_state{loan, answer.expires});
        }
      }
      wire.emplace(at + latency(),
                   [&, answer](time_point back) { holder.on_granted(answer, back); });
    });
  };
  std::vector<grant> out;
  auto now = t0;
  auto end = t0 + run_for;
  while (now < end) {
    // ~66 arrivals per second on average, with idle spells that let the buckets fill.
    now += duration{uniform(0, 19) == 0 ? uniform(0, 1'500'000'000)
                                        : uniform(0, 30'000'000)};
    // Deliver what arrived meanwhile.
    while (!wire.empty() && wire.begin()->first <= now) {
      auto [at, action] = *wire.begin();
      wire.erase(wire.begin());
      action(at);
    }
    // The limiter reclaims leases never closed.
    for (auto i = loans.begin(); i != loans.end();) {
      if (now >= i->second.expires + 500ms) {
        limiter.settle(i->second.lent, i->second.lent, now);
        i = loans.erase(i);
      } else {
        ++i;
      }
    }
    auto tokens = static_cast<uint32_t>(uniform(1, 40));
    bool granted = holder.try_take(tokens, now);
    if (!granted)
      granted = limiter.try_acquire(tokens, now) == duration::zero();
    if (granted)
      out.push_back(grant{now, tokens});
    if (auto req = holder.next_request(now))
      send_request(std::move(*req), now);
    switch (uniform(0, 199)) {
      case 0: // a 429: the pause and the lease's close travel at once
        limiter.pause(std::chrono::milliseconds{uniform(1, 2000)}, now);
        holder.drop();
        break;
      case 1: // revoked (a pause learnt elsewhere)
        holder.drop(holder.lease_id());
        break;
      case 2: // the expiry timer
        holder.expire(now);
        break;
      default: break;
    }
    if (holder.has_closed() && !holder.in_flight() && uniform(0, 3) != 0) {
      lease_request closing;
      closing.closed = holder.take_closed();
      send_request(std::move(closing), now); // (sometimes late: with the next ask)
    }
  }
  leased = holder.permits_taken();
  return out;
}

} // namespace

CAF_TEST(over seeded random traffic leases never exceed either limit in any window) {
  uint64_t leased_runs = 0;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    auto rpm = static_cast<uint32_t>(600 + 60 * (seed % 7));
    uint64_t tpm = 6000 + 600 * (seed % 5);
    uint32_t burst = 1 + static_cast<uint32_t>(seed % 3);
    auto cfg = limits(rpm, tpm, burst);
    uint64_t leased = 0;
    auto grants = simulate(seed, cfg, 120s, leased);
    // Leases were used (else this tests the slow path only); above the limits they
    // get what the slow path leaves.
    CAF_CHECK_GREATER(leased, 0u);
    CAF_REQUIRE(!grants.empty());
    for (auto w : {duration{1s}, duration{10s}, duration{60s}}) {
      auto [r, t] = worst_window(grants, w);
      auto secs = std::chrono::duration<double>(w).count();
      // The token bucket's own bound: its capacity plus the refill of the window.
      auto max_r = std::max(1.0, rpm / 60.0 * burst) + rpm / 60.0 * secs;
      auto max_t = tpm / 60.0 * burst + tpm / 60.0 * secs;
      CAF_CHECK_LESS_OR_EQUAL(static_cast<double>(r), max_r + 1e-6);
      CAF_CHECK_LESS_OR_EQUAL(static_cast<double>(t), max_t + 1e-6);
      if (static_cast<double>(r) > max_r + 1e-6
          || static_cast<double>(t) > max_t + 1e-6)
        CAF_MESSAGE("seed " << seed << " window " << secs << " s: " << r << " > "
                            << max_r << " or " << t << " > " << max_t);
    }
    // The traffic reaches the limits (idle spells aside).
    auto [r60, t60] = worst_window(grants, 60s);
    CAF_CHECK_GREATER(static_cast<double>(r60), rpm * 0.25);
    (void)t60;
    leased_runs += leased > 0 ? 1 : 0;
  }
  CAF_CHECK_EQUAL(leased_runs, 30u);
}
