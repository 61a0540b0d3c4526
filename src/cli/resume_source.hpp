// --resume: what an interrupted job already wrote, read in step with the input.
// Output is written in input order, so every previous output is a prefix of the
// result (its torn last line, if any, is ignored). An interrupted job's temporary
// files are moved aside to "<path>.resume.N" (N grows with each interruption) and
// read newest first, so a resume that is itself interrupted loses nothing either.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "src/cli/output_format.hpp"

namespace embedrt::cli {

/// One line of a previous output.
struct previous_line {
  /// Raw id text when the line was keyed by id, else empty.
  std::string id_raw;
  /// The "line" number when it was keyed by line, else 0.
  uint64_t line_no = 0;
  /// The record exactly as written (jsonl: the line; npy: the row and sidecar line).
  line_record record;
};

class resume_sources {
public:
  resume_sources();
  ~resume_sources();
  resume_sources(const resume_sources&) = delete;
  resume_sources& operator=(const resume_sources&) = delete;

  /// Moves the temporary files of an interrupted job on `path` aside and opens every
  /// previous output (or `path` itself when the job had finished). `sidecar`: npy's
  /// JSONL file, else empty. False + `error` when a file cannot be moved or read.
  bool open(const std::string& path, const std::string& sidecar, output_format f,
            std::string& error);

  /// The previous answer of input line `line`; call for 1, 2, 3, ... in order.
  bool next(uint64_t line, previous_line& out);

  /// Deletes the moved-aside files (once the new output is in place).
  void remove_files();

  /// The files read, newest first.
  std::vector<std::string> files() const;

private:
  struct source;
  output_format format_ = output_format::jsonl;
  std::vector<std::unique_ptr<source>> sources_;
};

} // namespace embedrt::cli
