// The CLI's main job: stream a JSONL file of {"id", "text"} through the runtime's bulk
// path and write exactly one JSONL line per input line, in input order. Memory does
// not grow with the input: reading waits for bulk credit and for the writer.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>

#include "src/runtime.hpp"

namespace embedrt::cli {

struct embed_job_options {
  std::string input_path;
  std::string output_path;
  /// Progress on stderr: a live bar on a terminal, else a plain line per interval.
  bool progress = true;
  std::chrono::milliseconds progress_interval{5000};
  /// Most lines read ahead of the writer (bounds the reorder buffer).
  uint32_t max_read_ahead = 8192;
};

struct embed_job_summary {
  uint64_t lines = 0;
  uint64_t embedded = 0;
  uint64_t failed = 0;
  /// Failed lines by error code ("invalid_json", "invalid_line", embed_errc names).
  std::map<std::string, uint64_t> failures;
  uint64_t upstream_requests = 0;
  uint64_t upstream_attempts = 0;
  uint64_t connections_opened = 0;
  /// Shared budget (rate_limiter.shared_store): calls to Redis, failed ones, and
  /// switches to the local share.
  uint64_t shared_store_calls = 0;
  uint64_t shared_store_failures = 0;
  uint64_t shared_budget_fallbacks = 0;
  double elapsed_seconds = 0;
  double vectors_per_second = 0;
};

/// Runs the job. Returns 0 when every line was embedded, 1 when some failed, 2 when
/// the files cannot be opened (nothing sent). Writes progress and the summary to `err`.
int run_embed_job(runtime& rt, const embed_job_options& opts, embed_job_summary& out,
                  std::ostream& err);

/// The summary as printed at the end of a run.
std::string format_summary(const embed_job_summary& s);

} // namespace embedrt::cli
