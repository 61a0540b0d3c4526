#include "src/runtime.hpp"

#include <algorithm>
#include <thread>

#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/logger.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/supervisor.hpp"
#include "config/config_loader.hpp"
#include "src/host/deferred_executor.hpp"
#include "src/http/curl_transport.hpp"

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

// -- embed_many: one short-lived actor per call, paced by bulk credit
// -------------------

struct bulk_job_state {
  static inline const char* name = "bulk_job";
  embedder_actor embedder;
  std::vector<std::string> texts;
  embed_options opts;
  uint32_t chunk = 64;
  size_t next = 0;
  size_t chunks_left = 0;
  uint32_t credit = 0;
  bool asking = false;
  embed_result result;
  std::shared_ptr<embed_completion> done;
};

void bulk_finish(caf::stateful_actor<bulk_job_state>* self, embed_outcome outcome) {
  auto& st = self->state;
  if (st.credit > 0)
    self->send(st.embedder, release_credit{st.credit});
  st.credit = 0;
  st.done->deliver(std::move(outcome));
  self->quit();
}

void bulk_pump(caf::stateful_actor<bulk_job_state>* self);

void bulk_ask(caf::stateful_actor<bulk_job_state>* self) {
  auto& st = self->state;
  if (st.asking)
    return;
  st.asking = true;
  auto chunks = (st.texts.size() - st.next + st.chunk - 1) / st.chunk;
  auto want = static_cast<uint32_t>(std::min<size_t>(chunks, 1024));
  self->request(st.embedder, caf::infinite, acquire_credit{want})
    .then(
      [=](credit_grant& g) {
        self->state.asking = false;
        if (g.requests == 0) {
          bulk_finish(self, embed_failure{embed_errc::shutting_down,
                                          "the runtime is shutting down", 0});
          return;
        }
        self->state.credit += g.requests;
        bulk_pump(self);
      },
      [=](caf::error& err) { bulk_finish(self, to_failure(err)); });
}

void bulk_pump(caf::stateful_actor<bulk_job_state>* self) {
  auto& st = self->state;
  while (st.credit > 0 && st.next < st.texts.size()) {
    auto first = st.next;
    auto last = std::min(st.texts.size(), first + st.chunk);
    st.next = last;
    --st.credit;
    embed_request req;
    req.texts.assign(std::make_move_iterator(st.texts.begin() + first),
                     std::make_move_iterator(st.texts.begin() + last));
    req.options = st.opts;
    req.options.priority = lane::bulk;
    req.options.uses_credit = true;
    self->request(st.embedder, caf::infinite, std::move(req))
      .then(
        [=](embed_result& r) {
          auto& s = self->state;
          for (size_t i = 0; i < r.embeddings.size(); ++i)
            s.result.embeddings[first + i] = std::move(r.embeddings[i]);
          s.result.usage.prompt_tokens += r.usage.prompt_tokens;
          s.result.usage.total_tokens += r.usage.total_tokens;
          s.result.model = std::move(r.model);
          if (--s.chunks_left == 0)
            bulk_finish(self, std::move(s.result));
        },
        [=](caf::error& err) { bulk_finish(self, to_failure(err)); });
  }
  if (st.next < st.texts.size())
    bulk_ask(self);
}

