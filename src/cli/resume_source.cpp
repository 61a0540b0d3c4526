#include "src/cli/resume_source.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "src/cli/json_scan.hpp"
#include "src/cli/line_reader.hpp"
#include "src/cli/output_file.hpp"

namespace embedrt::cli {

namespace {

/// Output lines can be long (a 65536-d float vector), but not unbounded.
constexpr uint64_t max_output_line_bytes = uint64_t{1} << 30;
/// Ids were accepted within input.max_line_depth, which is at most this.
constexpr uint32_t max_output_depth = 1100;

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

/// Parses one previous output line (jsonl line or npy sidecar line).
bool parse_previous(const std::string& text, previous_line& out) {
  std::string_view error_raw;
  bool has_vector = false;
  bool status_ok = false;
  bool has_line = false;
  out.id_raw.clear();
  out.line_no = 0;
  auto st = scan_json_object(
    text, max_output_depth,
    [&](std::string_view key, std::string_view raw, value_kind) {
      if (key == "id") {
        out.id_raw.assign(raw);
      } else if (key == "line") {
        has_line = std::from_chars(raw.data(), raw.data() + raw.size(), out.line_no).ec
                   == std::errc{};
      } else if (key == "embedding") {
        has_vector = true;
      } else if (key == "status") {
        status_ok = raw == "\"ok\"";
      } else if (key == "error") {
        error_raw = raw;
      }
    });
  if (st != scan_status::object || (out.id_raw.empty() && !has_line))
    return false;
  out.record.code.clear();
  if (!error_raw.empty()) {
    scan_json_object(error_raw, 2,
                     [&](std::string_view key, std::string_view raw, value_kind kind) {
                       if (key == "code" && kind == value_kind::string)
                         out.record.code = unescape_json_string(raw);
                     });
    if (out.record.code.empty())
      out.record.code = "unknown";
    return true;
  }
  return has_vector || status_ok;
}

} // namespace

struct resume_sources::source {
  std::string main_path;
  std::string side_path; // npy only
  bool moved_aside = false;
  int main_fd = -1;
  int line_fd = -1; // the file read line by line (jsonl: main, npy: sidecar)
  std::unique_ptr<line_reader> reader;
  bool ended = false;
  uint64_t dim = 0; // npy

  ~source() {
    if (main_fd >= 0)
      ::close(main_fd);
    if (line_fd >= 0 && line_fd != main_fd)
      ::close(line_fd);
  }
};

resume_sources::resume_sources() = default;
resume_sources::~resume_sources() = default;

bool resume_sources::open(const std::string& path, const std::string& sidecar,
                          output_format f, std::string& error) {
  format_ = f;
  const bool npy = f == output_format::npy;
  // Generations already moved aside by earlier interrupted resumes.
  uint32_t highest = 0;
  while (exists(path + ".resume." + std::to_string(highest + 1)))
    ++highest;
  auto partial = output_file::partial_path(path);
  if (exists(partial)) {
    ++highest;
    auto to = path + ".resume." + std::to_string(highest);
    if (::rename(partial.c_str(), to.c_str()) != 0) {
      error = "moving " + partial + " to " + to + ": " + std::strerror(errno);
      return false;
    }
    if (npy) {
      auto side_partial = output_file::partial_path(sidecar);
      auto side_to = sidecar + ".resume." + std::to_string(highest);
      if (::rename(side_partial.c_str(), side_to.c_str()) != 0 && errno != ENOENT) {
        error = "moving " + side_partial + " to " + side_to + ": "
                + std::strerror(errno);
        return false;
      }
    }
  }
  for (auto n = highest; n >= 1; --n) {
    auto s = std::make_unique<source>();
    s->main_path = path + ".resume." + std::to_string(n);
    if (npy)
      s->side_path = sidecar + ".resume." + std::to_string(n);
    s->moved_aside = true;
    sources_.push_back(std::move(s));
  }
  if (sources_.empty() && exists(path) && (!npy || exists(sidecar))) {
    auto s = std::make_unique<source>();
    s->main_path = path;
    s->side_path = npy ? sidecar : std::string{};
    sources_.push_back(std::move(s));
  }
  for (auto& s : sources_) {
    s->main_fd = ::open(s->main_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (s->main_fd < 0) {
      error = "reading " + s->main_path + ": " + std::strerror(errno);
      return false;
    }
    if (npy) {
      s->line_fd = ::open(s->side_path.c_str(), O_RDONLY | O_CLOEXEC);
      if (s->line_fd < 0) {
        // A crash before the sidecar existed: nothing usable in this generation.
        s->ended = true;
        continue;
      }
      char header[npy_header_bytes];
      uint64_t rows = 0;
      if (::pread(s->main_fd, header, sizeof(header), 0)
            != static_cast<ssize_t>(sizeof(header))
          || !parse_npy_header({header, sizeof(header)}, rows, s->dim))
        s->dim = 0;
    } else {
      s->line_fd = s->main_fd;
    }
    s->reader = std::make_unique<line_reader>(s->line_fd, max_output_line_bytes);
  }
  return true;
}

bool resume_sources::next(uint64_t line, previous_line& out) {
  bool found = false;
  std::string text;
  for (auto& s : sources_) {
    if (s->ended)
      continue;
    // Every source advances one line per input line, used or not.
    auto r = s->reader->next(text);
    if (r != line_reader::result::line || !s->reader->terminated()) {
      s->ended = true;
      continue;
    }
    if (found)
      continue;
    previous_line p;
    if (!parse_previous(text, p)) {
      s->ended = true;
      continue;
    }
    if (format_ == output_format::npy) {
      p.record.side = text + "\n";
      if (p.record.ok()) {
        if (s->dim == 0) {
          s->ended = true;
          continue;
        }
        p.record.main.resize(s->dim * sizeof(float));
        auto off = npy_header_bytes + (line - 1) * s->dim * sizeof(float);
        if (::pread(s->main_fd, p.record.main.data(), p.record.main.size(),
                    static_cast<off_t>(off))
            != static_cast<ssize_t>(p.record.main.size())) {
          s->ended = true;
          continue;
        }
      }
    } else {
      p.record.main = text + "\n";
    }
    out = std::move(p);
    found = true;
  }
  return found;
}

void resume_sources::remove_files() {
  for (auto& s : sources_) {
    if (!s->moved_aside)
      continue;
    ::unlink(s->main_path.c_str());
    if (!s->side_path.empty())
      ::unlink(s->side_path.c_str());
  }
}

std::vector<std::string> resume_sources::files() const {
  std::vector<std::string> out;
  for (auto& s : sources_)
    out.push_back(s->main_path);
  return out;
}

} // namespace embedrt::cli
