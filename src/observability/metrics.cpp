#include "src/observability/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include <nlohmann/json.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace embedrt::observability {

namespace {

constexpr double ns_to_s = 1e-9;

template<class T>
auto& family(prometheus::Registry& r, const std::string& name, const std::string& help);

template<>
auto& family<prometheus::Counter>(prometheus::Registry& r, const std::string& name,
                                  const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r);
}

template<>
auto& family<prometheus::Gauge>(prometheus::Registry& r, const std::string& name,
                                const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r);
}

const char* outcome_label(embed_errc x) {
  return x == embed_errc::none ? "ok" : to_string(x);
}

bool parse_breaker_state(const std::string& x, breaker_state& out) {
  for (auto s : {breaker_state::closed, breaker_state::open, breaker_state::half_open})
    if (x == to_string(s)) {
      out = s;
      return true;
    }
  return false;
}

} // namespace

const char* to_string(health_status x) {
  switch (x) {
    case health_status::ready: return "ready";
    case health_status::degraded: return "degraded";
    case health_status::unavailable: return "unavailable";
  }
  return "unavailable";
}

std::string health_report::to_json() const {
  nlohmann::json j;
  j["status"] = to_string(status);
  j["reasons"] = reasons;
  return j.dump();
}

const char* to_string(status_class x) {
  static constexpr const char* names[] = {"2xx", "4xx",       "429",
                                          "5xx", "transport", "bad_response"};
  return names[static_cast<size_t>(x)];
}

bool classify(attempt_status status, uint16_t http_status, status_class& out) {
  switch (status) {
    case attempt_status::succeeded: out = status_class::ok_2xx; return true;
    case attempt_status::http_error:
      out = http_status == 429   ? status_class::rate_limited_429
            : http_status >= 500 ? status_class::server_5xx
                                 : status_class::client_4xx;
      return true;
    case attempt_status::bad_response: out = status_class::bad_response; return true;
    case attempt_status::expired: return false;
    default: out = status_class::transport; return true;
  }
}

// -- construction ------------------------------------------------------------------

