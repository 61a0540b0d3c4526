#define CAF_SUITE integration.tls_upstream
#include <embedrt/runtime.hpp>

#include <caf/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/loopback_server.hpp"
#include "tests/support/mock_runtime.hpp"
#include "tools/mock/mock_server.hpp"

// HTTPS, tested: Debian's nginx terminates TLS (HTTP/1.1 and HTTP/2 by ALPN) on
// 127.0.0.1 in front of the mock, with a CA and a server certificate the test makes
// with the openssl tool. The certificate names localhost and embedrt-test.invalid,
// not 127.0.0.1, so https://127.0.0.1 is a host-name mismatch.

using namespace embedrt;
using namespace embedrt::test;
using namespace std::chrono_literals;

namespace {

constexpr auto max_wait = 60s;

bool run(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0;
}

std::string slurp(const std::string& path) {
  std::ifstream in{path};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool can_connect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

/// nginx (TLS, HTTP/2 on one port, HTTP/1.1 on another) in front of an upstream
/// port, with its own CA; stopped (SIGTERM to the process it started) at the end.
class tls_front {
public:
  explicit tls_front(uint16_t upstream_port) {
    char tmpl[] = "/tmp/embedrt-tls-XXXXXX";
    CAF_REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir_ = tmpl;
    auto nginx = find_nginx();
    if (nginx.empty())
      CAF_FAIL("nginx not found (Debian nginx-light; scripts/install-deps.sh)");
    // A CA and a server certificate signed by it (EC keys: fast to make).
    std::ofstream{dir_ + "/ext.cnf"}
      << "subjectAltName=DNS:localhost,DNS:embedrt-test.invalid\n";
    auto ossl = "cd " + dir_ + " && openssl ";
    CAF_REQUIRE(run(ossl + "ecparam -name prime256v1 -genkey -noout -out ca.key"));
    CAF_REQUIRE(run(ossl
                    + "req -x509 -new -key ca.key -out ca.pem -days 2 "
                      "-subj '/CN=embedrt test CA'"));
    CAF_REQUIRE(run(ossl + "ecparam -name prime256v1 -genkey -noout -out server.key"));
    CAF_REQUIRE(run(ossl
                    + "req -new -key server.key -out server.csr "
                      "-subj '/CN=localhost'"));
    CAF_REQUIRE(run(ossl
                    + "x509 -req -in server.csr -CA ca.pem -CAkey ca.key "
                      "-CAcreateserial -out server.pem -days 2 -extfile ext.cnf"));
    h2_port_ = test::closed_loopback_port();
    h1_port_ = test::closed_loopback_port();
    std::ofstream conf{dir_ + "/nginx.conf"};
    if (::geteuid() == 0)
      conf << "user root root;\n";
    conf << "worker_processes 1;\npid " << dir_ << "/nginx.pid;\n"
         << "error_log " << dir_ << "/error.log warn;\n"
         << "events { worker_connections 512; }\n"
         << "http {\n"
         << "  log_format streams '$connection $msec $request_time $server_protocol';\n"
         << "  access_log " << dir_ << "/access.log streams;\n"
         << "  client_body_temp_path " << dir_ << "/body;\n"
         << "  proxy_temp_path " << dir_ << "/proxy;\n"
         << "  fastcgi_temp_path " << dir_ << "/fastcgi;\n"
         << "  uwsgi_temp_path " << dir_ << "/uwsgi;\n"
         << "  scgi_temp_path " << dir_ << "/scgi;\n"
         << "  client_body_buffer_size 1m;\n"
         << "  keepalive_requests 100000;\n"
         << "  upstream mock { server 127.0.0.1:" << upstream_port
         << "; keepalive 64; }\n"
         << "  server {\n"
         << "    listen 127.0.0.1:" << h2_port_ << " ssl http2;\n"
         << "    listen 127.0.0.1:" << h1_port_ << " ssl;\n"
         << "    ssl_certificate " << dir_ << "/server.pem;\n"
         << "    ssl_certificate_key " << dir_ << "/server.key;\n"
         << "    location / {\n"
         << "      proxy_pass http://mock;\n"
         << "      proxy_http_version 1.1;\n"
         << "      proxy_set_header Connection \"\";\n"
         << "    }\n"
         << "  }\n"
         << "}\n";
    conf.close();
    pid_ = ::fork();
    CAF_REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::execl(nginx.c_str(), nginx.c_str(), "-p", dir_.c_str(), "-c",
              (dir_ + "/nginx.conf").c_str(), "-e", (dir_ + "/error.log").c_str(), "-g",
              "daemon off;", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    auto until = std::chrono::steady_clock::now() + 10s;
    while (!(can_connect(h2_port_) && can_connect(h1_port_))) {
      if (std::chrono::steady_clock::now() > until)
        CAF_FAIL("nginx did not start: " << slurp(dir_ + "/error.log"));
      std::this_thread::sleep_for(20ms);
    }
  }

  ~tls_front() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    run("rm -rf " + dir_);
  }

  static std::string find_nginx() {
    for (auto path : {"/usr/sbin/nginx", "/usr/bin/nginx"})
      if (::access(path, X_OK) == 0)
        return path;
    return {};
  }

  std::string ca() const { return dir_ + "/ca.pem"; }
  uint16_t h2_port() const { return h2_port_; }
  uint16_t h1_port() const { return h1_port_; }

  struct access_summary {
    size_t requests = 0;
    std::set<std::string> connections;
    std::set<std::string> protocols;
    /// Most requests in progress at once (from $msec - $request_time .. $msec).
    size_t max_concurrent = 0;
  };

  /// nginx writes the access log as requests end; read after the load.
  access_summary access() const {
    access_summary out;
    std::vector<std::pair<long, int>> edges; // (ms, +1 start / -1 end)
    std::istringstream in{slurp(dir_ + "/access.log")};
    std::string conn;
    double end_s = 0;
    double took_s = 0;
    std::string proto;
    while (in >> conn >> end_s >> took_s >> proto) {
      ++out.requests;
      out.connections.insert(conn);
      out.protocols.insert(proto);
      auto end_ms = static_cast<long>(end_s * 1000 + 0.5);
      auto start_ms = end_ms - static_cast<long>(took_s * 1000 + 0.5);
      // An interval [start, end): an end at the same ms as a start comes first.
      edges.emplace_back(start_ms, +1);
      edges.emplace_back(end_ms, -1);
    }
    std::sort(edges.begin(), edges.end());
    long now = 0;
    for (auto& e : edges) {
      now += e.second;
      out.max_concurrent = std::max(out.max_concurrent, static_cast<size_t>(now));
    }
    return out;
  }

private:
  std::string dir_;
  uint16_t h2_port_ = 0;
  uint16_t h1_port_ = 0;
  pid_t pid_ = -1;
};

/// A CONNECT proxy on 127.0.0.1 that tunnels every CONNECT to 127.0.0.1:`target`
/// (whatever host was named) and records each request head it read.
class connect_proxy {
public:
  explicit connect_proxy(uint16_t target) : target_(target) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CAF_REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr))
                == 0);
    CAF_REQUIRE(::listen(listen_fd_, 64) == 0);
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread{[this] { accept_loop(); }};
  }

  ~connect_proxy() {
    stop_ = true;
    acceptor_.join();
    ::close(listen_fd_);
    for (auto& t : tunnels_)
      t.join();
  }

  uint16_t port() const { return port_; }

  std::vector<std::string> heads() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return heads_;
  }

