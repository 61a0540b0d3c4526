// The embeddable facade: start the actors from a config, embed texts, stop.
//
//   #include <embedrt/runtime.hpp>
//
//   std::vector<embedrt::config_error> errors;
//   auto rt = embedrt::runtime::start(cfg, errors); // or start_from_file(path, ...)
//   auto outcome = rt->embed({"what is a vector?"}).get();
//   if (outcome)
//     use(outcome.value().embeddings[0]);
//   else
//     log(outcome.error().code, outcome.error().message);
//
// Hosts that are CAF actors talk to `embedder()` directly (<embedrt/embedder.hpp>):
//   self->request(rt->embedder(), 30s, embed_request{...}).then(...);
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/settings.hpp>

#include <embedrt/embedder.hpp>
#include <embedrt/embedding.hpp>
#include <embedrt/errors.hpp>
#include <embedrt/health.hpp>
#include <embedrt/observability.hpp>
#include <embedrt/outcome.hpp>
#include <embedrt/runtime_config.hpp>
#include <embedrt/trace.hpp>
#include <embedrt/transport_fwd.hpp>

namespace prometheus {
class Registry;
class Collectable;
} // namespace prometheus

namespace embedrt::observability {
class runtime_metrics;
} // namespace embedrt::observability

namespace embedrt::dispatch {
class admission_gate;
} // namespace embedrt::dispatch

namespace embedrt {

namespace host {
class deferred_executor;
} // namespace host

struct runtime_options {
  /// Replaces libcurl (tests); empty: the libcurl transport.
  http::transport_factory transport;
  /// CAF scheduler threads; 0: CAF's default (one per core), or
  /// `scheduler.max-threads` from `system_settings`.
  size_t scheduler_threads = 0;
  /// CAF's own settings for the runtime's actor system (`scheduler.*`,
  /// `work-stealing.*`, ...), e.g. what `load_config` read from caf-application.conf.
  /// `embedrt.*` entries are ignored here (they are the runtime_config).
  caf::settings system_settings;
  /// Called for every `runtime_event`, on a CAF thread; must not block.
  std::function<void(const runtime_event&)> on_event;
  /// The host's registry: the runtime's metrics are added to it (and brought up to
  /// date every second), so the host's own exporter serves them. Null: a registry of
  /// the runtime's own (`metrics_text`).
  std::shared_ptr<prometheus::Registry> metrics_registry;
  /// Called once per answered request with its trace (lane, model, outcome, queue,
  /// permit, breaker and wire times, attempts), on the dispatcher's thread: must not
  /// block. See examples/trace_hook.cpp.
  std::function<void(const request_trace&)> on_request_done;
};

using health_status = observability::health_status;
using health_report = observability::health_report;

class runtime {
public:
  /// Validates `cfg`, resolves the endpoint (base URL and API key from the
  /// environment) and starts the actors. Returns nullptr and fills `errors` (every
  /// broken rule, key named, secrets never shown) when the config is invalid.
  static std::unique_ptr<runtime> start(const runtime_config& cfg,
                                        std::vector<config_error>& errors,
                                        runtime_options opts = {});

  /// Reads `path` (CAF 0.17 INI syntax, e.g. config/caf-application.conf), then as
  /// `start`. A missing file is an error.
  static std::unique_ptr<runtime> start_from_file(const std::string& path,
                                                  std::vector<config_error>& errors,
                                                  runtime_options opts = {});

  /// Stops with the configured grace period if `stop` was not called.
  ~runtime();

  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  /// Embeds `texts`; the future always becomes ready, before the request's deadline,
  /// with the vectors or a typed error.
  std::future<embed_outcome> embed(std::vector<std::string> texts,
                                   embed_options opts = {});

  /// Callback form; `done` runs exactly once and must not block. It never runs inside
  /// this call (not even for an answer decided at once, such as `overloaded` or
  /// `shutting_down`), so a host may submit again from `done`: it runs on a CAF
  /// thread, or on the runtime's deferred-answer thread.
  void embed(std::vector<std::string> texts, embed_options opts,
             std::function<void(embed_outcome)> done);

