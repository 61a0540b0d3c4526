// The CLI's metrics endpoint and snapshot file: prometheus-cpp's pull Exposer serves
// `/metrics` (the runtime's registry, brought up to date on each scrape) and
// `/healthz` (`embedrt_health_status`: the status as a label and the value 0/1/2, the
// reasons in the HELP line; always HTTP 200, read the body).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace prometheus {
class Collectable;
class Exposer;
} // namespace prometheus

namespace embedrt {

class runtime;

namespace observability {

class metrics_endpoint {
public:
  /// Listens on `listen` ("HOST:PORT"; port 0: any free one). Throws
  /// std::runtime_error when it cannot listen. `rt` must outlive this.
  metrics_endpoint(runtime& rt, const std::string& listen);
  ~metrics_endpoint();

  metrics_endpoint(const metrics_endpoint&) = delete;
  metrics_endpoint& operator=(const metrics_endpoint&) = delete;

  /// The port actually listened on.
  uint16_t port() const;

private:
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<prometheus::Collectable> metrics_;
  std::shared_ptr<prometheus::Collectable> health_;
};

/// Writes `rt.metrics_text()` to `path` (through a temporary file renamed into place);
/// false with `error` on failure.
bool write_metrics_file(runtime& rt, const std::string& path, std::string& error);

} // namespace observability
} // namespace embedrt
