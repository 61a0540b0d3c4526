#include <embedrt/runtime.hpp>

#include <algorithm>
#include <thread>

#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/logger.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include "actors/bulk_job.hpp"
#include "actors/event_observer.hpp"
#include "actors/supervisor.hpp"
#include "config/config_loader.hpp"
#include "config/endpoint.hpp"
#include "src/dispatch/admission_gate.hpp"
#include "src/host/deferred_executor.hpp"
#include "src/http/curl_transport.hpp"
#include "src/observability/json_log.hpp"
#include "src/observability/metrics.hpp"

namespace embedrt {

namespace {

/// How long `stop` waits for the dispatcher beyond the grace period.
constexpr auto stop_slack = std::chrono::seconds{5};

std::shared_ptr<embed_completion>
make_completion(std::function<void(embed_outcome)> done) {
  return std::make_shared<embed_completion>(
    std::move(done), embed_outcome{embed_failure{
                       embed_errc::worker_failed,
                       "the request was dropped without an answer (the runtime "
                       "stopped or its dispatcher failed)",
                       0}});
}

/// CAF 0.17 leaves a strong reference to the system's logger in a thread_local of
/// every thread that spawns an actor (scoped_actor included), and ~actor_system
/// waits until all of them are gone. A host thread that called start, counters or
/// embed_many would then keep stop() on any other thread from returning for as long
/// as it lives. Every host entry point that spawns holds one of these, which drops
/// the reference again on the way out, unless the thread already had a logger (a
/// CAF worker thread), which is left as it was.
class host_thread_scope {
public:
  host_thread_scope() : had_logger_(caf::logger::current_logger() != nullptr) {}
  ~host_thread_scope() {
    if (!had_logger_)
      caf::logger::set_current_actor_system(nullptr);
  }
  host_thread_scope(const host_thread_scope&) = delete;
  host_thread_scope& operator=(const host_thread_scope&) = delete;

private:
  bool had_logger_;
};

} // namespace

// -- runtime
// ---------------------------------------------------------------------------

struct runtime::internal_handles {
  supervisor_actor supervisor;
  /// The dispatcher with its control messages (`embedder_` is the host's view).
  dispatcher_actor dispatcher;
};

runtime::runtime() : internal_(std::make_unique<internal_handles>()) {}

std::unique_ptr<runtime> runtime::start(const runtime_config& cfg,
                                        std::vector<config_error>& errors,
                                        runtime_options opts) {
  errors = validate(cfg);
  resolved_endpoint endpoint;
  if (errors.empty()) {
    auto more = resolve_endpoint(cfg.endpoint, endpoint);
    errors.insert(errors.end(), more.begin(), more.end());
  }
  if (!errors.empty())
    return nullptr;
  host_thread_scope scope;
  std::unique_ptr<runtime> rt{new runtime};
  rt->config_ = cfg;
  rt->deferred_ = std::make_shared<host::deferred_executor>();
  rt->gate_ = std::make_shared<dispatch::admission_gate>(
    cfg.limits.interactive_capacity, cfg.limits.bulk_capacity);
  rt->system_config_ = std::make_unique<caf::actor_system_config>();
  auto& sc = *rt->system_config_;
  add_embedrt_types(sc);
  for (auto& kv : opts.system_settings)
    if (kv.first != "embedrt")
      sc.content[kv.first] = kv.second;
  if (opts.scheduler_threads == 0
      && caf::get_if(&sc.content, "scheduler.max-threads") == nullptr) {
    // Each worker's curl thread needs a core of its own: by default leave them one
    // instead of running as many CAF threads as cores (measured: fewer context
    // switches and less CPU per request on 2 cores).
    auto cores = std::max(1u, std::thread::hardware_concurrency());
    opts.scheduler_threads = std::max(1u,
                                      cores - std::min(cores, cfg.http_pool.workers));
  }
  if (opts.scheduler_threads > 0)
    sc.set("scheduler.max-threads", opts.scheduler_threads);
  if (caf::get_if(&sc.content, "scheduler.policy") == nullptr) {
    // Work sharing: idle CAF threads wait on a condition variable instead of polling
    // with short sleeps (work stealing). Measured in bench/ (nginx, 16-64 in flight):
    // 4-7 us less CPU per request (a result from a curl thread wakes the CAF thread
    // instead of waiting for its next poll). `scheduler.policy` in system_settings
    // overrides it.
    sc.set("scheduler.policy", caf::atom("sharing"));
  }
  rt->system_ = std::make_unique<caf::actor_system>(sc);
  if (!opts.transport) {
    http::ensure_curl_initialized();
    opts.transport = http::make_curl_transport;
  }
  bool host_registry = opts.metrics_registry != nullptr;
  rt->metrics_ = std::make_shared<observability::runtime_metrics>(
    std::move(opts.metrics_registry));
  rt->metrics_->on_request_done = std::move(opts.on_request_done);
  supervisor_args args;
  args.config = cfg;
  args.shared_budget = make_shared_budget_args(
    cfg.rate_limiter, endpoint.embeddings_url, endpoint.api_key);
  args.transport.url = endpoint.embeddings_url;
  args.transport.api_key = std::move(endpoint.api_key);
  args.transport.ca_bundle = cfg.endpoint.ca_bundle;
  args.transport.proxy = endpoint.proxy;
  args.transport.bypass_proxy = endpoint.bypass_proxy;
  args.transport.max_response_bytes = cfg.limits.max_response_bytes;
  args.transport.connect_timeout
    = std::chrono::milliseconds{cfg.endpoint.connect_timeout_ms};
  args.transport.counters = std::make_shared<http::transport_counters>();
  args.transport.counters->on_response_bytes = [m = rt->metrics_](uint64_t n) {
    m->response_received(n);
  };
  // Weak: the counters hold the metrics (above); no cycle.
  rt->metrics_->open_connections = [w = std::weak_ptr<http::transport_counters>{
                                      args.transport.counters}] {
    auto c = w.lock();
    return c ? static_cast<double>(c->connections_open.load(std::memory_order_relaxed))
             : 0.0;
  };
  args.make_transport = std::move(opts.transport);
  // Observability: metrics (the host's registry or our own), the JSON-line log (its
  // config line first, the key redacted), an observer for events and health.
  auto level = observability::log_level::off;
  observability::parse_log_level(cfg.log.level, level);
  auto log = std::make_shared<observability::json_log>(level, cfg.log.file,
                                                       args.transport.api_key);
  log->config(cfg);
  args.metrics = rt->metrics_;
  args.gate = rt->gate_;
  rt->internal_->supervisor = rt->system_->spawn(embedrt::supervisor, std::move(args));
  caf::scoped_actor self{*rt->system_};
  event_observer_args oa;
  oa.metrics = rt->metrics_;
  oa.log = std::move(log);
  oa.forward = std::move(opts.on_event);
  oa.supervisor = rt->internal_->supervisor;
  if (host_registry)
    oa.sync_period = std::chrono::seconds{1};
  rt->event_forwarder_ = rt->system_->spawn(event_observer, std::move(oa));
  self
    ->request(rt->internal_->supervisor, std::chrono::seconds{10}, caf::get_atom::value,
              dispatcher_atom::value)
    .receive(
      [&](dispatcher_actor& d) {
        rt->embedder_ = d; // the host's view: host messages only
        rt->internal_->dispatcher = std::move(d);
      },
      [&](caf::error& err) {
        errors.push_back(
          config_error{"embedrt", "the runtime must start", caf::to_string(err)});
      });
  if (!errors.empty())
    return nullptr;
  return rt;
}

std::unique_ptr<runtime> runtime::start_from_file(const std::string& path,
                                                  std::vector<config_error>& errors,
                                                  runtime_options opts) {
  embedrt_config cfg;
  errors = load_config_file(cfg, path);
  if (!errors.empty())
    return nullptr;
  if (opts.system_settings.empty())
    opts.system_settings = cfg.content;
  return start(cfg.values, errors, std::move(opts));
}

runtime::~runtime() {
  stop();
  // Answers handed to the executor are delivered before the runtime goes.
  deferred_->shutdown();
  // Actors are gone (stop waited for them); the system goes last so that handles
  // held by hosts and late messages to dead actors stay safe until here.
  host_thread_scope scope;
  system_.reset();
}

std::future<embed_outcome> runtime::embed(std::vector<std::string> texts,
                                          embed_options opts) {
  auto p = std::make_shared<std::promise<embed_outcome>>();
  auto f = p->get_future();
  embed(std::move(texts), std::move(opts),
        [p](embed_outcome x) { p->set_value(std::move(x)); });
  return f;
}

void runtime::embed(std::vector<std::string> texts, embed_options opts,
                    std::function<void(embed_outcome)> done) {
  // Whatever is decided in here (shed, stopped, a message to a dead actor dropped
  // with its completion) is answered on the deferred executor, never on this stack.
  host::entry_scope scope;
  auto l = opts.priority == lane::bulk ? lane::bulk : lane::interactive;
  auto reply = [executor = deferred_](std::function<void(embed_outcome)>& f,
                                      embed_outcome x) {
    if (host::entry_scope::active())
      executor->post(
        [f = std::move(f), x = std::move(x)]() mutable { f(std::move(x)); });
    else
      f(std::move(x));
  };
  // Refused here, before the dispatcher: counted in `embedrt_requests_total` and traced
  // (request_id 0) like the dispatcher's refusals; the hook runs off this stack too.
  auto refuse = [&](embed_failure failure) {
    metrics_->request_admitted(l);
    metrics_->request_answered(l, failure.code, std::chrono::nanoseconds{0});
    if (metrics_->on_request_done) {
      request_trace trace;
      trace.request_lane = l;
      trace.model = opts.model.empty() ? config_.endpoint.model : opts.model;
      trace.inputs = static_cast<uint32_t>(texts.size());
      trace.outcome = failure.code;
      deferred_->post(
        [m = metrics_, trace = std::move(trace)] { m->on_request_done(trace); });
    }
    reply(done, std::move(failure));
  };
  if (stopped_)
    return refuse(
      embed_failure{embed_errc::shutting_down, "the runtime is stopped", 0});
  // The one admission point: beyond the lane's bound, `overloaded` at once, without
  // a message, so a host calling faster than the runtime serves never grows a mailbox.
  if (!gate_->try_enter(l))
    return refuse(embed_failure{embed_errc::overloaded,
                                std::string{"the "} + to_string(l) + " lane is full ("
                                  + std::to_string(gate_->capacity(l))
                                  + " requests admitted)",
                                0});
  // Entered: the completion leaves the gate, exactly once, however it is answered
  // (by the dispatcher, or with its fallback when the message or actor dies).
  auto answer = [gate = gate_, reply, l, f = std::move(done)](embed_outcome x) mutable {
    gate->leave(l);
    reply(f, std::move(x));
  };
  caf::anon_send(internal_->dispatcher,
                 host_embed{embed_request{std::move(texts), std::move(opts)},
                            make_completion(std::move(answer)),
                            admission_path::entered});
}

std::future<embed_many_outcome> runtime::embed_many(std::vector<std::string> texts,
                                                    embed_options opts,
                                                    uint32_t texts_per_request) {
  auto p = std::make_shared<std::promise<embed_many_outcome>>();
  auto f = p->get_future();
  auto completion = std::make_shared<bulk_completion>(
    texts.size(), [p](embed_many_outcome x) { p->set_value(std::move(x)); });
  if (stopped_) {
    completion->deliver(bulk_completion::all_failed(
      texts.size(),
      embed_failure{embed_errc::shutting_down, "the runtime is stopped", 0}));
    return f;
  }
  host_thread_scope scope;
  system_->spawn(bulk_job, bulk_job_args{embedder_, std::move(texts), std::move(opts),
                                         texts_per_request, std::move(completion)});
  return f;
}

runtime_counters runtime::counters() {
  if (stopped_) {
    std::lock_guard<std::mutex> guard{stop_mutex_};
    return last_counters_;
  }
  return collect_counters();
}

std::string runtime::metrics_text() {
  metrics_->sync(counters(), std::chrono::steady_clock::now());
  return metrics_->text();
}

namespace {

/// A scrape (a prometheus::Exposer, the CLI's endpoint): brings the registry up to date
/// first.
class scrape_collectable final : public prometheus::Collectable {
public:
  scrape_collectable(runtime& rt, std::shared_ptr<observability::runtime_metrics> m)
    : rt_(rt), metrics_(std::move(m)) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    metrics_->sync(rt_.counters(), std::chrono::steady_clock::now());
    return metrics_->registry()->Collect();
  }

private:
  runtime& rt_;
  std::shared_ptr<observability::runtime_metrics> metrics_;
};

} // namespace

