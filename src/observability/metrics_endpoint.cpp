#include "src/observability/metrics_endpoint.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <vector>

#include <CivetServer.h>
#include <arpa/inet.h>
#include <prometheus/collectable.h>
#include <prometheus/text_serializer.h>

#include <embedrt/runtime.hpp>

namespace embedrt::observability {

namespace {

/// One whole response; the connection closes after it (no keep-alive).
void respond(mg_connection* conn, int status, const char* reason,
             const char* content_type, const std::string& body) {
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
            status, reason, content_type, body.size());
  mg_write(conn, body.data(), body.size());
}

class metrics_handler final : public CivetHandler {
public:
  explicit metrics_handler(std::shared_ptr<prometheus::Collectable> metrics)
    : metrics_(std::move(metrics)) {}

  bool handleGet(CivetServer*, mg_connection* conn) override {
    prometheus::TextSerializer serializer;
    respond(conn, 200, "OK", "text/plain; version=0.0.4; charset=utf-8",
            serializer.Serialize(metrics_->Collect()));
    return true;
  }

private:
  std::shared_ptr<prometheus::Collectable> metrics_;
};

class health_handler final : public CivetHandler {
public:
  explicit health_handler(metrics_endpoint::health_source health)
    : health_(std::move(health)) {}

  bool handleGet(CivetServer*, mg_connection* conn) override {
    auto report = health_();
    // Degraded still accepts work: a readiness probe must keep sending it.
    if (report.status == health_status::unavailable)
      respond(conn, 503, "Service Unavailable", "application/json", report.to_json());
    else
      respond(conn, 200, "OK", "application/json", report.to_json());
    return true;
  }

private:
  metrics_endpoint::health_source health_;
};

bool all_digits(const std::string& x) {
  return !x.empty() && std::all_of(x.begin(), x.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
}

} // namespace

bool parse_listen_address(const std::string& listen, std::string& host, uint16_t& port,
                          std::string& error) {
  auto colon = listen.rfind(':');
  if (listen.size() > 64 || colon == std::string::npos) {
    error = "expected HOST:PORT, got \"" + listen.substr(0, 64) + "\"";
    return false;
  }
  auto h = listen.substr(0, colon);
  auto p = listen.substr(colon + 1);
  if (!all_digits(p) || p.size() > 5 || std::stoul(p) > 65535) {
    error = "the port must be 0..65535, got \"" + p + "\"";
    return false;
  }
  unsigned char addr[16];
  bool ok = h == "localhost" || ::inet_pton(AF_INET, h.c_str(), addr) == 1
            || (h.size() > 2 && h.front() == '[' && h.back() == ']'
                && ::inet_pton(AF_INET6, h.substr(1, h.size() - 2).c_str(), addr) == 1);
  if (!ok) {
    error = "the host must be an IPv4 address, [IPv6 address] or localhost, got \"" + h
            + "\"";
    return false;
  }
  host = h == "localhost" ? "127.0.0.1" : h;
  port = static_cast<uint16_t>(std::stoul(p));
  return true;
}

metrics_endpoint::metrics_endpoint(runtime& rt, const std::string& listen)
  : metrics_endpoint(
    rt.metrics_collectable(), [&rt] { return rt.health(); }, listen) {}

metrics_endpoint::metrics_endpoint(std::shared_ptr<prometheus::Collectable> metrics,
                                   health_source health, const std::string& listen)
  : metrics_handler_(std::make_unique<metrics_handler>(std::move(metrics))),
    health_handler_(std::make_unique<health_handler>(std::move(health))) {
  std::string host;
  uint16_t port = 0;
  std::string error;
  if (!parse_listen_address(listen, host, port, error))
    throw std::runtime_error("cannot listen on " + listen + ": " + error);
  std::vector<std::string> options{
    "listening_ports",    host + ":" + std::to_string(port),
    "num_threads",        std::to_string(threads),
    "request_timeout_ms", std::to_string(request_timeout_ms),
    "enable_keep_alive",  "no"};
  try {
    server_ = std::make_unique<CivetServer>(options);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot listen on " + listen + ": " + e.what());
  }
  server_->addHandler("/metrics", metrics_handler_.get());
  server_->addHandler("/healthz", health_handler_.get());
}

metrics_endpoint::~metrics_endpoint() {
  // Stop serving (joins the threads) before the handlers and the runtime they read go.
  server_.reset();
}

uint16_t metrics_endpoint::port() const {
  auto ports = server_->getListeningPorts();
  return ports.empty() ? 0 : static_cast<uint16_t>(ports.front());
}

bool write_metrics_file(runtime& rt, const std::string& path, std::string& error) {
  auto text = rt.metrics_text();
  auto tmp = path + ".tmp";
  {
    std::ofstream out{tmp, std::ios::binary | std::ios::trunc};
    out << text;
    out.flush();
    if (!out) {
      error = "cannot write " + tmp + ": " + std::strerror(errno);
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    error = "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno);
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

} // namespace embedrt::observability
