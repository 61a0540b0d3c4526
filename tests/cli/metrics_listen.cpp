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

#include "tests/support/promtool.hpp"
#include "tools/mock/mock_server.hpp"

// `embedrt embed --metrics-listen --metrics-out` as a child process against the mock:
// scrapes /metrics while the job runs (the in-flight gauge moves), /healthz answers,
// and the final snapshot's histogram counts match the job's summary. Bounded.

using namespace embedrt;
using namespace std::chrono_literals;

namespace {

const std::string binary = EMBEDRT_BINARY_DIR "/embedrt";

std::string slurp(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double sample(const std::string& text, const std::string& series) {
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line))
    if (line.compare(0, series.size() + 1, series + " ") == 0)
      return std::stod(line.substr(series.size() + 1));
  return -1;
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

/// GET `url`; empty when it fails (within 1 s).
std::string get(const std::string& url) {
  std::string body;
  auto* h = curl_easy_init();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 1000L);
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  auto rc = curl_easy_perform(h);
  curl_easy_cleanup(h);
  return rc == CURLE_OK ? body : std::string{};
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
  std::string health;
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
      if (health.empty())
        health = get("http://127.0.0.1:" + port + "/healthz");
    }
    std::this_thread::sleep_for(50ms);
  }
  CAF_REQUIRE(WIFEXITED(status));
  auto err = slurp(err_path);
  CAF_CHECK_EQUAL(WEXITSTATUS(status), 0);
  CAF_MESSAGE(scrapes << " scrapes, in flight up to " << max_inflight);
  CAF_CHECK_GREATER(scrapes, 3u);
  CAF_CHECK_GREATER(max_inflight, 0);
  CAF_CHECK_NOT_EQUAL(health.find(R"(embedrt_health_status{status="ready"} 0)"),
                      std::string::npos);
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
