#define CAF_SUITE integration.curl_transport
#include <caf/test/unit_test.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "src/http/curl_transport.hpp"
#include "tests/support/loopback_server.hpp"

using namespace embedrt::http;
using namespace std::chrono_literals;
using embedrt::test::closed_loopback_port;
using embedrt::test::loopback_http_server;
using embedrt::test::open_fd_count;
using embedrt::test::raw_connection;
using embedrt::test::raw_loopback_server;

namespace embedrt::http {
// Defined in src/http/curl_transport.cpp (test hook).
void break_curl_transport_for_test(transport& t);
} // namespace embedrt::http

namespace {

using clock_type = std::chrono::steady_clock;

constexpr auto wait_limit = 10s;

const char* ok_body = R"({"object":"list","data":[]})";

/// Collects completions from the curl thread; the test thread waits on it.
class collector {
public:
  completion_sink sink() {
    return [this](std::vector<transfer_result>&& batch) {
      std::lock_guard<std::mutex> guard{mtx_};
      for (auto& r : batch)
        results_.push_back(std::move(r));
      ++batches_;
      cv_.notify_all();
    };
  }

  /// Waits until `n` results arrived; false on timeout.
  bool wait_for(size_t n, std::chrono::milliseconds timeout = wait_limit) {
    std::unique_lock<std::mutex> guard{mtx_};
    return cv_.wait_for(guard, timeout, [&] { return results_.size() >= n; });
  }

  size_t count() {
    std::lock_guard<std::mutex> guard{mtx_};
    return results_.size();
  }

  /// The results so far. Not a copy: a copied string loses the body padding. The
  /// reference is valid until the next completion arrives.
  const std::vector<transfer_result>& results() {
    std::lock_guard<std::mutex> guard{mtx_};
    return results_;
  }

  const transfer_result& first() {
    std::lock_guard<std::mutex> guard{mtx_};
    return results_.at(0);
  }

  /// Moves result `i`'s body out (to hand it back as a spare body).
  std::string take_body(size_t i) {
    std::lock_guard<std::mutex> guard{mtx_};
    return std::move(results_.at(i).body);
  }

