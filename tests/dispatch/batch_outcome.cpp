#define CAF_SUITE dispatch.batch_outcome
#include "src/dispatch/dispatcher_core.hpp"

#include <caf/test/unit_test.hpp>

#include <cmath>

#include "tests/support/core_world.hpp"
#include "tools/mock/mock_random.hpp"

using namespace embedrt;
using namespace embedrt::test;
using namespace std::chrono_literals;

namespace {

runtime_config base_config() {
  runtime_config cfg;
  cfg.endpoint.model = "m";
  cfg.endpoint.dimensions = 8;
  cfg.http_pool.max_connections = 4;
  cfg.retry.seed = 7;
  cfg.retry.base_delay_ms = 100;
  cfg.retry.max_delay_ms = 1000;
  cfg.request.timeout_ms = 30000;
  return cfg;
}

std::string text_of(int i) {
  return "text number " + std::to_string(i);
}

/// True when `v` is exactly the upstream's vector of `text`.
bool is_vector_of(const std::vector<float>& v, const std::string& text, uint32_t dim) {
  std::vector<float> want;
  mock::mock_vector(text, dim, want);
  return v == want;
}

/// Admits requests first..first+n-1, one text each (text_of(i)), at the same moment.
void admit_singles(core_world& w, int n, lane l = lane::interactive, int first = 1) {
  for (int i = first; i < first + n; ++i) {
    embed_request req;
    req.texts = {text_of(i)};
    req.options.priority = l;
    w.core->admit(static_cast<uint64_t>(i), std::move(req), w.now);
  }
}

/// Requests 1..n are answered once, every answer holding the vector of its own text;
/// returns how many were served.
size_t check_answers(core_world& w, int n, uint32_t dim) {
  size_t served = 0;
  for (int i = 1; i <= n; ++i) {
    auto id = static_cast<uint64_t>(i);
    CAF_CHECK(w.answered_once(id));
    auto a = w.answers.find(id);
    if (a == w.answers.end())
      continue;
    ++served;
    CAF_REQUIRE_EQUAL(a->second.embeddings.size(), 1u);
    if (!is_vector_of(a->second.embeddings[0], text_of(i), dim)) {
      CAF_MESSAGE("request " << i << " got a vector of length "
                             << a->second.embeddings[0].size()
                             << " that is not its text's");
      CAF_FAIL("a vector reached the wrong caller");
    }
  }
  return served;
}

struct fixture {
  core_world w;
  runtime_config cfg = base_config();

  void admit_singles(int n, lane l = lane::interactive, int first = 1) {
    ::admit_singles(w, n, l, first);
  }

