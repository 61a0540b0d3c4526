// Progress and latency figures of the main job: a pure formatter (tested with fixed
// numbers), a log-bucket latency histogram, and a thread that prints a snapshot
// every interval (a live bar on a terminal, a plain line for logs).
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <mutex>
#include <string>
#include <thread>

namespace embedrt::cli {

/// Request latency in buckets ~5% wide from 10 us to ~1000 s: fixed memory.
class latency_histogram {
public:
  void record(std::chrono::microseconds d) noexcept;
  /// The latency at quantile `q` (0..1), the bucket's upper bound; 0 when empty.
  std::chrono::microseconds quantile(double q) const noexcept;
  uint64_t count() const noexcept { return count_; }

private:
  static constexpr size_t bucket_count = 400;
  std::array<uint64_t, bucket_count> buckets_{};
  uint64_t count_ = 0;
};

struct progress_snapshot {
  uint64_t lines_done = 0; // written
  uint64_t errors = 0;     // written with an error
  uint64_t bytes_read = 0; // input consumed
  uint64_t input_size = 0; // a regular file's size; 0: unknown (pipe)
  double elapsed_seconds = 0;
};

/// One progress line: lines, vectors/s, errors, and with a known size a bar and ETA.
/// `tty`: "\r" + erase-line prefix and no newline; else "embedrt: ..." + "\n".
std::string format_progress(const progress_snapshot& s, bool tty);

class progress_reporter {
public:
  progress_reporter(std::ostream& err, bool tty, std::chrono::milliseconds interval,
                    std::function<progress_snapshot()> snapshot);
  /// Stops the thread; on a terminal, clears the bar.
  ~progress_reporter();

private:
  void run();

  std::ostream& err_;
  bool tty_;
  std::chrono::milliseconds interval_;
  std::function<progress_snapshot()> snapshot_;
  std::mutex mtx_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

} // namespace embedrt::cli
