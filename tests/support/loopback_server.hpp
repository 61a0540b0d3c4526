// HTTP servers on 127.0.0.1 with an ephemeral port, for integration tests:
// - `loopback_http_server`: a well-behaved cpp-httplib server (keep-alive enabled,
//   thread pool sized for the test) that records which client connections it saw.
// - `raw_loopback_server`: a plain TCP server that hands each connection to a test
//   function, for upstreams that misbehave (stall, reset, never answer, send garbage).
// - `closed_loopback_port()`: a port where nothing listens (connection refused).
// Every blocking call is bounded so a bug fails a test instead of hanging it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <httplib.h>

namespace embedrt::test {

/// "http://127.0.0.1:<port><path>"
std::string loopback_url(uint16_t port, std::string_view path = "/v1/embeddings");

/// cpp-httplib on 127.0.0.1:0. Register handlers on `server()` before `start()`.
class loopback_http_server {
public:
  /// `threads` bounds the connections served at once (one thread per keep-alive
  /// connection); size it above the client's connection limit.
  explicit loopback_http_server(size_t threads = 64);

  ~loopback_http_server();

  loopback_http_server(const loopback_http_server&) = delete;
  loopback_http_server& operator=(const loopback_http_server&) = delete;

  httplib::Server& server() { return server_; }

  /// Binds, starts listening on a background thread and waits until it accepts.
  /// Throws std::runtime_error on failure.
  void start();

  /// Stops listening and joins the thread (also done by the destructor).
  void stop();

  uint16_t port() const { return port_; }

  std::string url(std::string_view path = "/v1/embeddings") const {
    return loopback_url(port_, path);
  }

  /// Distinct client connections (remote ports) that carried at least one request.
  size_t connections_seen() const;

  /// Requests seen by any handler.
  size_t requests_seen() const;

private:
  /// Exposes the listening socket (httplib keeps it protected).
  struct server_type : httplib::Server {
    int listen_fd() const { return svr_sock_; }
  };

  server_type server_;
  uint16_t port_ = 0;
  std::thread thread_;
  mutable std::mutex mtx_;
  std::set<int> remote_ports_;
  size_t requests_ = 0;
};

/// One accepted connection of a `raw_loopback_server`.
class raw_connection {
public:
  raw_connection(int fd, const std::atomic<bool>& stopping);

  ~raw_connection();

  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;

  /// Reads one HTTP/1.1 request (headers, then Content-Length bytes of body).
  /// Returns the raw text, or an empty string on EOF, timeout or server stop.
  std::string
  read_request(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  /// Writes everything; false on error.
  bool send(std::string_view data);

  /// Blocks until the server stops, the peer closes, or `timeout` passes.
  void hold(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  /// Closes with a TCP RST (SO_LINGER 0).
  void reset();

  /// Closes normally (FIN).
  void close();

private:
  int fd_;
  const std::atomic<bool>& stopping_;
  std::string buffer_;
};

/// A TCP server on 127.0.0.1:0; runs `handler` on its own thread for every accepted
/// connection. The connection closes when the handler returns (unless it did so).
class raw_loopback_server {
public:
  using handler_type = std::function<void(raw_connection&)>;

  /// `backlog` is passed to listen(). With `accept_connections == false` the server
  /// listens but never accepts (connections pile up in the backlog).
  explicit raw_loopback_server(handler_type handler, bool accept_connections = true,
                               int backlog = 128);

  /// Stops: wakes handlers blocked in hold() or read_request(), joins all threads.
  ~raw_loopback_server();

  raw_loopback_server(const raw_loopback_server&) = delete;
  raw_loopback_server& operator=(const raw_loopback_server&) = delete;

  uint16_t port() const { return port_; }

  std::string url(std::string_view path = "/v1/embeddings") const {
    return loopback_url(port_, path);
  }

  /// Connections accepted so far.
  size_t accepted() const { return accepted_.load(); }

  /// Waits until `n` connections were accepted; false on timeout.
  bool wait_accepted(size_t n, std::chrono::milliseconds timeout
                               = std::chrono::seconds(10)) const;

private:
  void accept_loop();

  handler_type handler_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> accepted_{0};
  std::mutex mtx_;
  std::vector<std::thread> handlers_;
  std::thread thread_;
};

/// A 127.0.0.1 port with no listener (bound once, then closed): connecting to it is
/// refused.
uint16_t closed_loopback_port();

/// Open file descriptors of this process (entries of /proc/self/fd).
size_t open_fd_count();

} // namespace embedrt::test
