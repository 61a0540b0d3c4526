// One epoll event loop of embedrt-mock: owns a set of client connections, parses
// HTTP/1.1 requests, asks a `loop_handler` what to answer, and carries out the answer
// (delay, write, keep-alive, close, park, reset). Many connections per thread and no
// thread per connection, so a hanging or stalled request costs a map entry, not a
// thread, and stop() only has to wake and join a fixed number of threads.
//
// Assumes: Linux (epoll, eventfd); Content-Length bodies only (see http_wire.hpp);
// connections are handed in already accepted and non-blocking. Timers have millisecond
// resolution (epoll_wait's timeout).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <queue>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "tools/mock/http_wire.hpp"

namespace embedrt::mock {

/// What the loop does with a connection once the reply's bytes are written.
enum class after_reply : uint8_t {
  /// Read the next request (HTTP/1.1 keep-alive).
  keep_alive,
  /// Close the connection (FIN).
  close,
  /// Keep the connection open and silent until the hold time passes, the client
  /// disconnects, the phase generation changes or the loop stops; then close it.
  park,
  /// Reset the connection (SO_LINGER 0 + close: RST) after `reset_delay_us`.
  reset,
  /// Keep writing filler bytes for ever (an endless body); closed when the client
  /// disconnects, the phase generation changes or the loop stops.
  endless,
};

/// The handler's answer to one request.
struct mock_reply {
  /// Bytes to write: a full response, a partial one, or nothing.
  std::string data;
  after_reply action = after_reply::keep_alive;
  /// Wait this long before writing anything (scripted latency).
  int64_t delay_us = 0;
  /// `park`: close after this long; 0 = until the generation changes.
  int64_t hold_us = 0;
  /// `reset`: pause between writing `data` and the reset.
  int64_t reset_delay_us = 0;
  /// The phase generation the reply was decided in; a parked connection whose
  /// generation is no longer current is released.
  uint64_t generation = 0;
};

/// Decides replies; called from loop threads concurrently, so it must be thread-safe.
class loop_handler {
public:
  virtual ~loop_handler();

  /// The reply to a complete request (`req.body` filled in).
  virtual mock_reply handle(const http_request& req) = 0;

  /// The reply to a request that could not be parsed (400, 413, 431, 501); the loop
  /// closes the connection after it.
  virtual mock_reply handle_bad_request(int status, std::string_view why) = 0;

  /// Bumped whenever the phase changes; parked connections of older generations are
  /// released.
  virtual uint64_t phase_generation() const noexcept = 0;

  /// Bumped when every open connection must be closed (a phase that refuses
  /// connections begins).
  virtual uint64_t drop_generation() const noexcept = 0;

  /// Called once for every connection handed to `adopt`, when the loop closes it.
  virtual void connection_closed() noexcept = 0;
};

struct io_loop_limits {
  /// A request head larger than this is answered 431 and the connection closed.
  size_t max_head_bytes = 64 * 1024;
  /// A body larger than this is answered 413 and the connection closed.
  size_t max_body_bytes = 64 * 1024 * 1024;
};

class io_loop {
public:
  /// Creates the epoll and wake-up descriptors; throws std::system_error.
  io_loop(loop_handler& handler, io_loop_limits limits);

  /// Stops and joins the thread if it runs, closes every descriptor.
  ~io_loop();

  io_loop(const io_loop&) = delete;
  io_loop& operator=(const io_loop&) = delete;

  void start();

  /// Asks the thread to close every connection and exit, and joins it. Prompt: the
  /// thread never blocks anywhere but in epoll_wait.
  void stop();

  /// Hands over an accepted, non-blocking socket. `drop_generation` is the handler's
  /// drop generation when it was accepted. Thread-safe.
  void adopt(int fd, uint64_t drop_generation);

  /// Makes the loop re-check generations and pending connections. Thread-safe.
  void wake() noexcept;

private:
  enum class conn_state : uint8_t { reading, waiting, writing, parked, resetting };

  struct connection {
    uint64_t id = 0;
    int fd = -1;
    uint64_t drop_generation = 0;
    conn_state state = conn_state::reading;
    /// Bytes received and not yet consumed by a request.
    std::string in;
    size_t scan_from = 0;
    bool head_done = false;
    size_t head_size = 0;
    bool continue_sent = false;
    http_request req;
    /// The reply being delayed or written.
    mock_reply reply;
    size_t out_off = 0;
    bool want_out = false;
    /// Identifies the connection's current timer; older timers are stale.
    uint64_t timer_token = 0;
  };

  struct timer {
    int64_t due_us;
    uint64_t conn;
    uint64_t token;
    bool operator>(const timer& other) const noexcept { return due_us > other.due_us; }
  };

  void run();
  void adopt_pending();
  void check_generations();
  void run_timers();
  int next_timeout_ms() const;
  void schedule(connection& c, int64_t due_us);

  // Each returns false when it closed (and destroyed) the connection.
  bool on_readable(connection& c);
  bool process_input(connection& c);
  bool start_reply(connection& c, mock_reply reply);
  bool deliver(connection& c);
  bool flush(connection& c);
  /// One send of what is left of `data` from `c.out_off`; on `would_block` EPOLLOUT is
  /// armed, on `closed` the connection is gone.
  enum class send_outcome { progressed, would_block, closed };
  send_outcome send_some(connection& c, const std::string& data);
  bool bad_request(connection& c, int status, std::string_view why);

  void set_want_out(connection& c, bool on);
  void close_conn(connection& c);
  void reset_conn(connection& c);
  void close_all();

  loop_handler& handler_;
  io_loop_limits limits_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_{false};

  std::mutex pending_mutex_;
  std::vector<std::pair<int, uint64_t>> pending_;

  // Loop-thread state.
  std::unordered_map<uint64_t, std::unique_ptr<connection>> conns_;
  std::unordered_set<uint64_t> parked_;
  std::priority_queue<timer, std::vector<timer>, std::greater<timer>> timers_;
  uint64_t next_id_ = 1;
  uint64_t seen_phase_generation_ = 0;
  uint64_t seen_drop_generation_ = 0;
  std::vector<char> read_buffer_;
};

/// Microseconds on the steady clock.
int64_t steady_now_us() noexcept;

} // namespace embedrt::mock
