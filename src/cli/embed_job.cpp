#include "src/cli/embed_job.hpp"

#include <unistd.h>

#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <ostream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

namespace embedrt::cli {

namespace {

using clock_type = std::chrono::steady_clock;

/// Appends `x` in the shortest form that reads back to the same float.
void append_float(std::string& out, float x) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof(buf), x);
  out.append(buf, r.ptr);
}

std::string embedding_line(const std::string& key, const std::vector<float>& v) {
  std::string out;
  out.reserve(key.size() + 24 + v.size() * 12);
  out += '{';
  out += key;
  out += ",\"embedding\":[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0)
      out += ',';
    append_float(out, v[i]);
  }
  out += "]}\n";
  return out;
}

std::string error_line(const std::string& key, const std::string& code,
                       const std::string& message) {
  nlohmann::json err{{"code", code}, {"message", message}};
  return "{" + key + ",\"error\":"
         + err.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "}\n";
}

/// Writes lines in input order, whatever order they finish in, on its own thread so
/// CAF threads never wait for the disk.
class ordered_writer {
public:
  explicit ordered_writer(std::FILE* out) : out_(out), thread_([this] { run(); }) {}

  ~ordered_writer() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      closing_ = true;
    }
    ready_.notify_all();
    thread_.join();
  }

  void push(uint64_t line, std::string text, bool ok, const std::string& code) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      pending_.emplace(line, std::move(text));
      if (ok) {
        ++embedded_;
      } else {
        ++failed_;
        ++failures_[code];
      }
    }
    ready_.notify_all();
  }

  /// Blocks the reader while it is `max_ahead` lines ahead of the writer.
  void wait_for_room(uint64_t line, uint32_t max_ahead) {
    std::unique_lock<std::mutex> guard{mtx_};
    room_.wait(guard, [&] { return line < next_ + max_ahead; });
  }

  /// Blocks until lines 1..total are written.
  void wait_until_written(uint64_t total) {
    std::unique_lock<std::mutex> guard{mtx_};
    room_.wait(guard, [&] { return next_ > total; });
  }

  uint64_t written() {
    std::lock_guard<std::mutex> guard{mtx_};
    return next_ - 1;
  }

  void totals(uint64_t& embedded, uint64_t& failed,
              std::map<std::string, uint64_t>& failures) {
    std::lock_guard<std::mutex> guard{mtx_};
    embedded = embedded_;
    failed = failed_;
    failures = failures_;
  }

  bool write_failed() const { return write_failed_; }

private:
  void run() {
    std::unique_lock<std::mutex> guard{mtx_};
    for (;;) {
      ready_.wait(guard, [&] {
        return closing_ || (!pending_.empty() && pending_.begin()->first == next_);
      });
      std::string chunk;
      while (!pending_.empty() && pending_.begin()->first == next_) {
        chunk += pending_.begin()->second;
        pending_.erase(pending_.begin());
        ++next_;
      }
      if (!chunk.empty()) {
        guard.unlock();
        if (std::fwrite(chunk.data(), 1, chunk.size(), out_) != chunk.size())
          write_failed_ = true;
        guard.lock();
        room_.notify_all();
      }
      if (closing_ && (pending_.empty() || pending_.begin()->first != next_))
        return;
    }
  }

  std::FILE* out_;
  std::mutex mtx_;
  std::condition_variable ready_;
  std::condition_variable room_;
  std::map<uint64_t, std::string> pending_;
  uint64_t next_ = 1;
  uint64_t embedded_ = 0;
  uint64_t failed_ = 0;
  std::map<std::string, uint64_t> failures_;
  bool closing_ = false;
  std::atomic<bool> write_failed_{false};
  std::thread thread_; // last: starts after the members above exist
};

/// Counts lines of a regular file for the ETA (0 when unknown).
uint64_t count_lines(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return 0;
  uint64_t n = 0;
  char buf[1 << 16];
  char last = '\n';
  while (in) {
    in.read(buf, sizeof(buf));
    auto got = in.gcount();
    for (std::streamsize i = 0; i < got; ++i)
      n += buf[i] == '\n' ? 1 : 0;
    if (got > 0)
      last = buf[got - 1];
  }
  return last == '\n' ? n : n + 1;
}

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

/// Progress on stderr: a live bar on a terminal, a plain line per interval otherwise.
class progress_reporter {
public:
  progress_reporter(std::ostream& err, ordered_writer& w, uint64_t total, bool tty,
                    std::chrono::milliseconds interval)
    : err_(err), writer_(w), total_(total), tty_(tty), interval_(interval),
      start_(clock_type::now()), thread_([this] { run(); }) {}

  ~progress_reporter() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    if (tty_)
      err_ << "\r\033[K" << std::flush;
  }

private:
  void run() {
    std::unique_lock<std::mutex> guard{mtx_};
    while (!cv_.wait_for(guard, interval_, [&] { return stop_; }))
      print();
  }

  void print() {
    auto done = writer_.written();
    auto secs = std::chrono::duration<double>(clock_type::now() - start_).count();
    auto rate = secs > 0 ? static_cast<double>(done) / secs : 0.0;
    std::ostringstream line;
    if (total_ > 0) {
      auto frac = std::min(1.0,
                           static_cast<double>(done) / static_cast<double>(total_));
      auto eta = rate > 0 ? static_cast<double>(total_ - std::min(done, total_)) / rate
                          : 0.0;
      if (tty_) {
        constexpr int width = 30;
        auto filled = static_cast<int>(frac * width);
        line << "\r\033[K[" << std::string(static_cast<size_t>(filled), '#')
             << std::string(static_cast<size_t>(width - filled), ' ') << "] ";
      } else {
        line << "embedrt: ";
      }
      line << done << "/" << total_ << " lines (" << static_cast<int>(frac * 100)
           << "%), " << static_cast<uint64_t>(rate) << " lines/s, ETA "
           << seconds_text(eta);
    } else {
      line << (tty_ ? "\r\033[K" : "embedrt: ") << done << " lines, "
           << static_cast<uint64_t>(rate) << " lines/s";
    }
    if (!tty_)
      line << '\n';
    err_ << line.str() << std::flush;
  }

  std::ostream& err_;
  ordered_writer& writer_;
  uint64_t total_;
  bool tty_;
  std::chrono::milliseconds interval_;
  clock_type::time_point start_;
  std::mutex mtx_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

} // namespace

