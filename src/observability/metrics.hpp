// The runtime's metrics and health, kept in one object the runtime owns (it outlives
// every actor). Three kinds of inputs:
//  - the hot path (dispatcher shell) records requests, attempts and batch sizes with
//    relaxed atomics only: prometheus-cpp Counter/Gauge (atomic doubles) and our own
//    `atomic_histogram` (prometheus::Histogram::Observe takes a mutex);
//  - runtime events (one writer, the event observer actor) drive the breaker gauge,
//    the rate-limit pause and health (a replaced breaker actor, told by the
//    dispatcher, puts the breaker gauges back to closed);
//  - the rate limiter stores what is left of its budget (relaxed atomics, copied into
//    the gauges at sync);
//  - `sync(counters, now)`, called before each exposition (a scrape, `metrics_text`,
//  the
//    observer's 1 s tick for a host's registry), copies every `runtime_counters` field
//    and the histogram increments into the prometheus registry.
// The exposition itself is prometheus-cpp's (TextSerializer): nothing here
// writes the text format by hand. Names: prefix `embedrt_`, base units, bounded labels.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "messages/circuit.hpp"
#include "messages/http.hpp"
#include "src/observability/histogram.hpp"
#include <embedrt/embedding.hpp>
#include <embedrt/errors.hpp>
#include <embedrt/health.hpp>
#include <embedrt/observability.hpp>
#include <embedrt/trace.hpp>

namespace prometheus {
class Collectable;
class Counter;
class Gauge;
class Histogram;
class Registry;
} // namespace prometheus

namespace embedrt::observability {

using steady_time = std::chrono::steady_clock::time_point;

/// The `status_class` label of `embedrt_upstream_attempts_total`.
enum class status_class : uint8_t {
  ok_2xx = 0,
  client_4xx,
  rate_limited_429,
  server_5xx,
  transport,
  bad_response,
};
constexpr size_t status_class_count = 6;

const char* to_string(status_class x);

/// The class of an attempt; false when it never reached the wire (expired in the
/// pool) and is not counted.
bool classify(attempt_status status, uint16_t http_status, status_class& out);

class runtime_metrics {
public:
  /// `registry`: the host's (`runtime_options::metrics_registry`) or a new one.
  explicit runtime_metrics(std::shared_ptr<prometheus::Registry> registry);
  ~runtime_metrics();

  runtime_metrics(const runtime_metrics&) = delete;
  runtime_metrics& operator=(const runtime_metrics&) = delete;

  // -- hot path: any thread, lock-free ----------------------------------------------

  void request_admitted(lane l) noexcept;
  /// `outcome` none: the vectors were delivered.
  void request_answered(lane l, embed_errc outcome,
                        std::chrono::nanoseconds total) noexcept;
  /// One upstream attempt ended (from the worker's result).
  void attempt_finished(attempt_status status, uint16_t http_status,
                        std::chrono::nanoseconds wire_time) noexcept;
  /// One upstream request was handed to a worker with `inputs` inputs.
  void attempt_sent(uint32_t inputs) noexcept;
  /// The upstream's `x-ratelimit-remaining-*` headers of a response (negative: not
  /// sent, the gauge keeps its last value):
  /// `embedrt_upstream_ratelimit_remaining_{requests,tokens}`.
  void upstream_remaining(int64_t requests, int64_t tokens) noexcept;
  /// What is left of our own rate budget (the limiter's buckets, lent leases counted
  /// as used), set by the rate limiter after each decision: relaxed stores, copied
  /// into `embedrt_ratelimit_available_{requests,tokens}` at sync. NaN: that bucket
  /// has no limit, its gauge stays absent. Never negative (a bucket in debt reads 0).
  void rate_budget(double requests, double tokens) noexcept;
  /// The budget as last set by the limiter (tests; NaN before it or without a limit).
  double rate_budget_requests() const noexcept {
    return budget_requests_.load(std::memory_order_relaxed);
  }
  double rate_budget_tokens() const noexcept {
    return budget_tokens_.load(std::memory_order_relaxed);
  }
  /// A response body of `bytes` arrived.
  void response_received(uint64_t bytes) noexcept;
  /// Texts waiting in lane `l` for a batch (sampled by the dispatcher).
  void set_queued(lane l, size_t texts) noexcept;

  /// The dispatcher core's record of an answered request: queue time, retries by
  /// reason; then the host's hook.
  void request_done(const request_trace& trace);

  /// Reads the transports' open connections at sync (`embedrt_open_connections`);
  /// set before the actors start, may be empty.
  std::function<double()> open_connections;

