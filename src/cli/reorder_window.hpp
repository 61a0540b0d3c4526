// The main job writes in input order while answers arrive in any order. The reorder
// window holds the lines between the oldest unwritten one (the head) and the newest
// admitted one, bounded in lines and bytes: when it is full, reading pauses until the
// head resolves. So one slow line cannot make memory grow with the input. Pure data
// structure (the job guards it with its own mutex); tested without threads.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "src/cli/output_format.hpp"

namespace embedrt::cli {

class reorder_window {
public:
  /// `max_lines` >= 1 and `max_bytes` >= 1 (config-validated).
  reorder_window(uint64_t max_lines, uint64_t max_bytes, uint64_t first_line = 1);

  /// True when a line expected to take `estimate` bytes may be admitted: fewer than
  /// `max_lines` open and the bytes stay within `max_bytes`. An empty window always
  /// has room, so one line larger than the bound still makes progress.
  bool has_room(uint64_t estimate) const noexcept;

  /// Admits the next line (numbered in order from `first_line`), reserving
  /// `estimate` bytes until it resolves. Returns its number.
  uint64_t admit(uint64_t estimate);

  /// Stores the answer of an admitted, unresolved line; its actual size replaces the
  /// estimate. Returns true when the head can now be taken.
  bool resolve(uint64_t line, line_record rec);

  /// True when the head line is resolved.
  bool head_ready() const noexcept;

  /// Moves the resolved lines at the head, in order, into `out` (appended) and frees
  /// their room. Returns how many.
  size_t take_ready(std::vector<line_record>& out);

  uint64_t open_lines() const noexcept { return slots_.size(); }
  uint64_t bytes() const noexcept { return bytes_; }
  /// The number the next admitted line gets.
  uint64_t next_line() const noexcept { return head_ + slots_.size(); }
  uint64_t peak_lines() const noexcept { return peak_lines_; }
  uint64_t peak_bytes() const noexcept { return peak_bytes_; }

private:
  struct slot {
    bool resolved = false;
    uint64_t bytes = 0;
    line_record rec;
  };

  uint64_t max_lines_;
  uint64_t max_bytes_;
  uint64_t head_;
  std::deque<slot> slots_;
  uint64_t bytes_ = 0;
  uint64_t peak_lines_ = 0;
  uint64_t peak_bytes_ = 0;
};

} // namespace embedrt::cli