runtime_metrics::runtime_metrics(std::shared_ptr<prometheus::Registry> registry)
  : registry_(registry ? std::move(registry)
                       : std::make_shared<prometheus::Registry>()) {
  auto& r = *registry_;
  auto& requests = family<prometheus::Counter>(
    r, "embedrt_requests_total",
    "Requests answered, by lane and outcome (ok or the embed_errc of the failure)");
  auto& inflight = family<prometheus::Gauge>(
    r, "embedrt_inflight_requests", "Requests admitted and not yet answered, by lane");
  auto& queued = family<prometheus::Gauge>(
    r, "embedrt_queued_requests",
    "Texts waiting in the lane's queue for an upstream batch, by lane");
  for (size_t l = 0; l < 2; ++l) {
    auto lane_name = to_string(static_cast<lane>(l));
    for (size_t o = 0; o < outcome_count; ++o)
      requests_[l][o] = &requests.Add(
        {{"lane", lane_name}, {"outcome", outcome_label(static_cast<embed_errc>(o))}});
    inflight_[l] = &inflight.Add({{"lane", lane_name}});
    queued_[l] = &queued.Add({{"lane", lane_name}});
    request_duration_[l]
      = &add_histogram("embedrt_request_duration_seconds",
                       "Admission to answer, seconds, by lane (every answered request)",
                       {{"lane", lane_name}}, duration_buckets_ns(), ns_to_s);
    request_queue_[l]
      = &add_histogram("embedrt_request_queue_seconds",
                       "Admission to the first attempt on the wire, seconds, by lane",
                       {{"lane", lane_name}}, duration_buckets_ns(), ns_to_s);
  }
  auto& attempts = family<prometheus::Counter>(
    r, "embedrt_upstream_attempts_total",
    "Upstream attempts that ended, by status class (2xx, 4xx, 429, 5xx, transport, "
    "bad_response)");
  auto& retries = family<prometheus::Counter>(
    r, "embedrt_retries_total",
    "Attempts that retried a request, by the status class of the attempt before");
  for (size_t c = 0; c < status_class_count; ++c) {
    auto name = to_string(static_cast<status_class>(c));
    attempts_[c] = &attempts.Add({{"status_class", name}});
    retries_[c] = &retries.Add({{"reason", name}});
  }
  attempt_duration_
    = &add_histogram("embedrt_attempt_duration_seconds",
                     "Time on the wire of one upstream attempt, seconds", {},
                     duration_buckets_ns(), ns_to_s);
  batch_inputs_ = &add_histogram("embedrt_batch_inputs",
                                 "Inputs per upstream request sent (each attempt)", {},
                                 batch_input_buckets(), 1.0);
  response_bytes_ = &add_histogram("embedrt_response_bytes",
                                   "Size of upstream response bodies, bytes", {},
                                   response_byte_buckets(), 1.0);
  pause_seconds_ = &family<prometheus::Gauge>(
                      r, "embedrt_ratelimit_pause_seconds",
                      "Seconds left of the pause a 429 imposed on all grants (0: none)")
                      .Add({});
  health_gauge_ = &family<prometheus::Gauge>(
                     r, "embedrt_health_status",
                     "0 ready, 1 degraded, 2 unavailable (see runtime::health)")
                     .Add({});
  open_connections_
    = &family<prometheus::Gauge>(r, "embedrt_open_connections",
                                 "Connections (sockets) the HTTP transports hold open")
         .Add({});
  upstream_requests_ = &family<prometheus::Gauge>(
                          r, "embedrt_upstream_ratelimit_remaining_requests",
                          "Requests left in the upstream's rate window, as its last "
                          "x-ratelimit-remaining-requests said (-1: never reported)")
                          .Add({});
  upstream_tokens_ = &family<prometheus::Gauge>(
                        r, "embedrt_upstream_ratelimit_remaining_tokens",
                        "Tokens left in the upstream's rate window, as its last "
                        "x-ratelimit-remaining-tokens said (-1: never reported)")
                        .Add({});
  upstream_requests_->Set(-1);
  upstream_tokens_->Set(-1);
  // Every runtime_counters field, generically (names follow the struct).
  runtime_counters zero;
  zero.for_each([&](const char* field, uint64_t) {
    auto name = std::string{"embedrt_"} + field + "_total";
    auto& f = family<prometheus::Counter>(
      r, name, std::string{"runtime_counters."} + field + " (see README, Metrics)");
    counters_.emplace_back(field, &f.Add({}));
  });
  counters_synced_.assign(counters_.size(), 0);
}

runtime_metrics::~runtime_metrics() = default;

runtime_metrics::mirrored_histogram&
runtime_metrics::add_histogram(const std::string& name, const std::string& help,
                               const std::map<std::string, std::string>& labels,
                               const bucket_bounds& bounds, double unit_scale) {
  prometheus::Histogram::BucketBoundaries b;
  for (auto x : bounds)
    b.push_back(static_cast<double>(x) * unit_scale);
  auto& h = prometheus::BuildHistogram()
              .Name(name)
              .Help(help)
              .Register(*registry_)
              .Add(labels, b);
  histograms_.push_back(std::make_unique<mirrored_histogram>(bounds, h, unit_scale));
  return *histograms_.back();
}

// -- hot path ------------------------------------------------------------------------

void runtime_metrics::request_admitted(lane l) noexcept {
  inflight_[static_cast<size_t>(l) & 1]->Increment();
}

void runtime_metrics::request_answered(lane l, embed_errc outcome,
                                       std::chrono::nanoseconds total) noexcept {
  auto i = static_cast<size_t>(l) & 1;
  auto o = static_cast<size_t>(outcome);
  requests_[i][o < outcome_count ? o : outcome_count - 1]->Increment();
  inflight_[i]->Decrement();
  request_duration_[i]->live.observe(
    static_cast<uint64_t>(std::max<int64_t>(total.count(), 0)));
}

void runtime_metrics::attempt_finished(attempt_status status, uint16_t http_status,
                                       std::chrono::nanoseconds wire_time) noexcept {
  status_class c;
  if (!classify(status, http_status, c))
    return;
  attempts_[static_cast<size_t>(c)]->Increment();
  attempt_duration_->live.observe(
    static_cast<uint64_t>(std::max<int64_t>(wire_time.count(), 0)));
}

void runtime_metrics::attempt_sent(uint32_t inputs) noexcept {
  batch_inputs_->live.observe(inputs);
}

