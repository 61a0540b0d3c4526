// The CLI's metrics endpoint and snapshot file. A small civetweb server (the HTTP
// server prometheus-cpp's own Exposer uses) with two handlers:
//  - `GET /metrics`: the runtime's registry, brought up to date on each scrape, in the
//    text exposition of prometheus-cpp's TextSerializer;
//  - `GET /healthz`: `health_report::to_json()` as application/json, with a status a
//    readiness probe understands: 200 for `ready` and `degraded` (still accepting
//    work), 503 for `unavailable`.
// Bounded: the listen address must be an IP literal (or `localhost`) and a port, a
// fixed number of threads serves, a request that does not arrive in time is dropped.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <embedrt/health.hpp>

class CivetServer;
class CivetHandler;

namespace prometheus {
class Collectable;
} // namespace prometheus

namespace embedrt {

class runtime;

namespace observability {

/// `listen` split and checked: "HOST:PORT", HOST an IPv4 literal, `[IPv6]` or
/// `localhost`, PORT 0..65535 (0: any free one). False with `error` otherwise.
bool parse_listen_address(const std::string& listen, std::string& host, uint16_t& port,
                          std::string& error);

class metrics_endpoint {
public:
  /// Threads serving requests (scrapes and probes are rare and short).
  static constexpr int threads = 2;
  /// A request must arrive within this long.
  static constexpr int request_timeout_ms = 5000;

  using health_source = std::function<health_report()>;

  /// Listens on `listen` (see parse_listen_address). Throws std::runtime_error when
  /// the address is invalid or cannot be listened on. `rt` must outlive this.
  metrics_endpoint(runtime& rt, const std::string& listen);

  /// Serves `metrics` and `health` (tests fabricate them).
  metrics_endpoint(std::shared_ptr<prometheus::Collectable> metrics,
                   health_source health, const std::string& listen);

  ~metrics_endpoint();

  metrics_endpoint(const metrics_endpoint&) = delete;
  metrics_endpoint& operator=(const metrics_endpoint&) = delete;

  /// The port actually listened on.
  uint16_t port() const;

private:
  std::unique_ptr<CivetHandler> metrics_handler_;
  std::unique_ptr<CivetHandler> health_handler_;
  std::unique_ptr<CivetServer> server_;
};

/// Writes `rt.metrics_text()` to `path` (through a temporary file renamed into place);
/// false with `error` on failure.
bool write_metrics_file(runtime& rt, const std::string& path, std::string& error);

} // namespace observability
} // namespace embedrt
