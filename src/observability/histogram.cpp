#include "src/observability/histogram.hpp"

#include <algorithm>

namespace embedrt::observability {

const bucket_bounds& duration_buckets_ns() {
  static const bucket_bounds x = [] {
    constexpr uint64_t ms = 1000000;
    return bucket_bounds{1 * ms,     2 * ms + ms / 2, 5 * ms,     10 * ms,
                         25 * ms,    50 * ms,         100 * ms,   250 * ms,
                         500 * ms,   1000 * ms,       2500 * ms,  5000 * ms,
                         10000 * ms, 20000 * ms,      30000 * ms, 60000 * ms};
  }();
  return x;
}

const bucket_bounds& batch_input_buckets() {
  static const bucket_bounds x = [] {
    bucket_bounds b;
    for (uint64_t n = 1; n <= 2048; n *= 2)
      b.push_back(n);
    return b;
  }();
  return x;
}

const bucket_bounds& response_byte_buckets() {
  static const bucket_bounds x = [] {
    bucket_bounds b;
    for (uint64_t n = 1024; n <= (uint64_t{64} << 20); n *= 4)
      b.push_back(n);
    return b;
  }();
  return x;
}

atomic_histogram::atomic_histogram(const bucket_bounds& bounds)
  : bounds_(&bounds),
    counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds.size() + 1)) {
  for (size_t i = 0; i <= bounds.size(); ++i)
    counts_[i].store(0, std::memory_order_relaxed);
}

void atomic_histogram::observe(uint64_t value) noexcept {
  auto& b = *bounds_;
  // First bucket whose upper bound is >= value (Prometheus buckets are `le`).
  auto i = static_cast<size_t>(std::lower_bound(b.begin(), b.end(), value) - b.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

uint64_t atomic_histogram::snapshot::total() const noexcept {
  uint64_t n = 0;
  for (auto c : counts)
    n += c;
  return n;
}

atomic_histogram::snapshot atomic_histogram::read() const {
  snapshot s;
  s.counts.resize(bounds_->size() + 1);
  for (size_t i = 0; i < s.counts.size(); ++i)
    s.counts[i] = counts_[i].load(std::memory_order_relaxed);
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

} // namespace embedrt::observability