void runtime_metrics::upstream_remaining(int64_t requests, int64_t tokens) noexcept {
  if (requests >= 0)
    upstream_requests_->Set(static_cast<double>(requests));
  if (tokens >= 0)
    upstream_tokens_->Set(static_cast<double>(tokens));
}

void runtime_metrics::rate_budget(double requests, double tokens) noexcept {
  auto level = [](double x) { return std::isnan(x) ? x : std::max(x, 0.0); };
  budget_requests_.store(level(requests), std::memory_order_relaxed);
  budget_tokens_.store(level(tokens), std::memory_order_relaxed);
}

void runtime_metrics::response_received(uint64_t bytes) noexcept {
  response_bytes_->live.observe(bytes);
}

void runtime_metrics::set_queued(lane l, size_t texts) noexcept {
  queued_[static_cast<size_t>(l) & 1]->Set(static_cast<double>(texts));
}

void runtime_metrics::request_done(const request_trace& trace) {
  auto l = static_cast<size_t>(trace.request_lane) & 1;
  request_queue_[l]->live.observe(
    static_cast<uint64_t>(std::max<int64_t>(trace.queue.count(), 0)));
  for (size_t i = 1; i < trace.attempts.size(); ++i) {
    auto& before = trace.attempts[i - 1];
    status_class c;
    if (!classify(before.status, before.http_status, c))
      c = status_class::transport;
    retries_[static_cast<size_t>(c)]->Increment();
  }
  if (on_request_done)
    on_request_done(trace);
}

// -- events and health ---------------------------------------------------------------

void runtime_metrics::set_breaker(const std::string& model, breaker_state state) {
  auto i = breakers_.find(model);
  if (i == breakers_.end()) {
    auto label = breakers_.size() < max_models ? model : std::string{"other"};
    auto& g = family<prometheus::Gauge>(
                *registry_, "embedrt_breaker_state",
                "Circuit breaker state per model: 0 closed, 1 half-open, 2 open")
                .Add({{"model", label}});
    i = breakers_.emplace(model, std::make_pair(state, &g)).first;
  }
  i->second.first = state;
  i->second.second->Set(state == breaker_state::closed      ? 0.0
                        : state == breaker_state::half_open ? 1.0
                                                            : 2.0);
}

void runtime_metrics::breakers_replaced() {
  std::lock_guard<std::mutex> guard{state_mutex_};
  for (auto& entry : breakers_) {
    entry.second.first = breaker_state::closed;
    entry.second.second->Set(0.0);
  }
}

void runtime_metrics::on_event(const runtime_event& ev) {
  std::lock_guard<std::mutex> guard{state_mutex_};
  switch (ev.kind) {
    case event_kind::breaker_transitioned: {
      // source "circuit_breaker <model>", detail "<from>-><to>".
      static constexpr std::string_view prefix = "circuit_breaker ";
      auto model = ev.source.compare(0, prefix.size(), prefix) == 0
                     ? ev.source.substr(prefix.size())
                     : ev.source;
      auto arrow = ev.detail.find("->");
      breaker_state to;
      if (arrow != std::string::npos
          && parse_breaker_state(ev.detail.substr(arrow + 2), to))
        set_breaker(model, to);
      break;
    }
    case event_kind::grants_paused: {
      // detail "<n> ms": the pause applied, from `at`.
      auto ms = std::strtoll(ev.detail.c_str(), nullptr, 10);
      auto until = steady_time{ev.at.time_since_epoch()}
                   + std::chrono::milliseconds{ms};
      if (until > paused_until_)
        paused_until_ = until;
      break;
    }
    case event_kind::worker_failed: ++workers_down_; break;
    case event_kind::worker_restarted:
      if (workers_down_ > 0)
        --workers_down_;
      break;
    case event_kind::pool_restarted: workers_down_ = 0; break;
    case event_kind::runtime_unavailable:
      unavailable_ = true;
      unavailable_reason_ = ev.detail;
      break;
    case event_kind::runtime_available:
      unavailable_ = false;
      unavailable_reason_.clear();
      workers_down_ = 0;
      break;
    case event_kind::shutdown_started: stopping_ = true; break;
    default: break;
  }
}