  /// Sink calls so far (each carries one loop turn's completions).
  size_t batches() {
    std::lock_guard<std::mutex> guard{mtx_};
    return batches_;
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<transfer_result> results_;
  size_t batches_ = 0;
};

transport_settings settings_for(std::string url, uint32_t max_connections = 8) {
  transport_settings s;
  s.url = std::move(url);
  s.max_connections = max_connections;
  s.connect_timeout = 2s;
  s.counters = std::make_shared<transport_counters>();
  return s;
}

transfer_request request(uint64_t id, std::string body = R"({"input":"x"})",
                         std::chrono::milliseconds timeout = 5s) {
  transfer_request req;
  req.id = id;
  req.body = std::move(body);
  req.timeout = timeout;
  return req;
}

/// Keeps up to the transport's capacity in flight until `n` transfers finished, the
/// way a worker does: submit until refused, then wait for a completion. Returns the
/// elapsed time; fails the test (and returns early) on a stall.
clock_type::duration pump(transport& t, collector& c, size_t n) {
  auto start = clock_type::now();
  size_t submitted = 0;
  while (c.count() < n) {
    // Read the count before submitting: a transfer submitted afterwards, or one
    // that refused room, has not been counted yet, so one more is sure to come.
    auto done = c.count();
    while (submitted < n && t.submit(request(submitted)))
      ++submitted;
    if (submitted > done && !c.wait_for(done + 1)) {
      CAF_FAIL("no progress after " << done << " completions");
      break;
    }
  }
  return clock_type::now() - start;
}

void serve_ok(loopback_http_server& server) {
  server.server().Post("/v1/embeddings",
                       [](const httplib::Request&, httplib::Response& res) {
                         res.set_content(ok_body, "application/json");
                       });
}

std::string http_response(std::string_view status_line, std::string_view headers,
                          std::string_view body) {
  std::string out{status_line};
  out += "\r\nContent-Type: application/json\r\nContent-Length: ";
  out += std::to_string(body.size());
  out += "\r\n";
  out += headers;
  out += "\r\n";
  out += body;
  return out;
}

} // namespace

// -- responses --------------------------------------------------------------------

CAF_TEST(a 200 response delivers its body and parsed rate limit headers) {
  loopback_http_server server;
  std::mutex mtx;
  httplib::Headers seen_headers;
  std::string seen_body;
  server.server().Post("/v1/embeddings",
                       [&](const httplib::Request& req, httplib::Response& res) {
                         {
                           std::lock_guard<std::mutex> guard{mtx};
                           seen_headers = req.headers;
                           seen_body = req.body;
                         }
                         res.set_header("Retry-After-Ms", "1500");
                         res.set_header("Retry-After", "20");
                         res.set_header("x-ratelimit-remaining-requests", "59");
                         res.set_header("X-RateLimit-Remaining-Tokens", "149984");
                         res.set_header("x-ratelimit-reset-requests", "1s");
                         res.set_header("x-ratelimit-reset-tokens", "6m0s");
                         res.set_content(ok_body, "application/json");
                       });
  server.start();
  collector c;
  auto s = settings_for(server.url());
  auto t = make_curl_transport(s, c.sink());
  CAF_REQUIRE(t->submit(request(42, R"({"input":["hello"]})")));
  CAF_REQUIRE(c.wait_for(1));
  auto& r = c.first();
  CAF_CHECK_EQUAL(r.id, 42u);
  CAF_CHECK_EQUAL(to_string(r.status), std::string{"completed"});
  CAF_CHECK_EQUAL(r.http_status, 200);
  CAF_CHECK_EQUAL(r.body, ok_body);
  CAF_CHECK_GREATER_OR_EQUAL(r.body.capacity(), r.body.size() + body_padding);
  CAF_CHECK(r.error.empty());
  CAF_CHECK_EQUAL(r.retry_after, 1500ms);
  CAF_CHECK_EQUAL(r.limits.remaining_requests, 59);
  CAF_CHECK_EQUAL(r.limits.remaining_tokens, 149984);
  CAF_CHECK_EQUAL(r.limits.reset_requests, caf::timespan{1s});
  CAF_CHECK_EQUAL(r.limits.reset_tokens, caf::timespan{6min});
  CAF_CHECK_GREATER(r.wire_time.count(), 0);
  std::lock_guard<std::mutex> guard{mtx};
  CAF_CHECK_EQUAL(seen_body, R"({"input":["hello"]})");
  auto header = [&](const char* name) {
    auto i = seen_headers.find(name);
    return i == seen_headers.end() ? std::string{"<absent>"} : i->second;
  };
  CAF_CHECK_EQUAL(header("Content-Type"), "application/json");
  CAF_CHECK_EQUAL(header("Accept"), "application/json");
  CAF_CHECK_EQUAL(header("User-Agent"), "embedrt/0.1");
  CAF_CHECK_EQUAL(header("Expect"), "<absent>");
  CAF_CHECK_EQUAL(header("Authorization"), "<absent>");
  CAF_CHECK_EQUAL(s.counters->transfers_started.load(), 1u);
  CAF_CHECK_EQUAL(s.counters->transfers_completed.load(), 1u);
  CAF_CHECK_EQUAL(s.counters->connections_opened.load(), 1u);
}

CAF_TEST(an error status is a completed transfer with its retry after) {
  loopback_http_server server;
  server.server().Post("/v1/embeddings", [](const httplib::Request&,
                                            httplib::Response& res) {
    res.status = 429;
    res.set_header("Retry-After", "2");
    res.set_content(R"({"error":{"message":"slow down"}})", "application/json");
  });
  server.start();
  collector c;
  auto t = make_curl_transport(settings_for(server.url()), c.sink());
  CAF_REQUIRE(t->submit(request(1)));
  CAF_REQUIRE(c.wait_for(1));
  auto& r = c.first();
  CAF_CHECK_EQUAL(to_string(r.status), std::string{"completed"});
  CAF_CHECK_EQUAL(r.http_status, 429);
  CAF_CHECK_EQUAL(r.retry_after, 2000ms);
  CAF_CHECK_EQUAL(r.body, R"({"error":{"message":"slow down"}})");
  CAF_CHECK_EQUAL(r.limits.remaining_requests, -1);
  CAF_CHECK_EQUAL(r.limits.reset_tokens, caf::timespan{-1});
}

CAF_TEST(the authorization header is sent only when a key is set) {
  loopback_http_server server;
  std::mutex mtx;
  std::vector<std::string> auth;
  server.server().Post("/v1/embeddings",
                       [&](const httplib::Request& req, httplib::Response& res) {
                         std::lock_guard<std::mutex> guard{mtx};
                         auth.push_back(req.has_header("Authorization")
                                          ? req.get_header_value("Authorization")
                                          : "<absent>");
                         res.set_content(ok_body, "application/json");
                       });
  server.start();
  for (std::string key : {"sk-test-123", ""}) {
    collector c;
    auto s = settings_for(server.url());
    s.api_key = key;
    auto t = make_curl_transport(s, c.sink());
    CAF_REQUIRE(t->submit(request(1)));
    CAF_REQUIRE(t->submit(request(2)));
    CAF_REQUIRE(c.wait_for(2));
  }
  std::lock_guard<std::mutex> guard{mtx};
  CAF_REQUIRE_EQUAL(auth.size(), 4u);
  CAF_CHECK_EQUAL(auth[0], "Bearer sk-test-123");
  CAF_CHECK_EQUAL(auth[1], "Bearer sk-test-123");
  CAF_CHECK_EQUAL(auth[2], "<absent>");
  CAF_CHECK_EQUAL(auth[3], "<absent>");
}

CAF_TEST(large bodies travel intact both ways without expect 100 continue) {
  // libcurl 7.88 adds "Expect: 100-continue" to POST bodies above 1 MiB unless told
  // not to; the response arrives in many write-callback chunks.
  std::string big_request(2 << 20, 'q');
  std::string big_response;
  for (size_t i = 0; big_response.size() < (3 << 20); ++i)
    big_response += std::to_string(i) + ",";
  loopback_http_server server;
  std::mutex mtx;
  std::string expect = "<unset>";
  size_t received = 0;
  server.server().Post("/v1/embeddings", [&](const httplib::Request& req,
                                             httplib::Response& res) {
    {
      std::lock_guard<std::mutex> guard{mtx};
      expect = req.has_header("Expect") ? req.get_header_value("Expect") : "<absent>";
      received = req.body == big_request ? req.body.size() : 0;
    }
    res.set_content(big_response, "application/json");
  });
  server.start();
  collector c;
  auto t = make_curl_transport(settings_for(server.url()), c.sink());
  CAF_REQUIRE(t->submit(request(7, big_request)));
  CAF_REQUIRE(c.wait_for(1));
  auto& r = c.first();
  CAF_CHECK_EQUAL(r.http_status, 200);
  CAF_CHECK(r.body == big_response);
  CAF_CHECK_GREATER_OR_EQUAL(r.body.capacity(), r.body.size() + body_padding);
  std::lock_guard<std::mutex> guard{mtx};
  CAF_CHECK_EQUAL(expect, "<absent>");
  CAF_CHECK_EQUAL(received, big_request.size());
}

CAF_TEST(headers of an interim response do not leak into the final one) {
  raw_loopback_server server{[](raw_connection& conn) {
    if (conn.read_request().empty())
      return;
    conn.send("HTTP/1.1 100 Continue\r\nRetry-After: 99\r\n"
              "x-ratelimit-remaining-requests: 7\r\n\r\n");
    conn.send(http_response("HTTP/1.1 200 OK", "RETRY-AFTER-MS: 250\r\n", "{}"));
    conn.hold();
  }};
  collector c;
  auto t = make_curl_transport(settings_for(server.url()), c.sink());
  CAF_REQUIRE(t->submit(request(1)));
  CAF_REQUIRE(c.wait_for(1));
  auto& r = c.first();
  CAF_CHECK_EQUAL(r.http_status, 200);
  CAF_CHECK_EQUAL(r.body, "{}");
  CAF_CHECK_EQUAL(r.retry_after, 250ms);
  CAF_CHECK_EQUAL(r.limits.remaining_requests, -1);
}

// -- connection pooling ------------------------------------------------------------

CAF_TEST(a thousand transfers over eight connections open at most eight) {
  loopback_http_server server;
  serve_ok(server);
  server.start();
  collector c;
  auto s = settings_for(server.url(), 8);
  auto t = make_curl_transport(s, c.sink());
  pump(*t, c, 1000);
  auto& results = c.results();
  CAF_REQUIRE_EQUAL(results.size(), 1000u);
  std::set<uint64_t> ids;
  size_t ok = 0;
  for (auto& r : results) {
    ids.insert(r.id);
    if (r.status == transfer_status::completed && r.http_status == 200
        && r.body == ok_body)
      ++ok;
  }
  CAF_CHECK_EQUAL(ok, 1000u);
  CAF_CHECK_EQUAL(ids.size(), 1000u);
  CAF_CHECK_EQUAL(server.requests_seen(), 1000u);
  CAF_CHECK_LESS_OR_EQUAL(server.connections_seen(), 8u);
  CAF_CHECK_EQUAL(s.counters->connections_opened.load(), server.connections_seen());
  CAF_CHECK_EQUAL(s.counters->transfers_started.load(), 1000u);
  CAF_CHECK_EQUAL(s.counters->transfers_completed.load(), 1000u);
}

CAF_TEST(a raw accept counter agrees with connections opened) {
  // Counts TCP accepts (not requests): every connection curl opens is seen here.
  raw_loopback_server server{[](raw_connection& conn) {
    for (;;) {
      if (conn.read_request().empty())
        return;
      if (!conn.send(http_response("HTTP/1.1 200 OK", "", ok_body)))
        return;
    }
  }};
  collector c;
  auto s = settings_for(server.url(), 4);
  {
    auto t = make_curl_transport(s, c.sink());
    pump(*t, c, 200);
  }
  CAF_CHECK_EQUAL(c.count(), 200u);
  CAF_CHECK_LESS_OR_EQUAL(server.accepted(), 4u);
  CAF_CHECK_EQUAL(s.counters->connections_opened.load(), server.accepted());
}

CAF_TEST(the producer may change threads between submissions) {
  // Like an actor resumed on another scheduler thread: submissions never overlap,
  // but each batch comes from a new thread (join orders them).
  loopback_http_server server;
  serve_ok(server);
  server.start();
  collector c;
  auto s = settings_for(server.url(), 4);
  auto t = make_curl_transport(s, c.sink());
  constexpr size_t n = 400;
  size_t submitted = 0;
  while (c.count() < n) {
    auto done = c.count(); // before submitting, see pump()
    std::thread producer{[&] {
      while (submitted < n && t->submit(request(submitted)))
        ++submitted;
    }};
    producer.join();
    if (submitted > done && !c.wait_for(done + 1)) {
      CAF_FAIL("stalled: submitted "
               << submitted << ", done " << c.count() << ", started "
               << s.counters->transfers_started.load() << ", completed "
               << s.counters->transfers_completed.load() << ", server saw "
               << server.requests_seen());
    }
  }
  size_t ok = 0;
  for (auto& r : c.results())
    if (r.status == transfer_status::completed && r.http_status == 200)
      ++ok;
  CAF_CHECK_EQUAL(ok, n);
}

CAF_TEST(response buffers handed back with later submissions are reused) {
  // What a worker does (transfer_request::spare_body): a body made on the curl thread
  // goes to the producer, which hands it back with a later submission, each time from
  // a new thread. The curl thread must fill that very buffer. The TSan build
  // (scripts/build.sh tsan) checks the hand-offs of the memory itself.
  loopback_http_server server;
  serve_ok(server);
  server.start();
  collector c;
  auto s = settings_for(server.url(), 2);
  auto t = make_curl_transport(s, c.sink());
  constexpr size_t n = 100;
  size_t reused = 0;
  for (size_t i = 0; i < n; ++i) {
    auto req = request(i);
    if (i > 0)
      req.spare_body = c.take_body(i - 1);
    auto* spare_data = req.spare_body.data();
    bool has_spare = req.spare_body.capacity() >= std::string_view{ok_body}.size();
    bool accepted = false;
    std::thread producer{[&] { accepted = t->submit(std::move(req)); }};
    producer.join();
    CAF_REQUIRE(accepted);
    CAF_REQUIRE(c.wait_for(i + 1));
    auto& r = c.results().at(i);
    CAF_CHECK_EQUAL(r.http_status, 200);
    CAF_CHECK_EQUAL(r.body, ok_body);
    CAF_CHECK_GREATER_OR_EQUAL(r.body.capacity(), r.body.size() + body_padding);
    if (has_spare && r.body.data() == spare_data)
      ++reused;
  }
  CAF_CHECK_EQUAL(reused, n - 1);
}

CAF_TEST(throughput of small transfers at 16 and 64 connections) {
  // EMBEDRT_TRANSPORT_BENCH_N raises the count for measurements (e.g. 20000).
  size_t n = 2000;
  if (auto env = std::getenv("EMBEDRT_TRANSPORT_BENCH_N"))
    n = std::stoul(env);
  loopback_http_server server{160};
  serve_ok(server);
  server.start();
  for (uint32_t conns : {1u, 16u, 64u}) {
    collector c;
    auto s = settings_for(server.url(), conns);
    auto t = make_curl_transport(s, c.sink());
    auto elapsed = pump(*t, c, n);
    auto secs = std::chrono::duration<double>(elapsed).count();
    size_t ok = 0;
    for (auto& r : c.results())
      if (r.status == transfer_status::completed && r.http_status == 200)
        ++ok;
    CAF_CHECK_EQUAL(ok, n);
    CAF_CHECK_LESS_OR_EQUAL(s.counters->connections_opened.load(), conns);
    CAF_MESSAGE(n << " transfers, " << conns << " connections: "
                  << static_cast<uint64_t>(static_cast<double>(n) / secs)
                  << " req/s, connections opened "
                  << s.counters->connections_opened.load());
  }
}

// -- failures ----------------------------------------------------------------------

CAF_TEST(a stalled body times out within the bound) {
  raw_loopback_server server{[](raw_connection& conn) {
    if (conn.read_request().empty())
      return;
    conn.send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
              "Content-Length: 1000\r\n\r\n{\"data\":[");
    conn.hold();
  }};
  collector c;
  auto s = settings_for(server.url());
  s.api_key = "sk-secret-never-print";
  auto t = make_curl_transport(s, c.sink());
  auto start = clock_type::now();
  CAF_REQUIRE(t->submit(request(3, "{}", 300ms)));
  CAF_REQUIRE(c.wait_for(1));
  auto elapsed = clock_type::now() - start;
  auto& r = c.first();
  CAF_CHECK_EQUAL(to_string(r.status), std::string{"timed_out"});
  CAF_CHECK_EQUAL(r.http_status, 0);
  CAF_CHECK(r.body.empty());
  CAF_CHECK(!r.error.empty());
  CAF_CHECK_EQUAL(r.error.find("sk-secret"), std::string::npos);
  CAF_MESSAGE("error: " << r.error);
  // curl starts its own clock inside add_handle and compares whole milliseconds
  // against a "now" cached per perform call, so it may fire a hair before our
  // stopwatch reads 300 ms; what matters is that it is not early by more.
  CAF_CHECK_GREATER_OR_EQUAL(r.wire_time, 290ms);
  CAF_CHECK_LESS(elapsed, 2s);
}

