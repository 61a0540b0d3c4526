#include "src/cli/reorder_window.hpp"

#include <algorithm>

namespace embedrt::cli {

reorder_window::reorder_window(uint64_t max_lines, uint64_t max_bytes,
                               uint64_t first_line)
  : max_lines_(std::max<uint64_t>(max_lines, 1)),
    max_bytes_(std::max<uint64_t>(max_bytes, 1)), head_(first_line) {}

bool reorder_window::has_room(uint64_t estimate) const noexcept {
  if (slots_.empty())
    return true;
  return slots_.size() < max_lines_ && bytes_ + estimate <= max_bytes_;
}

uint64_t reorder_window::admit(uint64_t estimate) {
  slots_.push_back(slot{false, estimate, {}});
  bytes_ += estimate;
  peak_lines_ = std::max<uint64_t>(peak_lines_, slots_.size());
  peak_bytes_ = std::max(peak_bytes_, bytes_);
  return head_ + slots_.size() - 1;
}

bool reorder_window::resolve(uint64_t line, line_record rec) {
  if (line < head_ || line - head_ >= slots_.size())
    return false;
  auto& s = slots_[line - head_];
  if (s.resolved)
    return false;
  auto actual = rec.bytes();
  bytes_ = bytes_ - s.bytes + actual;
  peak_bytes_ = std::max(peak_bytes_, bytes_);
  s.bytes = actual;
  s.rec = std::move(rec);
  s.resolved = true;
  return line == head_;
}

bool reorder_window::head_ready() const noexcept {
  return !slots_.empty() && slots_.front().resolved;
}

size_t reorder_window::take_ready(std::vector<line_record>& out) {
  size_t n = 0;
  while (!slots_.empty() && slots_.front().resolved) {
    bytes_ -= slots_.front().bytes;
    out.push_back(std::move(slots_.front().rec));
    slots_.pop_front();
    ++head_;
    ++n;
  }
  return n;
}

} // namespace embedrt::cli