void runtime_metrics::set_stopping() {
  std::lock_guard<std::mutex> guard{state_mutex_};
  stopping_ = true;
}

health_report runtime_metrics::health(steady_time now) const {
  std::lock_guard<std::mutex> guard{state_mutex_};
  health_report r;
  if (stopping_) {
    r.status = health_status::unavailable;
    r.reasons.emplace_back("the runtime is stopping");
    return r;
  }
  if (unavailable_) {
    r.status = health_status::unavailable;
    r.reasons.emplace_back("the runtime refuses work: " + unavailable_reason_);
    return r;
  }
  for (auto& [model, entry] : breakers_)
    if (entry.first != breaker_state::closed)
      r.reasons.push_back("circuit breaker " + std::string{to_string(entry.first)}
                          + " for model " + model);
  if (now < paused_until_) {
    auto ms
      = std::chrono::duration_cast<std::chrono::milliseconds>(paused_until_ - now);
    r.reasons.push_back("rate limiter paused by a 429 for another "
                        + std::to_string(ms.count()) + " ms");
  }
  if (workers_down_ > 0)
    r.reasons.push_back(std::to_string(workers_down_) + " HTTP worker(s) restarting");
  if (!r.reasons.empty())
    r.status = health_status::degraded;
  return r;
}

// -- exposition ----------------------------------------------------------------------

void runtime_metrics::sync_histogram(mirrored_histogram& h) {
  auto s = h.live.read();
  std::vector<double> increments(s.counts.size(), 0.0);
  bool any = false;
  for (size_t i = 0; i < s.counts.size(); ++i) {
    if (s.counts[i] > h.synced[i]) {
      increments[i] = static_cast<double>(s.counts[i] - h.synced[i]);
      h.synced[i] = s.counts[i];
      any = true;
    }
  }
  if (!any)
    return;
  auto sum = s.sum >= h.synced_sum ? s.sum - h.synced_sum : 0;
  h.synced_sum = s.sum;
  h.target->ObserveMultiple(increments, static_cast<double>(sum) * h.unit_scale);
}

void runtime_metrics::sync(const runtime_counters& counters, steady_time now) {
  std::lock_guard<std::mutex> guard{sync_mutex_};
  size_t i = 0;
  counters.for_each([&](const char*, uint64_t value) {
    if (i < counters_.size() && value > counters_synced_[i]) {
      counters_[i].second->Increment(static_cast<double>(value - counters_synced_[i]));
      counters_synced_[i] = value;
    }
    ++i;
  });
  for (auto& h : histograms_)
    sync_histogram(*h);
  if (open_connections)
    open_connections_->Set(open_connections());
  // Our rate budget: a gauge only for a bucket with a limit (NaN: none).
  auto budget = [&](const std::atomic<double>& value, prometheus::Gauge*& gauge,
                    const char* name, const char* help) {
    auto x = value.load(std::memory_order_relaxed);
    if (std::isnan(x))
      return;
    if (!gauge)
      gauge = &family<prometheus::Gauge>(*registry_, name, help).Add({});
    gauge->Set(x);
  };
  budget(budget_requests_, available_requests_, "embedrt_ratelimit_available_requests",
         "Requests our rate limiter could grant now (its requests-per-minute bucket, "
         "leases counted as used; absent without a limit)");
  budget(budget_tokens_, available_tokens_, "embedrt_ratelimit_available_tokens",
         "Tokens our rate limiter could grant now (its tokens-per-minute bucket, "
         "leases counted as used; absent without a limit)");
  auto report = health(now);
  health_gauge_->Set(static_cast<double>(report.status));
  std::lock_guard<std::mutex> state_guard{state_mutex_};
  auto left = paused_until_ > now ? paused_until_ - now : steady_time::duration{0};
  pause_seconds_->Set(std::chrono::duration<double>(left).count());
}

std::string runtime_metrics::text() const {
  prometheus::TextSerializer serializer;
  return serializer.Serialize(registry_->Collect());
}

double runtime_metrics::synced_counter(const std::string& field) const {
  std::lock_guard<std::mutex> guard{sync_mutex_};
  for (auto& [name, counter] : counters_)
    if (name == field)
      return counter->Value();
  return -1;
}

} // namespace embedrt::observability
