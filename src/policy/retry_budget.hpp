// Retry budget (Finagle / Envoy): over a sliding window, retries may add at most
// `ratio` on top of first attempts, plus `min_per_second` always. When spent, the
// error is returned instead of retried, so an outage cannot become a retry storm.
#pragma once

#include <cstdint>
#include <vector>

#include "src/policy/clock.hpp"

namespace embedrt::policy {

class retry_budget {
public:
  /// `ratio` 0.2 = 20 %; `window` is split into 10 buckets.
  retry_budget(double ratio, double min_per_second, duration window);

  /// Records a first attempt.
  void record_first_attempt(time_point now);

  /// Spends one retry if the budget allows it; returns false (and records nothing)
  /// when it is spent.
  bool try_spend(time_point now);

  /// Retries still allowed now.
  double available(time_point now);

private:
  struct bucket {
    int64_t index = -1;
    uint64_t first_attempts = 0;
    uint64_t retries = 0;
  };
  bucket& current(time_point now);
  double ratio_;
  double min_per_second_;
  duration window_;
  duration bucket_width_;
  std::vector<bucket> buckets_;
};

} // namespace embedrt::policy
