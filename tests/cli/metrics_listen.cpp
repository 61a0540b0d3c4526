#define CAF_SUITE cli.metrics_listen
#include <caf/test/unit_test.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <curl/curl.h>

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include "src/observability/metrics_endpoint.hpp"
#include "tests/support/metrics_text.hpp"
#include "tests/support/promtool.hpp"
#include "tools/mock/mock_server.hpp"

// `embedrt embed --metrics-listen --metrics-out` as a child process against the mock:
// scrapes /metrics while the job runs (the in-flight gauge moves), /healthz answers,
// and the final snapshot's histogram counts match the job's summary. Bounded.

using namespace embedrt;
using namespace embedrt::test;
using namespace std::chrono_literals;

namespace {

const std::string binary = EMBEDRT_BINARY_DIR "/embedrt";

std::string slurp(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// A port that was free a moment ago on 127.0.0.1.
uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

size_t append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

struct reply {
  long status = 0; // 0: no answer
  std::string content_type;
  std::string body;
};

/// GET `url` (within 1 s).
reply fetch(const std::string& url) {
  reply r;
  auto* h = curl_easy_init();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 1000L);
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  if (curl_easy_perform(h) == CURLE_OK) {
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    char* type = nullptr;
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &type);
    if (type)
      r.content_type = type;
  } else {
    r.body.clear();
  }
  curl_easy_cleanup(h);
  return r;
}

/// GET `url`'s body; empty when it fails.
std::string get(const std::string& url) {
  return fetch(url).body;
}

/// "  embedded:           123" -> 123.
long summary_field(const std::string& err, const std::string& name) {
  auto pos = err.find("  " + name + ":");
  if (pos == std::string::npos)
    return -1;
  return std::strtol(err.c_str() + pos + name.size() + 3, nullptr, 10);
}

} // namespace

CAF_TEST(a scrape during a job shows the in flight gauge moving and counts match) {
  mock::mock_options mo;
  mo.dimension = 8;
  mock::mock_server server{mo};
  server.start();
  std::string error;
  CAF_REQUIRE(server.load_script_json(R"([{"latency_ms":25}])", error));
  char tmpl[] = "/tmp/embedrt-cli-metrics-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  auto in = dir + "/in.jsonl";
  {
    std::ofstream out{in};
    for (int i = 0; i < 1500; ++i)
      out << R"({"id":)" << i << R"(,"text":"line )" << i << "\"}\n";
  }
  auto port = std::to_string(free_port());
  auto metrics_out = dir + "/metrics.prom";
  auto err_path = dir + "/stderr.txt";
  // One upstream request per line, 16 connections: ~2.5 s of work.
  std::vector<std::string> a{binary,
                             "embed",
                             "--input",
                             in,
                             "--output",
                             dir + "/out.jsonl",
                             "--base-url",
                             server.base_url(),
                             "--embedrt.endpoint.api_key_env=EMBEDRT_NO_KEY",
                             "--embedrt.batching.enabled=false",
                             "--embedrt.http_pool.max_connections=16",
                             "--no-progress",
                             "--metrics-listen",
                             "127.0.0.1:" + port,
                             "--metrics-out",
                             metrics_out};
  std::vector<char*> argv;
  for (auto& s : a)
    argv.push_back(const_cast<char*>(s.c_str()));
  argv.push_back(nullptr);
  auto pid = ::fork();
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDWR);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(devnull, STDIN_FILENO);
    ::dup2(devnull, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  CAF_REQUIRE(pid > 0);
  double max_inflight = 0;
  size_t scrapes = 0;
  reply health;
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      CAF_FAIL("the job did not end within 60 s");
    }
    auto text = get("http://127.0.0.1:" + port + "/metrics");
    if (!text.empty()) {
      ++scrapes;
      auto v = sample(text, R"(embedrt_inflight_requests{lane="bulk"})");
      max_inflight = std::max(max_inflight, v);
      if (health.status == 0)
        health = fetch("http://127.0.0.1:" + port + "/healthz");
    }
    std::this_thread::sleep_for(50ms);
  }
  CAF_REQUIRE(WIFEXITED(status));
  auto err = slurp(err_path);
  CAF_CHECK_EQUAL(WEXITSTATUS(status), 0);
  CAF_MESSAGE(scrapes << " scrapes, in flight up to " << max_inflight);
  CAF_CHECK_GREATER(scrapes, 3u);
  CAF_CHECK_GREATER(max_inflight, 0);
  // A readiness probe's view: 200 and the report as JSON.
  CAF_CHECK_EQUAL(health.status, 200);
  CAF_CHECK_EQUAL(health.content_type, "application/json");
  CAF_CHECK_EQUAL(health.body, R"({"reasons":[],"status":"ready"})");
  auto final_text = slurp(metrics_out);
  auto embedded = summary_field(err, "embedded");
  auto failed = summary_field(err, "failed");
  CAF_CHECK_EQUAL(embedded, 1500);
  CAF_CHECK_EQUAL(sample(final_text, R"(embedrt_inflight_requests{lane="bulk"})"), 0);
  CAF_CHECK_EQUAL(sample(final_text,
                         R"(embedrt_request_duration_seconds_count{lane="bulk"})"),
                  static_cast<double>(embedded + failed));
  CAF_CHECK_EQUAL(sample(final_text,
                         R"(embedrt_requests_total{lane="bulk",outcome="ok"})"),
                  static_cast<double>(embedded));
  CAF_CHECK_EQUAL(sample(final_text,
                         R"(embedrt_upstream_attempts_total{status_class="2xx"})"),
                  static_cast<double>(summary_field(err, "upstream requests")));
  std::string complaint;
  auto accepted = test::promtool_accepts(final_text, complaint);
  CAF_CHECK_EQUAL(complaint, "");
  CAF_CHECK(accepted);
  std::system(("rm -rf " + dir).c_str());
}

