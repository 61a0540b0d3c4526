#include "tools/mock/mock_io_loop.hpp"

#include <cerrno>
#include <chrono>
#include <system_error>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace embedrt::mock {

namespace {

constexpr uint64_t wake_id = 0;

// Bytes read per recv call, and calls per readiness event before other connections
// get their turn.
constexpr size_t read_chunk = 64 * 1024;
constexpr int reads_per_event = 4;

// Upper bound on one epoll_wait, so a lost wake-up could only delay, never hang.
constexpr int max_wait_ms = 500;

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

} // namespace

loop_handler::~loop_handler() = default;

int64_t steady_now_us() noexcept {
  using namespace std::chrono;
  return duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
}

io_loop::io_loop(loop_handler& handler, io_loop_limits limits)
  : handler_(handler), limits_(limits), read_buffer_(read_chunk) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0)
    throw_errno("epoll_create1");
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    auto err = errno;
    ::close(epoll_fd_);
    throw std::system_error(err, std::generic_category(), "eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = wake_id;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
    auto err = errno;
    ::close(wake_fd_);
    ::close(epoll_fd_);
    throw std::system_error(err, std::generic_category(), "epoll_ctl");
  }
  seen_phase_generation_ = handler_.phase_generation();
  seen_drop_generation_ = handler_.drop_generation();
}

io_loop::~io_loop() {
  stop();
  // Connections handed over after the thread exited were never adopted.
  for (auto& [fd, gen] : pending_) {
    ::close(fd);
    handler_.connection_closed();
  }
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

void io_loop::start() {
  thread_ = std::thread([this] { run(); });
}

void io_loop::stop() {
  stop_.store(true, std::memory_order_release);
  wake();
  if (thread_.joinable())
    thread_.join();
}

void io_loop::adopt(int fd, uint64_t drop_generation) {
  {
    std::lock_guard<std::mutex> guard{pending_mutex_};
    pending_.emplace_back(fd, drop_generation);
  }
  wake();
}

void io_loop::wake() noexcept {
  uint64_t one = 1;
  // A full counter (never in practice) still leaves the fd readable: the wake-up
  // cannot be lost.
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof(one));
}

void io_loop::run() {
  constexpr int max_events = 128;
  epoll_event events[max_events];
  while (!stop_.load(std::memory_order_acquire)) {
    int n = ::epoll_wait(epoll_fd_, events, max_events, next_timeout_ms());
    if (n < 0) {
      if (errno == EINTR)
        continue;
      break; // EBADF/EINVAL: a bug; leave rather than spin
    }
    for (int i = 0; i < n; ++i) {
      auto id = events[i].data.u64;
      if (id == wake_id) {
        uint64_t count = 0;
        [[maybe_unused]] auto r = ::read(wake_fd_, &count, sizeof(count));
        adopt_pending();
        continue;
      }
      // The connection may have been closed by an earlier event of this batch.
      auto it = conns_.find(id);
      if (it == conns_.end())
        continue;
      auto& c = *it->second;
      auto ev = events[i].events;
      if (ev & EPOLLERR) {
        close_conn(c);
        continue;
      }
      if ((ev & EPOLLOUT) && c.state == conn_state::writing) {
        if (!flush(c))
          continue;
        if (c.state == conn_state::reading && !process_input(c))
          continue;
      }
      if (ev & (EPOLLIN | EPOLLHUP | EPOLLRDHUP))
        on_readable(c);
    }
    run_timers();
    check_generations();
  }
  close_all();
}

void io_loop::adopt_pending() {
  std::vector<std::pair<int, uint64_t>> fresh;
  {
    std::lock_guard<std::mutex> guard{pending_mutex_};
    fresh.swap(pending_);
  }
  auto drop = handler_.drop_generation();
  for (auto [fd, gen] : fresh) {
    if (gen != drop) { // accepted just before a refusing phase began
      ::close(fd);
      handler_.connection_closed();
      continue;
    }
    auto c = std::make_unique<connection>();
    c->id = next_id_++;
    c->fd = fd;
    c->drop_generation = gen;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = c->id;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      ::close(fd);
      handler_.connection_closed();
      continue;
    }
    conns_.emplace(c->id, std::move(c));
  }
}

