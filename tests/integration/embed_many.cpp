#define CAF_SUITE integration.embed_many
#include <embedrt/runtime.hpp>

#include <caf/test/unit_test.hpp>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/mock_runtime.hpp"
#include "tools/mock/mock_embeddings.hpp"
#include "tools/mock/mock_server.hpp"

// embed_many answers each text on its own: a bad text costs only itself, whatever
// request it travelled in, and every text has an answer, also across stop().

using namespace embedrt;
using namespace std::chrono_literals;

namespace {

constexpr auto max_wait = 60s;
constexpr uint32_t dimension = 8;

struct fixture {
  mock::mock_server server;

  fixture() : server(options()) { server.start(); }

  static mock::mock_options options() {
    mock::mock_options opts;
    opts.dimension = dimension;
    return opts;
  }

  void script(const std::string& json) {
    std::string error;
    if (!server.load_script_json(json, error))
      CAF_FAIL("bad script: " << error);
  }

  runtime_config config() const { return test::config_for(server); }

  std::unique_ptr<runtime> start(const runtime_config& cfg) { return test::start(cfg); }

  static embed_many_outcome wait(std::future<embed_many_outcome>& f) {
    CAF_REQUIRE(f.wait_for(max_wait) == std::future_status::ready);
    return f.get();
  }
};

std::vector<std::string> numbered(size_t n) {
  std::vector<std::string> texts;
  for (size_t i = 0; i < n; ++i)
    texts.push_back("text " + std::to_string(i));
  return texts;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(embed_many_tests, fixture)

CAF_TEST(among 1000 texts exactly the empty and blank ones fail invalid_input) {
  auto rt = start(config());
  auto texts = numbered(1000);
  // Spread over chunks of 64: first and last of a chunk, one chunk with two.
  const std::set<size_t> bad{0, 63, 64, 200, 201, 517, 999};
  for (auto i : bad)
    texts[i] = i % 2 == 0 ? "" : " \t\n ";
  auto f = rt->embed_many(texts, {}, 64);
  auto x = wait(f);
  CAF_REQUIRE_EQUAL(x.texts.size(), texts.size());
  CAF_CHECK_EQUAL(x.failures, bad.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto& t = x.texts[i];
    if (bad.count(i) > 0) {
      CAF_CHECK(t.failure.code == embed_errc::invalid_input);
      CAF_CHECK(t.embedding.empty());
      auto what = texts[i].empty() ? " is empty" : " is only whitespace";
      CAF_CHECK_EQUAL(t.failure.message, "input " + std::to_string(i) + what);
    } else {
      CAF_CHECK(t.ok());
      // The vector of this text, in its place.
      CAF_CHECK(t.embedding == mock::mock_vector(texts[i], dimension));
    }
  }
  CAF_CHECK(x.usage.prompt_tokens > 0u);
  CAF_CHECK_EQUAL(x.model, "text-embedding-3-small");
  auto c = rt->counters();
  // Refused at admission, before the network: only good texts went upstream.
  CAF_CHECK_EQUAL(c.requests_shed_overloaded, 0u);
  CAF_CHECK(c.requests_failed_invalid_input >= bad.size());
}

CAF_TEST(an upstream 400 for one poisoned text fails only that text) {
  script(R"([{"faults":[{"kind":"status","status":400,"match":"poison",
                         "message":"this input is refused"}]}])");
  auto rt = start(config());
  auto texts = numbered(300);
  texts[77] = "a poison pill";
  texts[250] = "more poison";
  auto f = rt->embed_many(texts, {}, 32);
  auto x = wait(f);
  CAF_REQUIRE_EQUAL(x.texts.size(), texts.size());
  CAF_CHECK_EQUAL(x.failures, 2u);
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto& t = x.texts[i];
    if (i == 77 || i == 250) {
      CAF_CHECK(t.failure.code == embed_errc::upstream_rejected);
      CAF_CHECK_EQUAL(t.failure.upstream_status, 400);
      CAF_CHECK(t.failure.message.find("this input is refused") != std::string::npos);
    } else {
      CAF_CHECK(t.ok());
      CAF_CHECK(t.embedding == mock::mock_vector(texts[i], dimension));
    }
  }
}

CAF_TEST(a refusal of every request fails each chunk whole without splitting) {
  // 401 for everything (a wrong key): splitting would only multiply the requests.
  script(R"([{"faults":[{"kind":"status","status":401}]}])");
  auto rt = start(config());
  auto f = rt->embed_many(numbered(64), {}, 16);
  auto x = wait(f);
  CAF_REQUIRE_EQUAL(x.texts.size(), 64u);
  CAF_CHECK_EQUAL(x.failures, 64u);
  for (auto& t : x.texts)
    CAF_CHECK(t.failure.code == embed_errc::upstream_rejected);
  auto c = rt->counters();
  CAF_CHECK_EQUAL(c.requests_admitted, 4u); // one per chunk of 16
}

CAF_TEST(across stop every text gets an answer) {
  script(R"([{"latency_ms":100}])");
  auto cfg = config();
  cfg.http_pool.max_connections = 2;
  cfg.batching.enabled = false;
  cfg.limits.bulk_capacity = 4;
  auto rt = start(cfg);
  auto texts = numbered(400);
  auto f = rt->embed_many(texts, {}, 4);
  // Stop once the first requests are answered, while most of the work still waits
  // for credit (a condition, not a timer; bounded).
  auto give_up = std::chrono::steady_clock::now() + max_wait;
  while (rt->counters().requests_succeeded < 2
         && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(5ms); // polling a real runtime
  rt->stop(200ms);
  auto x = wait(f);
  CAF_REQUIRE_EQUAL(x.texts.size(), texts.size());
  size_t ok = 0;
  size_t stopped = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto& t = x.texts[i];
    if (t.ok()) {
      ++ok;
      CAF_CHECK(t.embedding == mock::mock_vector(texts[i], dimension));
    } else {
      CAF_CHECK(t.failure.code == embed_errc::shutting_down);
      stopped += t.failure.code == embed_errc::shutting_down ? 1 : 0;
    }
  }
  CAF_MESSAGE(ok << " texts embedded, " << stopped << " answered shutting_down");
  CAF_CHECK_EQUAL(ok + stopped, texts.size());
  CAF_CHECK_EQUAL(x.failures, stopped);
  CAF_CHECK(ok >= 4u);        // the first requests were under way before the stop
  CAF_CHECK(stopped >= 200u); // 2 connections x 100 ms cannot serve 100 requests
  // After stop: every text answered at once.
  auto late = rt->embed_many({"a", "", "c"});
  auto y = wait(late);
  CAF_REQUIRE_EQUAL(y.texts.size(), 3u);
  CAF_CHECK_EQUAL(y.failures, 3u);
  for (auto& t : y.texts)
    CAF_CHECK(t.failure.code == embed_errc::shutting_down);
}

CAF_TEST(no texts is an empty outcome) {
  auto rt = start(config());
  auto f = rt->embed_many({});
  auto x = wait(f);
  CAF_CHECK(x.texts.empty());
  CAF_CHECK(x.all_ok());
}

CAF_TEST_FIXTURE_SCOPE_END()
