#define CAF_SUITE tools.mock.mock_server
#include <caf/test/unit_test.hpp>

#include <chrono>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "src/openai/embeddings_codec.hpp"
#include "tests/tools/mock/mock_test_client.hpp"
#include "tools/mock/mock_server.hpp"

using namespace embedrt::mock;
using json = nlohmann::json;
using mock_test::raw_conn;
using mock_test::read_outcome;

namespace {

struct fixture {
  mock_server server;
  uint16_t port = 0;

  explicit fixture(mock_options opts = small()) : server(std::move(opts)) {
    port = server.start();
  }

  static mock_options small() {
    mock_options opts;
    opts.dimension = 16;
    opts.threads = 2;
    return opts;
  }

  httplib::Client client() {
    httplib::Client cli{"127.0.0.1", port};
    cli.set_connection_timeout(2, 0);
    cli.set_read_timeout(5, 0);
    cli.set_keep_alive(true);
    // Without it, the body waits for a delayed ACK of the head: 40 ms per request.
    cli.set_tcp_nodelay(true);
    return cli;
  }
};

// By value: CAF_CHECK_EQUAL binds its operands to references, and a reference into
// a temporary document would dangle.
json field(const std::string& body, const char* pointer) {
  return json::parse(body).at(json::json_pointer{pointer});
}

std::vector<float> floats_of(const json& embedding) {
  std::vector<float> out;
  for (auto& x : embedding)
    out.push_back(static_cast<float>(x.get<double>()));
  return out;
}

} // namespace

CAF_TEST(port 0 picks a free port and base url names it) {
  fixture f;
  CAF_CHECK_NOT_EQUAL(f.port, 0u);
  CAF_CHECK_EQUAL(f.server.port(), f.port);
  CAF_CHECK_EQUAL(f.server.base_url(),
                  "http://127.0.0.1:" + std::to_string(f.port) + "/v1");
  // The same port again is taken.
  mock_options opts;
  opts.port = f.port;
  mock_server second{opts};
  bool threw = false;
  try {
    second.start();
  } catch (const std::system_error&) {
    threw = true;
  }
  CAF_CHECK(threw);
}

CAF_TEST(float responses decode to mock vectors with usage) {
  fixture f;
  auto cli = f.client();
  auto res = cli.Post("/v1/embeddings",
                      R"({"model":"m","input":["hello","big world"]})",
                      "application/json");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->status, 200);
  CAF_CHECK_EQUAL(res->get_header_value("Content-Type"), "application/json");
  auto doc = json::parse(res->body);
  CAF_CHECK_EQUAL(doc["object"], "list");
  CAF_CHECK_EQUAL(doc["model"], "m");
  CAF_REQUIRE_EQUAL(doc["data"].size(), 2u);
  CAF_CHECK_EQUAL(doc["data"][1]["index"], 1);
  CAF_CHECK(floats_of(doc["data"][0]["embedding"]) == mock_vector("hello", 16));
  CAF_CHECK(floats_of(doc["data"][1]["embedding"]) == mock_vector("big world", 16));
  CAF_CHECK_EQUAL(doc["usage"]["prompt_tokens"], 2 + 3);
  CAF_CHECK_EQUAL(doc["usage"]["total_tokens"], 5);
}

CAF_TEST(base64 responses and requested dimensions decode to mock vectors) {
  fixture f;
  auto cli = f.client();
  auto res = cli.Post(
    "/v1/embeddings",
    R"({"model":"m","input":"hello","encoding_format":"base64","dimensions":1536})",
    "application/json");
  CAF_REQUIRE(res);
  CAF_REQUIRE_EQUAL(res->status, 200);
  auto doc = json::parse(res->body);
  std::vector<float> v;
  CAF_REQUIRE(embedrt::openai::base64_decode_floats(
    doc["data"][0]["embedding"].get<std::string>(), v));
  CAF_CHECK(v == mock_vector("hello", 1536));
  // The short path without the prefix works too.
  res = cli.Post("/embeddings", R"({"model":"m","input":"x","dimensions":3})",
                 "application/json");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(json::parse(res->body)["data"][0]["embedding"].size(), 3u);
}

CAF_TEST(invalid requests get OpenAI 400 errors and other paths 404) {
  fixture f;
  auto cli = f.client();
  auto res = cli.Post("/v1/embeddings", R"({"model":"m","input":[]})",
                      "application/json");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->status, 400);
  auto err = json::parse(res->body)["error"];
  CAF_CHECK_EQUAL(err["type"], "invalid_request_error");
  CAF_CHECK(err["param"].is_null());
  CAF_CHECK(err["code"].is_null());
  CAF_CHECK(err["message"].is_string());
  res = cli.Post("/v1/embeddings", "{nope", "application/json");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->status, 400);
  res = cli.Get("/v1/models/x");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->status, 404);
  res = cli.Get("/v1/embeddings");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->status, 405);
  auto st = f.server.stats();
  CAF_CHECK_EQUAL(st.total.requests, 4u);
  CAF_CHECK_EQUAL(st.total.statuses[400], 2u);
  CAF_CHECK_EQUAL(st.total.statuses[404], 1u);
  CAF_CHECK_EQUAL(st.total.statuses[405], 1u);
}