CAF_TEST(a server that never answers times out) {
  raw_loopback_server server{[](raw_connection& conn) { conn.hold(); }};
  collector c;
  auto s = settings_for(server.url());
  auto t = make_curl_transport(s, c.sink());
  CAF_REQUIRE(t->submit(request(4, "{}", 200ms)));
  CAF_REQUIRE(c.wait_for(1));
  CAF_CHECK_EQUAL(to_string(c.first().status), std::string{"timed_out"});
  // A connection that carried a request counts even when the transfer failed.
  CAF_CHECK_EQUAL(server.accepted(), 1u);
  CAF_CHECK_EQUAL(s.counters->connections_opened.load(), 1u);
}

CAF_TEST(connection refused is connect failed) {
  collector c;
  auto s = settings_for(embedrt::test::loopback_url(closed_loopback_port()));
  auto t = make_curl_transport(s, c.sink());
  CAF_REQUIRE(t->submit(request(5)));
  CAF_REQUIRE(c.wait_for(1));
  auto& r = c.first();
  CAF_CHECK_EQUAL(to_string(r.status), std::string{"connect_failed"});
  CAF_CHECK_EQUAL(r.http_status, 0);
  CAF_CHECK(!r.error.empty());
  CAF_MESSAGE("error: " << r.error);
  CAF_CHECK_EQUAL(s.counters->connections_opened.load(), 0u);
  CAF_CHECK_EQUAL(s.counters->transfers_completed.load(), 1u);
}

