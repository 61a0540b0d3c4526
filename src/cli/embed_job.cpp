#include "src/cli/embed_job.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <sstream>
#include <thread>

#include "src/cli/input_line.hpp"
#include "src/cli/line_reader.hpp"
#include "src/cli/output_file.hpp"
#include "src/cli/progress.hpp"
#include "src/cli/reorder_window.hpp"
#include "src/cli/resume_source.hpp"
#include "src/cli/signal_watch.hpp"

namespace embedrt::cli {

namespace {

using clock_type = std::chrono::steady_clock;

/// State shared by the reader (the calling thread), the answer callbacks (CAF
/// threads), the writer thread and the progress thread. Guarded by `mtx`, except the
/// atomics.
struct job_state {
  job_state(uint64_t max_lines, uint64_t max_bytes) : window(max_lines, max_bytes) {}

  std::mutex mtx;
  std::condition_variable room;    // the reader waits for window room
  std::condition_variable ready;   // the writer waits for the head line
  std::condition_variable drained; // the end waits for the writer
  reorder_window window;
  bool reading_done = false;
  bool writer_done = false;
  uint64_t written = 0;
  uint64_t embedded = 0;
  uint64_t failed = 0;
  std::map<std::string, uint64_t> failures;
  latency_histogram latency;
  /// Size of the latest answer: the estimate of a pending line's answer.
  uint64_t last_record_bytes = 0;
  std::string io_error;
  /// Set by a signal or an I/O error: admit nothing more.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bytes_read{0};
  /// Held around every write, so an immediate exit never cuts a line.
  std::mutex io;
};

/// Turns records into bytes on disk for one format. Called by the writer thread
/// only (with `job_state::io` held).
class record_sink {
public:
  record_sink(output_format f, output_file& main, output_file* side)
    : format_(f), main_(main), side_(side) {}

  bool begin() {
    if (format_ != output_format::npy)
      return true;
    return main_.write(npy_header(0, 0));
  }

  bool write(std::vector<line_record>& batch) {
    buf_.clear();
    side_buf_.clear();
    for (auto& r : batch) {
      if (format_ != output_format::npy) {
        buf_ += r.main;
        continue;
      }
      ++rows_;
      side_buf_ += r.side;
      if (r.ok() && dim_ == 0 && !r.main.empty()) {
        // The first vector fixes the matrix's width; rows that failed before it
        // become zero rows now.
        dim_ = r.main.size() / sizeof(float);
        if (!main_.write_at(npy_header(0, dim_), 0))
          return false;
        buf_.append(pending_zero_rows_ * dim_ * sizeof(float), '\0');
        pending_zero_rows_ = 0;
      }
      if (dim_ == 0)
        ++pending_zero_rows_;
      else if (r.ok() && r.main.size() == dim_ * sizeof(float))
        buf_ += r.main;
      else
        buf_.append(dim_ * sizeof(float), '\0');
    }
    if (!buf_.empty() && !main_.write(buf_))
      return false;
    return side_buf_.empty() || side_->write(side_buf_);
  }

  /// npy: the final shape into the header.
  bool finish() {
    if (format_ != output_format::npy)
      return true;
    return main_.write_at(npy_header(rows_, dim_), 0);
  }

  std::string error() const {
    return main_.failed() ? main_.error() : side_ != nullptr ? side_->error() : "";
  }

private:
  output_format format_;
  output_file& main_;
  output_file* side_;
  uint64_t rows_ = 0;
  uint64_t dim_ = 0;
  uint64_t pending_zero_rows_ = 0;
  std::string buf_;
  std::string side_buf_;
};

void writer_loop(job_state& st, record_sink& sink,
                 const std::function<void()>& on_error) {
  std::vector<line_record> batch;
  std::unique_lock<std::mutex> guard{st.mtx};
  for (;;) {
    st.ready.wait(guard, [&] {
      return st.window.head_ready() || (st.reading_done && st.window.open_lines() == 0);
    });
    if (!st.window.head_ready())
      break;
    batch.clear();
    st.window.take_ready(batch);
    st.room.notify_all();
    auto failed_before = !st.io_error.empty();
    guard.unlock();
    bool ok = true;
    if (!failed_before) {
      std::lock_guard<std::mutex> io_guard{st.io};
      ok = sink.write(batch);
    }
    guard.lock();
    if (failed_before)
      continue; // after an I/O error answers are only drained
    if (!ok) {
      st.io_error = sink.error();
      st.stop = true;
      st.room.notify_all();
      on_error();
      continue;
    }
    st.written += batch.size();
    for (auto& r : batch) {
      if (r.ok()) {
        ++st.embedded;
      } else {
        ++st.failed;
        ++st.failures[r.code];
      }
    }
  }
  st.writer_done = true;
  st.drained.notify_all();
}

/// Calls `runtime::stop` once, on its own thread (the reader may be blocked in
/// `bulk_session::submit`, which the stop releases).
class stopper {
public:
  explicit stopper(runtime& rt) : rt_(rt) {}

