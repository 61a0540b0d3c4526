#define CAF_SUITE host.bulk_plan
#include "src/host/bulk_plan.hpp"

#include <caf/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <string>

using namespace embedrt;
using embedrt::host::bulk_plan;

namespace {

/// The vector a fake dispatcher answers for text `i`.
std::vector<float> vector_of(size_t i) {
  return {static_cast<float>(i), 0.5f};
}

/// A fake dispatcher: refuses a whole request with `refusal` when one of its texts is
/// bad (as input checks and the upstream's 400 do), else answers every text.
struct fake_dispatcher {
  std::set<size_t> bad;
  embed_failure refusal{embed_errc::invalid_input, "input 0 is empty", 0};
  size_t requests = 0;

  void answer(bulk_plan& plan, const bulk_plan::chunk& c) {
    ++requests;
    for (size_t k = 0; k < c.size(); ++k)
      if (bad.count(c[k]) > 0) {
        auto f = refusal;
        if (f.code == embed_errc::invalid_input)
          f.message = "input " + std::to_string(k) + " is empty";
        plan.failed(c, f);
        return;
      }
    embed_result r;
    for (auto i : c)
      r.embeddings.push_back(vector_of(i));
    r.usage.prompt_tokens = c.size();
    r.usage.total_tokens = c.size();
    r.model = "m";
    plan.succeeded(c, std::move(r));
  }

  /// Sends everything, answering in a shuffled order up to `window` in flight.
  void run(bulk_plan& plan, std::mt19937_64& rng, size_t window) {
    std::vector<bulk_plan::chunk> in_flight;
    while (!plan.finished()) {
      while (in_flight.size() < window && plan.chunks_waiting() > 0)
        in_flight.push_back(plan.next());
      CAF_REQUIRE(!in_flight.empty());
      auto pick = std::uniform_int_distribution<size_t>{0, in_flight.size() - 1}(rng);
      auto c = std::move(in_flight[pick]);
      in_flight.erase(in_flight.begin() + static_cast<std::ptrdiff_t>(pick));
      answer(plan, c);
    }
    CAF_CHECK(in_flight.empty());
  }
};

} // namespace

CAF_TEST(chunks follow the input order and hold at most chunk_size texts) {
  bulk_plan plan{10, 4};
  CAF_CHECK_EQUAL(plan.chunks_waiting(), 3u);
  CAF_CHECK_EQUAL(plan.next(), (bulk_plan::chunk{0, 1, 2, 3}));
  CAF_CHECK_EQUAL(plan.next(), (bulk_plan::chunk{4, 5, 6, 7}));
  CAF_CHECK_EQUAL(plan.next(), (bulk_plan::chunk{8, 9}));
  CAF_CHECK_EQUAL(plan.chunks_waiting(), 0u);
  CAF_CHECK(!plan.finished());
}

CAF_TEST(a chunk refused for one text is split in halves that go out first) {
  bulk_plan plan{10, 4};
  auto first = plan.next();
  plan.failed(first, embed_failure{embed_errc::invalid_input, "input 2 is empty", 0});
  CAF_CHECK_EQUAL(plan.answered(), 0u);
  CAF_CHECK_EQUAL(plan.chunks_waiting(), 4u); // two halves + two fresh chunks
  CAF_CHECK_EQUAL(plan.next(), (bulk_plan::chunk{0, 1}));
  auto half = plan.next();
  CAF_CHECK_EQUAL(half, (bulk_plan::chunk{2, 3}));
  plan.failed(half, embed_failure{embed_errc::invalid_input, "input 0 is empty", 0});
  CAF_CHECK_EQUAL(plan.next(), (bulk_plan::chunk{2}));
  CAF_CHECK_EQUAL(plan.next(), (bulk_plan::chunk{3}));
  CAF_CHECK_EQUAL(plan.next(), (bulk_plan::chunk{4, 5, 6, 7}));
}

CAF_TEST(a single refused text keeps the error and is named by its place in the call) {
  bulk_plan plan{3, 1};
  plan.next();
  auto c = plan.next();
  plan.failed(c, embed_failure{embed_errc::invalid_input, "input 0 is only whitespace",
                               0});
  CAF_CHECK_EQUAL(plan.answered(), 1u);
  plan.fail_waiting(embed_failure{embed_errc::shutting_down, "stopping", 0});
  CAF_CHECK_EQUAL(plan.answered(), 2u); // text 0 is in flight: not failed here
  CAF_CHECK(!plan.finished());
  embed_result r;
  r.embeddings = {vector_of(0)};
  plan.succeeded({0}, std::move(r));
  CAF_REQUIRE(plan.finished());
  auto x = plan.take();
  CAF_CHECK(x.texts[0].ok());
  CAF_CHECK_EQUAL(x.texts[1].failure.message, "input 1 is only whitespace");
  CAF_CHECK(x.texts[2].failure.code == embed_errc::shutting_down);
  CAF_CHECK_EQUAL(x.failures, 2u);
}

