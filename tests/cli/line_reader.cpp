#define CAF_SUITE cli.line_reader
#include <caf/test/unit_test.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "src/cli/line_reader.hpp"
#include "src/cli/progress.hpp"

// Reading input once, in bounded memory: lines of any length split across reads,
// oversized lines skipped without being stored, end of file and errors told apart.
// Also the progress line and the latency histogram (pure).

using namespace embedrt::cli;

namespace {

/// Feeds `data` through a pipe in chunks of random sizes from another thread.
struct pipe_feed {
  int fds[2] = {-1, -1};
  std::thread writer;

  pipe_feed(std::string data, uint64_t seed) {
    CAF_REQUIRE_EQUAL(::pipe(fds), 0);
    writer = std::thread([this, data = std::move(data), seed] {
      std::mt19937_64 rng{seed};
      size_t off = 0;
      while (off < data.size()) {
        auto n = std::min<size_t>(1 + rng() % 5000, data.size() - off);
        auto w = ::write(fds[1], data.data() + off, n);
        if (w <= 0)
          break;
        off += static_cast<size_t>(w);
      }
      ::close(fds[1]);
    });
  }

  ~pipe_feed() {
    writer.join();
    ::close(fds[0]);
  }
};

struct event {
  line_reader::result kind;
  std::string line;
  uint64_t oversized = 0;
};

std::vector<event> read_all(line_reader& r) {
  std::vector<event> out;
  std::string line;
  for (;;) {
    auto k = r.next(line);
    if (k == line_reader::result::end_of_file || k == line_reader::result::read_error)
      break;
    out.push_back({k, k == line_reader::result::line ? line : "", r.oversized_bytes()});
  }
  return out;
}

} // namespace

CAF_TEST(random line lengths over a pipe come out whole and oversized ones skipped) {
  // Property over seeded runs: lines of 0..3000 bytes, a limit of 1000, the pipe
  // delivering random chunk sizes; every line is either returned exactly or
  // reported oversized with its exact length, in order.
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    std::mt19937_64 rng{seed};
    std::vector<std::string> lines;
    std::string data;
    for (int i = 0; i < 300; ++i) {
      auto len = rng() % 4 == 0 ? rng() % 3000 : rng() % 200;
      std::string l(len, static_cast<char>('a' + i % 26));
      lines.push_back(l);
      data += l + (i % 7 == 0 ? "\r\n" : "\n");
    }
    pipe_feed feed{data, seed};
    std::atomic<bool> stop{false};
    line_reader reader{feed.fds[0], 1000, &stop};
    auto events = read_all(reader);
    CAF_REQUIRE_EQUAL(events.size(), lines.size());
    for (size_t i = 0; i < lines.size(); ++i) {
      auto raw_len = lines[i].size() + (i % 7 == 0 ? 1 : 0); // "\r" counts
      if (raw_len > 1000) {
        CAF_REQUIRE(events[i].kind == line_reader::result::oversized);
        CAF_REQUIRE_EQUAL(events[i].oversized, raw_len);
      } else {
        CAF_REQUIRE(events[i].kind == line_reader::result::line);
        CAF_REQUIRE_EQUAL(events[i].line, lines[i]);
      }
    }
    CAF_CHECK_EQUAL(reader.bytes_read(), data.size());
  }
}

CAF_TEST(a last line without newline counts and is marked unterminated) {
  pipe_feed feed{"a\nb", 1};
  line_reader reader{feed.fds[0], 100};
  std::string line;
  CAF_CHECK(reader.next(line) == line_reader::result::line);
  CAF_CHECK(reader.terminated());
  CAF_CHECK(reader.next(line) == line_reader::result::line);
  CAF_CHECK_EQUAL(line, "b");
  CAF_CHECK(!reader.terminated());
  CAF_CHECK(reader.next(line) == line_reader::result::end_of_file);
}

CAF_TEST(a read error is not end of file) {
  int fd = ::open("/", O_RDONLY | O_DIRECTORY);
  CAF_REQUIRE(fd >= 0);
  line_reader reader{fd, 100};
  std::string line;
  CAF_CHECK(reader.next(line) == line_reader::result::read_error);
  CAF_CHECK_EQUAL(reader.error(), EISDIR);
  ::close(fd);
}

CAF_TEST(a stop request ends a wait on a quiet pipe) {
  int fds[2];
  CAF_REQUIRE_EQUAL(::pipe(fds), 0);
  std::atomic<bool> stop{false};
  line_reader reader{fds[0], 100, &stop};
  std::thread stopper{[&] {
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
    stop = true;
  }};
  std::string line;
  CAF_CHECK(reader.next(line) == line_reader::result::stopped);
  stopper.join();
  ::close(fds[0]);
  ::close(fds[1]);
}

CAF_TEST(progress shows counts without a total and an eta with one) {
  progress_snapshot s;
  s.lines_done = 5000;
  s.errors = 3;
  s.elapsed_seconds = 2.0;
  CAF_CHECK_EQUAL(format_progress(s, false),
                  "embedrt: 5000 lines, 2500 lines/s, 3 errors, 2.0s\n");
  s.input_size = 1000;
  s.bytes_read = 250;
  CAF_CHECK_EQUAL(format_progress(s, false),
                  "embedrt: 25% 5000 lines, 2500 lines/s, 3 errors, ETA 6.0s\n");
  auto bar = format_progress(s, true);
  CAF_CHECK_EQUAL(bar.substr(0, 4), "\r\033[K");
  CAF_CHECK(bar.find("[######                  ]") != std::string::npos);
  CAF_CHECK_NOT_EQUAL(bar.back(), '\n');
}

CAF_TEST(latency quantiles are within a bucket of the truth) {
  latency_histogram h;
  CAF_CHECK_EQUAL(h.quantile(0.5).count(), 0);
  for (int i = 1; i <= 1000; ++i)
    h.record(std::chrono::microseconds{i * 100}); // 0.1 ms .. 100 ms
  auto p50 = static_cast<double>(h.quantile(0.5).count());
  auto p99 = static_cast<double>(h.quantile(0.99).count());
  CAF_CHECK(p50 >= 50000 * 0.95 && p50 <= 50000 * 1.06);
  CAF_CHECK(p99 >= 99000 * 0.95 && p99 <= 99000 * 1.06);
}