CAF_TEST(a connect timeout is connect failed) {
  // A listener that never accepts, with its backlog filled by a first client: the
  // kernel drops later SYNs, so connecting hangs until the timeout.
  raw_loopback_server server{{}, false, 0};
  collector c;
  auto s = settings_for(server.url(), 4);
  s.connect_timeout = 300ms;
  auto t = make_curl_transport(s, c.sink());
  for (uint64_t i = 0; i < 4; ++i)
    CAF_REQUIRE(t->submit(request(i, "{}", 1s)));
  CAF_REQUIRE(c.wait_for(4));
  // The backlog admits one or two connections (which then time out waiting for a
  // reply); the rest cannot connect.
  size_t connect_failed = 0;
  for (auto& r : c.results()) {
    CAF_MESSAGE("status " << to_string(r.status) << ": " << r.error);
    if (r.status == transfer_status::connect_failed)
      ++connect_failed;
    else
      CAF_CHECK_EQUAL(to_string(r.status), std::string{"timed_out"});
  }
  CAF_CHECK_GREATER_OR_EQUAL(connect_failed, 1u);
}

CAF_TEST(a reset mid body is connection lost) {
  raw_loopback_server server{[](raw_connection& conn) {
    if (conn.read_request().empty())
      return;
    conn.send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
              "Content-Length: 1000\r\n\r\n{\"data\":[");
    std::this_thread::sleep_for(50ms);
    conn.reset();
  }};
  collector c;
  auto t = make_curl_transport(settings_for(server.url()), c.sink());
  CAF_REQUIRE(t->submit(request(6)));
  CAF_REQUIRE(c.wait_for(1));
  auto& r = c.first();
  CAF_CHECK_EQUAL(to_string(r.status), std::string{"connection_lost"});
  CAF_MESSAGE("error: " << r.error);
}