  size_t check_answers(int n, uint32_t dim) { return ::check_answers(w, n, dim); }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(batch_outcome_tests, fixture)

// -- B: per-item outcomes
// ---------------------------------------------------------------

CAF_TEST(one bad vector in a batch costs only its own text one more attempt) {
  w.start(cfg);
  w.fate = [](const std::string& text, uint32_t sent_before) {
    return text == text_of(5) && sent_before == 0 ? vector_fate::truncated
                                                  : vector_fate::good;
  };
  // Nothing answers yet, so the texts after the first gather into one batch.
  admit_singles(20);
  w.advance_to(w.now + 2ms);
  w.run();
  CAF_CHECK_EQUAL(check_answers(20, 8), 20u);
  CAF_CHECK_EQUAL(w.sends[text_of(5)], 2u);
  CAF_CHECK_EQUAL(w.sends[text_of(6)], 1u);
  CAF_CHECK_EQUAL(w.core->counters().vectors_refused, 1u);
  CAF_CHECK_EQUAL(w.core->counters().requests_failed_bad_response, 0u);
  // The re-send went alone.
  CAF_CHECK_EQUAL(w.batch_sizes.back(), 1u);
  // A response with one bad item is still a successful call for the breaker.
  for (auto& o : w.outcomes)
    CAF_CHECK(o.result == call_result::success);
}

CAF_TEST(an item that stays bad fails alone with bad_response after max_attempts) {
  cfg.retry.max_attempts = 3;
  w.start(cfg);
  w.fate = [](const std::string& text, uint32_t) {
    return text == text_of(3) ? vector_fate::nan : vector_fate::good;
  };
  admit_singles(10);
  w.advance_to(w.now + 2ms);
  w.run();
  CAF_CHECK_EQUAL(check_answers(10, 8), 9u);
  CAF_REQUIRE_EQUAL(w.failures.count(3), 1u);
  CAF_CHECK(w.failures[3].code == embed_errc::bad_response);
  CAF_CHECK_NOT_EQUAL(w.failures[3].message.find("non_finite"), std::string::npos);
  CAF_CHECK_EQUAL(w.sends[text_of(3)], 3u);
}

CAF_TEST(a broken body is retried like a 5xx and counts as a breaker failure) {
  w.start(cfg);
  // The first two upstream responses are cut in half (a truncated 200 body).
  w.mangle = [](std::string& body, uint64_t n) {
    if (n < 2)
      body.resize(body.size() / 2);
  };
  admit_singles(1);
  w.run();
  CAF_CHECK_EQUAL(check_answers(1, 8), 1u);
  CAF_CHECK_EQUAL(w.upstream_calls, 3u);
  CAF_REQUIRE_EQUAL(w.outcomes.size(), 3u);
  CAF_CHECK(w.outcomes[0].result == call_result::failure);
  CAF_CHECK(w.outcomes[2].result == call_result::success);
  // Always broken: the caller gets bad_response with the reason, after max_attempts.
  w.mangle = [](std::string& body, uint64_t) { body = "{\"data\":[]}"; };
  admit_singles(1, lane::interactive, 2);
  w.run();
  CAF_REQUIRE_EQUAL(w.failures.count(2), 1u);
  CAF_CHECK(w.failures[2].code == embed_errc::bad_response);
  CAF_CHECK_NOT_EQUAL(w.failures[2].message.find("0 embeddings for 1 input"),
                      std::string::npos);
  CAF_CHECK_EQUAL(w.upstream_calls, 3u + cfg.retry.max_attempts);
}

CAF_TEST(with random corruption batching serves at least as many callers as without) {
  // Each vector is corrupted independently with probability x, drawn from (seed, text,
  // how often that text was sent): both runs see the same upstream luck per text, so
  // the comparison measures the runtime, not the dice. The retry budget is opened
  // wide: this is about the blast radius of a bad vector, not the budget.
  constexpr int texts = 300;
  constexpr uint64_t seeds = 20;
  for (double x : {0.01, 0.05, 0.20}) {
    size_t served[2] = {0, 0};
    uint64_t calls[2] = {0, 0};
    for (uint64_t seed = 1; seed <= seeds; ++seed) {
      for (int batching = 0; batching < 2; ++batching) {
        core_world world;
        cfg = base_config();
        cfg.endpoint.dimensions = 0; // learned, so corruption also tests learning
        cfg.batching.enabled = batching == 1;
        cfg.retry.budget_percent = 1000;
        cfg.retry.seed = seed;
        world.start(cfg);
        world.fate = [seed, x](const std::string& text, uint32_t k) {
          auto r = mock::mix_keys(seed, mock::fnv1a64(text), k);
          if (mock::unit_double(r) >= x)
            return vector_fate::good;
          return (r & 1) != 0 ? vector_fate::truncated : vector_fate::nan;
        };
        ::admit_singles(world, texts);
        world.run(120s);
        served[batching] += ::check_answers(world, texts, 8);
        calls[batching] += world.upstream_calls;
      }
    }
    auto total = static_cast<double>(texts * seeds);
    CAF_MESSAGE("x = " << x * 100 << "%: served without batching "
                       << served[0] / total * 100 << "% (" << calls[0]
                       << " upstream requests), with batching "
                       << served[1] / total * 100 << "% (" << calls[1] << ")");
    CAF_CHECK_GREATER_OR_EQUAL(served[1], served[0]);
    // Batching still batches: far fewer upstream requests.
    CAF_CHECK_LESS(calls[1] * 4, calls[0]);
  }
}

// -- F: dimension learning
// --------------------------------------------------------------

CAF_TEST(a corrupt first vector does not set the dimension and is never delivered) {
  cfg.endpoint.dimensions = 0;
  w.start(cfg);
  // The very first vector is truncated; every later one is right.
  w.fate = [](const std::string& text, uint32_t k) {
    return text == text_of(1) && k == 0 ? vector_fate::truncated : vector_fate::good;
  };
  admit_singles(1);
  w.grant_all();
  CAF_REQUIRE_EQUAL(w.calls.size(), 1u);
  CAF_CHECK_EQUAL(w.calls[0].expected_dimension, 0u); // nothing known yet
  w.answer_calls();
  CAF_CHECK(!w.answered_once(1)); // held: a lone length proves nothing
  // Single texts follow, one at a time.
  for (int i = 2; i <= 6; ++i) {
    admit_singles(1, lane::interactive, i);
    w.run();
  }
  w.run();
  CAF_CHECK_EQUAL(check_answers(6, 8), 6u);
  // The truncated vector was re-sent, and every later call checks the learned length.
  CAF_CHECK_EQUAL(w.sends[text_of(1)], 2u);
  CAF_CHECK_EQUAL(w.calls.size(), 0u);
  admit_singles(1, lane::interactive, 7);
  w.grant_all();
  CAF_REQUIRE_EQUAL(w.calls.size(), 1u);
  CAF_CHECK_EQUAL(w.calls[0].expected_dimension, 8u);
  w.run();
  CAF_CHECK_EQUAL(check_answers(7, 8), 7u);
}

CAF_TEST(a lone caller of an unknown model gets its vector after two more opinions) {
  cfg.endpoint.dimensions = 0;
  cfg.retry.max_attempts = 1; // confirmation re-sends are not attempts
  w.start(cfg);
  admit_singles(1);
  w.run();
  CAF_CHECK_EQUAL(check_answers(1, 8), 1u);
  CAF_CHECK_EQUAL(w.sends[text_of(1)], 3u);
  CAF_CHECK_EQUAL(w.core->counters().vectors_held_unconfirmed, 2u);
  // 2 x 50 ms of waiting for other traffic to confirm, on the first call only.
  CAF_CHECK_EQUAL(w.core->counters().attempts_retried, 0u);
}

CAF_TEST(the documented default of a well known model confirms its first vector) {
  cfg.endpoint.dimensions = 0;
  cfg.endpoint.model = "text-embedding-3-small";
  w.dimension = 1536;
  w.start(cfg);
  admit_singles(1);
  w.run();
  CAF_CHECK_EQUAL(check_answers(1, 1536), 1u);
  CAF_CHECK_EQUAL(w.upstream_calls, 1u);
  // A truncated first vector of a known model is not delivered either.
  core_world other;
  other.dimension = 1536;
  other.fate = [](const std::string&, uint32_t k) {
    return k == 0 ? vector_fate::truncated : vector_fate::good;
  };
  other.start(cfg);
  ::admit_singles(other, 1);
  other.run();
  CAF_CHECK_EQUAL(::check_answers(other, 1, 1536), 1u);
  CAF_CHECK_EQUAL(other.upstream_calls, 2u);
}

CAF_TEST(the majority of a first batch sets the dimension and the minority is re
         - sent) {
  cfg.endpoint.dimensions = 0;
  w.start(cfg);
  w.fate = [](const std::string& text, uint32_t k) {
    return (text == text_of(4) || text == text_of(9)) && k == 0 ? vector_fate::truncated
                                                                : vector_fate::good;
  };
  admit_singles(12);
  w.advance_to(w.now + 2ms);
  w.run();
  CAF_CHECK_EQUAL(check_answers(12, 8), 12u);
  CAF_CHECK_EQUAL(w.sends[text_of(4)], 2u);
  CAF_CHECK_EQUAL(w.sends[text_of(5)], 1u);
}

CAF_TEST(a model swapped behind the same name is refused after its length is learned) {
  cfg.endpoint.dimensions = 0;
  w.start(cfg);
  admit_singles(10);
  w.advance_to(w.now + 2ms);
  w.run();
  CAF_CHECK_EQUAL(check_answers(10, 8), 10u);
  w.dimension = 4;
  admit_singles(1, lane::interactive, 11);
  w.run();
  CAF_REQUIRE_EQUAL(w.failures.count(11), 1u);
  CAF_CHECK(w.failures[11].code == embed_errc::bad_response);
  CAF_CHECK_NOT_EQUAL(w.failures[11].message.find("expected 8"), std::string::npos);
}

// -- C: encoding tolerance
// --------------------------------------------------------------

CAF_TEST(an upstream that always sends floats is served and then asked for floats) {
  cfg.endpoint.encoding_format = "base64";
  w.start(cfg);
  w.always_float = true;
  for (int i = 1; i <= 6; ++i) {
    admit_singles(1, lane::interactive, i);
    w.run();
  }
  CAF_CHECK_EQUAL(check_answers(6, 8), 6u);
  CAF_CHECK_EQUAL(w.core->counters().responses_encoding_mismatch, 3u);
  CAF_REQUIRE_EQUAL(w.asked.size(), 6u);
  CAF_CHECK(w.asked[2] == encoding_format::base64);
  CAF_CHECK(w.asked[3] == encoding_format::float_array);
  CAF_CHECK(w.asked[5] == encoding_format::float_array);
  size_t switched = 0;
  for (auto& [kind, detail] : w.events)
    if (kind == event_kind::encoding_switched)
      ++switched;
  CAF_CHECK_EQUAL(switched, 1u);
}

CAF_TEST_FIXTURE_SCOPE_END()