  ~stopper() {
    if (thread_.joinable())
      thread_.join();
  }

  void join() {
    std::lock_guard<std::mutex> guard{mtx_};
    if (thread_.joinable())
      thread_.join();
  }

  void request(std::chrono::milliseconds grace) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!thread_.joinable())
      thread_ = std::thread([this, grace] { rt_.stop(grace); });
  }

private:
  runtime& rt_;
  std::mutex mtx_;
  std::thread thread_;
};

/// Formats answers off the runtime's threads: printing 1536 floats is most of the CPU
/// a jsonl line costs, and the runtime has few scheduler threads (cores - workers).
/// Persistent threads, so allocations stay in their arenas. The queue holds answers
/// of lines the window already counts (pending), so it adds no unbounded memory.
class format_pool {
public:
  struct task {
    uint64_t line;
    std::string key;
    std::vector<float> vec;
  };

  format_pool(unsigned threads, output_format f, job_state& st) : format_(f), st_(st) {
    for (unsigned i = 0; i < threads; ++i)
      threads_.emplace_back([this] { run(); });
  }

  ~format_pool() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      closing_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_)
      t.join();
  }

  void push(task t) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      queue_.push_back(std::move(t));
    }
    cv_.notify_one();
  }

private:
  void run() {
    std::unique_lock<std::mutex> guard{mtx_};
    for (;;) {
      cv_.wait(guard, [&] { return closing_ || !queue_.empty(); });
      if (queue_.empty())
        return;
      auto t = std::move(queue_.front());
      queue_.pop_front();
      guard.unlock();
      auto rec = format_vector(format_, t.key, t.line, t.vec);
      {
        std::lock_guard<std::mutex> st_guard{st_.mtx};
        st_.last_record_bytes = rec.bytes();
        if (st_.window.resolve(t.line, std::move(rec)))
          st_.ready.notify_one();
      }
      guard.lock();
    }
  }

  output_format format_;
  job_state& st_;
  std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<task> queue_;
  bool closing_ = false;
  std::vector<std::thread> threads_;
};

bool same_key(const previous_line& prev, const input_line& parsed, uint64_t line) {
  if (!parsed.id_raw.empty())
    return prev.id_raw == parsed.id_raw;
  return prev.id_raw.empty() && prev.line_no == line;
}

} // namespace

std::string sidecar_path(const std::string& output_path) {
  return output_path + ".jsonl";
}

int check_embed_job(const embed_job_options& opts, std::ostream& err) {
  if (opts.input_path != "-" && ::access(opts.input_path.c_str(), R_OK) != 0) {
    err << "embedrt: cannot read input " << opts.input_path << ": "
        << std::strerror(errno) << "\n";
    return exit_usage;
  }
  if (opts.output_path == "-" && opts.format == output_format::npy) {
    err << "embedrt: --output-format npy needs a file (--output -)\n";
    return exit_usage;
  }
  if (opts.output_path == "-" && opts.resume) {
    err << "embedrt: --resume needs an output file, not stdout\n";
    return exit_usage;
  }
  if (opts.retry_failed && !opts.resume) {
    err << "embedrt: --retry-failed goes with --resume\n";
    return exit_usage;
  }
  std::vector<std::string> outputs{opts.output_path};
  if (opts.output_path != "-") {
    outputs.push_back(output_file::partial_path(opts.output_path));
    if (opts.format == output_format::npy) {
      outputs.push_back(sidecar_path(opts.output_path));
      outputs.push_back(output_file::partial_path(sidecar_path(opts.output_path)));
    }
  }
  for (auto& o : outputs) {
    if (same_file(opts.input_path, o)) {
      err << "embedrt: the output " << o << " is the input "
          << (opts.input_path == "-" ? "(stdin)" : opts.input_path)
          << "; refusing to overwrite it (nothing was read)\n";
      return exit_usage;
    }
  }
  return 0;
}

