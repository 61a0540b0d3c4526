// Per-request traces, metrics and health for a host (README, Observability).
//   build/example_trace_hook [caf-application.conf]
// Prints one span-like JSON line per request (what a host would hand to OpenTelemetry
// or its own log), then the health and the Prometheus text.
#include <chrono>
#include <cstdio>
#include <iostream>

#include <embedrt/runtime.hpp>

int main(int argc, char** argv) {
  using std::chrono::duration;
  embedrt::runtime_options opts;
  // Runs on the dispatcher's thread once per answered request: keep it short, never
  // block (hand the record to your exporter's queue).
  opts.on_request_done = [](const embedrt::request_trace& t) {
    auto ms = [](std::chrono::nanoseconds d) {
      return duration<double, std::milli>(d).count();
    };
    std::printf(
      "{\"span\":\"embedrt.request\",\"id\":%llu,\"lane\":\"%s\",\"model\":\"%s\","
      "\"inputs\":%u,\"outcome\":\"%s\",\"total_ms\":%.3f,\"queue_ms\":%.3f,"
      "\"permit_ms\":%.3f,\"breaker_ms\":%.3f,\"wire_ms\":%.3f,\"attempts\":%zu}\n",
      static_cast<unsigned long long>(t.request_id), embedrt::to_string(t.request_lane),
      t.model.c_str(), t.inputs, embedrt::to_string(t.outcome), ms(t.total),
      ms(t.queue), ms(t.permit), ms(t.breaker), ms(t.attempt), t.attempts.size());
  };
  std::vector<embedrt::config_error> errors;
  auto rt = embedrt::runtime::start_from_file(
    argc > 1 ? argv[1] : "caf-application.conf", errors, std::move(opts));
  if (!rt) {
    for (auto& e : errors)
      std::cerr << "config: " << e.to_string() << "\n";
    return 2;
  }
  auto outcome = rt->embed({"first text", "second text"}).get();
  std::cerr << (outcome ? "embedded\n" : "failed: " + outcome.error().message + "\n");
  std::cout << "health: " << rt->health().to_json() << "\n";
  std::cout << rt->metrics_text();
  return outcome ? 0 : 1;
}
