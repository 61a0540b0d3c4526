#define CAF_SUITE actors.bulk_job
#include "actors/bulk_job.hpp"

#include <optional>

#include "tests/support/fixture.hpp"

using namespace embedrt;
using namespace embedrt::test;

namespace {

/// Scripted dispatcher as the bulk job sees it: grants up to `grant` credits per ask
/// (0: the runtime stops), refuses a request holding an empty text (like the input
/// checks: "input k is empty"), answers the rest with one vector per text.
struct embedder_script {
  uint32_t grant = 1024;
  uint32_t released = 0;
  std::vector<std::vector<std::string>> requests;
  /// Answers every request with this error instead.
  std::optional<embed_failure> fail_all;
};

std::vector<float> vector_of(const std::string& text) {
  return {static_cast<float>(text.size())};
}

embedder_actor::behavior_type fake_embedder(embedder_actor::pointer,
                                            std::shared_ptr<embedder_script> s) {
  return {
    [s](embed_request& req) -> caf::result<embed_result> {
      s->requests.push_back(req.texts);
      if (req.options.priority != lane::bulk)
        return to_error({embed_errc::overloaded, "not on credit", 0});
      if (s->fail_all)
        return to_error(*s->fail_all);
      embed_result r;
      for (size_t k = 0; k < req.texts.size(); ++k) {
        if (req.texts[k].empty())
          return to_error(
            {embed_errc::invalid_input, "input " + std::to_string(k) + " is empty", 0});
        r.embeddings.push_back(vector_of(req.texts[k]));
      }
      r.usage = {req.texts.size(), req.texts.size()};
      r.model = "m";
      return r;
    },
    [s](acquire_credit& x) { return credit_grant{std::min(x.max_requests, s->grant)}; },
    [s](release_credit& x) { s->released += x.requests; },
    [](caf::get_atom) { return runtime_counters{}; },
  };
}

struct bulk_fixture : fixture {
  std::shared_ptr<embedder_script> script = std::make_shared<embedder_script>();
  embedder_actor embedder = sys.spawn(fake_embedder, script);
  std::shared_ptr<std::optional<embed_many_outcome>> outcome
    = std::make_shared<std::optional<embed_many_outcome>>();

  bulk_fixture() {
    sched.run(); // the fake embedder's start
  }

  caf::actor start(std::vector<std::string> texts, uint32_t per_request) {
    auto n = texts.size();
    auto into = outcome;
    auto done = std::make_shared<bulk_completion>(n, [into](embed_many_outcome x) {
      *into = std::move(x);
    });
    auto job = sys.spawn(
      bulk_job,
      bulk_job_args{embedder, std::move(texts), {}, per_request, std::move(done)});
    sched.run_once(); // its start: it asks for credit
    return job;
  }

  static std::vector<std::string> numbered(size_t n) {
    std::vector<std::string> texts;
    for (size_t i = 0; i < n; ++i)
      texts.push_back("text " + std::to_string(i));
    return texts;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(bulk_job_tests, bulk_fixture)

CAF_TEST(the job asks credit for its chunks and sends one request per credit) {
  script->grant = 2;
  auto job = start(numbered(10), 4);
  expect((acquire_credit), from(job).to(embedder).with(acquire_credit{3}));
  expect((credit_grant), from(embedder).to(job).with(credit_grant{2}));
  // Two requests on the two credits, and an ask for the third chunk.
  expect((embed_request), from(job).to(embedder));
  expect((embed_request), from(job).to(embedder));
  expect((acquire_credit), from(job).to(embedder).with(acquire_credit{1}));
  sched.run();
  CAF_REQUIRE(outcome->has_value());
  auto& x = **outcome;
  CAF_CHECK_EQUAL(x.failures, 0u);
  CAF_REQUIRE_EQUAL(x.texts.size(), 10u);
  for (size_t i = 0; i < 10; ++i)
    CAF_CHECK(x.texts[i].embedding == vector_of("text " + std::to_string(i)));
  CAF_CHECK_EQUAL(x.usage.prompt_tokens, 10u);
  CAF_CHECK_EQUAL(script->requests.size(), 3u);
  CAF_CHECK_EQUAL(script->released, 0u); // every credit was spent
}

CAF_TEST(a request refused for one text is split until only that text fails) {
  auto texts = numbered(8);
  texts[5] = "";
  auto job = start(texts, 8);
  sched.run();
  CAF_REQUIRE(outcome->has_value());
  auto& x = **outcome;
  CAF_CHECK_EQUAL(x.failures, 1u);
  CAF_CHECK(x.texts[5].failure.code == embed_errc::invalid_input);
  CAF_CHECK_EQUAL(x.texts[5].failure.message, "input 5 is empty");
  for (size_t i = 0; i < 8; ++i)
    if (i != 5)
      CAF_CHECK(x.texts[i].embedding == vector_of(texts[i]));
  // [0..7] refused, [0..3] ok, [4..7] refused, [4,5] refused, [6,7] ok, [4] ok, [5].
  CAF_CHECK_EQUAL(script->requests.size(), 7u);
  CAF_CHECK_EQUAL(script->requests[1],
                  (std::vector<std::string>{texts.begin(), texts.begin() + 4}));
}

CAF_TEST(a zero grant fails the texts not sent with shutting_down) {
  script->grant = 0;
  auto job = start(numbered(5), 2);
  expect((acquire_credit), from(job).to(embedder).with(acquire_credit{3}));
  expect((credit_grant), from(embedder).to(job).with(credit_grant{0}));
  CAF_REQUIRE(outcome->has_value());
  auto& x = **outcome;
  CAF_CHECK_EQUAL(x.failures, 5u);
  for (auto& t : x.texts)
    CAF_CHECK(t.failure.code == embed_errc::shutting_down);
  CAF_CHECK(script->requests.empty());
  disallow((acquire_credit), from(job).to(embedder));
}

CAF_TEST(a shutting_down answer stops sending and returns the unused credit) {
  script->fail_all = embed_failure{embed_errc::shutting_down, "stopping", 0};
  script->grant = 2;
  auto job = start(numbered(6), 1);
  sched.run();
  CAF_REQUIRE(outcome->has_value());
  auto& x = **outcome;
  CAF_CHECK_EQUAL(x.failures, 6u);
  for (auto& t : x.texts)
    CAF_CHECK(t.failure.code == embed_errc::shutting_down);
  // Two requests on the first grant; the second grant arrived after the answer and
  // went back instead of being lost to the bulk lane.
  CAF_CHECK_EQUAL(script->requests.size(), 2u);
  CAF_CHECK_EQUAL(script->released, 2u);
}

CAF_TEST(a job that dies without an answer still answers every text) {
  script->grant = 0;
  {
    auto done = std::make_shared<bulk_completion>(
      3, [into = outcome](embed_many_outcome x) { *into = std::move(x); });
  } // dropped, as when the job fails before it answers
  CAF_REQUIRE(outcome->has_value());
  CAF_CHECK_EQUAL((**outcome).texts.size(), 3u);
  CAF_CHECK_EQUAL((**outcome).failures, 3u);
  CAF_CHECK((**outcome).texts[2].failure.code == embed_errc::worker_failed);
}

CAF_TEST(no texts answers at once with an empty outcome) {
  start({}, 4);
  sched.run();
  CAF_REQUIRE(outcome->has_value());
  CAF_CHECK((**outcome).texts.empty());
  CAF_CHECK(script->requests.empty());
}

CAF_TEST_FIXTURE_SCOPE_END()