  /// The host's per-request hook (`runtime_options::on_request_done`); set before the
  /// actors start, never changed after.
  std::function<void(const request_trace&)> on_request_done;

  // -- events: one writer (the event observer), health readers on any thread ------

  void on_event(const runtime_event& ev);
  /// The circuit breaker actor was replaced (restarted): its successor starts with
  /// every model closed, without an event; the breaker gauges and health follow.
  void breakers_replaced();
  /// The host called stop: unavailable from now on.
  void set_stopping();
  health_report health(steady_time now) const;

  // -- exposition -------------------------------------------------------------------

  /// Brings the registry up to date: every `runtime_counters` field as
  /// `embedrt_<field>_total`, the histograms' new observations, the pause gauge.
  /// Thread-safe (serialised); never on the hot path.
  void sync(const runtime_counters& counters, steady_time now);

  /// The registry's text exposition (prometheus-cpp's TextSerializer).
  std::string text() const;

  const std::shared_ptr<prometheus::Registry>& registry() const noexcept {
    return registry_;
  }

  /// Reads back a counter of `runtime_counters` as last synced (tests).
  double synced_counter(const std::string& field) const;

private:
  struct mirrored_histogram {
    mirrored_histogram(const bucket_bounds& b, prometheus::Histogram& h, double scale)
      : live(b), target(&h), unit_scale(scale), synced(b.size() + 1, 0) {}
    atomic_histogram live;
    prometheus::Histogram* target;
    /// Multiplies the recorded unit into the exposed one (ns -> s).
    double unit_scale;
    std::vector<uint64_t> synced;
    uint64_t synced_sum = 0;
  };

  mirrored_histogram& add_histogram(const std::string& name, const std::string& help,
                                    const std::map<std::string, std::string>& labels,
                                    const bucket_bounds& bounds, double unit_scale);
  void sync_histogram(mirrored_histogram& h);
  void set_breaker(const std::string& model, breaker_state state);

  std::shared_ptr<prometheus::Registry> registry_;

  // Hot-path instruments (created up front: Family::Add locks, Increment does not).
  static constexpr size_t outcome_count = 13; // embed_errc::none .. runtime_unavailable
  std::array<std::array<prometheus::Counter*, outcome_count>, 2> requests_{};
  std::array<prometheus::Gauge*, 2> inflight_{};
  std::array<prometheus::Gauge*, 2> queued_{};
  std::array<prometheus::Counter*, status_class_count> attempts_{};
  std::array<prometheus::Counter*, status_class_count> retries_{};
  std::vector<std::unique_ptr<mirrored_histogram>> histograms_;
  std::array<mirrored_histogram*, 2> request_duration_{};
  std::array<mirrored_histogram*, 2> request_queue_{};
  mirrored_histogram* attempt_duration_ = nullptr;
  mirrored_histogram* batch_inputs_ = nullptr;
  mirrored_histogram* response_bytes_ = nullptr;
  prometheus::Gauge* pause_seconds_ = nullptr;
  prometheus::Gauge* health_gauge_ = nullptr;
  prometheus::Gauge* open_connections_ = nullptr;
  prometheus::Gauge* upstream_requests_ = nullptr;
  prometheus::Gauge* upstream_tokens_ = nullptr;
  /// Our budget (rate_budget): NaN until a limited bucket reports; the gauges are
  /// added at the first sync that sees a number (absent without a limit).
  std::atomic<double> budget_requests_{std::numeric_limits<double>::quiet_NaN()};
  std::atomic<double> budget_tokens_{std::numeric_limits<double>::quiet_NaN()};
  prometheus::Gauge* available_requests_ = nullptr;
  prometheus::Gauge* available_tokens_ = nullptr;

  /// `sync` and the counters' last values.
  mutable std::mutex sync_mutex_;
  std::vector<std::pair<std::string, prometheus::Counter*>> counters_;
  std::vector<uint64_t> counters_synced_;

  /// Event-driven state; guarded (events and health checks are rare, never per
  /// request).
  mutable std::mutex state_mutex_;
  /// Breaker state per model; at most `max_models` models get their own series.
  static constexpr size_t max_models = 32;
  std::map<std::string, std::pair<breaker_state, prometheus::Gauge*>> breakers_;
  steady_time paused_until_{};
  int32_t workers_down_ = 0;
  bool unavailable_ = false;
  std::string unavailable_reason_;
  bool stopping_ = false;
};

} // namespace embedrt::observability
