#include "src/observability/metrics_endpoint.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>

#include <embedrt/runtime.hpp>

namespace embedrt::observability {

namespace {

class health_collectable final : public prometheus::Collectable {
public:
  explicit health_collectable(runtime& rt) : rt_(rt) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    auto h = rt_.health();
    prometheus::MetricFamily f;
    f.name = "embedrt_health_status";
    f.help = to_string(h.status);
    for (size_t i = 0; i < h.reasons.size(); ++i)
      f.help += (i == 0 ? ": " : "; ") + h.reasons[i];
    f.type = prometheus::MetricType::Gauge;
    prometheus::ClientMetric m;
    m.label.push_back({"status", to_string(h.status)});
    m.gauge.value = static_cast<double>(h.status);
    f.metric.push_back(std::move(m));
    return {std::move(f)};
  }

private:
  runtime& rt_;
};

} // namespace

metrics_endpoint::metrics_endpoint(runtime& rt, const std::string& listen)
  : metrics_(rt.metrics_collectable()),
    health_(std::make_shared<health_collectable>(rt)) {
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(listen, 2);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot listen on " + listen + ": " + e.what());
  }
  exposer_->RegisterCollectable(metrics_, "/metrics");
  exposer_->RegisterCollectable(health_, "/healthz");
}

metrics_endpoint::~metrics_endpoint() {
  // Stop serving before the collectables (and the runtime they read) go.
  exposer_.reset();
}

uint16_t metrics_endpoint::port() const {
  auto ports = exposer_->GetListeningPorts();
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