std::shared_ptr<prometheus::Collectable> runtime::metrics_collectable() {
  return std::make_shared<scrape_collectable>(*this, metrics_);
}

health_report runtime::health() {
  if (stopped_)
    metrics_->set_stopping();
  return metrics_->health(std::chrono::steady_clock::now());
}

runtime_counters runtime::collect_counters() {
  host_thread_scope scope;
  caf::scoped_actor self{*system_};
  return collect_counters(self);
}

runtime_counters runtime::collect_counters(caf::scoped_actor& self) {
  runtime_counters result;
  self->request(internal_->supervisor, std::chrono::seconds{10}, caf::get_atom::value)
    .receive([&](runtime_counters& c) { result = c; }, [](caf::error&) {});
  return result;
}

shutdown_report runtime::stop() {
  return stop(std::chrono::milliseconds{config_.shutdown.grace_ms});
}

shutdown_report runtime::stop(std::chrono::milliseconds grace) {
  std::lock_guard<std::mutex> guard{stop_mutex_};
  if (stopped_.exchange(true) || !system_)
    return last_report_;
  metrics_->set_stopping();
  // The handles stay valid (a late embed reaches a dead actor, whose dropped message
  // answers its caller); only the actors stop.
  host_thread_scope scope;
  {
    caf::scoped_actor self{*system_};
    self->request(internal_->dispatcher, grace + stop_slack, begin_shutdown{grace})
      .receive([&](shutdown_report& r) { last_report_ = r; }, [](caf::error&) {});
    // Answers are in: the counters now hold every request's fate.
    last_counters_ = collect_counters(self);
    self->send_exit(internal_->supervisor, caf::exit_reason::user_shutdown);
    if (event_forwarder_)
      self->send_exit(event_forwarder_, caf::exit_reason::user_shutdown);
  }
  system_->await_all_actors_done(); // and with them the curl threads
  return last_report_;
}