private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0)
        continue;
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd >= 0)
        tunnels_.emplace_back([this, fd] { tunnel(fd); });
    }
  }

  void tunnel(int client) {
    std::string head;
    char buf[16384];
    while (head.find("\r\n\r\n") == std::string::npos && head.size() < 8192 && !stop_) {
      pollfd p{client, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0)
        continue;
      auto n = ::recv(client, buf, sizeof(buf), 0);
      if (n <= 0)
        break;
      head.append(buf, static_cast<size_t>(n));
    }
    {
      std::lock_guard<std::mutex> guard{mtx_};
      heads_.push_back(head);
    }
    int server = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(target_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (head.compare(0, 8, "CONNECT ") != 0
        || ::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(server);
      ::close(client);
      return;
    }
    std::string ok = "HTTP/1.1 200 Connection established\r\n\r\n";
    ::send(client, ok.data(), ok.size(), MSG_NOSIGNAL);
    pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    while (!stop_) {
      if (::poll(fds, 2, 50) <= 0)
        continue;
      bool closed = false;
      for (int i = 0; i < 2; ++i) {
        if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
          continue;
        auto n = ::recv(fds[i].fd, buf, sizeof(buf), 0);
        if (n <= 0
            || ::send(fds[1 - i].fd, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n)
          closed = true;
      }
      if (closed)
        break;
    }
    ::close(server);
    ::close(client);
  }

  uint16_t target_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::vector<std::thread> tunnels_; // acceptor thread only, joined after it
  mutable std::mutex mtx_;
  std::vector<std::string> heads_;
};

struct tls_fixture {
  mock::mock_server server;
  std::unique_ptr<tls_front> front;

  tls_fixture() : server(options()) {
    server.start();
    front = std::make_unique<tls_front>(server.port());
  }

  static mock::mock_options options() {
    mock::mock_options opts;
    opts.dimension = 16;
    return opts;
  }

  runtime_config config(std::string base_url) {
    runtime_config cfg;
    cfg.endpoint.base_url = std::move(base_url);
    cfg.endpoint.api_key_env = "EMBEDRT_TEST_NO_SUCH_KEY";
    cfg.retry.base_delay_ms = 10;
    cfg.retry.max_delay_ms = 50;
    return cfg;
  }

  std::string https(uint16_t port, std::string host = "localhost") {
    return "https://" + host + ":" + std::to_string(port) + "/v1";
  }
};

struct load_result {
  size_t ok = 0;
  std::map<std::string, size_t> errors;
  std::string first_error;
};

load_result embed_each(runtime& rt, size_t n, const std::string& prefix) {
  std::vector<std::future<embed_outcome>> futures;
  for (size_t i = 0; i < n; ++i)
    futures.push_back(rt.embed({prefix + std::to_string(i)}));
  load_result out;
  for (size_t i = 0; i < n; ++i) {
    CAF_REQUIRE(futures[i].wait_for(max_wait) == std::future_status::ready);
    auto x = futures[i].get();
    if (x.ok()
        && x.value().embeddings.at(0)
             == mock::mock_vector(prefix + std::to_string(i), 16)) {
      ++out.ok;
    } else {
      ++out.errors[to_string(x.error().code)];
      if (out.first_error.empty())
        out.first_error = x.error().message;
    }
  }
  return out;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(tls_upstream_tests, tls_fixture)

CAF_TEST(https over http2 with the ca bundle multiplexes at most max connections) {
  // Every response takes 20 ms, so streams overlap; batching off: one text per
  // upstream request.
  std::string error;
  CAF_REQUIRE(server.load_script_json(R"([{"latency_ms": 20}])", error));
  auto cfg = config(https(front->h2_port()));
  cfg.endpoint.ca_bundle = front->ca();
  cfg.http_pool.max_connections = 6;
  cfg.batching.enabled = false;
  auto rt = start(cfg);
  auto r = embed_each(*rt, 300, "h2 ");
  CAF_CHECK_EQUAL(r.ok, 300u);
  if (!r.first_error.empty())
    CAF_MESSAGE("first error: " << r.first_error);
  auto c = rt->counters();
  rt.reset();
  auto a = front->access();
  CAF_MESSAGE("nginx: " << a.requests << " requests on " << a.connections.size()
                        << " connections, at most " << a.max_concurrent
                        << " at once; runtime opened " << c.connections_opened);
  CAF_CHECK_EQUAL(a.requests, 300u);
  CAF_CHECK(a.protocols == std::set<std::string>{"HTTP/2.0"});
  // One connection, reused for every request, carrying up to max_connections streams.
  CAF_CHECK_EQUAL(a.connections.size(), 1u);
  CAF_CHECK_EQUAL(c.connections_opened, 1u);
  CAF_CHECK_LESS_OR_EQUAL(a.max_concurrent, 6u);
  CAF_CHECK_GREATER_OR_EQUAL(a.max_concurrent, 2u);
}

CAF_TEST(https over http1 with the ca bundle reuses its connections) {
  auto cfg = config(https(front->h1_port()));
  cfg.endpoint.ca_bundle = front->ca();
  cfg.http_pool.max_connections = 4;
  cfg.batching.enabled = false;
  auto rt = start(cfg);
  auto r = embed_each(*rt, 200, "h1 ");
  CAF_CHECK_EQUAL(r.ok, 200u);
  auto c = rt->counters();
  rt.reset();
  auto a = front->access();
  CAF_CHECK(a.protocols == std::set<std::string>{"HTTP/1.1"});
  CAF_CHECK_LESS_OR_EQUAL(a.connections.size(), 4u);
  CAF_CHECK_LESS_OR_EQUAL(c.connections_opened, 4u);
  CAF_CHECK_GREATER_OR_EQUAL(c.connections_opened, 1u);
}

CAF_TEST(an untrusted certificate fails fast once and names endpoint ca_bundle) {
  for (auto port : {front->h2_port(), front->h1_port()}) {
    auto cfg = config(https(port));
    cfg.request.timeout_ms = 30000;
    cfg.http_pool.max_connections = 8;
    auto rt = start(cfg);
    auto t0 = std::chrono::steady_clock::now();
    auto r = embed_each(*rt, 3, "untrusted ");
    auto elapsed = std::chrono::steady_clock::now() - t0;
    CAF_CHECK_EQUAL(r.ok, 0u);
    CAF_CHECK_EQUAL(r.errors["upstream_unavailable"], 3u);
    CAF_MESSAGE(r.first_error);
    CAF_CHECK_NOT_EQUAL(r.first_error.find("certificate"), std::string::npos);
    CAF_CHECK_NOT_EQUAL(r.first_error.find("embedrt.endpoint.ca_bundle"),
                        std::string::npos);
    // Not retried, and not waiting for the 30 s deadline.
    CAF_CHECK_LESS(elapsed, 3s);
    auto c = rt->counters();
    CAF_CHECK_EQUAL(c.attempts_retried, 0u);
  }
}

CAF_TEST(a host name mismatch fails fast once) {
  auto cfg = config(https(front->h2_port(), "127.0.0.1"));
  cfg.endpoint.ca_bundle = front->ca();
  cfg.request.timeout_ms = 30000;
  auto rt = start(cfg);
  auto t0 = std::chrono::steady_clock::now();
  auto r = embed_each(*rt, 3, "mismatch ");
  CAF_CHECK_EQUAL(r.ok, 0u);
  CAF_CHECK_EQUAL(r.errors["upstream_unavailable"], 3u);
  CAF_MESSAGE(r.first_error);
  CAF_CHECK_NOT_EQUAL(r.first_error.find("TLS certificate rejected"),
                      std::string::npos);
  CAF_CHECK_LESS(std::chrono::steady_clock::now() - t0, 3s);
  CAF_CHECK_EQUAL(rt->counters().attempts_retried, 0u);
}

CAF_TEST(https through a connect proxy keeps working and the proxy never sees the key) {
  std::string key = "test-key-";
  for (int i = 0; i < 32; ++i)
    key += static_cast<char>('a' + (i * 7) % 26);
  ::setenv("EMBEDRT_TEST_TLS_KEY", key.c_str(), 1);
  connect_proxy proxy{front->h2_port()};
  // A name only the proxy resolves (to the TLS front): the request must go through it.
  auto cfg = config(https(front->h2_port(), "embedrt-test.invalid"));
  cfg.endpoint.ca_bundle = front->ca();
  cfg.endpoint.api_key_env = "EMBEDRT_TEST_TLS_KEY";
  cfg.endpoint.proxy = "http://127.0.0.1:" + std::to_string(proxy.port());
  {
    auto rt = start(cfg);
    auto r = embed_each(*rt, 50, "proxied ");
    CAF_CHECK_EQUAL(r.ok, 50u);
    if (!r.first_error.empty())
      CAF_MESSAGE("first error: " << r.first_error);
  }
  ::unsetenv("EMBEDRT_TEST_TLS_KEY");
  auto heads = proxy.heads();
  CAF_REQUIRE_GREATER_OR_EQUAL(heads.size(), 1u);
  for (auto& head : heads) {
    auto connect_line = "CONNECT embedrt-test.invalid:"
                        + std::to_string(front->h2_port());
    CAF_CHECK_EQUAL(head.compare(0, connect_line.size(), connect_line), 0);
    CAF_CHECK_EQUAL(head.find(key), std::string::npos);
    CAF_CHECK_EQUAL(head.find("uthorization"), std::string::npos);
  }
}

CAF_TEST_FIXTURE_SCOPE_END()