void io_loop::check_generations() {
  auto drop = handler_.drop_generation();
  if (drop != seen_drop_generation_) {
    seen_drop_generation_ = drop;
    std::vector<uint64_t> doomed;
    for (auto& [id, c] : conns_)
      if (c->drop_generation != drop)
        doomed.push_back(id);
    for (auto id : doomed)
      close_conn(*conns_.at(id));
  }
  auto gen = handler_.phase_generation();
  if (gen != seen_phase_generation_) {
    seen_phase_generation_ = gen;
    std::vector<uint64_t> released;
    for (auto id : parked_)
      if (conns_.at(id)->reply.generation != gen)
        released.push_back(id);
    for (auto id : released)
      close_conn(*conns_.at(id));
  }
}

void io_loop::schedule(connection& c, int64_t due_us) {
  timers_.push(timer{due_us, c.id, ++c.timer_token});
}

void io_loop::run_timers() {
  auto now = steady_now_us();
  while (!timers_.empty() && timers_.top().due_us <= now) {
    auto t = timers_.top();
    timers_.pop();
    auto it = conns_.find(t.conn);
    if (it == conns_.end() || it->second->timer_token != t.token)
      continue;
    auto& c = *it->second;
    switch (c.state) {
      case conn_state::waiting:
        if (deliver(c) && c.state == conn_state::reading)
          process_input(c);
        break;
      case conn_state::parked: close_conn(c); break; // hold time over
      case conn_state::resetting: reset_conn(c); break;
      default: break;
    }
  }
}

int io_loop::next_timeout_ms() const {
  if (timers_.empty())
    return max_wait_ms;
  auto wait_us = timers_.top().due_us - steady_now_us();
  if (wait_us <= 0)
    return 0;
  auto ms = (wait_us + 999) / 1000;
  return ms < max_wait_ms ? static_cast<int>(ms) : max_wait_ms;
}

bool io_loop::on_readable(connection& c) {
  auto limit = limits_.max_head_bytes + limits_.max_body_bytes + read_chunk;
  for (int i = 0; i < reads_per_event; ++i) {
    auto n = ::recv(c.fd, read_buffer_.data(), read_buffer_.size(), 0);
    if (n > 0) {
      if (c.in.size() + static_cast<size_t>(n) > limit) {
        close_conn(c); // a client flooding a parked or busy connection
        return false;
      }
      c.in.append(read_buffer_.data(), static_cast<size_t>(n));
      if (static_cast<size_t>(n) < read_buffer_.size())
        break;
      continue;
    }
    if (n == 0) {
      close_conn(c); // the client closed: also how a hung request is released
      return false;
    }
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      break;
    close_conn(c);
    return false;
  }
  if (c.state == conn_state::reading)
    return process_input(c);
  return true;
}

bool io_loop::process_input(connection& c) {
  while (c.state == conn_state::reading) {
    if (!c.head_done) {
      if (c.in.empty())
        return true;
      size_t head_size = 0;
      std::string why;
      switch (parse_request_head(c.in, limits_.max_head_bytes, c.scan_from, c.req,
                                 head_size, why)) {
        case head_status::incomplete: return true;
        case head_status::too_large:
          return bad_request(c, 431, "request head too large");
        case head_status::invalid: return bad_request(c, 400, why);
        case head_status::complete: break;
      }
      c.head_done = true;
      c.head_size = head_size;
      if (c.req.chunked)
        return bad_request(c, 501,
                           "Transfer-Encoding is not supported: send Content-Length");
      if (c.req.content_length > limits_.max_body_bytes)
        return bad_request(c, 413, "request body too large");
    }
    auto need = c.head_size + c.req.content_length;
    if (c.in.size() < need) {
      if (c.req.expect_continue && !c.continue_sent) {
        c.continue_sent = true;
        static constexpr std::string_view interim = "HTTP/1.1 100 Continue\r\n\r\n";
        // 25 bytes into an idle socket: a short write does not happen in practice,
        // and a client that gets none simply sends the body after its own timeout.
        if (::send(c.fd, interim.data(), interim.size(), MSG_NOSIGNAL) < 0
            && errno != EAGAIN && errno != EWOULDBLOCK) {
          close_conn(c);
          return false;
        }
      }
      return true;
    }
    c.req.body.assign(c.in, c.head_size, c.req.content_length);
    c.in.erase(0, need);
    c.head_done = false;
    c.scan_from = 0;
    c.continue_sent = false;
    if (!start_reply(c, handler_.handle(c.req)))
      return false;
  }
  return true;
}