CAF_TEST(a configured key is required and never echoed) {
  auto opts = fixture::small();
  opts.api_key = "sk-secret-123";
  fixture f{opts};
  auto cli = f.client();
  auto body = R"({"model":"m","input":"a"})";
  auto res = cli.Post("/v1/embeddings", body, "application/json");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->status, 401);
  res = cli.Post("/v1/embeddings", {{"Authorization", "Bearer sk-secret-12"}}, body,
                 "application/json");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->status, 401);
  auto err = json::parse(res->body)["error"];
  CAF_CHECK_EQUAL(err["code"], "invalid_api_key");
  CAF_CHECK_EQUAL(res->body.find("sk-secret"), std::string::npos);
  res = cli.Post("/v1/embeddings", {{"Authorization", "Bearer sk-secret-123"}}, body,
                 "application/json");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->status, 200);
}

CAF_TEST(a configured model refuses other models) {
  auto opts = fixture::small();
  opts.model = "text-embedding-3-small";
  fixture f{opts};
  auto cli = f.client();
  auto res = cli.Post("/v1/embeddings", R"({"model":"other","input":"a"})",
                      "application/json");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->status, 404);
  CAF_CHECK_EQUAL(field(res->body, "/error/code"), "model_not_found");
  res = cli.Post("/v1/embeddings", R"({"model":"text-embedding-3-small","input":"a"})",
                 "application/json");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->status, 200);
}

CAF_TEST(keep alive requests on one client count one connection) {
  fixture f;
  auto cli = f.client();
  for (int i = 0; i < 20; ++i) {
    auto res = cli.Post("/v1/embeddings", R"({"model":"m","input":"a"})",
                        "application/json");
    CAF_REQUIRE(res);
    CAF_CHECK_EQUAL(res->status, 200);
  }
  auto st = f.server.stats();
  CAF_CHECK_EQUAL(st.total.requests, 20u);
  CAF_CHECK_EQUAL(st.total.connections_accepted, 1u);
  CAF_CHECK_EQUAL(st.connections_open, 1u);
}

CAF_TEST(pipelined requests are answered in order) {
  fixture f;
  raw_conn c{f.port};
  CAF_REQUIRE(c.connected());
  auto one = mock_test::post_embeddings(R"({"model":"m","input":"first"})");
  auto two
    = mock_test::post_embeddings(R"({"model":"m","input":"second","dimensions":2})");
  CAF_REQUIRE(c.send_all(one + two));
  std::string buf;
  auto outcome = c.read_until(
    buf,
    [](const std::string& b) {
      auto r1 = mock_test::parse_response(b);
      return r1.complete && mock_test::parse_response(b, r1.size).complete;
    },
    3000);
  CAF_REQUIRE(outcome == read_outcome::done);
  auto r1 = mock_test::parse_response(buf);
  auto r2 = mock_test::parse_response(buf, r1.size);
  CAF_CHECK_EQUAL(json::parse(r1.body)["data"][0]["embedding"].size(), 16u);
  CAF_CHECK_EQUAL(json::parse(r2.body)["data"][0]["embedding"].size(), 2u);
}

CAF_TEST(expect 100 continue gets an interim response before the body) {
  fixture f;
  raw_conn c{f.port};
  CAF_REQUIRE(c.connected());
  std::string body = R"({"model":"m","input":"continued"})";
  CAF_REQUIRE(
    c.send_all("POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
               "Content-Length: "
               + std::to_string(body.size()) + "\r\n\r\n"));
  std::string buf;
  auto outcome = c.read_until(
    buf, [](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; },
    2000);
  CAF_REQUIRE(outcome == read_outcome::done);
  CAF_CHECK_EQUAL(buf, "HTTP/1.1 100 Continue\r\n\r\n");
  buf.clear();
  CAF_REQUIRE(c.send_all(body));
  CAF_REQUIRE(c.read_until(buf, mock_test::has_complete_response, 2000)
              == read_outcome::done);
  CAF_CHECK_EQUAL(mock_test::parse_response(buf).status, 200);
}

