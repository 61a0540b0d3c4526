// Reads lines from a file descriptor (regular file, pipe, terminal, stdin) exactly
// once, in bounded memory: a line longer than the limit is skipped to its newline and
// reported as oversized, never stored. End of file and a read error are different
// results (getline conflates them).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace embedrt::cli {

class line_reader {
public:
  /// What `next` found.
  enum class result : uint8_t {
    line,        // `line` holds the line, without "\n" (and without a final "\r")
    oversized,   // a line over the limit was skipped; `oversized_bytes` its size
    end_of_file, // no more lines
    read_error,  // read(2) failed; `error()` is the errno
    stopped,     // `stop` became true while waiting for input
  };

  /// Does not own `fd`. `stop` (optional) is polled while waiting for a pipe.
  line_reader(int fd, uint64_t max_line_bytes, const std::atomic<bool>* stop = nullptr);

  result next(std::string& line);

  uint64_t oversized_bytes() const noexcept { return oversized_bytes_; }
  int error() const noexcept { return error_; }
  /// Bytes consumed so far (for progress against a regular file's size).
  uint64_t bytes_read() const noexcept { return bytes_read_; }
  /// False when the last line returned ended at end of file without a newline (a
  /// torn last line of an interrupted writer).
  bool terminated() const noexcept { return terminated_; }

private:
  /// Reads more into the buffer; false at end of file, on error or when stopped.
  bool fill();

  int fd_;
  uint64_t max_line_bytes_;
  const std::atomic<bool>* stop_;
  std::string buf_;
  size_t pos_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  int error_ = 0;
  bool stopped_ = false;
  bool terminated_ = true;
  uint64_t oversized_bytes_ = 0;
  uint64_t bytes_read_ = 0;
};

} // namespace embedrt::cli
