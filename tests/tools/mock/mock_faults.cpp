#define CAF_SUITE tools.mock.mock_faults
#include <caf/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "src/openai/embeddings_codec.hpp"
#include "tests/tools/mock/mock_test_client.hpp"
#include "tools/mock/mock_server.hpp"

using namespace embedrt::mock;
using json = nlohmann::json;
using mock_test::raw_conn;
using mock_test::read_outcome;
using namespace std::chrono_literals;

namespace {

struct exchange_result {
  read_outcome outcome = read_outcome::error;
  std::string raw;
  mock_test::response res;
  std::chrono::milliseconds took{0};
};

std::vector<float> floats_of(const json& embedding) {
  std::vector<float> out;
  for (auto& x : embedding)
    out.push_back(static_cast<float>(x.get<double>()));
  return out;
}

struct fixture {
  mock_server server;
  uint16_t port = 0;

  fixture() : server(options()) { port = server.start(); }

  static mock_options options() {
    mock_options opts;
    opts.dimension = 16;
    opts.threads = 2;
    opts.seed = 11;
    return opts;
  }

  void load(const std::string& script) {
    std::string error;
    if (!server.load_script_json(script, error))
      CAF_FAIL("bad script: " << error);
  }

  /// Sends one request on `c` and reads one complete response (or until the timeout).
  exchange_result exchange(raw_conn& c, const std::string& body,
                           int timeout_ms = 2000) {
    exchange_result r;
    auto start = std::chrono::steady_clock::now();
    if (!c.send_all(mock_test::post_embeddings(body)))
      return r;
    r.outcome = c.read_until(r.raw, mock_test::has_complete_response, timeout_ms);
    r.took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
    r.res = mock_test::parse_response(r.raw);
    return r;
  }

  /// One request on a fresh connection.
  exchange_result post(const std::string& body, int timeout_ms = 2000) {
    raw_conn c{port};
    if (!c.connected()) {
      exchange_result r;
      r.outcome = read_outcome::error;
      return r;
    }
    return exchange(c, body, timeout_ms);
  }

  // Values, not references into a temporary snapshot: CAF_CHECK_EQUAL binds its
  // operands to references.
  uint64_t fault_count(const char* kind) {
    return server.stats(false).total.faults[kind];
  }

  uint64_t open_connections() { return server.stats(false).connections_open; }

  int status_of(const std::string& body) { return post(body).res.status; }
};

const std::string one = R"({"model":"m","input":"a"})";

} // namespace

CAF_TEST_FIXTURE_SCOPE(mock_fault_tests, fixture)

CAF_TEST(status faults send OpenAI errors with retry and rate limit headers) {
  load(
    R"([{"faults":[{"kind":"status","status":429,"retry_after":2,"retry_after_ms":1500,
            "ratelimit":{"remaining_requests":0,"reset_requests":"1s",
                         "remaining_tokens":10,"reset_tokens":"6m0s"}}]}])");
  auto r = post(one);
  CAF_REQUIRE(r.outcome == read_outcome::done);
  CAF_CHECK_EQUAL(r.res.status, 429);
  CAF_CHECK_EQUAL(r.res.headers["retry-after"], "2");
  CAF_CHECK_EQUAL(r.res.headers["retry-after-ms"], "1500");
  CAF_CHECK_EQUAL(r.res.headers["x-ratelimit-remaining-requests"], "0");
  CAF_CHECK_EQUAL(r.res.headers["x-ratelimit-reset-requests"], "1s");
  CAF_CHECK_EQUAL(r.res.headers["x-ratelimit-remaining-tokens"], "10");
  CAF_CHECK_EQUAL(r.res.headers["x-ratelimit-reset-tokens"], "6m0s");
  auto err = json::parse(r.res.body)["error"];
  CAF_CHECK_EQUAL(err["code"], "rate_limit_exceeded");
  CAF_CHECK(err["param"].is_null());
  load(R"([{"faults":[{"kind":"status","status":503,
            "retry_after":"Wed, 21 Oct 2015 07:28:00 GMT"}]}])");
  r = post(one);
  CAF_CHECK_EQUAL(r.res.status, 503);
  CAF_CHECK_EQUAL(r.res.headers["retry-after"], "Wed, 21 Oct 2015 07:28:00 GMT");
  auto doc = json::parse(r.res.body);
  CAF_CHECK_EQUAL(doc["error"]["type"], "server_error");
  load(R"([{"faults":[{"kind":"status","status":500,"body":"oops"}]}])");
  r = post(one);
  CAF_CHECK_EQUAL(r.res.status, 500);
  CAF_CHECK_EQUAL(r.res.body, "oops");
}