CAF_TEST(healthz answers 200 while work is accepted and 503 when unavailable) {
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter()
    .Name("embedrt_probe_total")
    .Help("a counter of the test")
    .Register(*registry)
    .Add({})
    .Increment(3);
  // The health source, fabricated: only this thread writes it between requests.
  auto report = std::make_shared<observability::health_report>();
  observability::metrics_endpoint endpoint{registry, [report] { return *report; },
                                           "127.0.0.1:0"};
  CAF_REQUIRE_GREATER(endpoint.port(), 0);
  auto base = "http://127.0.0.1:" + std::to_string(endpoint.port());
  auto ready = fetch(base + "/healthz");
  CAF_CHECK_EQUAL(ready.status, 200);
  CAF_CHECK_EQUAL(ready.content_type, "application/json");
  CAF_CHECK_EQUAL(ready.body, R"({"reasons":[],"status":"ready"})");
  report->status = observability::health_status::degraded;
  report->reasons = {"circuit breaker open for emb-small"};
  auto degraded = fetch(base + "/healthz");
  CAF_CHECK_EQUAL(degraded.status, 200); // still accepting work
  CAF_CHECK_NOT_EQUAL(degraded.body.find(R"("status":"degraded")"), std::string::npos);
  report->status = observability::health_status::unavailable;
  report->reasons = {"the runtime is stopping"};
  auto down = fetch(base + "/healthz");
  CAF_CHECK_EQUAL(down.status, 503);
  CAF_CHECK_EQUAL(down.content_type, "application/json");
  CAF_CHECK_EQUAL(down.body,
                  R"({"reasons":["the runtime is stopping"],"status":"unavailable"})");
  auto metrics = fetch(base + "/metrics");
  CAF_CHECK_EQUAL(metrics.status, 200);
  CAF_CHECK_EQUAL(sample(metrics.body, "embedrt_probe_total"), 3);
  CAF_CHECK_NOT_EQUAL(metrics.content_type.find("text/plain"), std::string::npos);
  CAF_CHECK_EQUAL(fetch(base + "/elsewhere").status, 404);
}

CAF_TEST(the listen address is checked before anything listens) {
  std::string host;
  uint16_t port = 1;
  std::string error;
  CAF_CHECK(observability::parse_listen_address("127.0.0.1:0", host, port, error));
  CAF_CHECK_EQUAL(host, "127.0.0.1");
  CAF_CHECK_EQUAL(port, 0);
  CAF_CHECK(observability::parse_listen_address("localhost:9464", host, port, error));
  CAF_CHECK_EQUAL(host, "127.0.0.1");
  CAF_CHECK_EQUAL(port, 9464);
  CAF_CHECK(observability::parse_listen_address("[::1]:9464", host, port, error));
  for (const char* bad : {"9464", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
                          "127.0.0.1:99999999999999999999", "example.com:80", ":80",
                          "127.0.0.1:80,0.0.0.0:81", "[::1:80", "1.2.3:80"}) {
    error.clear();
    CAF_CHECK(!observability::parse_listen_address(bad, host, port, error));
    CAF_CHECK_NOT_EQUAL(error, "");
  }
  bool refused = false;
  try {
    observability::metrics_endpoint endpoint{
      std::make_shared<prometheus::Registry>(),
      [] { return observability::health_report{}; }, "nowhere:1"};
  } catch (const std::runtime_error& e) {
    refused = std::string{e.what()}.find("host") != std::string::npos;
  }
  CAF_CHECK(refused);
}