std::string format_summary(const embed_job_summary& s) {
  std::ostringstream out;
  out << "embedrt summary\n";
  if (!s.interrupted.empty())
    out << "  interrupted:        " << s.interrupted << "\n";
  out << "  lines:              " << s.lines << "\n"
      << "  embedded:           " << s.embedded << "\n"
      << "  failed:             " << s.failed << "\n";
  for (auto& [code, n] : s.failures)
    out << "    " << code << ": " << n << "\n";
  if (s.resumed > 0)
    out << "  kept from resume:   " << s.resumed << "\n";
  char buf[64];
  out << "  upstream requests:  " << s.upstream_requests << " (" << s.upstream_attempts
      << " attempts, " << s.retries << " retries)\n"
      << "  breaker openings:   " << s.breaker_openings << "\n"
      << "  shed (overloaded):  " << s.sheds << "\n"
      << "  connections opened: " << s.connections_opened << "\n";
  std::snprintf(buf, sizeof(buf), "%.1f ms / %.1f ms",
                static_cast<double>(s.latency_p50.count()) / 1000.0,
                static_cast<double>(s.latency_p99.count()) / 1000.0);
  out << "  latency p50 / p99:  " << buf << "\n";
  if (s.shared_store_calls > 0)
    out << "  shared budget:      " << s.shared_store_calls << " store calls, "
        << s.shared_store_failures << " failed, " << s.shared_budget_fallbacks
        << " fallbacks\n";
  out << "  reorder window peak: " << s.reorder_peak_lines << " lines, "
      << (s.reorder_peak_bytes + 1023) / 1024 << " KiB\n";
  std::snprintf(buf, sizeof(buf), "%.3f", s.elapsed_seconds);
  out << "  elapsed:            " << buf << " s\n";
  std::snprintf(buf, sizeof(buf), "%.1f", s.vectors_per_second);
  out << "  vectors/s:          " << buf << "\n";
  if (!s.result_path.empty())
    out << "  output:             " << s.result_path << "\n";
  return out.str();
}