CAF_TEST(a truncated body is connection lost) {
  raw_loopback_server server{[](raw_connection& conn) {
    if (conn.read_request().empty())
      return;
    conn.send("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{\"data\":[");
    conn.close();
  }};
  collector c;
  auto t = make_curl_transport(settings_for(server.url()), c.sink());
  CAF_REQUIRE(t->submit(request(8)));
  CAF_REQUIRE(c.wait_for(1));
  CAF_CHECK_EQUAL(to_string(c.first().status), std::string{"connection_lost"});
}

CAF_TEST(an empty reply is connection lost) {
  raw_loopback_server server{[](raw_connection& conn) {
    if (conn.read_request().empty())
      return;
    conn.close();
  }};
  collector c;
  auto t = make_curl_transport(settings_for(server.url()), c.sink());
  CAF_REQUIRE(t->submit(request(9)));
  CAF_REQUIRE(c.wait_for(1));
  auto& r = c.first();
  CAF_CHECK_EQUAL(to_string(r.status), std::string{"connection_lost"});
  CAF_MESSAGE("error: " << r.error);
}

// -- capacity and lifetime ----------------------------------------------------------

CAF_TEST(submit refuses work beyond max connections until a transfer finishes) {
  raw_loopback_server server{[](raw_connection& conn) { conn.hold(); }};
  collector c;
  auto t = make_curl_transport(settings_for(server.url(), 4), c.sink());
  for (uint64_t i = 0; i < 4; ++i)
    CAF_CHECK(t->submit(request(i, "{}", 300ms)));
  CAF_CHECK(!t->submit(request(4, "{}", 300ms)));
  CAF_CHECK(!t->submit(request(5, "{}", 300ms)));
  CAF_REQUIRE(c.wait_for(4));
  // Slots are released before the sink runs: a completion means room.
  CAF_CHECK(t->submit(request(6, "{}", 300ms)));
  CAF_REQUIRE(c.wait_for(5));
  std::set<uint64_t> ids;
  for (auto& r : c.results())
    ids.insert(r.id);
  CAF_CHECK_EQUAL(ids, (std::set<uint64_t>{0, 1, 2, 3, 6}));
}