CAF_TEST(chunked bodies and garbage heads are refused and the connection closed) {
  fixture f;
  {
    raw_conn c{f.port};
    CAF_REQUIRE(
      c.send_all("POST /v1/embeddings HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"));
    std::string buf;
    auto outcome = c.read_until(
      buf, [](const std::string&) { return false; }, 2000);
    CAF_CHECK(outcome == read_outcome::eof);
    CAF_CHECK_EQUAL(mock_test::parse_response(buf).status, 501);
  }
  {
    raw_conn c{f.port};
    CAF_REQUIRE(c.send_all("HELLO\r\n\r\n"));
    std::string buf;
    auto outcome = c.read_until(
      buf, [](const std::string&) { return false; }, 2000);
    CAF_CHECK(outcome == read_outcome::eof);
    CAF_CHECK_EQUAL(mock_test::parse_response(buf).status, 400);
  }
}

CAF_TEST(connection close is honoured) {
  fixture f;
  raw_conn c{f.port};
  CAF_REQUIRE(c.send_all(mock_test::post_embeddings(R"({"model":"m","input":"a"})",
                                                    "Connection: close\r\n")));
  std::string buf;
  auto outcome = c.read_until(
    buf, [](const std::string&) { return false; }, 2000);
  CAF_CHECK(outcome == read_outcome::eof);
  auto r = mock_test::parse_response(buf);
  CAF_CHECK(r.complete);
  CAF_CHECK_EQUAL(r.headers["connection"], "close");
}

CAF_TEST(stats and the report count requests inputs statuses and the log) {
  fixture f;
  auto t0 = f.server.now_us();
  auto cli = f.client();
  CAF_REQUIRE(cli.Post("/v1/embeddings", R"({"model":"m","input":["a","b","c"]})",
                       "application/json"));
  CAF_REQUIRE(
    cli.Post("/v1/embeddings", R"({"model":"m","input":""})", "application/json"));
  auto t1 = f.server.now_us();
  auto st = f.server.stats();
  CAF_CHECK_EQUAL(st.total.requests, 2u);
  CAF_CHECK_EQUAL(st.total.inputs, 3u);
  CAF_REQUIRE_EQUAL(st.log.size(), 2u);
  CAF_CHECK_EQUAL(st.log[0].status, 200);
  CAF_CHECK_EQUAL(st.log[0].inputs, 3u);
  CAF_CHECK_EQUAL(st.log[1].status, 400);
  CAF_CHECK_LESS_OR_EQUAL(t0, st.log[0].t_us);
  CAF_CHECK_LESS_OR_EQUAL(st.log[0].t_us, st.log[1].t_us);
  CAF_CHECK_EQUAL(f.server.requests_between(t0, t1 + 1), 2u);
  CAF_CHECK_EQUAL(f.server.requests_between(t1 + 1, t1 + 1000000), 0u);
  auto doc = json::parse(f.server.report_json());
  CAF_CHECK_EQUAL(doc["total"]["requests"], 2);
  CAF_CHECK_EQUAL(doc["total"]["statuses"]["200"], 1);
  CAF_CHECK_EQUAL(doc["total"]["statuses"]["400"], 1);
  CAF_CHECK_EQUAL(doc["total"]["connections_accepted"], 1);
  CAF_CHECK_EQUAL(doc["phases"].size(), 1u);
  CAF_CHECK_EQUAL(doc["phases"][0]["name"], "default");
  CAF_CHECK_EQUAL(doc["phases"][0]["requests"], 2);
  CAF_CHECK_EQUAL(doc["log"].size(), 2u);
  CAF_CHECK_EQUAL(doc["log"][1]["fault"], "none");
  // The control endpoints serve the same report and are not counted.
  auto res = cli.Get("/mock/report");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(field(res->body, "/total/requests"), 2);
  res = cli.Get("/health");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->status, 200);
  auto after = f.server.stats(false);
  CAF_CHECK_EQUAL(after.total.requests, 2u);
}

CAF_TEST(track texts counts requests per distinct input text) {
  auto opts = fixture::small();
  opts.track_texts = true;
  fixture f{opts};
  auto cli = f.client();
  CAF_REQUIRE(cli.Post("/v1/embeddings", R"({"model":"m","input":["a","b","a"]})",
                       "application/json"));
  CAF_REQUIRE(
    cli.Post("/v1/embeddings", R"({"model":"m","input":["a"]})", "application/json"));
  // A faulted request still carried its texts; an invalid one carries none.
  std::string error;
  CAF_REQUIRE(f.server.load_script_json(
    R"([{"faults":[{"kind":"status","status":503}]}])", error));
  CAF_REQUIRE(
    cli.Post("/v1/embeddings", R"({"model":"m","input":["b"]})", "application/json"));
  CAF_REQUIRE(
    cli.Post("/v1/embeddings", R"({"model":"m","input":[]})", "application/json"));
  auto st = f.server.stats(false);
  CAF_CHECK_EQUAL(st.total.requests, 4u);
  CAF_REQUIRE_EQUAL(st.text_requests.size(), 2u);
  CAF_CHECK_EQUAL(st.text_requests["a"], 2u); // twice in one request counts once
  CAF_CHECK_EQUAL(st.text_requests["b"], 2u);
  auto doc = json::parse(f.server.report_json(false));
  CAF_CHECK_EQUAL(doc["texts"]["distinct"], 2);
  CAF_CHECK_EQUAL(doc["texts"]["max_requests"], 2);
}

