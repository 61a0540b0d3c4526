// Google Benchmark suite for the hot pure parts of embedrt: response parsing, base64,
// request encoding, the limiter and breaker decisions, and batch packing in the
// dispatcher core. No I/O, no actors.
//
//   build-bench/bench/embedrt-bench-micro --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "src/dispatch/dispatcher_core.hpp"
#include "src/openai/embeddings_codec.hpp"
#include "src/policy/breaker_policy.hpp"
#include "src/policy/lease_policy.hpp"
#include "src/policy/rate_limit_policy.hpp"
#include "src/shared/budget_script.hpp"
#include "src/shared/redis_client.hpp"
#include "tools/mock/mock_embeddings.hpp"

using namespace embedrt;
using namespace std::chrono_literals;

namespace {

/// An OpenAI-shaped 200 body with `n` vectors of `dim` values, with simdjson padding.
std::string make_body(uint32_t n, uint32_t dim, bool base64) {
  mock::embeddings_request req;
  req.model = "text-embedding-3-small";
  for (uint32_t i = 0; i < n; ++i)
    req.inputs.push_back("input " + std::to_string(i));
  req.base64 = base64;
  req.dimensions = dim;
  auto body = mock::embeddings_body(req, dim, req.model);
  body.reserve(body.size() + 64);
  return body;
}

void decode(benchmark::State& state, uint32_t n, uint32_t dim, bool base64) {
  auto body = make_body(n, dim, base64);
  auto enc = base64 ? encoding_format::base64 : encoding_format::float_array;
  for (auto _ : state) {
    openai::decoded_response out;
    auto st = openai::decode_response(body, n, dim, enc, out);
    if (!st.ok())
      state.SkipWithError(st.reason.c_str());
    benchmark::DoNotOptimize(out.embeddings.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
}

void BM_decode_response_float1536(benchmark::State& state) {
  decode(state, 1, 1536, false);
}
BENCHMARK(BM_decode_response_float1536);

// The runtime's default: no `dimensions` configured, so any length is accepted.
void BM_decode_response_float1536_anydim(benchmark::State& state) {
  auto body = make_body(1, 1536, false);
  for (auto _ : state) {
    openai::decoded_response out;
    auto st = openai::decode_response(body, 1, 0, encoding_format::float_array, out);
    if (!st.ok())
      state.SkipWithError(st.reason.c_str());
    benchmark::DoNotOptimize(out.embeddings.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_decode_response_float1536_anydim);

void BM_decode_response_base64_1536(benchmark::State& state) {
  decode(state, 1, 1536, true);
}
BENCHMARK(BM_decode_response_base64_1536);

void BM_decode_response_float8(benchmark::State& state) {
  decode(state, 1, 8, false);
}
BENCHMARK(BM_decode_response_float8);

void BM_decode_response_base64_1536_x256(benchmark::State& state) {
  decode(state, 256, 1536, true);
}
BENCHMARK(BM_decode_response_base64_1536_x256);

void BM_base64_decode_floats_1536(benchmark::State& state) {
  std::vector<float> xs(1536);
  for (size_t i = 0; i < xs.size(); ++i)
    xs[i] = static_cast<float>(i) * 0.001f - 0.7f;
  auto text = openai::base64_encode(xs.data(), xs.size() * sizeof(float));
  std::vector<float> out;
  for (auto _ : state) {
    if (!openai::base64_decode_floats(text, out))
      state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_base64_decode_floats_1536);

void BM_encode_request(benchmark::State& state) {
  auto n = static_cast<size_t>(state.range(0));
  std::vector<std::string> texts;
  for (size_t i = 0; i < n; ++i)
    texts.push_back("benchmark input number " + std::to_string(i));
  std::vector<const std::string*> inputs;
  for (auto& t : texts)
    inputs.push_back(&t);
  for (auto _ : state) {
    auto body = openai::encode_request("text-embedding-3-small", inputs, 0,
                                       encoding_format::base64);
    benchmark::DoNotOptimize(body.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_encode_request)->Arg(1)->Arg(256);

void BM_rate_limit_try_acquire(benchmark::State& state) {
  rate_limiter_config cfg;
  cfg.requests_per_minute = 100'000'000;
  cfg.tokens_per_minute = 4'000'000'000;
  auto now = policy::time_point{} + 1000s;
  policy::rate_limit_policy limiter{cfg, now};
  for (auto _ : state) {
    now += 1us;
    auto wait = limiter.try_acquire(12, now);
    benchmark::DoNotOptimize(wait);
  }
}
BENCHMARK(BM_rate_limit_try_acquire);

// The shared budget's per-permit path: a permit out of a lease held locally (what a
// request normally costs), and the same with the lease refilled by a store answer
// every `lease` permits (the bookkeeping of the calls, not their round trip).
void BM_shared_lease_try_acquire(benchmark::State& state) {
  policy::lease_settings s;
  s.requests_per_minute = 100'000'000;
  s.tokens_per_minute = 4'000'000'000;
  auto now = policy::time_point{} + 1000s;
  policy::lease_policy lease{s, 1, now};
  auto lease_size = state.range(0);
  for (auto _ : state) {
    now += 1us;
    lease.note_demand(12, now);
    auto wait = lease.try_acquire(12, now);
    if (wait != policy::duration::zero()) {
      if (auto ask = lease.next_ask(now, 1, 12)) {
        shared_budget_grant g;
        g.seq = ask->seq;
        g.ok = true;
        g.requests = lease_size;
        g.tokens = lease_size * 12;
        lease.on_answer(g, now);
      }
      wait = lease.try_acquire(12, now);
    }
    benchmark::DoNotOptimize(wait);
  }
}
BENCHMARK(BM_shared_lease_try_acquire)->Arg(10)->Arg(100);

// One call to a real Redis (EMBEDRT_BENCH_REDIS=redis://127.0.0.1:PORT): the budget
// script's round trip on loopback, which a permit pays only when its lease is empty.
void BM_shared_store_round_trip(benchmark::State& state) {
  auto url = std::getenv("EMBEDRT_BENCH_REDIS");
  shared::redis_endpoint ep;
  std::string problem;
  if (url == nullptr || !shared::parse_redis_url(url, &ep, problem)) {
    state.SkipWithError("set EMBEDRT_BENCH_REDIS=redis://127.0.0.1:PORT");
    return;
  }
  shared::redis_client client{ep, ""};
  std::vector<std::string> args{"100000000", "0", "1",  "1",  "0",  "0", "0",
                                "0",         "0", "-1", "-1", "-1", "-1"};
  std::vector<int64_t> out;
  std::string error;
  for (auto _ : state) {
    if (!client.eval(shared::budget_script, "embedrt:budget:{bench}", args,
                     std::chrono::milliseconds{1000}, out, error)) {
      state.SkipWithError(error.c_str());
      return;
    }
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_shared_store_round_trip);

void BM_breaker_check_record(benchmark::State& state) {
  circuit_breaker_config cfg;
  policy::breaker_policy breaker{cfg};
  auto now = policy::time_point{} + 1000s;
  for (auto _ : state) {
    now += 1us;
    auto verdict = breaker.check(now);
    auto trial = verdict.decision == breaker_decision::allowed_trial;
    auto t = breaker.record(verdict.generation, trial, call_result::success, 1ms, now);
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK(BM_breaker_check_record);

// -- batch packing
// ---------------------------------------------------------------------

/// Records the core's effects; the benchmark answers them by hand.
struct recording_effects final : dispatch::effects {
  std::vector<acquire_permit> permits;
  std::vector<breaker_check> checks;
  std::vector<http_call> calls;
  uint64_t answers = 0;
  uint64_t failures = 0;

  void request_permit(acquire_permit msg) override {
    permits.push_back(std::move(msg));
  }
  void check_breaker(breaker_check msg) override { checks.push_back(std::move(msg)); }
  void send_call(http_call msg) override { calls.push_back(std::move(msg)); }
  void report_outcome(call_outcome) override {}
  void report_permit(permit_feedback) override {}
  void answer(uint64_t, embed_result) override { ++answers; }
  void fail(uint64_t, embed_failure) override { ++failures; }
  void grant_credit(uint64_t, uint32_t) override {}
  void wake_at(dispatch::time_point) override {}
  void publish(event_kind, std::string) override {}
};

/// Grants every permit and allows every check until calls come out.
void pass_gates(dispatch::dispatcher_core& core, recording_effects& fx,
                dispatch::time_point now) {
  while (!fx.permits.empty() || !fx.checks.empty()) {
    auto permits = std::move(fx.permits);
    fx.permits.clear();
    for (auto& p : permits)
      core.on_permit(permit_decision{p.ticket, permit_status::granted, {}}, now);
    auto checks = std::move(fx.checks);
    fx.checks.clear();
    for (auto& c : checks)
      core.on_verdict(breaker_verdict{c.ticket, breaker_decision::allowed, 0, {}}, now);
  }
}

void answer_calls(dispatch::dispatcher_core& core, recording_effects& fx,
                  dispatch::time_point now, const std::vector<float>& vec) {
  auto calls = std::move(fx.calls);
  fx.calls.clear();
  for (auto& c : calls) {
    http_call_result r;
    r.attempt_id = c.attempt_id;
    r.status = attempt_status::succeeded;
    r.http_status = 200;
    r.embeddings.assign(c.input_count, vec);
    r.usage = embedding_usage{c.input_count * 6ull, c.input_count * 6ull};
    core.on_call_result(std::move(r), now);
  }
}

/// One cycle per iteration: a lone text goes out at once (one connection, so it fills
/// the window); N single-text requests from N callers queue behind it; its answer
/// frees the window and the core packs the N texts into one upstream request (limiter
/// permit, breaker verdict, encode_request); answering it fans the N vectors out to
/// the N callers. Items: texts admitted and answered.
void BM_batch_pack(benchmark::State& state) {
  auto n = static_cast<uint32_t>(state.range(0));
  runtime_config cfg;
  cfg.endpoint.model = "text-embedding-3-small";
  cfg.http_pool.max_connections = 1;
  cfg.batching.enabled = true;
  cfg.batching.linger_us = 0;
  // The packed batch must fit the response memory budget: 8-d vectors, as answered.
  cfg.endpoint.dimensions = 8;
  cfg.limits.interactive_capacity = n + 16;
  recording_effects fx;
  auto now = dispatch::time_point{} + 1000s;
  dispatch::dispatcher_core core{cfg, fx, now};
  std::vector<float> vec(8, 0.25f);
  std::vector<std::string> texts;
  for (uint32_t i = 0; i <= n; ++i)
    texts.push_back("benchmark input number " + std::to_string(i));
  uint64_t id = 1;
  for (auto _ : state) {
    embed_request lone;
    lone.texts = {texts[0]};
    core.admit(id++, std::move(lone), now);
    pass_gates(core, fx, now);
    for (uint32_t i = 1; i <= n; ++i) {
      embed_request req;
      req.texts = {texts[i]};
      core.admit(id++, std::move(req), now);
    }
    answer_calls(core, fx, now, vec); // the lone one; the N are packed
    pass_gates(core, fx, now);
    if (fx.calls.size() != 1 || fx.calls[0].input_count != n)
      state.SkipWithError("the texts were not packed into one upstream request");
    answer_calls(core, fx, now, vec);
    now += 1ms;
  }
  if (fx.failures != 0)
    state.SkipWithError("some requests failed");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * (n + 1)));
}
BENCHMARK(BM_batch_pack)->Arg(16)->Arg(256)->Arg(2048);

} // namespace

BENCHMARK_MAIN();