CAF_TEST(destroying a transport with transfers in flight is prompt and silent) {
  raw_loopback_server server{[](raw_connection& conn) { conn.hold(); }};
  collector c;
  auto s = settings_for(server.url(), 8);
  auto t = make_curl_transport(s, c.sink());
  for (uint64_t i = 0; i < 8; ++i)
    CAF_REQUIRE(t->submit(request(i, "{}", 30s)));
  CAF_REQUIRE(server.wait_accepted(8));
  auto start = clock_type::now();
  t.reset();
  auto elapsed = clock_type::now() - start;
  CAF_CHECK_LESS(elapsed, 500ms);
  CAF_CHECK_EQUAL(c.count(), 0u);
  CAF_CHECK_EQUAL(s.counters->transfers_started.load(), 8u);
  CAF_CHECK_EQUAL(s.counters->transfers_completed.load(), 0u);
}

CAF_TEST(destroying a transport right after submitting never calls the sink) {
  raw_loopback_server server{[](raw_connection& conn) { conn.hold(); }};
  for (int round = 0; round < 50; ++round) {
    collector c;
    auto t = make_curl_transport(settings_for(server.url(), 8), c.sink());
    for (uint64_t i = 0; i < 8; ++i)
      CAF_REQUIRE(t->submit(request(i)));
    t.reset();
    CAF_CHECK_EQUAL(c.count(), 0u);
  }
}