std::string format_summary(const embed_job_summary& s) {
  std::ostringstream out;
  out << "embedrt summary\n"
      << "  lines:              " << s.lines << "\n"
      << "  embedded:           " << s.embedded << "\n"
      << "  failed:             " << s.failed << "\n";
  for (auto& [code, n] : s.failures)
    out << "    " << code << ": " << n << "\n";
  char rate[32];
  std::snprintf(rate, sizeof(rate), "%.1f", s.vectors_per_second);
  char elapsed[32];
  std::snprintf(elapsed, sizeof(elapsed), "%.3f", s.elapsed_seconds);
  out << "  upstream requests:  " << s.upstream_requests << " (" << s.upstream_attempts
      << " attempts)\n"
      << "  connections opened: " << s.connections_opened << "\n";
  if (s.shared_store_calls > 0)
    out << "  shared budget:      " << s.shared_store_calls << " store calls, "
        << s.shared_store_failures << " failed, " << s.shared_budget_fallbacks
        << " fallbacks\n";
  out << "  elapsed:            " << elapsed << " s\n"
      << "  vectors/s:          " << rate << "\n";
  return out.str();
}

int run_embed_job(runtime& rt, const embed_job_options& opts, embed_job_summary& out,
                  std::ostream& err) {
  std::ifstream in{opts.input_path, std::ios::binary};
  if (!in) {
    err << "embedrt: cannot open input file " << opts.input_path << "\n";
    return 2;
  }
  std::FILE* file = std::fopen(opts.output_path.c_str(), "wb");
  if (file == nullptr) {
    err << "embedrt: cannot open output file " << opts.output_path << "\n";
    return 2;
  }
  auto before = rt.counters();
  auto start = clock_type::now();
  uint64_t lines = 0;
  {
    ordered_writer writer{file};
    std::unique_ptr<progress_reporter> progress;
    if (opts.progress)
      progress = std::make_unique<progress_reporter>(err, writer,
                                                     count_lines(opts.input_path),
                                                     isatty(STDERR_FILENO) == 1,
                                                     opts.progress_interval);
    bulk_session session{rt};
    std::string text;
    while (std::getline(in, text)) {
      auto line = ++lines;
      if (!text.empty() && text.back() == '\r')
        text.pop_back();
      writer.wait_for_room(line, opts.max_read_ahead);
      auto key = "\"line\":" + std::to_string(line);
      auto doc = nlohmann::json::parse(text, nullptr, false);
      if (doc.is_discarded()) {
        writer.push(line, error_line(key, "invalid_json", "the line is not valid JSON"),
                    false, "invalid_json");
        continue;
      }
      if (doc.is_object() && doc.contains("id"))
        key = "\"id\":"
              + doc["id"].dump(-1, ' ', false,
                               nlohmann::json::error_handler_t::replace);
      if (!doc.is_object() || !doc.contains("text") || !doc["text"].is_string()) {
        writer.push(line,
                    error_line(key, "invalid_line",
                               "the line needs a string field \"text\""),
                    false, "invalid_line");
        continue;
      }
      auto on_done = [&writer, line, key](embed_outcome x) {
        if (x.ok()) {
          writer.push(line, embedding_line(key, x.value().embeddings.at(0)), true, {});
        } else {
          auto code = to_string(x.error().code);
          writer.push(line, error_line(key, code, x.error().message), false, code);
        }
      };
      std::vector<std::string> texts{doc["text"].get<std::string>()};
      if (!session.submit(std::move(texts), embed_options{}, on_done))
        writer.push(line,
                    error_line(key, "shutting_down", "the runtime is shutting down"),
                    false, "shutting_down");
    }
    writer.wait_until_written(lines);
    writer.totals(out.embedded, out.failed, out.failures);
    if (writer.write_failed())
      err << "embedrt: writing " << opts.output_path << " failed\n";
  }
  std::fclose(file);
  out.lines = lines;
  out.elapsed_seconds
    = std::chrono::duration<double>(clock_type::now() - start).count();
  out.vectors_per_second = out.elapsed_seconds > 0
                             ? static_cast<double>(out.embedded) / out.elapsed_seconds
                             : 0;
  auto after = rt.counters();
  out.upstream_requests = after.upstream_requests_formed
                          - before.upstream_requests_formed;
  out.upstream_attempts = after.attempts_started - before.attempts_started;
  out.connections_opened = after.connections_opened - before.connections_opened;
  out.shared_store_calls = after.shared_store_calls - before.shared_store_calls;
  out.shared_store_failures = after.shared_store_failures
                              - before.shared_store_failures;
  out.shared_budget_fallbacks = after.shared_budget_fallbacks
                                - before.shared_budget_fallbacks;
  return out.failed == 0 ? 0 : 1;
}

} // namespace embedrt::cli