CAF_TEST(ratelimit headers ride on successful responses and combine with faults) {
  load(R"([{"faults":[
            {"kind":"ratelimit_headers","ratelimit":{"remaining_requests":1,"limit_requests":3000}},
            {"kind":"status","status":500,"rate":0.5}]}])");
  auto ok = post(one);
  CAF_CHECK_EQUAL(ok.res.status, 200);
  CAF_CHECK_EQUAL(ok.res.headers["x-ratelimit-remaining-requests"], "1");
  CAF_CHECK_EQUAL(ok.res.headers["x-ratelimit-limit-requests"], "3000");
  auto failed = post(one);
  CAF_CHECK_EQUAL(failed.res.status, 500);
  CAF_CHECK_EQUAL(failed.res.headers["x-ratelimit-remaining-requests"], "1");
  auto st = server.stats();
  CAF_CHECK_EQUAL(st.total.faults["ratelimit_headers"], 2u);
  CAF_CHECK_EQUAL(st.total.faults["status"], 1u);
}

CAF_TEST(an even rate of one half takes every second request) {
  load(R"([{"faults":[{"kind":"status","status":500,"rate":0.5}]}])");
  std::vector<int> got;
  for (int i = 0; i < 6; ++i)
    got.push_back(status_of(one));
  CAF_CHECK_EQUAL(got, (std::vector<int>{200, 500, 200, 500, 200, 500}));
}

CAF_TEST(later faults see only the requests earlier ones left) {
  load(R"([{"faults":[{"kind":"status","status":500,"rate":0.5},
                      {"kind":"status","status":503,"rate":0.5}]}])");
  std::vector<int> got;
  for (int i = 0; i < 8; ++i)
    got.push_back(status_of(one));
  CAF_CHECK_EQUAL(got, (std::vector<int>{200, 500, 503, 500, 200, 500, 503, 500}));
}

CAF_TEST(match limits a fault to requests with a matching input) {
  load(R"([{"faults":[{"kind":"status","status":500,"match":"poison*pill"}]}])");
  CAF_CHECK_EQUAL(status_of(R"({"model":"m","input":["fine","also fine"]})"), 200);
  CAF_CHECK_EQUAL(status_of(R"({"model":"m","input":["fine","poison, a pill"]})"), 500);
  CAF_CHECK_EQUAL(status_of(R"({"model":"m","input":"pill poison"})"), 200);
}

CAF_TEST(faults leave invalid requests alone) {
  load(R"([{"faults":[{"kind":"hang"}]}])");
  auto r = post(R"({"model":"m","input":[]})");
  CAF_CHECK(r.outcome == read_outcome::done);
  CAF_CHECK_EQUAL(r.res.status, 400);
}

CAF_TEST(phases end after a number of requests) {
  load(R"({"phases":[
            {"name":"a","requests":2,"faults":[{"kind":"status","status":500}]},
            {"name":"b","requests":1,"faults":[{"kind":"status","status":503}]},
            {"name":"c"}]})");
  std::vector<int> got;
  for (int i = 0; i < 5; ++i)
    got.push_back(status_of(one));
  CAF_CHECK_EQUAL(got, (std::vector<int>{500, 500, 503, 200, 200}));
  auto st = server.stats();
  CAF_CHECK_EQUAL(st.current_phase, 2u);
  CAF_REQUIRE_EQUAL(st.phases.size(), 3u);
  CAF_CHECK_EQUAL(st.phases[0].name, "a");
  CAF_CHECK_EQUAL(st.phases[0].counters.requests, 2u);
  CAF_CHECK_EQUAL(st.phases[0].counters.statuses[500], 2u);
  CAF_CHECK_EQUAL(st.phases[1].counters.requests, 1u);
  CAF_CHECK_EQUAL(st.phases[2].counters.requests, 2u);
  // A connection counts in the phase current when it was accepted: one connection per
  // request here, and a request-count limit ends a phase only when the next request
  // arrives, so connection k belongs to the phase of request k-1.
  CAF_CHECK_EQUAL(st.phases[0].counters.connections_accepted, 3u);
  CAF_CHECK_EQUAL(st.phases[1].counters.connections_accepted, 1u);
  CAF_CHECK_EQUAL(st.phases[2].counters.connections_accepted, 1u);
  CAF_CHECK_EQUAL(st.phases[2].ended_at_us, -1);
  CAF_CHECK_EQUAL(st.phases[0].ended_at_us, st.phases[1].started_at_us);
  CAF_REQUIRE_EQUAL(st.log.size(), 5u);
  CAF_CHECK_EQUAL(st.log[2].phase, 1u);
  CAF_CHECK(st.log[2].fault == fault_kind::status);
}