caf::behavior bulk_job(caf::stateful_actor<bulk_job_state>* self,
                       embedder_actor embedder, std::vector<std::string> texts,
                       embed_options opts, uint32_t chunk,
                       std::shared_ptr<embed_completion> done) {
  auto& st = self->state;
  st.embedder = std::move(embedder);
  st.texts = std::move(texts);
  st.opts = std::move(opts);
  st.chunk = std::max(1u, chunk);
  st.done = std::move(done);
  st.chunks_left = (st.texts.size() + st.chunk - 1) / st.chunk;
  st.result.embeddings.resize(st.texts.size());
  if (st.texts.empty()) {
    st.done->deliver(
      embed_failure{embed_errc::invalid_input, "the request has no texts", 0});
    self->quit();
    return {};
  }
  bulk_ask(self);
  return {[](caf::unit_t) {}};
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
  args.make_transport = std::move(opts.transport);
  rt->supervisor_ = rt->system_->spawn(embedrt::supervisor, std::move(args));
  caf::scoped_actor self{*rt->system_};
  if (opts.on_event) {
    // The callback is a spawn argument: CAF 0.17.6 trips UBSan on argument-less
    // actor functions.
    rt->event_forwarder_ = rt->system_->spawn(
      [](caf::event_based_actor*, std::function<void(const runtime_event&)> f)
        -> caf::behavior { return {[f](const runtime_event& ev) { f(ev); }}; },
      std::move(opts.on_event));
    self->send(rt->supervisor_, caf::subscribe_atom::value, rt->event_forwarder_);
  }
  self
    ->request(rt->supervisor_, std::chrono::seconds{10}, caf::get_atom::value,
              embedder_atom::value)
    .receive([&](embedder_actor& e) { rt->embedder_ = std::move(e); },
             [&](caf::error& err) {
               errors.push_back(config_error{"embedrt", "the runtime must start",
                                             caf::to_string(err)});
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
  auto l = opts.priority == lane::bulk ? 1 : 0;
  // Requests holding bulk credit are bounded by the credit instead of the count.
  bool counted = !opts.uses_credit;
  auto answer = [state = admission_, executor = deferred_, l, counted,
                 f = std::move(done)](embed_outcome x) {
    if (counted)
      state->outstanding[l].fetch_sub(1, std::memory_order_relaxed);
    if (host::entry_scope::active())
      executor->post([f, x = std::move(x)]() mutable { f(std::move(x)); });
    else
      f(std::move(x));
  };
  // Bound what this host can have outstanding (in the dispatcher's mailbox or
  // admitted) by the lane's capacity, so a host calling faster than the runtime can
  // serve never grows a mailbox: beyond it, `overloaded` at once, without a message.
  auto& outstanding = admission_->outstanding[l];
  auto capacity = l == 0 ? config_.limits.interactive_capacity
                         : config_.limits.bulk_capacity;
  bool over = counted
              && outstanding.fetch_add(1, std::memory_order_relaxed) >= capacity;
  if (stopped_) {
    answer(embed_failure{embed_errc::shutting_down, "the runtime is stopped", 0});
    return;
  }
  if (over) {
    admission_->shed.fetch_add(1, std::memory_order_relaxed);
    answer(embed_failure{embed_errc::overloaded,
                         std::string{"the "} + to_string(static_cast<lane>(l))
                           + " lane is full (" + std::to_string(capacity)
                           + " requests outstanding)",
                         0});
    return;
  }
  // A message to a dead actor is dropped with its completion, which then still
  // answers once: nothing can hang.
  caf::anon_send(embedder_, host_embed{embed_request{std::move(texts), std::move(opts)},
                                       make_completion(std::move(answer))});
}

std::future<embed_outcome> runtime::embed_many(std::vector<std::string> texts,
                                               embed_options opts,
                                               uint32_t texts_per_request) {
  auto p = std::make_shared<std::promise<embed_outcome>>();
  auto f = p->get_future();
  auto completion
    = make_completion([p](embed_outcome x) { p->set_value(std::move(x)); });
  if (stopped_) {
    completion->deliver(
      embed_failure{embed_errc::shutting_down, "the runtime is stopped", 0});
    return f;
  }
  host_thread_scope scope;
  system_->spawn(bulk_job, embedder_, std::move(texts), std::move(opts),
                 texts_per_request, std::move(completion));
  return f;
}

runtime_counters runtime::counters() {
  if (stopped_) {
    std::lock_guard<std::mutex> guard{stop_mutex_};
    return last_counters_;
  }
  return collect_counters();
}

runtime_counters runtime::collect_counters() {
  host_thread_scope scope;
  caf::scoped_actor self{*system_};
  return collect_counters(self);
}

runtime_counters runtime::collect_counters(caf::scoped_actor& self) {
  runtime_counters result;
  self->request(supervisor_, std::chrono::seconds{10}, caf::get_atom::value)
    .receive([&](runtime_counters& c) { result = c; }, [](caf::error&) {});
  result.requests_shed_overloaded += admission_->shed.load(std::memory_order_relaxed);
  return result;
}

shutdown_report runtime::stop() {
  return stop(std::chrono::milliseconds{config_.shutdown.grace_ms});
}

shutdown_report runtime::stop(std::chrono::milliseconds grace) {
  std::lock_guard<std::mutex> guard{stop_mutex_};
  if (stopped_.exchange(true) || !system_)
    return last_report_;
  // The handles stay valid (a late embed reaches a dead actor, whose dropped message
  // answers its caller); only the actors stop.
  host_thread_scope scope;
  {
    caf::scoped_actor self{*system_};
    self->request(embedder_, grace + stop_slack, begin_shutdown{grace})
      .receive([&](shutdown_report& r) { last_report_ = r; }, [](caf::error&) {});
    // Answers are in: the counters now hold every request's fate.
    last_counters_ = collect_counters(self);
    self->send_exit(supervisor_, caf::exit_reason::user_shutdown);
    if (event_forwarder_)
      self->send_exit(event_forwarder_, caf::exit_reason::user_shutdown);
  }
  system_->await_all_actors_done(); // and with them the curl threads
  return last_report_;
}

void runtime::crash_worker_for_test(uint32_t index) {
  if (!stopped_)
    caf::anon_send(supervisor_, embedrt::crash_worker_for_test{index});
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
    caf::anon_send(rt_.embedder(), host_acquire_credit{acquire_credit{credit_batch_},
                                                       std::move(completion)});
    credit_ = f.get().requests; // the producer waits here: backpressure
    if (credit_ == 0)
      return false;
  }
  --credit_;
  opts.priority = lane::bulk;
  opts.uses_credit = true;
  // As in runtime::embed: an answer decided in here never runs on this stack.
  host::entry_scope scope;
  caf::anon_send(rt_.embedder(),
                 host_embed{embed_request{std::move(texts), std::move(opts)},
                            make_completion(host::never_inline<embed_outcome>(
                              rt_.deferred_, std::move(done)))});
  return true;
}

} // namespace embedrt