int run_embed_job(runtime& rt, const embed_job_options& opts, embed_job_summary& out,
                  std::ostream& err, signal_watch* signals) {
  if (auto rc = check_embed_job(opts, err); rc != 0)
    return rc;
  const auto& cfg = rt.config();
  const bool npy = opts.format == output_format::npy;
  // -- input --------------------------------------------------------------------------
  int in_fd = STDIN_FILENO;
  if (opts.input_path != "-") {
    in_fd = ::open(opts.input_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (in_fd < 0) {
      err << "embedrt: cannot read input " << opts.input_path << ": "
          << std::strerror(errno) << "\n";
      return exit_usage;
    }
  }
  struct fd_closer {
    int fd;
    ~fd_closer() {
      if (fd != STDIN_FILENO)
        ::close(fd);
    }
  } in_closer{in_fd};
  uint64_t input_size = 0;
  struct stat in_stat {};
  if (::fstat(in_fd, &in_stat) == 0 && S_ISREG(in_stat.st_mode))
    input_size = static_cast<uint64_t>(in_stat.st_size);
  // -- resume, then output ------------------------------------------------------------
  resume_sources previous;
  if (opts.resume) {
    std::string error;
    if (!previous.open(opts.output_path, npy ? sidecar_path(opts.output_path) : "",
                       opts.format, error)) {
      err << "embedrt: --resume: " << error << "\n";
      return exit_io_error;
    }
    if (previous.files().empty())
      err << "embedrt: --resume: no previous output of " << opts.output_path
          << "; starting from the first line\n";
  }
  if (!opts.resume && opts.output_path != "-"
      && ::access(output_file::partial_path(opts.output_path).c_str(), F_OK) == 0)
    err << "embedrt: note: " << output_file::partial_path(opts.output_path)
        << " (an interrupted job) is started over; --resume would have continued it\n";
  output_file main_file;
  output_file side_file;
  if (!main_file.open(opts.output_path)
      || (npy && !side_file.open(sidecar_path(opts.output_path)))) {
    err << "embedrt: " << (main_file.failed() ? main_file.error() : side_file.error())
        << "\n";
    return exit_io_error;
  }
  record_sink sink{opts.format, main_file, npy ? &side_file : nullptr};
  if (!sink.begin()) {
    err << "embedrt: " << sink.error() << "\n";
    return exit_io_error;
  }
  // -- the job ------------------------------------------------------------------------
  job_state st{cfg.job.reorder_max_lines, uint64_t{cfg.job.reorder_max_mib} << 20};
  stopper stop_runtime{rt};
  const std::chrono::milliseconds grace{cfg.shutdown.grace_ms};
  int signal_number = 0;
  std::atomic<int> interrupted_by{0};
  if (signals != nullptr) {
    signals->on_signal(
      [&](int sig) {
        interrupted_by = sig;
        st.stop = true;
        {
          std::lock_guard<std::mutex> guard{st.mtx};
          st.room.notify_all();
        }
        stop_runtime.request(grace);
      },
      [&](int sig) {
        // A second signal: leave now, between two writes.
        st.io.lock();
        ::_exit(128 + sig);
      });
    if (auto sig = signals->received(); sig != 0) {
      interrupted_by = sig;
      st.stop = true;
    }
  }
  auto before = rt.counters();
  auto start = clock_type::now();
  std::thread writer{[&] {
    writer_loop(st, sink, [&] { stop_runtime.request(std::chrono::milliseconds{0}); });
  }};
  auto formatters = std::make_unique<format_pool>(
    std::clamp(std::thread::hardware_concurrency(), 1u, 4u), opts.format, st);
  std::unique_ptr<progress_reporter> progress;
  if (opts.progress) {
    bool tty = ::isatty(STDERR_FILENO) == 1;
    auto interval = opts.progress_interval.count() > 0
                      ? opts.progress_interval
                      : std::chrono::milliseconds{tty ? 200 : 5000};
    progress = std::make_unique<progress_reporter>(err, tty, interval, [&] {
      progress_snapshot s;
      {
        std::lock_guard<std::mutex> guard{st.mtx};
        s.lines_done = st.written;
        s.errors = st.failed;
      }
      s.bytes_read = st.bytes_read.load();
      s.input_size = input_size;
      s.elapsed_seconds
        = std::chrono::duration<double>(clock_type::now() - start).count();
      return s;
    });
  }
  line_limits limits;
  limits.max_line_bytes = cfg.input.max_line_bytes;
  limits.max_depth = cfg.input.max_line_depth;
  std::string read_error;
  std::string resume_error;
  uint64_t lines = 0;
  uint64_t resumed = 0;
  {
    line_reader reader{in_fd, limits.max_line_bytes, &st.stop};
    bulk_session session{rt};
    std::string text;
    while (!st.stop) {
      auto r = reader.next(text);
      st.bytes_read = reader.bytes_read();
      if (r == line_reader::result::end_of_file || r == line_reader::result::stopped)
        break;
      if (r == line_reader::result::read_error) {
        read_error = "reading " + (opts.input_path == "-" ? "<stdin>" : opts.input_path)
                     + ": " + std::strerror(reader.error());
        st.stop = true;
        stop_runtime.request(std::chrono::milliseconds{0});
        break;
      }
      auto line = lines + 1;
      input_line parsed;
      if (r == line_reader::result::oversized) {
        parsed.verdict = line_verdict::invalid_line;
        parsed.message = oversized_line_message(reader.oversized_bytes(), limits);
        text.clear();
      } else {
        parsed = parse_input_line(text, limits);
      }
      auto key = line_key(parsed.id_raw, line);
      // --resume: take the previous answer over unless it must be redone.
      std::optional<line_record> kept;
      if (opts.resume) {
        previous_line prev;
        if (previous.next(line, prev)) {
          if (!same_key(prev, parsed, line)) {
            resume_error = "line " + std::to_string(line) + " of the previous output ("
                           + previous.files().front()
                           + ") does not belong to this input; run without --resume";
            st.stop = true;
            stop_runtime.request(std::chrono::milliseconds{0});
            break;
          }
          if (!needs_redo(prev.record.code, opts.retry_failed))
            kept = std::move(prev.record);
        }
      }
      {
        std::unique_lock<std::mutex> guard{st.mtx};
        // Before the first answer, assume a 1536-d jsonl line.
        auto estimate = kept ? kept->bytes()
                             : text.size()
                                 + std::max<uint64_t>(st.last_record_bytes, 16384);
        st.room.wait(guard, [&] { return st.stop || st.window.has_room(estimate); });
        if (st.stop)
          break; // this line is not admitted: a resume reads it again
        st.window.admit(estimate);
        lines = line;
        if (kept || parsed.verdict != line_verdict::ok) {
          if (kept) {
            ++resumed;
          } else {
            kept = format_error(opts.format, key, line,
                                parsed.verdict == line_verdict::invalid_json
                                  ? "invalid_json"
                                  : "invalid_line",
                                parsed.message);
          }
          if (st.window.resolve(line, std::move(*kept)))
            st.ready.notify_one();
          continue;
        }
      }
      auto fmt = opts.format;
      auto t0 = clock_type::now();
      auto* pool = formatters.get();
      auto on_done = [&st, pool, fmt, line, key, t0](embed_outcome x) {
        auto took = std::chrono::duration_cast<std::chrono::microseconds>(
          clock_type::now() - t0);
        std::lock_guard<std::mutex> guard{st.mtx};
        st.latency.record(took);
        if (x.ok() && !x.value().embeddings.empty()) {
          pool->push({line, key, std::move(x.value().embeddings.front())});
          return;
        }
        auto rec = x.ok() ? format_error(fmt, key, line, "bad_response", "no vector")
                          : format_error(fmt, key, line, to_string(x.error().code),
                                         x.error().message);
        if (st.window.resolve(line, std::move(rec)))
          st.ready.notify_one();
      };
      std::vector<std::string> texts;
      texts.push_back(std::move(parsed.text));
      if (!session.submit(std::move(texts), embed_options{}, on_done)) {
        std::lock_guard<std::mutex> guard{st.mtx};
        if (st.window.resolve(line,
                              format_error(opts.format, key, line, "shutting_down",
                                           "the runtime is shutting down")))
          st.ready.notify_one();
      }
    }
  }
  {
    std::unique_lock<std::mutex> guard{st.mtx};
    st.reading_done = true;
    st.ready.notify_all();
    st.drained.wait(guard, [&] { return st.writer_done; });
  }
  writer.join();
  formatters.reset();
  progress.reset();
  signal_number = interrupted_by.load();
  // -- the result ---------------------------------------------------------------------
  int rc = exit_all_embedded;
  std::string io_error;
  {
    std::lock_guard<std::mutex> guard{st.mtx};
    io_error = st.io_error;
  }
  if (io_error.empty())
    io_error = read_error;
  bool complete = io_error.empty() && resume_error.empty() && signal_number == 0;
  if (complete) {
    if (!sink.finish() || !main_file.commit() || (npy && !side_file.commit()))
      io_error = sink.error();
    else
      previous.remove_files();
    complete = io_error.empty();
  } else {
    sink.finish(); // npy: the rows written so far, for a reader of the partial file
    main_file.keep();
    if (npy)
      side_file.keep();
  }
  if (!io_error.empty()) {
    err << "embedrt: " << io_error << "\n";
    rc = exit_io_error;
    out.interrupted = "I/O error";
  } else if (!resume_error.empty()) {
    err << "embedrt: --resume: " << resume_error << "\n";
    rc = exit_usage;
    out.interrupted = "resume mismatch";
  } else if (signal_number != 0) {
    rc = signal_number == SIGTERM ? exit_sigterm : exit_sigint;
    out.interrupted = signal_number == SIGTERM ? "SIGTERM" : "SIGINT";
  } else {
    rc = st.failed == 0 ? exit_all_embedded : exit_some_failed;
  }
  if (!complete && main_file.direct() == false) {
    out.interrupted += "; partial output kept for --resume";
  }
  out.result_path = complete ? opts.output_path : main_file.target();
  // -- the summary --------------------------------------------------------------------
  out.lines = lines;
  out.embedded = st.embedded;
  out.failed = st.failed;
  out.failures = st.failures;
  out.resumed = resumed;
  out.latency_p50 = st.latency.quantile(0.5);
  out.latency_p99 = st.latency.quantile(0.99);
  out.reorder_peak_lines = st.window.peak_lines();
  out.reorder_peak_bytes = st.window.peak_bytes();
  out.elapsed_seconds
    = std::chrono::duration<double>(clock_type::now() - start).count();
  out.vectors_per_second = out.elapsed_seconds > 0
                             ? static_cast<double>(out.embedded) / out.elapsed_seconds
                             : 0;
  stop_runtime.join();
  auto after = rt.counters();
  out.upstream_requests = after.upstream_requests_formed
                          - before.upstream_requests_formed;
  out.upstream_attempts = after.attempts_started - before.attempts_started;
  out.retries = after.attempts_retried - before.attempts_retried;
  out.breaker_openings = after.breaker_opened - before.breaker_opened;
  out.sheds = after.requests_shed_overloaded - before.requests_shed_overloaded;
  out.connections_opened = after.connections_opened - before.connections_opened;
  out.shared_store_calls = after.shared_store_calls - before.shared_store_calls;
  out.shared_store_failures = after.shared_store_failures
                              - before.shared_store_failures;
  out.shared_budget_fallbacks = after.shared_budget_fallbacks
                                - before.shared_budget_fallbacks;
  if (signals != nullptr)
    signals->on_signal(nullptr, nullptr);
  return rc;
}

} // namespace embedrt::cli
