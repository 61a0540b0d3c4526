#include "src/cli/progress.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>

namespace embedrt::cli {

namespace {

constexpr double first_bucket_us = 10.0;
constexpr double bucket_growth = 1.05;

std::string seconds_text(double s) {
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof(buf), "%dh%02dm", static_cast<int>(s / 3600),
                  static_cast<int>(s / 60) % 60);
  else if (s >= 60)
    std::snprintf(buf, sizeof(buf), "%dm%02ds", static_cast<int>(s / 60),
                  static_cast<int>(s) % 60);
  else
    std::snprintf(buf, sizeof(buf), "%.1fs", s);
  return buf;
}

} // namespace

void latency_histogram::record(std::chrono::microseconds d) noexcept {
  auto us = static_cast<double>(std::max<int64_t>(d.count(), 0));
  size_t i = 0;
  if (us > first_bucket_us)
    i = static_cast<size_t>(
      std::ceil(std::log(us / first_bucket_us) / std::log(bucket_growth)));
  buckets_[std::min(i, bucket_count - 1)] += 1;
  ++count_;
}

std::chrono::microseconds latency_histogram::quantile(double q) const noexcept {
  if (count_ == 0)
    return std::chrono::microseconds{0};
  q = std::clamp(q, 0.0, 1.0);
  auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::max<uint64_t>(rank, 1);
  uint64_t seen = 0;
  for (size_t i = 0; i < bucket_count; ++i) {
    seen += buckets_[i];
    if (seen >= rank)
      return std::chrono::microseconds{static_cast<int64_t>(
        first_bucket_us * std::pow(bucket_growth, static_cast<double>(i)))};
  }
  return std::chrono::microseconds{0};
}

std::string format_progress(const progress_snapshot& s, bool tty) {
  auto rate = s.elapsed_seconds > 0
                ? static_cast<double>(s.lines_done) / s.elapsed_seconds
                : 0.0;
  char buf[256];
  std::string out = tty ? "\r\033[K" : "embedrt: ";
  if (s.input_size > 0) {
    auto frac = std::min(1.0, static_cast<double>(s.bytes_read)
                                / static_cast<double>(s.input_size));
    // ETA from the share of the input consumed so far.
    auto eta = frac > 0 ? s.elapsed_seconds * (1.0 - frac) / frac : 0.0;
    if (tty) {
      constexpr int width = 24;
      auto filled = static_cast<int>(frac * width);
      out += '[';
      out.append(static_cast<size_t>(filled), '#');
      out.append(static_cast<size_t>(width - filled), ' ');
      out += "] ";
    }
    std::snprintf(buf, sizeof(buf),
                  "%d%% %llu lines, %.0f lines/s, %llu errors, ETA %s",
                  static_cast<int>(frac * 100),
                  static_cast<unsigned long long>(s.lines_done), rate,
                  static_cast<unsigned long long>(s.errors), seconds_text(eta).c_str());
  } else {
    std::snprintf(buf, sizeof(buf), "%llu lines, %.0f lines/s, %llu errors, %s",
                  static_cast<unsigned long long>(s.lines_done), rate,
                  static_cast<unsigned long long>(s.errors),
                  seconds_text(s.elapsed_seconds).c_str());
  }
  out += buf;
  if (!tty)
    out += '\n';
  return out;
}

progress_reporter::progress_reporter(std::ostream& err, bool tty,
                                     std::chrono::milliseconds interval,
                                     std::function<progress_snapshot()> snapshot)
  : err_(err), tty_(tty), interval_(interval), snapshot_(std::move(snapshot)),
    thread_([this] { run(); }) {}

progress_reporter::~progress_reporter() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  if (tty_)
    err_ << "\r\033[K" << std::flush;
}

void progress_reporter::run() {
  std::unique_lock<std::mutex> guard{mtx_};
  while (!cv_.wait_for(guard, interval_, [&] { return stop_; })) {
    auto line = format_progress(snapshot_(), tty_);
    err_ << line << std::flush;
  }
}

} // namespace embedrt::cli
