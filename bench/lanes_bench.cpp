// Priority lanes under batching (issue 9 E), through the host API against the bundled
// mock on 127.0.0.1: an interactive caller sends one single-text query every 20 ms,
// first alone, then while a producer floods the bulk lane through `bulk_session`;
// the bulk producer also runs alone. Batching is on (the default). The upstream answers
// in 10 ms + 0.05 ms per input over 8 connections.
//
//   build-bench/bench/embedrt-bench-lanes [--seconds S] [--reserve N]
//                                         [--bulk-max-inputs N] [--dimension D]
//
// Prints interactive p50/p99 alone and under the flood, bulk vectors/s alone and with
// the interactive caller, and the ratios, all measured in the same run. Goal: p99
// under flood <= 2x p99 alone; bulk throughput within 10% of alone. `--reserve 0
// --bulk-max-inputs 2048` gives the behaviour before lanes were kept apart (except
// that lanes never share a batch).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tools/mock/mock_server.hpp"
#include <embedrt/runtime.hpp>

using namespace embedrt;
using clock_type = std::chrono::steady_clock;

namespace {

struct options {
  double seconds = 4;
  uint32_t reserve = 1;
  uint32_t bulk_max_inputs = 512;
  uint32_t dimension = 64;
};

double percentile(std::vector<double> xs, double p) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto i = static_cast<size_t>(p / 100.0 * static_cast<double>(xs.size() - 1) + 0.5);
  return xs[std::min(i, xs.size() - 1)];
}

/// One query every 20 ms for `seconds`; returns latencies in ms (failures: none).
std::vector<double> interactive_caller(runtime& rt, double seconds, size_t& failed) {
  std::vector<double> out;
  auto start = clock_type::now();
  auto end = start + std::chrono::duration<double>(seconds);
  auto next = start;
  uint64_t n = 0;
  while (next < end) {
    std::this_thread::sleep_until(next);
    auto t0 = clock_type::now();
    embed_options opts;
    opts.priority = lane::interactive;
    auto outcome = rt.embed({"interactive query " + std::to_string(n++)}, opts).get();
    auto t1 = clock_type::now();
    if (outcome.ok())
      out.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    else
      ++failed;
    next += std::chrono::milliseconds{20};
  }
  return out;
}

/// Floods the bulk lane with single-text requests until `stop`; counts vectors.
void bulk_producer(runtime& rt, std::atomic<bool>& stop, std::atomic<uint64_t>& done,
                   std::atomic<uint64_t>& failed) {
  bulk_session session{rt};
  uint64_t n = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    embed_options opts;
    opts.priority = lane::bulk;
    bool ok = session.submit({"bulk document " + std::to_string(n++)}, opts,
                             [&](embed_outcome o) {
                               if (o.ok())
                                 done.fetch_add(1, std::memory_order_relaxed);
                               else
                                 failed.fetch_add(1, std::memory_order_relaxed);
                             });
    if (!ok)
      return;
  }
}

struct run_result {
  double p50 = 0;
  double p99 = 0;
  size_t queries = 0;
  size_t queries_failed = 0;
  double bulk_per_s = 0;
  uint64_t bulk_failed = 0;
};