CAF_TEST(phases end after their duration and chain exactly) {
  auto t0 = server.now_us();
  load(R"([{"duration_ms":150,"faults":[{"kind":"status","status":503}]},{}])");
  CAF_CHECK_EQUAL(status_of(one), 503);
  CAF_REQUIRE(mock_test::eventually([&] { return server.current_phase() == 1; }));
  CAF_CHECK_EQUAL(status_of(one), 200);
  auto st = server.stats();
  auto start = st.phases[0].started_at_us;
  CAF_CHECK_GREATER_OR_EQUAL(start, t0);
  CAF_CHECK_EQUAL(st.phases[1].started_at_us, start + 150000);
  CAF_CHECK_EQUAL(st.phases[0].ended_at_us, start + 150000);
}

CAF_TEST(latency delays responses within the jitter) {
  load(R"([{"latency_ms":120,"latency_jitter_ms":20}])");
  raw_conn c{port};
  for (int i = 0; i < 3; ++i) {
    auto r = exchange(c, one);
    CAF_CHECK(r.outcome == read_outcome::done);
    CAF_CHECK_GREATER_OR_EQUAL(r.took, 99ms);
    CAF_CHECK_LESS(r.took, 1000ms);
  }
}

CAF_TEST(hang holds the request until the phase ends) {
  load(R"([{"duration_ms":300,"faults":[{"kind":"hang"}]},{}])");
  raw_conn c{port};
  auto r = exchange(c, one, 150);
  CAF_CHECK(r.outcome == read_outcome::timeout);
  CAF_CHECK(r.raw.empty());
  auto st = server.stats();
  CAF_CHECK_EQUAL(st.total.faults["hang"], 1u);
  CAF_CHECK_EQUAL(st.total.statuses[0], 1u);
  // Released (closed) when the phase ends, never answered.
  std::string rest;
  CAF_CHECK(c.read_until(
              rest, [](const std::string&) { return false; }, 2000)
            == read_outcome::eof);
  CAF_CHECK(rest.empty());
  CAF_CHECK_EQUAL(status_of(one), 200);
}

CAF_TEST(hang releases on client disconnect and after hold time) {
  load(R"([{"faults":[{"kind":"hang","match":"forever"},
                      {"kind":"hang","hold_ms":100}]}])");
  {
    raw_conn c{port};
    CAF_CHECK(exchange(c, R"({"model":"m","input":"forever"})", 100).outcome
              == read_outcome::timeout);
    CAF_CHECK_EQUAL(open_connections(), 1u);
  }
  CAF_CHECK(mock_test::eventually([&] { return open_connections() == 0; }));
  raw_conn c{port};
  auto start = std::chrono::steady_clock::now();
  auto r = exchange(c, one, 2000);
  CAF_CHECK(r.outcome == read_outcome::eof);
  CAF_CHECK_GREATER_OR_EQUAL(std::chrono::steady_clock::now() - start, 90ms);
}

CAF_TEST(a new script releases hung requests) {
  load(R"([{"faults":[{"kind":"hang"}]}])");
  raw_conn c{port};
  CAF_CHECK(exchange(c, one, 100).outcome == read_outcome::timeout);
  load("[]");
  std::string rest;
  CAF_CHECK(c.read_until(
              rest, [](const std::string&) { return false; }, 2000)
            == read_outcome::eof);
}