CAF_TEST(failures that are no single text fault fail the whole chunk unsplit) {
  for (auto f : {embed_failure{embed_errc::upstream_rejected, "bad key", 401},
                 embed_failure{embed_errc::upstream_unavailable, "503", 503},
                 embed_failure{embed_errc::deadline_exceeded, "late", 0},
                 embed_failure{embed_errc::shutting_down, "stop", 0}}) {
    bulk_plan plan{4, 4};
    plan.failed(plan.next(), f);
    CAF_CHECK(plan.finished());
    CAF_CHECK_EQUAL(plan.chunks_waiting(), 0u);
    auto x = plan.take();
    CAF_CHECK_EQUAL(x.failures, 4u);
    for (auto& t : x.texts)
      CAF_CHECK(t.failure == f);
  }
  CAF_CHECK(bulk_plan::is_one_texts_fault({embed_errc::upstream_rejected, "", 400}));
  CAF_CHECK(bulk_plan::is_one_texts_fault({embed_errc::upstream_rejected, "", 413}));
  CAF_CHECK(bulk_plan::is_one_texts_fault({embed_errc::upstream_rejected, "", 422}));
  CAF_CHECK(!bulk_plan::is_one_texts_fault({embed_errc::upstream_rejected, "", 404}));
  CAF_CHECK(!bulk_plan::is_one_texts_fault({embed_errc::bad_response, "", 200}));
}

CAF_TEST(a wrong vector count fails the chunk instead of misplacing vectors) {
  bulk_plan plan{2, 2};
  auto c = plan.next();
  embed_result r;
  r.embeddings = {vector_of(0)};
  plan.succeeded(c, std::move(r));
  CAF_REQUIRE(plan.finished());
  auto x = plan.take();
  CAF_CHECK_EQUAL(x.failures, 2u);
  CAF_CHECK(x.texts[1].failure.code == embed_errc::bad_response);
}

CAF_TEST(over many seeded runs exactly the bad texts fail and the rest are in place) {
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    std::mt19937_64 rng{seed};
    auto n = std::uniform_int_distribution<size_t>{1, 2000}(rng);
    auto chunk = std::uniform_int_distribution<uint32_t>{1, 128}(rng);
    auto bad_count
      = std::uniform_int_distribution<size_t>{0, std::min<size_t>(n, 12)}(rng);
    fake_dispatcher d;
    if (seed % 2 == 0)
      d.refusal = embed_failure{embed_errc::upstream_rejected, "poison", 400};
    while (d.bad.size() < bad_count)
      d.bad.insert(std::uniform_int_distribution<size_t>{0, n - 1}(rng));
    bulk_plan plan{n, chunk};
    d.run(plan, rng, std::uniform_int_distribution<size_t>{1, 16}(rng));
    auto x = plan.take();
    CAF_REQUIRE_EQUAL(x.texts.size(), n);
    CAF_CHECK_EQUAL(x.failures, d.bad.size());
    size_t good = 0;
    for (size_t i = 0; i < n; ++i) {
      bool right;
      if (d.bad.count(i) > 0) {
        right = x.texts[i].failure.code == d.refusal.code
                && (d.refusal.code != embed_errc::invalid_input
                    || x.texts[i].failure.message
                         == "input " + std::to_string(i) + " is empty");
      } else {
        right = x.texts[i].ok() && x.texts[i].embedding == vector_of(i);
        good += right ? 1 : 0;
      }
      if (!right)
        CAF_MESSAGE("seed " << seed << ", text " << i << ": wrong answer");
      CAF_CHECK(right);
    }
    CAF_CHECK_EQUAL(x.usage.prompt_tokens, good);
    // Each bad text costs at most two requests per halving of its chunk.
    auto chunks = (n + chunk - 1) / chunk;
    auto depth = static_cast<size_t>(std::ceil(std::log2(std::max<double>(chunk, 1))));
    CAF_CHECK(d.requests <= chunks + d.bad.size() * 2 * depth);
  }
}
