// embedrt's full pipeline under load, through the host API only (runtime::start and
// the callback form of runtime::embed): dispatcher, rate limiter, circuit breaker,
// retries, pool and curl workers all armed. Prints one RESULT line (bench_common.hpp).
//
// Modes:
//   --mode load    `--inflight N` callers, each with one single-text request
//                  outstanding (it sends the next one from its completion callback),
//                  for `--warmup` + `--seconds`. The nginx cells (batching off, pool
//                  size N) and the batching cell (against embedrt-mock, batching on
//                  or off) use it.
//   --mode pileup  `--requests K` single-text requests sent at once, then waits for
//                  every answer: peak RSS with K requests in flight (the upstream is a
//                  slow embedrt-mock phase, so they pile up).
//
// Common options: --url BASE_URL (ends before /embeddings), --body f1536|b64_1536|f8
// (encoding asked for), --batching 0|1, --max-connections N (default: --inflight),
// --workers W, --scheduler-threads T (0: CAF's default), --scheduler-policy
// sharing|stealing (default: the runtime's, sharing).
#include <atomic>
#include <condition_variable>
#include <exception>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/atom.hpp>
#include <caf/config_value.hpp>

#include "bench/bench_common.hpp"
#include <embedrt/runtime.hpp>

using namespace embedrt;
using namespace embedrt::bench;

