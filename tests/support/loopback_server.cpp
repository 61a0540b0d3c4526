#include "tests/support/loopback_server.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace embedrt::test {

namespace {

using clock_type = std::chrono::steady_clock;

constexpr int slice_ms = 20;

/// A socket bound to 127.0.0.1:0; returns the fd and stores the port.
int bind_loopback(uint16_t& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0
      || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("bind() to 127.0.0.1:0 failed");
  }
  port = ntohs(addr.sin_port);
  return fd;
}

/// Polls `fd` for `events` for at most `ms`; returns revents (0 on timeout).
short poll_one(int fd, short events, int ms) {
  pollfd p{fd, events, 0};
  auto n = ::poll(&p, 1, ms);
  return n > 0 ? p.revents : 0;
}

bool iequals_prefix(std::string_view x, std::string_view lower_prefix) {
  if (x.size() < lower_prefix.size())
    return false;
  for (size_t i = 0; i < lower_prefix.size(); ++i) {
    auto c = x[i];
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
    if (c != lower_prefix[i])
      return false;
  }
  return true;
}

/// Content-Length of a header block; 0 when absent.
size_t content_length(std::string_view headers) {
  size_t pos = 0;
  while (pos < headers.size()) {
    auto eol = headers.find("\r\n", pos);
    if (eol == std::string_view::npos)
      eol = headers.size();
    auto line = headers.substr(pos, eol - pos);
    if (iequals_prefix(line, "content-length:"))
      return std::stoul(std::string{line.substr(15)});
    pos = eol + 2;
  }
  return 0;
}

} // namespace

std::string loopback_url(uint16_t port, std::string_view path) {
  return "http://127.0.0.1:" + std::to_string(port) + std::string{path};
}

// -- loopback_http_server --------------------------------------------------------

loopback_http_server::loopback_http_server(size_t threads) {
  server_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // Debian's build keeps a connection for 5 requests only; tests count connections.
  server_.set_keep_alive_max_count(1000000);
  server_.set_keep_alive_timeout(30);
  // Without it, Nagle and the client's delayed ACK hold each response ~40 ms.
  server_.set_tcp_nodelay(true);
  server_.set_pre_routing_handler(
    [this](const httplib::Request& req, httplib::Response&) {
      std::lock_guard<std::mutex> guard{mtx_};
      remote_ports_.insert(req.remote_port);
      ++requests_;
      return httplib::Server::HandlerResponse::Unhandled;
    });
}

loopback_http_server::~loopback_http_server() {
  stop();
}

void loopback_http_server::start() {
  auto port = server_.bind_to_any_port("127.0.0.1");
  if (port <= 0)
    throw std::runtime_error("cannot bind 127.0.0.1:0");
  port_ = static_cast<uint16_t>(port);
  // httplib listens with a backlog of 5: a burst of connects beyond that loses SYNs
  // and waits a second for the retransmission. Listening again raises it.
  if (::listen(server_.listen_fd(), 1024) != 0)
    throw std::runtime_error("cannot raise the listen backlog");
  thread_ = std::thread{[this] { server_.listen_after_bind(); }};
  auto deadline = clock_type::now() + std::chrono::seconds(10);
  while (!server_.is_running()) {
    if (clock_type::now() > deadline)
      throw std::runtime_error("loopback_http_server did not start");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void loopback_http_server::stop() {
  if (thread_.joinable()) {
    server_.stop();
    thread_.join();
  }
}

size_t loopback_http_server::connections_seen() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return remote_ports_.size();
}

size_t loopback_http_server::requests_seen() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return requests_;
}

// -- raw_connection -----------------------------------------------------------------

raw_connection::raw_connection(int fd, const std::atomic<bool>& stopping)
  : fd_(fd), stopping_(stopping) {
  // nop
}

raw_connection::~raw_connection() {
  close();
}

std::string raw_connection::read_request(std::chrono::milliseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  char chunk[16384];
  for (;;) {
    auto end = buffer_.find("\r\n\r\n");
    if (end != std::string::npos) {
      auto body_len = content_length(std::string_view{buffer_}.substr(0, end + 2));
      auto total = end + 4 + body_len;
      if (buffer_.size() >= total) {
        auto request = buffer_.substr(0, total);
        buffer_.erase(0, total);
        return request;
      }
    }
    if (fd_ < 0 || stopping_ || clock_type::now() > deadline)
      return {};
    if ((poll_one(fd_, POLLIN, slice_ms) & (POLLIN | POLLHUP | POLLERR)) == 0)
      continue;
    auto n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0)
      return {};
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

bool raw_connection::send(std::string_view data) {
  while (!data.empty()) {
    if (fd_ < 0)
      return false;
    auto n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void raw_connection::hold(std::chrono::milliseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  char chunk[4096];
  while (fd_ >= 0 && !stopping_ && clock_type::now() < deadline) {
    if ((poll_one(fd_, POLLIN, slice_ms) & (POLLIN | POLLHUP | POLLERR)) == 0)
      continue;
    if (::recv(fd_, chunk, sizeof(chunk), 0) <= 0)
      return; // peer closed
  }
}

void raw_connection::reset() {
  if (fd_ < 0)
    return;
  linger lg{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  close();
}

void raw_connection::close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

// -- raw_loopback_server ------------------------------------------------------------

raw_loopback_server::raw_loopback_server(handler_type handler, bool accept_connections,
                                         int backlog)
  : handler_(std::move(handler)) {
  listen_fd_ = bind_loopback(port_);
  if (::listen(listen_fd_, backlog) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("listen() failed");
  }
  if (accept_connections)
    thread_ = std::thread{[this] { accept_loop(); }};
}

raw_loopback_server::~raw_loopback_server() {
  stopping_ = true;
  if (thread_.joinable())
    thread_.join();
  std::vector<std::thread> handlers;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    handlers.swap(handlers_);
  }
  for (auto& t : handlers)
    t.join();
  ::close(listen_fd_);
}

bool raw_loopback_server::wait_accepted(size_t n,
                                        std::chrono::milliseconds timeout) const {
  auto deadline = clock_type::now() + timeout;
  while (accepted_.load() < n) {
    if (clock_type::now() > deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

void raw_loopback_server::accept_loop() {
  while (!stopping_) {
    if ((poll_one(listen_fd_, POLLIN, slice_ms) & POLLIN) == 0)
      continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0)
      continue;
    ++accepted_;
    std::lock_guard<std::mutex> guard{mtx_};
    handlers_.emplace_back([this, fd] {
      raw_connection conn{fd, stopping_};
      handler_(conn);
    });
  }
}

// -- helpers ------------------------------------------------------------------------

uint16_t closed_loopback_port() {
  uint16_t port = 0;
  int fd = bind_loopback(port);
  ::close(fd);
  return port;
}

size_t open_fd_count() {
  size_t n = 0;
  if (auto dir = ::opendir("/proc/self/fd")) {
    while (auto entry = ::readdir(dir))
      if (entry->d_name[0] != '.')
        ++n;
    ::closedir(dir);
    --n; // the directory stream's own fd
  }
  return n;
}

} // namespace embedrt::test