run_result run_cell(const std::string& base_url, const options& o, bool interactive,
                    bool bulk) {
  runtime_config cfg;
  cfg.endpoint.base_url = base_url;
  cfg.endpoint.api_key_env = "EMBEDRT_BENCH_NO_SUCH_KEY";
  cfg.endpoint.model = "bench-model";
  cfg.endpoint.dimensions = o.dimension;
  cfg.http_pool.max_connections = 8;
  cfg.limits.interactive_reserved_attempts = o.reserve;
  cfg.batching.bulk_max_inputs = o.bulk_max_inputs;
  std::vector<config_error> errors;
  auto rt = runtime::start(cfg, errors);
  if (!rt) {
    for (auto& e : errors)
      std::fprintf(stderr, "config: %s\n", e.to_string().c_str());
    std::exit(2);
  }
  run_result r;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> done{0};
  std::atomic<uint64_t> bulk_failed{0};
  std::thread producer;
  if (bulk)
    producer = std::thread{[&] { bulk_producer(*rt, stop, done, bulk_failed); }};
  // Warm up (connections, first batches) and let the flood fill the pipeline.
  for (int i = 0; i < 5; ++i)
    rt->embed({"warm-up " + std::to_string(i)}).get();
  std::this_thread::sleep_for(std::chrono::milliseconds{500});
  auto d0 = done.load();
  auto t0 = clock_type::now();
  if (interactive) {
    auto lat = interactive_caller(*rt, o.seconds, r.queries_failed);
    r.queries = lat.size();
    r.p50 = percentile(lat, 50);
    r.p99 = percentile(lat, 99);
  } else {
    std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  }
  auto d1 = done.load();
  auto t1 = clock_type::now();
  r.bulk_per_s = static_cast<double>(d1 - d0)
                 / std::chrono::duration<double>(t1 - t0).count();
  stop = true;
  rt->stop(std::chrono::seconds{2});
  if (producer.joinable())
    producer.join();
  r.bulk_failed = bulk_failed.load();
  return r;
}

} // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    auto v = argv[i + 1];
    if (k == "--seconds")
      o.seconds = std::atof(v);
    else if (k == "--reserve")
      o.reserve = static_cast<uint32_t>(std::atoi(v));
    else if (k == "--bulk-max-inputs")
      o.bulk_max_inputs = static_cast<uint32_t>(std::atoi(v));
    else if (k == "--dimension")
      o.dimension = static_cast<uint32_t>(std::atoi(v));
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  mock::mock_options mo;
  mo.dimension = o.dimension;
  mock::mock_server server{mo};
  server.start();
  std::string error;
  if (!server.load_script_json(R"([{"latency_ms":10,"latency_per_input_us":50}])",
                               error)) {
    std::fprintf(stderr, "mock script: %s\n", error.c_str());
    return 2;
  }
  auto url = server.base_url();
  std::printf("lanes bench: %.1f s per cell, reserve %u, bulk_max_inputs %u, %u-d\n",
              o.seconds, o.reserve, o.bulk_max_inputs, o.dimension);
  auto alone = run_cell(url, o, true, false);
  auto bulk_alone = run_cell(url, o, false, true);
  auto both = run_cell(url, o, true, true);
  std::printf("interactive alone:        p50 %6.1f ms  p99 %6.1f ms  (%zu queries, "
              "%zu failed)\n",
              alone.p50, alone.p99, alone.queries, alone.queries_failed);
  std::printf("interactive under flood:  p50 %6.1f ms  p99 %6.1f ms  (%zu queries, "
              "%zu failed)\n",
              both.p50, both.p99, both.queries, both.queries_failed);
  std::printf("bulk alone:               %8.0f vectors/s (%llu failed)\n",
              bulk_alone.bulk_per_s,
              static_cast<unsigned long long>(bulk_alone.bulk_failed));
  std::printf("bulk with interactive:    %8.0f vectors/s (%llu failed)\n",
              both.bulk_per_s, static_cast<unsigned long long>(both.bulk_failed));
  auto p99_ratio = alone.p99 > 0 ? both.p99 / alone.p99 : 0;
  auto bulk_ratio = bulk_alone.bulk_per_s > 0 ? both.bulk_per_s / bulk_alone.bulk_per_s
                                              : 0;
  std::printf("RESULT lanes p99_ratio=%.2f (goal <= 2.00) bulk_ratio=%.2f (goal >= "
              "0.90) %s\n",
              p99_ratio, bulk_ratio,
              p99_ratio <= 2.0 && bulk_ratio >= 0.9 ? "MET" : "NOT MET");
  server.stop();
  return 0;
}