void runtime::crash_worker_for_test(uint32_t index) {
  if (!stopped_)
    caf::anon_send(internal_->supervisor, embedrt::crash_worker_for_test{index});
}

// -- bulk_session
// ----------------------------------------------------------------------

bulk_session::bulk_session(runtime& rt, uint32_t credit_batch)
  : rt_(rt), credit_batch_(std::max(1u, credit_batch)) {}

bulk_session::~bulk_session() {
  if (credit_ > 0 && rt_.embedder())
    caf::anon_send(rt_.embedder(), release_credit{credit_});
}

bool bulk_session::submit(std::vector<std::string> texts, embed_options opts,
                          std::function<void(embed_outcome)> done) {
  if (!rt_.embedder())
    return false;
  if (credit_ == 0) {
    auto p = std::make_shared<std::promise<credit_grant>>();
    auto f = p->get_future();
    auto completion = std::make_shared<credit_completion>(
      [p](credit_grant g) { p->set_value(g); }, credit_grant{0});
    caf::anon_send(rt_.internal_->dispatcher,
                   host_acquire_credit{acquire_credit{credit_batch_},
                                       std::move(completion)});
    credit_ = f.get().requests; // the producer waits here: backpressure
    if (credit_ == 0)
      return false;
  }
  --credit_;
  opts.priority = lane::bulk;
  // As in runtime::embed: an answer decided in here never runs on this stack.
  host::entry_scope scope;
  caf::anon_send(rt_.internal_->dispatcher,
                 host_embed{embed_request{std::move(texts), std::move(opts)},
                            make_completion(host::never_inline<embed_outcome>(
                              rt_.deferred_, std::move(done))),
                            admission_path::credit});
  return true;
}

} // namespace embedrt