CAF_TEST(a destroyed transport leaves no file descriptors behind) {
  loopback_http_server server;
  serve_ok(server);
  server.start();
  // Let the server's threads and sockets settle before taking the baseline.
  auto baseline = open_fd_count();
  {
    collector c;
    auto t = make_curl_transport(settings_for(server.url(), 8), c.sink());
    pump(*t, c, 100);
  }
  // The server closes its ends after our FINs; allow it a moment.
  auto deadline = clock_type::now() + wait_limit;
  while (open_fd_count() > baseline && clock_type::now() < deadline)
    std::this_thread::sleep_for(5ms);
  CAF_CHECK_LESS_OR_EQUAL(open_fd_count(), baseline);
}

CAF_TEST(a multi error fails every outstanding transfer as transport broken) {
  raw_loopback_server server{[](raw_connection& conn) { conn.hold(); }};
  collector c;
  auto s = settings_for(server.url(), 4);
  auto t = make_curl_transport(s, c.sink());
  for (uint64_t i = 0; i < 3; ++i)
    CAF_REQUIRE(t->submit(request(i, "{}", 30s)));
  CAF_REQUIRE(server.wait_accepted(3));
  break_curl_transport_for_test(*t);
  CAF_REQUIRE(c.wait_for(3, 2s));
  for (auto& r : c.results()) {
    CAF_CHECK_EQUAL(to_string(r.status), std::string{"transport_broken"});
    CAF_CHECK(!r.error.empty());
  }
  // Later submissions are answered at once, so a worker with nothing in flight
  // learns that the transport is gone.
  CAF_REQUIRE(t->submit(request(10)));
  CAF_REQUIRE(c.wait_for(4, 2s));
  CAF_CHECK_EQUAL(c.results().back().id, 10u);
  CAF_CHECK_EQUAL(to_string(c.results().back().status),
                  std::string{"transport_broken"});
  CAF_CHECK_EQUAL(s.counters->transfers_completed.load(), 4u);
}

CAF_TEST(a transport without counters keeps private ones) {
  loopback_http_server server;
  serve_ok(server);
  server.start();
  collector c;
  auto s = settings_for(server.url());
  s.counters = nullptr;
  auto t = make_curl_transport(s, c.sink());
  CAF_REQUIRE(t->submit(request(1)));
  CAF_REQUIRE(c.wait_for(1));
  CAF_CHECK_EQUAL(c.first().http_status, 200);
}

CAF_TEST(transfer status names) {
  CAF_CHECK_EQUAL(to_string(transfer_status::completed), std::string{"completed"});
  CAF_CHECK_EQUAL(to_string(transfer_status::connect_failed),
                  std::string{"connect_failed"});
  CAF_CHECK_EQUAL(to_string(transfer_status::timed_out), std::string{"timed_out"});
  CAF_CHECK_EQUAL(to_string(transfer_status::connection_lost),
                  std::string{"connection_lost"});
  CAF_CHECK_EQUAL(to_string(transfer_status::failed), std::string{"failed"});
  CAF_CHECK_EQUAL(to_string(transfer_status::transport_broken),
                  std::string{"transport_broken"});
}