CAF_TEST(stall body sends headers and part of the body then stalls) {
  load(R"([{"duration_ms":300,"faults":[{"kind":"stall_body","fraction":0.25}]},{}])");
  raw_conn c{port};
  auto r = exchange(c, one, 150);
  CAF_CHECK(r.outcome == read_outcome::timeout);
  CAF_REQUIRE(r.res.head_complete);
  CAF_CHECK_EQUAL(r.res.status, 200);
  CAF_CHECK(!r.res.complete);
  CAF_CHECK_GREATER(r.res.body.size(), 0u);
  CAF_CHECK_LESS(r.res.body.size(), r.res.content_length / 2);
  std::string rest;
  CAF_CHECK(c.read_until(
              rest, [](const std::string&) { return false; }, 2000)
            == read_outcome::eof);
  CAF_CHECK(rest.empty());
}

CAF_TEST(reset mid body sends part of the body then resets) {
  load(R"([{"faults":[{"kind":"reset_mid_body","delay_ms":20}]}])");
  raw_conn c{port};
  auto r = exchange(c, one, 2000);
  CAF_CHECK_EQUAL(to_string(r.outcome), std::string{"reset"});
  CAF_REQUIRE(r.res.head_complete);
  CAF_CHECK_EQUAL(r.res.status, 200);
  CAF_CHECK(!r.res.complete);
  CAF_CHECK_GREATER(r.res.body.size(), 0u);
  CAF_CHECK_EQUAL(fault_count("reset_mid_body"), 1u);
}

CAF_TEST(refuse connections closes the listener and reopens on the same port) {
  raw_conn before{port};
  CAF_REQUIRE(exchange(before, one).res.status == 200);
  load(R"([{"duration_ms":300,"faults":[{"kind":"refuse_connections"}]},{}])");
  // Open connections are dropped at the start of the phase.
  std::string rest;
  auto outcome = before.read_until(
    rest, [](const std::string&) { return false; }, 2000);
  CAF_CHECK(outcome == read_outcome::eof || outcome == read_outcome::reset);
  CAF_CHECK(mock_test::eventually([&] {
    raw_conn c{port};
    return !c.connected() && c.connect_errno() == ECONNREFUSED;
  }));
  CAF_CHECK(mock_test::eventually(
    [&] {
      raw_conn c{port};
      return c.connected();
    },
    3000));
  CAF_CHECK_EQUAL(server.current_phase(), 1u);
  CAF_CHECK_EQUAL(status_of(one), 200);
  CAF_CHECK_EQUAL(server.port(), port);
}

CAF_TEST(refuse connections below rate one resets a share of new connections) {
  load(R"([{"faults":[{"kind":"refuse_connections","rate":0.5}]}])");
  std::vector<bool> served;
  for (int i = 0; i < 4; ++i) {
    auto r = post(one);
    served.push_back(r.outcome == read_outcome::done && r.res.status == 200);
  }
  CAF_CHECK_EQUAL(served, (std::vector<bool>{true, false, true, false}));
  CAF_CHECK_EQUAL(fault_count("refuse_connections"), 2u);
}

CAF_TEST(malformed json is a 200 that does not parse) {
  load(R"([{"faults":[{"kind":"malformed_json","match":"half"},
                      {"kind":"malformed_json","body":"{\"object\":"}]}])");
  auto r = post(R"({"model":"m","input":"half"})");
  CAF_CHECK_EQUAL(r.res.status, 200);
  CAF_CHECK(json::parse(r.res.body, nullptr, false).is_discarded());
  r = post(one);
  CAF_CHECK_EQUAL(r.res.body, "{\"object\":");
}

CAF_TEST(wrong dimension sends vectors of another length) {
  load(R"([{"faults":[{"kind":"wrong_dimension","match":"five","dimension":5},
                      {"kind":"wrong_dimension"}]}])");
  auto r = post(one);
  CAF_CHECK_EQUAL(json::parse(r.res.body)["data"][0]["embedding"].size(), 8u);
  r = post(R"({"model":"m","input":"five","dimensions":64})");
  CAF_CHECK_EQUAL(json::parse(r.res.body)["data"][0]["embedding"].size(), 5u);
}