namespace {

runtime_config make_config(const args& a, const body_kind& kind, uint32_t callers) {
  runtime_config cfg;
  cfg.endpoint.base_url = a.str("url");
  if (cfg.endpoint.base_url.empty())
    throw std::invalid_argument("--url is required");
  // No Authorization header, whatever the environment holds.
  cfg.endpoint.api_key_env = "EMBEDRT_BENCH_NO_API_KEY";
  cfg.endpoint.encoding_format = kind.encoding == encoding_format::base64 ? "base64"
                                                                          : "float";
  cfg.limits.interactive_capacity = std::max<uint32_t>(callers + 16, 1024);
  cfg.http_pool.max_connections
    = static_cast<uint32_t>(a.num("max-connections", callers));
  cfg.http_pool.workers = static_cast<uint32_t>(a.num("workers", 1));
  // Armed, at generous limits: every request goes through the limiter's buckets.
  cfg.rate_limiter.requests_per_minute = 100'000'000;
  cfg.rate_limiter.tokens_per_minute = 4'000'000'000;
  cfg.rate_limiter.max_queued = std::max<uint32_t>(callers + 16, 4096);
  // Breaker and retries: defaults (armed).
  cfg.batching.enabled = a.num("batching", 0) != 0;
  cfg.batching.dedup = a.num("dedup", 1) != 0;
  cfg.batching.linger_us
    = static_cast<uint32_t>(a.num("linger-us", cfg.batching.linger_us));
  cfg.limits.response_memory_mib = static_cast<uint32_t>(
    a.num("response-memory-mib", cfg.limits.response_memory_mib));
  // Sent as `dimensions` (embedrt-mock honours it; nginx ignores it); 0: not sent.
  cfg.endpoint.dimensions = static_cast<uint32_t>(a.num("dimensions", 0));
  return cfg;
}

std::unique_ptr<runtime> start_runtime(const runtime_config& cfg, const args& a) {
  std::vector<config_error> errors;
  runtime_options opts;
  opts.scheduler_threads = static_cast<size_t>(a.num("scheduler-threads", 0));
  if (auto policy = a.str("scheduler-policy", ""); !policy.empty())
    opts.system_settings["scheduler"].as_dictionary()["policy"]
      = caf::atom_from_string(policy);
  auto rt = runtime::start(cfg, errors, opts);
  if (!rt) {
    for (auto& e : errors)
      std::cerr << "config: " << e.to_string() << "\n";
    throw std::runtime_error("the runtime did not start");
  }
  return rt;
}

/// Shared by every caller; completion callbacks run on CAF threads.
struct load_state {
  runtime* rt = nullptr;
  window w;
  uint32_t dimension = 0;
  bool reissue = true;
  latency_histogram hist;
  std::atomic<uint64_t> next_text{1};
  std::atomic<uint64_t> completed{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> answered{0};
  std::atomic<uint64_t> active{0};
  std::mutex mtx;
  std::condition_variable cv;
  std::string first_error;
};

void issue(load_state& s);

void on_done(load_state& s, clock_type::time_point started, embed_outcome&& out) {
  auto now = clock_type::now();
  bool ok = out.ok() && out.value().embeddings.size() == 1
            && (s.dimension == 0 || out.value().embeddings[0].size() == s.dimension);
  if (!ok) {
    std::lock_guard<std::mutex> guard{s.mtx};
    if (s.first_error.empty())
      s.first_error = out.ok() ? "wrong vector count or dimension"
                               : out.error().message;
  }
  s.answered.fetch_add(1, std::memory_order_relaxed);
  if (!s.reissue || s.w.contains(now)) {
    if (ok) {
      s.completed.fetch_add(1, std::memory_order_relaxed);
      s.hist.record(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(now - started).count()));
    } else {
      s.errors.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (s.reissue && now < s.w.end) {
    issue(s);
    return;
  }
  if (s.active.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    std::lock_guard<std::mutex> guard{s.mtx};
    s.cv.notify_all();
  }
}

void issue(load_state& s) {
  auto n = s.next_text.fetch_add(1, std::memory_order_relaxed);
  auto started = clock_type::now();
  std::vector<std::string> texts;
  texts.emplace_back(input_text(n));
  s.rt->embed(std::move(texts), embed_options{}, [&s, started](embed_outcome out) {
    on_done(s, started, std::move(out));
  });
}

bool wait_all(load_state& s, std::chrono::seconds limit) {
  std::unique_lock<std::mutex> guard{s.mtx};
  return s.cv.wait_for(guard, limit, [&] { return s.active.load() == 0; });
}

void add_counters(result_line& r, const runtime_counters& c) {
  r.add("conns", c.connections_opened)
    .add("upstream_requests", c.upstream_requests_formed)
    .add("attempts", c.attempts_started)
    .add("retries", c.attempts_retried)
    .add("permits", c.permits_granted)
    .add("dedup", c.texts_deduplicated);
}

int run_load(const args& a) {
  auto& kind = find_body_kind(a.str("body", "f1536"));
  auto inflight = static_cast<uint32_t>(a.num("inflight", 16));
  if (inflight == 0)
    throw std::invalid_argument("--inflight must be > 0");
  auto cfg = make_config(a, kind, inflight);
  auto rt = start_runtime(cfg, a);
  load_state s;
  s.rt = rt.get();
  s.dimension = static_cast<uint32_t>(a.num("expect-dimension", kind.dimension));
  s.w = make_window(clock_type::now(), a.num("warmup", 0.5), a.num("seconds", 2));
  s.active = inflight;
  auto cpu0 = cpu_seconds();
  for (uint32_t i = 0; i < inflight; ++i)
    issue(s);
  auto seconds = a.num("warmup", 0.5) + a.num("seconds", 2);
  bool drained = wait_all(s, std::chrono::seconds{static_cast<int>(seconds) + 60});
  auto cpu1 = cpu_seconds();
  auto counters = rt->counters();
  rt->stop();
  auto completed = s.completed.load();
  result_line r;
  r.add("mode", "pipeline")
    .add("body", kind.name)
    .add("inflight", inflight)
    .add("batching", cfg.batching.enabled ? 1 : 0)
    .add("pool", cfg.http_pool.max_connections)
    .add("completed", completed)
    .add("errors", s.errors.load())
    .add("rps", static_cast<uint64_t>(static_cast<double>(completed) / s.w.seconds()))
    .add("p50_us", s.hist.quantile(0.5))
    .add("p99_us", s.hist.quantile(0.99))
    .add("rss_kb", peak_rss_kb())
    .add("drained", drained ? 1 : 0)
    .add("answered", s.answered.load())
    .add("cpu_us", cpu_us_per(cpu0, cpu1, s.answered.load()))
    .add("sched_threads", a.num("scheduler-threads", 0));
  add_counters(r, counters);
  r.print();
  if (!s.first_error.empty())
    std::cerr << "pipeline: first error: " << s.first_error << "\n";
  return completed > 0 && drained ? 0 : 1;
}

int run_pileup(const args& a) {
  auto& kind = find_body_kind(a.str("body", "b64_1536"));
  auto requests = static_cast<uint32_t>(a.num("requests", 10000));
  auto cfg = make_config(a, kind, requests);
  cfg.http_pool.max_connections = static_cast<uint32_t>(a.num("max-connections", 256));
  auto rt = start_runtime(cfg, a);
  auto rss_idle = proc_status_kb("VmRSS");
  load_state s;
  s.rt = rt.get();
  s.dimension = static_cast<uint32_t>(a.num("expect-dimension", kind.dimension));
  s.reissue = false;
  s.active = requests;
  auto t0 = clock_type::now();
  for (uint32_t i = 0; i < requests; ++i)
    issue(s);
  auto sent = clock_type::now();
  // Sample how many are outstanding shortly after sending: they should all be.
  bool drained = wait_all(s,
                          std::chrono::seconds{static_cast<int>(a.num("limit", 120))});
  auto t1 = clock_type::now();
  auto counters = rt->counters();
  rt->stop();
  result_line r;
  r.add("mode", "pileup")
    .add("body", kind.name)
    .add("requests", requests)
    .add("batching", cfg.batching.enabled ? 1 : 0)
    .add("pool", cfg.http_pool.max_connections)
    .add("completed", s.completed.load())
    .add("errors", s.errors.load())
    .add("send_ms",
         std::chrono::duration_cast<std::chrono::milliseconds>(sent - t0).count())
    .add("drain_ms",
         std::chrono::duration_cast<std::chrono::milliseconds>(t1 - t0).count())
    .add("p50_us", s.hist.quantile(0.5))
    .add("p99_us", s.hist.quantile(0.99))
    .add("rss_idle_kb", rss_idle)
    .add("rss_kb", peak_rss_kb())
    .add("drained", drained ? 1 : 0);
  add_counters(r, counters);
  r.print();
  if (!s.first_error.empty())
    std::cerr << "pileup: first error: " << s.first_error << "\n";
  return drained && s.errors.load() == 0 ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  try {
    args a{argc, argv};
    auto mode = a.str("mode", "load");
    if (mode == "load")
      return run_load(a);
    if (mode == "pileup")
      return run_pileup(a);
    std::cerr << "embedrt-bench-pipeline: unknown --mode " << mode << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "embedrt-bench-pipeline: " << e.what() << "\n";
    return 2;
  }
}
