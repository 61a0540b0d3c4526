// Retry budget over a sliding window of 10 buckets.
//
// Assumptions and choices:
// * Bucket k covers [k * width, (k + 1) * width) since the clock's epoch; the window
//   at `now` is the current bucket and the 9 before it, so a record leaves the window
//   between 0.9 and 1 window after it was made.
// * A retry is allowed when at least one whole retry is available; a tolerance of
//   1e-9 absorbs rounding in `ratio * first_attempts` (0.29 * 100 is 28.999...).
// * Time that moves backwards is counted in the bucket it names; buckets newer than
//   `now` are not part of the window.
#include "src/policy/retry_budget.hpp"

#include <algorithm>

namespace embedrt::policy {

namespace {

constexpr int64_t bucket_count = 10;

int64_t floor_div(int64_t x, int64_t y) {
  auto q = x / y;
  return (x % y != 0 && ((x < 0) != (y < 0))) ? q - 1 : q;
}

} // namespace

retry_budget::retry_budget(double ratio, double min_per_second, duration window)
  : ratio_(std::max(ratio, 0.0)), min_per_second_(std::max(min_per_second, 0.0)),
    window_(std::max(window, duration{bucket_count})),
    bucket_width_(window_ / bucket_count), buckets_(bucket_count) {
  // nop
}

retry_budget::bucket& retry_budget::current(time_point now) {
  auto index = floor_div(now.time_since_epoch().count(), bucket_width_.count());
  auto& slot = buckets_[static_cast<size_t>(((index % bucket_count) + bucket_count)
                                            % bucket_count)];
  if (slot.index != index)
    slot = bucket{index, 0, 0};
  return slot;
}

void retry_budget::record_first_attempt(time_point now) {
  ++current(now).first_attempts;
}

double retry_budget::available(time_point now) {
  auto index = current(now).index;
  uint64_t first_attempts = 0;
  uint64_t retries = 0;
  for (const auto& b : buckets_) {
    if (b.index <= index && b.index > index - bucket_count) {
      first_attempts += b.first_attempts;
      retries += b.retries;
    }
  }
  auto window_seconds = std::chrono::duration<double>(window_).count();
  return ratio_ * static_cast<double>(first_attempts) + min_per_second_ * window_seconds
         - static_cast<double>(retries);
}

bool retry_budget::try_spend(time_point now) {
  if (available(now) < 1.0 - 1e-9)
    return false;
  ++current(now).retries;
  return true;
}

} // namespace embedrt::policy