bool io_loop::bad_request(connection& c, int status, std::string_view why) {
  auto reply = handler_.handle_bad_request(status, why);
  reply.action = after_reply::close;
  c.in.clear();
  c.head_done = false;
  return start_reply(c, std::move(reply));
}

bool io_loop::start_reply(connection& c, mock_reply reply) {
  c.reply = std::move(reply);
  if (c.reply.delay_us > 0) {
    c.state = conn_state::waiting;
    schedule(c, steady_now_us() + c.reply.delay_us);
    return true;
  }
  return deliver(c);
}

bool io_loop::deliver(connection& c) {
  c.state = conn_state::writing;
  c.out_off = 0;
  return flush(c);
}

io_loop::send_outcome io_loop::send_some(connection& c, const std::string& data) {
  auto n = ::send(c.fd, data.data() + c.out_off, data.size() - c.out_off, MSG_NOSIGNAL);
  if (n > 0) {
    c.out_off += static_cast<size_t>(n);
    return send_outcome::progressed;
  }
  if (n < 0 && errno == EINTR)
    return send_outcome::progressed;
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    set_want_out(c, true);
    return send_outcome::would_block;
  }
  close_conn(c);
  return send_outcome::closed;
}

bool io_loop::flush(connection& c) {
  auto& data = c.reply.data;
  // An endless body refills `data` a bounded number of times per call, then waits
  // for EPOLLOUT, so other connections of this loop are served too.
  for (int refills = 0; c.reply.action == after_reply::endless; ++refills) {
    if (c.reply.generation != handler_.phase_generation()) {
      close_conn(c);
      return false;
    }
    if (c.out_off >= data.size()) {
      if (refills >= 16) {
        set_want_out(c, true);
        return true;
      }
      data.assign(size_t{64} << 10, 'A');
      c.out_off = 0;
    }
    switch (send_some(c, data)) {
      case send_outcome::progressed: continue;
      case send_outcome::would_block: return true;
      case send_outcome::closed: return false;
    }
  }
  while (c.out_off < data.size()) {
    switch (send_some(c, data)) {
      case send_outcome::progressed: continue;
      case send_outcome::would_block: return true;
      case send_outcome::closed: return false;
    }
  }
  set_want_out(c, false);
  // Keep the buffer of a typical response for the next one; give big ones back.
  if (data.capacity() > 1024 * 1024)
    std::string{}.swap(data);
  else
    data.clear();
  switch (c.reply.action) {
    case after_reply::keep_alive: c.state = conn_state::reading; return true;
    case after_reply::close: close_conn(c); return false;
    case after_reply::park:
      if (c.reply.generation != handler_.phase_generation()) {
        close_conn(c); // its phase ended while the reply was delayed
        return false;
      }
      c.state = conn_state::parked;
      parked_.insert(c.id);
      if (c.reply.hold_us > 0)
        schedule(c, steady_now_us() + c.reply.hold_us);
      return true;
    case after_reply::endless: return true; // handled above
    case after_reply::reset:
      if (c.reply.reset_delay_us > 0) {
        c.state = conn_state::resetting;
        schedule(c, steady_now_us() + c.reply.reset_delay_us);
        return true;
      }
      reset_conn(c);
      return false;
  }
  return true;
}

void io_loop::set_want_out(connection& c, bool on) {
  if (c.want_out == on)
    return;
  c.want_out = on;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0u);
  ev.data.u64 = c.id;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
}

void io_loop::close_conn(connection& c) {
  auto id = c.id;
  ::close(c.fd); // also removes it from the epoll set
  parked_.erase(id);
  conns_.erase(id); // destroys c
  handler_.connection_closed();
}

void io_loop::reset_conn(connection& c) {
  linger lg{};
  lg.l_onoff = 1;
  lg.l_linger = 0;
  ::setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  close_conn(c);
}

void io_loop::close_all() {
  std::vector<uint64_t> ids;
  ids.reserve(conns_.size());
  for (auto& [id, c] : conns_)
    ids.push_back(id);
  for (auto id : ids)
    close_conn(*conns_.at(id));
  adopt_pending();
  ids.clear();
  for (auto& [id, c] : conns_)
    ids.push_back(id);
  for (auto id : ids)
    close_conn(*conns_.at(id));
  timers_ = {};
}

} // namespace embedrt::mock
