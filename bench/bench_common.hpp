// Shared by the load benchmarks (raw_curl_baseline.cpp, pipeline_bench.cpp): the
// static response bodies, a lock-free latency histogram, peak RSS, argument parsing
// and the one-line result format that bench/run.sh parses.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

#include <sys/resource.h>

#include <embedrt/embedding.hpp>

namespace embedrt::bench {

using clock_type = std::chrono::steady_clock;

/// The three static upstream bodies of the nginx cells.
struct body_kind {
  /// Name used on the command line and in the results: f1536, b64_1536, f8.
  const char* name;
  uint32_t dimension;
  encoding_format encoding;
};

inline constexpr std::array<body_kind, 3> body_kinds = {{
  {"f1536", 1536, encoding_format::float_array},
  {"b64_1536", 1536, encoding_format::base64},
  {"f8", 8, encoding_format::float_array},
}};

inline const body_kind& find_body_kind(std::string_view name) {
  for (auto& k : body_kinds)
    if (name == k.name)
      return k;
  throw std::invalid_argument("unknown body kind " + std::string{name}
                              + " (f1536, b64_1536, f8)");
}

/// A histogram of latencies in microseconds, safe to record into from any thread:
/// values below 2048 µs have their own bucket, above that 128 buckets per power of two
/// (< 0.8% error). Constant memory (~70 KB), so it does not distort peak RSS.
class latency_histogram {
public:
  void record(uint64_t us) noexcept {
    buckets_[index_of(us)].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
  }

  uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }

  /// The value at quantile `q` (0..1), in microseconds (the bucket's upper edge).
  uint64_t quantile(double q) const noexcept {
    auto n = count();
    if (n == 0)
      return 0;
    auto rank = static_cast<uint64_t>(q * static_cast<double>(n - 1)) + 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < buckets_.size(); ++i) {
      seen += buckets_[i].load(std::memory_order_relaxed);
      if (seen >= rank)
        return upper_of(i);
    }
    return upper_of(buckets_.size() - 1);
  }

private:
  static constexpr uint64_t linear = 2048; // 2^11
  static constexpr unsigned sub_bits = 7;  // 128 buckets per octave above it
  static constexpr unsigned octaves = 53 - 11;
  static constexpr size_t bucket_count = linear + (size_t{octaves} << sub_bits);

  static size_t index_of(uint64_t v) noexcept {
    if (v < linear)
      return static_cast<size_t>(v);
    auto msb = 63u - static_cast<unsigned>(__builtin_clzll(v)); // >= 11
    auto octave = std::min(msb - 11u, octaves - 1u);
    auto sub = static_cast<size_t>((v >> (msb - sub_bits)) & ((1u << sub_bits) - 1));
    return linear + (size_t{octave} << sub_bits) + sub;
  }

  static uint64_t upper_of(size_t i) noexcept {
    if (i < linear)
      return i;
    auto octave = (i - linear) >> sub_bits;
    auto sub = (i - linear) & ((size_t{1} << sub_bits) - 1);
    auto msb = octave + 11;
    return ((uint64_t{1} << msb) | (uint64_t{sub} << (msb - sub_bits)))
           + (uint64_t{1} << (msb - sub_bits)) - 1;
  }

  std::array<std::atomic<uint64_t>, bucket_count> buckets_{};
  std::atomic<uint64_t> count_{0};
};

/// A value from /proc/self/status in kB ("VmHWM", "VmRSS"); 0 when unreadable.
inline uint64_t proc_status_kb(const char* key) {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  auto prefix = std::string{key} + ":";
  while (std::getline(in, line))
    if (line.compare(0, prefix.size(), prefix) == 0)
      return std::strtoull(line.c_str() + prefix.size(), nullptr, 10);
  return 0;
}

/// Peak resident set size of this process so far, kB.
inline uint64_t peak_rss_kb() {
  return proc_status_kb("VmHWM");
}

/// User + system CPU time of this process so far, seconds (every thread).
inline double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
  };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

/// CPU microseconds per request between two `cpu_seconds()` readings.
inline uint64_t cpu_us_per(double cpu0, double cpu1, uint64_t requests) {
  if (requests == 0)
    return 0;
  return static_cast<uint64_t>((cpu1 - cpu0) * 1e6 / static_cast<double>(requests));
}

/// `--key value` / `--key=value` arguments; unknown keys are an error at `get`.
class args {
public:
  args(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("--", 0) != 0)
        throw std::invalid_argument("unexpected argument " + a);
      auto eq = a.find('=');
      if (eq != std::string::npos) {
        values_[a.substr(2, eq - 2)] = a.substr(eq + 1);
      } else if (i + 1 < argc && std::string_view{argv[i + 1]}.rfind("--", 0) != 0) {
        values_[a.substr(2)] = argv[++i];
      } else {
        values_[a.substr(2)] = "1";
      }
    }
  }

  std::string str(const std::string& key, std::string fallback = {}) const {
    auto i = values_.find(key);
    return i == values_.end() ? fallback : i->second;
  }

  double num(const std::string& key, double fallback) const {
    auto i = values_.find(key);
    if (i == values_.end())
      return fallback;
    char* end = nullptr;
    auto x = std::strtod(i->second.c_str(), &end);
    if (end == i->second.c_str() || *end != '\0')
      throw std::invalid_argument("--" + key + " needs a number, got " + i->second);
    return x;
  }

  bool has(const std::string& key) const { return values_.count(key) > 0; }

private:
  std::map<std::string, std::string> values_;
};

/// Collects `key=value` pairs and prints them as one line starting with "RESULT".
class result_line {
public:
  template<class T>
  result_line& add(const std::string& key, const T& value) {
    out_ << ' ' << key << '=' << value;
    return *this;
  }

  void print() const {
    std::printf("RESULT%s\n", out_.str().c_str());
    std::fflush(stdout);
  }

private:
  std::ostringstream out_;
};

/// The measurement window: requests completing in [begin, end) count.
struct window {
  clock_type::time_point begin;
  clock_type::time_point end;

  bool contains(clock_type::time_point t) const noexcept {
    return t >= begin && t < end;
  }
  double seconds() const noexcept {
    return std::chrono::duration<double>(end - begin).count();
  }
};

inline window make_window(clock_type::time_point start, double warmup_s,
                          double measure_s) {
  auto to_dur = [](double s) {
    return std::chrono::duration_cast<clock_type::duration>(
      std::chrono::duration<double>(s));
  };
  window w;
  w.begin = start + to_dur(warmup_s);
  w.end = w.begin + to_dur(measure_s);
  return w;
}

/// A short unique input text (unique so in-flight dedup never merges requests).
inline std::string input_text(uint64_t n) {
  return "benchmark input number " + std::to_string(n);
}

} // namespace embedrt::bench
