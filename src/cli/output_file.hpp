// Where the main job's bytes go, with every OS error kept (never only printed):
// `-` is stdout; an existing device or FIFO (e.g. /dev/full) is written directly;
// anything else goes to "<path>.partial" in the same directory, renamed over `path`
// when the job completes, kept for --resume otherwise.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace embedrt::cli {

class output_file {
public:
  output_file() = default;
  ~output_file();
  output_file(const output_file&) = delete;
  output_file& operator=(const output_file&) = delete;

  /// The temporary path used for `path`.
  static std::string partial_path(const std::string& path);

  /// Opens for writing (truncating the temporary file). False + `error()` on failure.
  bool open(const std::string& path);

  /// Writes all of `data` (one write(2) where the kernel allows). False + `error()`.
  bool write(std::string_view data);

  /// Writes `data` at `offset` (npy header). False + `error()`.
  bool write_at(std::string_view data, uint64_t offset);

  /// Flushes to disk, closes and renames the temporary file into place.
  bool commit();

  /// Flushes and closes, leaving the temporary file for --resume.
  bool keep();

  /// "writing PATH: OS error text" after a failure.
  const std::string& error() const noexcept { return error_; }
  bool failed() const noexcept { return !error_.empty(); }
  const std::string& path() const noexcept { return path_; }
  /// Where bytes land now (the temporary file, or `path` when written directly).
  const std::string& target() const noexcept { return target_; }
  bool direct() const noexcept { return direct_; }
  uint64_t written() const noexcept { return written_; }

private:
  bool fail(const char* what, const std::string& file, int err);
  bool close_fd();

  std::string path_;
  std::string target_;
  int fd_ = -1;
  bool direct_ = false;
  bool owns_fd_ = false;
  uint64_t written_ = 0;
  uint64_t writeback_from_ = 0;
  std::string error_;
};

/// True when `a` and `b` name the same file (same device and inode, symlinks and
/// hard links followed); "-" is stdin for `a` and stdout for `b`. False when either
/// does not exist.
bool same_file(const std::string& a, const std::string& b);

} // namespace embedrt::cli
