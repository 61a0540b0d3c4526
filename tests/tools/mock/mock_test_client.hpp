// Test-side helpers for talking to embedrt-mock over raw sockets, where an HTTP client
// library would hide what the tests look at (partial bodies, resets, refused connects,
// pipelining). Every wait is bounded by a timeout.
#pragma once

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace mock_test {

enum class read_outcome { done, eof, reset, timeout, error };

inline const char* to_string(read_outcome x) {
  switch (x) {
    case read_outcome::done: return "done";
    case read_outcome::eof: return "eof";
    case read_outcome::reset: return "reset";
    case read_outcome::timeout: return "timeout";
    default: return "error";
  }
}

/// A blocking TCP connection to 127.0.0.1:port with timed reads.
class raw_conn {
public:
  explicit raw_conn(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      connect_errno_ = errno;
      ::close(fd_);
      fd_ = -1;
    }
  }

  ~raw_conn() { close(); }

  raw_conn(const raw_conn&) = delete;
  raw_conn& operator=(const raw_conn&) = delete;

  bool connected() const { return fd_ >= 0; }
  int connect_errno() const { return connect_errno_; }

  void close() {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = -1;
  }

  bool send_all(std::string_view data) {
    while (!data.empty()) {
      auto n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0)
        return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  /// Appends to `buf` until `done(buf)`, EOF, a reset, or `timeout_ms` passes.
  read_outcome read_until(std::string& buf,
                          const std::function<bool(const std::string&)>& done,
                          int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now()
                    + std::chrono::milliseconds(timeout_ms);
    char chunk[65536];
    while (!done(buf)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
      if (left <= 0)
        return read_outcome::timeout;
      pollfd p{fd_, POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(left));
      if (r == 0)
        return read_outcome::timeout;
      if (r < 0)
        return read_outcome::error;
      auto n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n == 0)
        return read_outcome::eof;
      if (n < 0)
        return errno == ECONNRESET ? read_outcome::reset : read_outcome::error;
      buf.append(chunk, static_cast<size_t>(n));
    }
    return read_outcome::done;
  }

private:
  int fd_ = -1;
  int connect_errno_ = 0;
};

/// One parsed HTTP response from the front of a buffer.
struct response {
  int status = 0;
  /// Lower-case names.
  std::map<std::string, std::string> headers;
  std::string body;
  size_t content_length = 0;
  /// Bytes of the buffer this response occupies (head + full body).
  size_t size = 0;
  bool head_complete = false;
  bool complete = false;
};

/// Parses the response at `offset` of `buf` as far as it goes.
inline response parse_response(const std::string& buf, size_t offset = 0) {
  response r;
  auto end = buf.find("\r\n\r\n", offset);
  if (end == std::string::npos)
    return r;
  r.head_complete = true;
  auto head = buf.substr(offset, end - offset);
  auto sp = head.find(' ');
  r.status = std::atoi(head.c_str() + sp + 1);
  size_t pos = head.find("\r\n");
  while (pos != std::string::npos) {
    auto next = head.find("\r\n", pos + 2);
    auto line = head.substr(pos + 2, next == std::string::npos ? std::string::npos
                                                               : next - pos - 2);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
      auto name = line.substr(0, colon);
      for (auto& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      auto value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ')
        value.erase(0, 1);
      r.headers[name] = value;
    }
    pos = next;
  }
  r.content_length = std::strtoull(r.headers["content-length"].c_str(), nullptr, 10);
  auto body_start = end + 4;
  auto available = buf.size() - body_start;
  r.body = buf.substr(body_start, std::min(available, r.content_length));
  r.complete = available >= r.content_length;
  r.size = body_start - offset + r.content_length;
  return r;
}

/// A POST /v1/embeddings request with a Content-Length body.
inline std::string post_embeddings(std::string_view body,
                                   std::string_view extra_headers = {},
                                   std::string_view path = "/v1/embeddings") {
  std::string out = "POST ";
  out += path;
  out += " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
  out += extra_headers;
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  out += body;
  return out;
}

/// `done` predicate: a complete response is in the buffer.
inline bool has_complete_response(const std::string& buf) {
  return parse_response(buf).complete;
}

/// Retries `pred` every 5 ms until it holds or `timeout_ms` passes.
inline bool eventually(const std::function<bool()>& pred, int timeout_ms = 2000) {
  auto deadline = std::chrono::steady_clock::now()
                  + std::chrono::milliseconds(timeout_ms);
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

} // namespace mock_test
