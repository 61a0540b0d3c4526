#include "src/cli/line_reader.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace embedrt::cli {

namespace {

constexpr size_t chunk_size = 1 << 16;

} // namespace

line_reader::line_reader(int fd, uint64_t max_line_bytes, const std::atomic<bool>* stop)
  : fd_(fd), max_line_bytes_(max_line_bytes), stop_(stop) {
  buf_.resize(chunk_size);
}

bool line_reader::fill() {
  if (eof_ || error_ != 0 || stopped_)
    return false;
  if (pos_ > 0) {
    // Keep the unread tail at the front.
    std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  if (end_ == buf_.size())
    buf_.resize(buf_.size() * 2);
  for (;;) {
    if (stop_ != nullptr) {
      // Wait in slices so a stop request is seen within 100 ms even on a quiet pipe.
      pollfd p{fd_, POLLIN, 0};
      auto rc = ::poll(&p, 1, 100);
      if (stop_->load()) {
        stopped_ = true;
        return false;
      }
      if (rc == 0 || (rc < 0 && errno == EINTR))
        continue;
    }
    auto n = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
    if (n > 0) {
      end_ += static_cast<size_t>(n);
      bytes_read_ += static_cast<uint64_t>(n);
      return true;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN && stop_ != nullptr)
      continue;
    error_ = errno;
    return false;
  }
}

line_reader::result line_reader::next(std::string& line) {
  uint64_t skipped = 0; // bytes of an oversized line dropped so far
  size_t scan_from = pos_;
  for (;;) {
    auto* begin = buf_.data() + scan_from;
    auto* nl = static_cast<char*>(std::memchr(begin, '\n', end_ - scan_from));
    if (nl != nullptr) {
      auto len = static_cast<size_t>(nl - (buf_.data() + pos_));
      if (skipped > 0 || len > max_line_bytes_) {
        oversized_bytes_ = skipped + len;
        pos_ += len + 1;
        return result::oversized;
      }
      if (len > 0 && buf_[pos_ + len - 1] == '\r')
        line.assign(buf_.data() + pos_, len - 1);
      else
        line.assign(buf_.data() + pos_, len);
      pos_ += len + 1;
      return result::line;
    }
    auto pending = end_ - pos_;
    if (pending > max_line_bytes_) {
      // Too long already: drop what we have and keep skipping to the newline.
      skipped += pending;
      pos_ = end_ = 0;
    }
    auto already = end_ - pos_; // scanned, no newline in it
    if (!fill()) {
      if (error_ != 0)
        return result::read_error;
      if (stopped_)
        return result::stopped;
      // End of file: a last line without a newline still counts.
      pending = end_ - pos_;
      if (skipped > 0) {
        oversized_bytes_ = skipped + pending;
        pos_ = end_;
        return result::oversized;
      }
      if (pending == 0)
        return result::end_of_file;
      line.assign(buf_.data() + pos_, pending);
      if (!line.empty() && line.back() == '\r')
        line.pop_back();
      pos_ = end_;
      terminated_ = false;
      return result::line;
    }
    // `fill` moved the unread tail to the front.
    scan_from = pos_ + already;
  }
}

} // namespace embedrt::cli
