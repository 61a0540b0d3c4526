// A histogram that any thread records into without a lock: one relaxed atomic add per
// bucket hit and one for the sum. prometheus::Histogram::Observe takes a mutex, so the
// hot path records here and `runtime_metrics::sync` hands the increments over to the
// registry's histogram (ObserveMultiple) at scrape time.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace embedrt::observability {

/// Upper bounds (ascending, in the recorded unit) of the buckets; +Inf is implied.
using bucket_bounds = std::vector<uint64_t>;

/// 1 ms to 60 s, in nanoseconds: embedding calls take milliseconds to tens of seconds.
const bucket_bounds& duration_buckets_ns();
/// 1 to 2048 inputs per upstream request, powers of two.
const bucket_bounds& batch_input_buckets();
/// 1 KiB to 64 MiB, powers of four.
const bucket_bounds& response_byte_buckets();

class atomic_histogram {
public:
  explicit atomic_histogram(const bucket_bounds& bounds);

  atomic_histogram(const atomic_histogram&) = delete;
  atomic_histogram& operator=(const atomic_histogram&) = delete;

  /// Lock-free; any thread.
  void observe(uint64_t value) noexcept;

  const bucket_bounds& bounds() const noexcept { return *bounds_; }

  /// Per bucket (not cumulative; the last is +Inf) and the sum, read one by one
  /// (relaxed): a snapshot taken while others record may be off by those records.
  struct snapshot {
    std::vector<uint64_t> counts;
    uint64_t sum = 0;
    uint64_t total() const noexcept;
  };
  snapshot read() const;

private:
  const bucket_bounds* bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<uint64_t> sum_{0};
};

} // namespace embedrt::observability