CAF_TEST(texts are not tracked by default) {
  fixture f;
  auto cli = f.client();
  CAF_REQUIRE(
    cli.Post("/v1/embeddings", R"({"model":"m","input":["a"]})", "application/json"));
  CAF_CHECK(f.server.stats(false).text_requests.empty());
  CAF_CHECK(!json::parse(f.server.report_json(false)).contains("texts"));
}

CAF_TEST(the request log keeps the most recent entries) {
  auto opts = fixture::small();
  opts.log_capacity = 3;
  fixture f{opts};
  auto cli = f.client();
  for (int i = 1; i <= 5; ++i) {
    auto body = R"({"model":"m","input":[)" + std::string(i > 1 ? "\"a\"," : "")
                + std::string(i > 2 ? "\"a\"," : "")
                + std::string(i > 3 ? "\"a\"," : "")
                + std::string(i > 4 ? "\"a\"," : "") + "\"a\"]}";
    CAF_REQUIRE(cli.Post("/v1/embeddings", body, "application/json"));
  }
  auto st = f.server.stats();
  CAF_REQUIRE_EQUAL(st.log.size(), 3u);
  CAF_CHECK_EQUAL(st.log_dropped, 2u);
  CAF_CHECK_EQUAL(st.log[0].inputs, 3u);
  CAF_CHECK_EQUAL(st.log[2].inputs, 5u);
}

CAF_TEST(scripts can be set over http) {
  fixture f;
  auto cli = f.client();
  auto res = cli.Post("/mock/script",
                      R"([{"faults":[{"kind":"status","status":503}]}])",
                      "application/json");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->status, 200);
  res = cli.Post("/v1/embeddings", R"({"model":"m","input":"a"})", "application/json");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->status, 503);
  res = cli.Post("/mock/script", R"([{"faults":[{"kind":"nope"}]}])",
                 "application/json");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->status, 400);
  CAF_CHECK_NOT_EQUAL(res->body.find("phases[0].faults[0].kind"), std::string::npos);
}

CAF_TEST(many concurrent keep alive clients are all served) {
  fixture f;
  constexpr int clients = 32;
  constexpr int per_client = 20;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t)
    threads.emplace_back([&f, &ok, t] {
      auto cli = f.client();
      for (int i = 0; i < per_client; ++i) {
        auto body = R"({"model":"m","input":"c)" + std::to_string(t) + "_"
                    + std::to_string(i) + R"("})";
        auto res = cli.Post("/v1/embeddings", body, "application/json");
        if (res && res->status == 200)
          ++ok;
      }
    });
  for (auto& t : threads)
    t.join();
  CAF_CHECK_EQUAL(ok.load(), clients * per_client);
  auto st = f.server.stats(false);
  CAF_CHECK_EQUAL(st.total.connections_accepted, uint64_t{clients});
  CAF_CHECK_EQUAL(st.total.requests, uint64_t{clients * per_client});
}

CAF_TEST(stop is prompt with a hanging client and closes its connection) {
  auto server = std::make_unique<mock_server>(fixture::small());
  auto port = server->start();
  std::string error;
  CAF_REQUIRE(server->load_script_json(R"([{"faults":[{"kind":"hang"}]}])", error));
  raw_conn c{port};
  CAF_REQUIRE(c.send_all(mock_test::post_embeddings(R"({"model":"m","input":"a"})")));
  CAF_REQUIRE(mock_test::eventually(
    [&] { return server->stats(false).total.faults["hang"] == 1; }));
  // An idle connection and a half-sent request, too.
  raw_conn idle{port};
  raw_conn half{port};
  CAF_REQUIRE(half.send_all("POST /v1/embeddings HTTP/1.1\r\nContent-Len"));
  auto before = std::chrono::steady_clock::now();
  server->stop();
  auto took = std::chrono::steady_clock::now() - before;
  CAF_CHECK_LESS(took, std::chrono::milliseconds(500));
  std::string buf;
  CAF_CHECK(c.read_until(
              buf, [](const std::string&) { return false; }, 2000)
            == read_outcome::eof);
  CAF_CHECK(buf.empty());
  // Stopped means stopped: nobody listens any more.
  raw_conn late{port};
  CAF_CHECK(!late.connected());
  server.reset();
}