  /// Bulk form for many texts: split into requests of `texts_per_request`, sent on
  /// the bulk lane with credit (it waits for room instead of being shed). The outcome
  /// answers every text on its own, in input order: its vector, or why it failed
  /// (`invalid_input` for an empty text, `upstream_rejected` for a text the upstream
  /// refuses, `shutting_down` after `stop`, ...). A bad text costs only itself: a
  /// request refused because of one of its texts is split until only that text fails.
  std::future<embed_many_outcome> embed_many(std::vector<std::string> texts,
                                             embed_options opts = {},
                                             uint32_t texts_per_request = 64);

  /// The entry point for hosts that are CAF actors (host messages only).
  embedder_actor embedder() const noexcept { return embedder_; }
  caf::actor_system& system() noexcept { return *system_; }
  const runtime_config& config() const noexcept { return config_; }

  /// All counters, added up over the actors. Blocks up to a few seconds. After
  /// `stop`: the counters as they were when the actors stopped.
  runtime_counters counters();

  /// The metrics in the Prometheus text format (prometheus-cpp's serializer), counters
  /// as `counters()` returns them at this moment. Blocks like `counters()`.
  std::string metrics_text();

  /// Collects like `metrics_text` (for a prometheus::Exposer); valid while the runtime
  /// lives.
  std::shared_ptr<prometheus::Collectable> metrics_collectable();

  /// ready; degraded (a breaker open, a 429 pause, workers restarting) or unavailable
  /// (supervision gave up or paused the pool, stopping), with reasons. Never blocks.
  health_report health();

  /// Stops admitting, lets admitted requests finish within `grace`, answers the rest
  /// `shutting_down`, then stops every actor and joins the curl threads. Idempotent
  /// and thread-safe: any thread may call it (not only the one that started the
  /// runtime); a second caller waits for the first and gets the same report. `embed`
  /// racing with or following it still answers exactly once (`shutting_down`).
  shutdown_report stop(std::chrono::milliseconds grace);
  shutdown_report stop();

  /// Test hook (needs `supervision.test_hooks`): makes worker `index` fail.
  void crash_worker_for_test(uint32_t index);

private:
  runtime();

  runtime_counters collect_counters();
  runtime_counters collect_counters(caf::scoped_actor& self);

  runtime_config config_;
  std::unique_ptr<caf::actor_system_config> system_config_;
  std::unique_ptr<caf::actor_system> system_;
  /// The supervisor's and the dispatcher's internal handles (private types).
  struct internal_handles;
  std::unique_ptr<internal_handles> internal_;
  embedder_actor embedder_;
  caf::actor event_forwarder_;
  /// The one admission point (lane bounds), shared with the dispatcher and with
  /// completions, which leave it.
  std::shared_ptr<dispatch::admission_gate> gate_;
  std::shared_ptr<observability::runtime_metrics> metrics_;
  /// Delivers answers decided inside `embed`/`submit` off the caller's stack.
  std::shared_ptr<host::deferred_executor> deferred_;
  friend class bulk_session;
  std::atomic<bool> stopped_{false};
  /// Host side only (never in an actor): serialises `stop` and guards the two below.
  std::mutex stop_mutex_;
  shutdown_report last_report_;
  runtime_counters last_counters_;
};

/// Feeds bulk work from a host thread: `submit` blocks while the bulk lane has no
/// room (credit), so a producer reading a huge file never outruns the runtime and
/// memory stays bounded. Not thread-safe: one producer thread per session.
class bulk_session {
public:
  /// `credit_batch`: credit asked for at once (fewer round trips).
  explicit bulk_session(runtime& rt, uint32_t credit_batch = 256);

  /// Returns unused credit.
  ~bulk_session();

  bulk_session(const bulk_session&) = delete;
  bulk_session& operator=(const bulk_session&) = delete;

  /// Waits for credit, then submits on the bulk lane; `done` runs exactly once, never
  /// inside this call. Returns false (and does not call `done`) when the runtime is
  /// shutting down.
  bool submit(std::vector<std::string> texts, embed_options opts,
              std::function<void(embed_outcome)> done);

private:
  runtime& rt_;
  uint32_t credit_batch_;
  uint32_t credit_ = 0;
};

} // namespace embedrt
