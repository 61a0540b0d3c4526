// The CLI's main job: stream JSONL {"id", "text"} lines (file, pipe or stdin, read
// once) through the runtime's bulk path and write exactly one record per input line,
// in input order, without ever losing data:
// - output goes to "<output>.partial" and is renamed into place only when the job
//   completes; an interrupted job (signal, I/O error, crash) leaves that file for
//   --resume, which keeps what was answered and embeds only the rest;
// - an output that is the input is refused before anything is read;
// - a bounded reorder window (embedrt.job.*) keeps memory flat whatever one line does;
// - every read, write, flush or close error ends the job with exit code 3.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>

#include "src/cli/output_format.hpp"
#include <embedrt/runtime.hpp>

namespace embedrt::cli {

class signal_watch;

/// Exit codes of `embedrt embed`.
enum exit_code : int {
  exit_all_embedded = 0,
  exit_some_failed = 1,
  exit_usage = 2, // usage, config, same file, resume mismatch: nothing sent
  exit_io_error = 3,
  exit_sigint = 130,
  exit_sigterm = 143,
};

struct embed_job_options {
  /// A path, or "-" for stdin.
  std::string input_path;
  /// A path, or "-" for stdout.
  std::string output_path;
  output_format format = output_format::jsonl;
  /// Continue an interrupted job from what it wrote.
  bool resume = false;
  /// With `resume`: embed lines that failed permanently again too.
  bool retry_failed = false;
  /// Progress on stderr: a live bar on a terminal, else a plain line per interval.
  bool progress = true;
  /// 0: 200 ms on a terminal, 5 s otherwise.
  std::chrono::milliseconds progress_interval{0};
};

struct embed_job_summary {
  uint64_t lines = 0;
  uint64_t embedded = 0;
  uint64_t failed = 0;
  /// Lines taken over from a previous output by --resume.
  uint64_t resumed = 0;
  /// Failed lines by error code ("invalid_json", "invalid_line", embed_errc names).
  std::map<std::string, uint64_t> failures;
  uint64_t upstream_requests = 0;
  uint64_t upstream_attempts = 0;
  uint64_t retries = 0;
  uint64_t breaker_openings = 0;
  uint64_t sheds = 0;
  uint64_t connections_opened = 0;
  /// Per line, from submit to answer.
  std::chrono::microseconds latency_p50{0};
  std::chrono::microseconds latency_p99{0};
  uint64_t reorder_peak_lines = 0;
  uint64_t reorder_peak_bytes = 0;
  /// Shared budget (rate_limiter.shared_store): calls to Redis, failed ones, and
  /// switches to the local share.
  uint64_t shared_store_calls = 0;
  uint64_t shared_store_failures = 0;
  uint64_t shared_budget_fallbacks = 0;
  double elapsed_seconds = 0;
  double vectors_per_second = 0;
  /// Where the result is (or the partial file when interrupted).
  std::string result_path;
  /// Set when the job was interrupted: why.
  std::string interrupted;
};

/// Runs the job; returns an `exit_code`. `signals` (optional) is consulted for
/// SIGINT/SIGTERM. Writes progress and errors to `err`; the caller prints the summary.
int run_embed_job(runtime& rt, const embed_job_options& opts, embed_job_summary& out,
                  std::ostream& err, signal_watch* signals = nullptr);

/// The checks done before the runtime starts (nothing is read): input readable,
/// output not the input, --resume/format combinations. Returns 0 or `exit_usage`.
int check_embed_job(const embed_job_options& opts, std::ostream& err);

/// The summary as printed at the end of a run.
std::string format_summary(const embed_job_summary& s);

/// npy: the sidecar's path for an output path.
std::string sidecar_path(const std::string& output_path);

} // namespace embedrt::cli
