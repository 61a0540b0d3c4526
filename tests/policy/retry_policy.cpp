#define CAF_SUITE policy.retry_policy
#include <caf/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "src/policy/retry_policy.hpp"

using namespace embedrt;
using namespace embedrt::policy;
using namespace std::chrono_literals;

namespace {

const time_point t0 = time_point{} + 1h;
const time_point far_deadline = t0 + 1h;

// 3 attempts, 500 ms doubling to 8 s, Retry-After capped at 60 s, a budget of 20 %
// plus 10 per second over 10 s, seed 42; 50 ms minimum per attempt.
retry_config retry_defaults() {
  retry_config cfg;
  cfg.seed = 42;
  return cfg;
}

request_config request_defaults() {
  return request_config{};
}

retry_policy make_policy(retry_config cfg = retry_defaults()) {
  return retry_policy{cfg, request_defaults(), cfg.seed};
}

http_call_result http(uint16_t status, duration retry_after = duration{-1},
                      std::string detail = "upstream says no") {
  http_call_result r;
  r.status = attempt_status::http_error;
  r.http_status = status;
  r.retry_after = retry_after;
  r.detail = std::move(detail);
  return r;
}

http_call_result failed(attempt_status status, std::string detail = "") {
  http_call_result r;
  r.status = status;
  r.detail = std::move(detail);
  return r;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

CAF_TEST(exactly 408 409 429 500 502 503 504 are retryable statuses) {
  std::vector<uint16_t> retryable;
  for (uint16_t s = 100; s < 600; ++s)
    if (is_retryable_status(s))
      retryable.push_back(s);
  CAF_CHECK_EQUAL(retryable,
                  (std::vector<uint16_t>{408, 409, 429, 500, 502, 503, 504}));
  CAF_CHECK(!is_retryable_status(0));
}

CAF_TEST(the breaker counts 5xx and transport failures and ignores the rest) {
  struct row {
    attempt_status status;
    uint16_t http;
    call_result want;
  };
  std::vector<row> table{
    {attempt_status::succeeded, 200, call_result::success},
    {attempt_status::http_error, 500, call_result::failure},
    {attempt_status::http_error, 501, call_result::failure},
    {attempt_status::http_error, 503, call_result::failure},
    {attempt_status::http_error, 599, call_result::failure},
    {attempt_status::http_error, 429, call_result::ignored},
    {attempt_status::http_error, 400, call_result::ignored},
    {attempt_status::http_error, 401, call_result::ignored},
    {attempt_status::http_error, 404, call_result::ignored},
    {attempt_status::http_error, 408, call_result::ignored},
    {attempt_status::connect_failed, 0, call_result::failure},
    {attempt_status::timed_out, 0, call_result::failure},
    {attempt_status::connection_lost, 0, call_result::failure},
    {attempt_status::transport_error, 0, call_result::failure},
    {attempt_status::bad_response, 200, call_result::failure},
    {attempt_status::worker_failed, 0, call_result::ignored},
    {attempt_status::expired, 0, call_result::cancelled},
    {attempt_status::tls_rejected, 0, call_result::failure},
    {attempt_status::too_large, 200, call_result::ignored},
  };
  for (auto& x : table) {
    CAF_MESSAGE(to_string(x.status) << " " << x.http);
    CAF_CHECK_EQUAL(to_string(classify_for_breaker(x.status, x.http)),
                    to_string(x.want));
  }
}

CAF_TEST(statuses map to retry decisions after the first attempt) {
  struct row {
    http_call_result result;
    bool retry;
    embed_errc error;
    std::string reason_part;
  };
  std::vector<row> table{
    {http(400, duration{-1}, "bad input"), false, embed_errc::upstream_rejected,
     "HTTP 400 (not retryable): bad input"},
    {http(401), false, embed_errc::upstream_rejected, "HTTP 401"},
    {http(403), false, embed_errc::upstream_rejected, "HTTP 403"},
    {http(404), false, embed_errc::upstream_rejected, "HTTP 404"},
    {http(413), false, embed_errc::upstream_rejected, "HTTP 413"},
    {http(422), false, embed_errc::upstream_rejected, "HTTP 422"},
    // A Retry-After on a 4xx does not make it retryable.
    {http(400, 1s), false, embed_errc::upstream_rejected, "HTTP 400"},
    {http(501), false, embed_errc::upstream_unavailable, "HTTP 501"},
    {http(408), true, embed_errc::none, ""},
    {http(409), true, embed_errc::none, ""},
    {http(429), true, embed_errc::none, ""},
    {http(500), true, embed_errc::none, ""},
    {http(502), true, embed_errc::none, ""},
    {http(503), true, embed_errc::none, ""},
    {http(504), true, embed_errc::none, ""},
    {failed(attempt_status::connect_failed), true, embed_errc::none, ""},
    {failed(attempt_status::timed_out), true, embed_errc::none, ""},
    {failed(attempt_status::connection_lost), true, embed_errc::none, ""},
    {failed(attempt_status::transport_error), true, embed_errc::none, ""},
    {failed(attempt_status::worker_failed), true, embed_errc::none, ""},
    // A broken body is transient, like a 5xx (issue 9 B).
    {failed(attempt_status::bad_response, "2 vectors for 3 inputs"), true,
     embed_errc::none, ""},
    {failed(attempt_status::expired), false, embed_errc::deadline_exceeded, "deadline"},
    // A refused certificate is never retried: only endpoint.ca_bundle can fix it.
    {failed(attempt_status::tls_rejected, "SSL certificate problem"), false,
     embed_errc::upstream_unavailable, "tls_rejected: SSL certificate problem"},
    {failed(attempt_status::too_large), true, embed_errc::none, ""},
    {failed(attempt_status::succeeded), false, embed_errc::none, ""},
  };
  for (auto& x : table) {
    auto policy = make_policy();
    policy.on_first_attempt(t0);
    auto d = policy.decide(x.result, 1, t0, far_deadline);
    CAF_MESSAGE(to_string(x.result.status)
                << " " << x.result.http_status << " -> " << d.retry << " "
                << to_string(d.error) << " " << d.reason);
    CAF_CHECK_EQUAL(d.retry, x.retry);
    CAF_CHECK_EQUAL(to_string(d.error), to_string(x.error));
    CAF_CHECK(contains(d.reason, x.reason_part));
    CAF_CHECK(!d.budget_exhausted);
    if (d.retry) {
      CAF_CHECK(d.delay >= duration::zero() && d.delay <= duration{500ms});
      CAF_CHECK(!d.from_retry_after);
    }
  }
}

CAF_TEST(a 429 with Retry - After waits exactly that long) {
  auto policy = make_policy();
  auto d = policy.decide(http(429, 2s), 1, t0, far_deadline);
  CAF_CHECK(d.retry);
  CAF_CHECK_EQUAL(d.delay, duration{2s});
  CAF_CHECK(d.from_retry_after);
  auto zero = policy.decide(http(429, 0s), 1, t0, far_deadline);
  CAF_CHECK(zero.retry);
  CAF_CHECK_EQUAL(zero.delay, duration::zero());
  CAF_CHECK(zero.from_retry_after);
}

CAF_TEST(a Retry - After at the cap is honoured) {
  auto policy = make_policy();
  auto d = policy.decide(http(429, 60s), 1, t0, far_deadline);
  CAF_CHECK(d.retry);
  CAF_CHECK_EQUAL(d.delay, duration{60s});
}

CAF_TEST(a Retry - After above the cap gives up rate limited at once) {
  auto policy = make_policy();
  auto d = policy.decide(http(429, 120s), 1, t0, far_deadline);
  CAF_CHECK(!d.retry);
  CAF_CHECK_EQUAL(to_string(d.error), to_string(embed_errc::rate_limited));
  CAF_CHECK(contains(d.reason, "Retry-After 120 s exceeds the 60 s cap"));
  CAF_CHECK(!d.budget_exhausted);
  auto ms = policy.decide(http(429, 60001ms), 1, t0, far_deadline);
  CAF_CHECK(contains(ms.reason, "Retry-After 60001 ms exceeds the 60 s cap"));
}

CAF_TEST(a 5xx with Retry
         - After waits that long and above the cap gives up unavailable) {
  auto policy = make_policy();
  auto d = policy.decide(http(503, 1500ms), 1, t0, far_deadline);
  CAF_CHECK(d.retry);
  CAF_CHECK_EQUAL(d.delay, duration{1500ms});
  CAF_CHECK(d.from_retry_after);
  auto capped = policy.decide(http(503, 61s), 1, t0, far_deadline);
  CAF_CHECK(!capped.retry);
  CAF_CHECK_EQUAL(to_string(capped.error), to_string(embed_errc::upstream_unavailable));
  CAF_CHECK(contains(capped.reason, "exceeds the 60 s cap"));
}

CAF_TEST(without Retry - After the delay is full jitter backoff of the attempt number) {
  auto policy = make_policy();
  auto other = make_policy();
  rng_type rng{42};
  backoff_policy backoff{500ms, 2.0, 8s};
  for (uint32_t n = 1; n <= 2; ++n) {
    auto d = policy.decide(http(503), n, t0, far_deadline);
    CAF_REQUIRE(d.retry);
    CAF_CHECK_EQUAL(d.delay, backoff.delay(n, rng));
    CAF_CHECK_LESS_OR_EQUAL(d.delay, backoff.ceiling(n));
    // The same seed makes the same decisions.
    CAF_CHECK_EQUAL(other.decide(http(503), n, t0, far_deadline).delay, d.delay);
  }
}

CAF_TEST(a zero seed draws from random_device and still respects the bounds) {
  auto cfg = retry_defaults();
  cfg.seed = 0;
  auto policy = make_policy(cfg);
  for (int i = 0; i < 50; ++i) {
    auto d = policy.decide(failed(attempt_status::timed_out), 2, t0, far_deadline);
    CAF_REQUIRE(d.retry);
    CAF_CHECK(d.delay >= duration::zero() && d.delay <= duration{1s});
  }
}

CAF_TEST(the last allowed attempt gives up with the error of its failure) {
  struct row {
    http_call_result result;
    embed_errc error;
  };
  std::vector<row> table{
    {http(429), embed_errc::rate_limited},
    {http(429, 1s), embed_errc::rate_limited},
    {http(503), embed_errc::upstream_unavailable},
    {http(408), embed_errc::upstream_unavailable},
    {failed(attempt_status::timed_out), embed_errc::upstream_unavailable},
    {failed(attempt_status::connect_failed), embed_errc::upstream_unavailable},
    {failed(attempt_status::worker_failed), embed_errc::worker_failed},
    // An endless or oversized body: retried, then the caller learns it was the body.
    {failed(attempt_status::too_large), embed_errc::bad_response},
  };
  for (auto& x : table) {
    auto policy = make_policy();
    CAF_REQUIRE(policy.decide(x.result, 2, t0, far_deadline).retry);
    auto d = policy.decide(x.result, 3, t0, far_deadline);
    CAF_CHECK(!d.retry);
    CAF_CHECK_EQUAL(to_string(d.error), to_string(x.error));
    CAF_CHECK(contains(d.reason, "after 3 attempts"));
    CAF_CHECK(!d.budget_exhausted);
  }
  auto policy = make_policy();
  auto d = policy.decide(http(503, duration{-1}, "overloaded"), 3, t0, far_deadline);
  CAF_CHECK_EQUAL(d.reason, "gave up after 3 attempts; last: HTTP 503: overloaded");
}

CAF_TEST(one allowed attempt means no retry at all) {
  auto cfg = retry_defaults();
  cfg.max_attempts = 1;
  auto policy = make_policy(cfg);
  auto d = policy.decide(http(503), 1, t0, far_deadline);
  CAF_CHECK(!d.retry);
  CAF_CHECK(contains(d.reason, "after 1 attempt;"));
}

CAF_TEST(
  a retry that cannot start before the deadline minus the minimum attempt gives up) {
  auto policy = make_policy();
  // Retry-After 1 s; 50 ms must be left for the attempt.
  auto just = policy.decide(http(503, 1s), 2, t0, t0 + 1050ms);
  CAF_CHECK(just.retry);
  auto late = policy.decide(http(503, 1s), 2, t0, t0 + 1050ms - 1ns);
  CAF_CHECK(!late.retry);
  CAF_CHECK_EQUAL(to_string(late.error), to_string(embed_errc::deadline_exceeded));
  CAF_CHECK(contains(late.reason, "no time left for attempt 3"));
  auto gone = policy.decide(http(429), 1, t0 + 2s, t0 + 1s);
  CAF_CHECK(!gone.retry);
  CAF_CHECK_EQUAL(to_string(gone.error), to_string(embed_errc::deadline_exceeded));
  CAF_CHECK(contains(gone.reason, "no time left for attempt 2"));
}

CAF_TEST(a spent budget gives up with the error the caller would get without retry) {
  struct row {
    http_call_result result;
    embed_errc error;
  };
  std::vector<row> table{
    {http(429), embed_errc::rate_limited},
    {http(503), embed_errc::upstream_unavailable},
    {failed(attempt_status::connection_lost), embed_errc::upstream_unavailable},
    {failed(attempt_status::worker_failed), embed_errc::worker_failed},
  };
  for (auto& x : table) {
    auto cfg = retry_defaults();
    cfg.budget_percent = 20;
    cfg.budget_min_per_second = 0;
    auto policy = make_policy(cfg);
    for (int i = 0; i < 10; ++i)
      policy.on_first_attempt(t0);
    CAF_CHECK(policy.decide(x.result, 1, t0, far_deadline).retry);
    CAF_CHECK(policy.decide(x.result, 1, t0, far_deadline).retry);
    auto d = policy.decide(x.result, 1, t0, far_deadline);
    CAF_CHECK(!d.retry);
    CAF_CHECK(d.budget_exhausted);
    CAF_CHECK_EQUAL(to_string(d.error), to_string(x.error));
    CAF_CHECK(contains(d.reason, "retry budget"));
  }
}

CAF_TEST(only retries that really happen spend the budget) {
  auto cfg = retry_defaults();
  cfg.budget_percent = 10;
  cfg.budget_min_per_second = 0;
  auto policy = make_policy(cfg);
  for (int i = 0; i < 10; ++i)
    policy.on_first_attempt(t0);
  // Exactly one retry is in the budget; none of these uses it.
  CAF_CHECK(!policy.decide(http(400), 1, t0, far_deadline).retry);
  CAF_CHECK(!policy.decide(http(503), 3, t0, far_deadline).retry);
  CAF_CHECK(!policy.decide(http(503, 5s), 1, t0, t0 + 1s).retry);
  CAF_CHECK(!policy.decide(http(429, 2min), 1, t0, far_deadline).retry);
  CAF_CHECK(!policy.decide(failed(attempt_status::expired), 1, t0, far_deadline).retry);
  CAF_CHECK(policy.decide(http(503), 1, t0, far_deadline).retry);
  CAF_CHECK(policy.decide(http(503), 1, t0, far_deadline).budget_exhausted);
}

CAF_TEST(the budget recovers after its window) {
  auto cfg = retry_defaults();
  cfg.budget_percent = 0;
  cfg.budget_min_per_second = 1;
  cfg.budget_window_ms = 2000;
  auto policy = make_policy(cfg);
  CAF_CHECK(policy.decide(http(503, 0s), 1, t0, far_deadline).retry);
  CAF_CHECK(policy.decide(http(503, 0s), 1, t0, far_deadline).retry);
  CAF_CHECK(policy.decide(http(503, 0s), 1, t0, far_deadline).budget_exhausted);
  CAF_CHECK(policy.decide(http(503, 0s), 1, t0 + 2s, far_deadline).retry);
}