CAF_TEST(nan poisons the first vector in both encodings) {
  load(
    R"([{"faults":[{"kind":"nan","match":"huge","token":"1e999"},{"kind":"nan"}]}])");
  auto r = post(one);
  CAF_CHECK_NOT_EQUAL(r.res.body.find(R"("embedding":[NaN,)"), std::string::npos);
  r = post(R"({"model":"m","input":"huge"})");
  CAF_CHECK_NOT_EQUAL(r.res.body.find(R"("embedding":[1e999,)"), std::string::npos);
  r = post(R"({"model":"m","input":"a","encoding_format":"base64"})");
  auto doc = json::parse(r.res.body);
  std::vector<float> v;
  CAF_REQUIRE(embedrt::openai::base64_decode_floats(
    doc["data"][0]["embedding"].get<std::string>(), v));
  CAF_CHECK(std::isnan(v[0]));
}

CAF_TEST(shuffle index keeps a valid permutation) {
  load(R"([{"faults":[{"kind":"shuffle_index"}]}])");
  std::vector<std::string> inputs = {"a", "b", "c", "d", "e", "f"};
  auto r = post(json{{"model", "m"}, {"input", inputs}}.dump());
  CAF_REQUIRE_EQUAL(r.res.status, 200);
  auto doc = json::parse(r.res.body);
  CAF_REQUIRE_EQUAL(doc["data"].size(), inputs.size());
  std::vector<size_t> order;
  for (auto& item : doc["data"]) {
    auto i = item["index"].get<size_t>();
    order.push_back(i);
    CAF_CHECK(floats_of(item["embedding"]) == mock_vector(inputs.at(i), 16));
  }
  CAF_CHECK(!std::is_sorted(order.begin(), order.end()));
  CAF_CHECK_EQUAL(std::set<size_t>(order.begin(), order.end()).size(), inputs.size());
}

CAF_TEST(fewer vectors leaves one out) {
  load(R"([{"faults":[{"kind":"fewer_vectors"}]}])");
  auto r = post(R"({"model":"m","input":["a","b","c"]})");
  auto doc = json::parse(r.res.body);
  CAF_CHECK_EQUAL(doc["data"].size(), 2u);
}

CAF_TEST(wrong type swaps float arrays and base64) {
  load(R"([{"faults":[{"kind":"wrong_type"}]}])");
  auto r = post(one);
  CAF_CHECK(json::parse(r.res.body)["data"][0]["embedding"].is_string());
  r = post(R"({"model":"m","input":"a","encoding_format":"base64"})");
  CAF_CHECK(json::parse(r.res.body)["data"][0]["embedding"].is_array());
}

CAF_TEST(close connection answers then closes without warning) {
  load(R"([{"faults":[{"kind":"close_connection"}]}])");
  raw_conn c{port};
  auto r = exchange(c, one);
  CAF_CHECK(r.res.complete);
  CAF_CHECK_EQUAL(r.res.headers["connection"], "keep-alive");
  std::string rest;
  CAF_CHECK(c.read_until(
              rest, [](const std::string&) { return false; }, 2000)
            == read_outcome::eof);
}

CAF_TEST(requests between counts arrivals in a time window) {
  load(R"([{"requests":2,"faults":[{"kind":"status","status":500}]},{}])");
  auto t0 = server.now_us();
  status_of(one);
  status_of(one);
  auto t1 = server.now_us();
  status_of(one);
  auto t2 = server.now_us();
  CAF_CHECK_EQUAL(server.requests_between(t0, t1), 2u);
  CAF_CHECK_EQUAL(server.requests_between(t1, t2), 1u);
  auto doc = json::parse(server.report_json());
  CAF_CHECK_EQUAL(doc["phases"][0]["statuses"]["500"], 2);
  CAF_CHECK_EQUAL(doc["phases"][1]["statuses"]["200"], 1);
  CAF_CHECK_EQUAL(doc["log"][0]["fault"], "status");
  CAF_CHECK_EQUAL(doc["log"][0]["status"], 500);
}

CAF_TEST_FIXTURE_SCOPE_END()
