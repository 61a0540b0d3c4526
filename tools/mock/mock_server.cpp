#include "tools/mock/mock_server.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "tools/mock/mock_io_loop.hpp"
#include "tools/mock/mock_random.hpp"

namespace embedrt::mock {

namespace {

// Salts that keep the seeded streams of latency, faults and shuffles apart.
constexpr uint64_t latency_salt = 0x1a7e'0000;
constexpr uint64_t fault_salt = 0xfa17'0000;
constexpr uint64_t refuse_salt = 0x2ef0'0000;
constexpr uint64_t shuffle_salt = 0x5b0f'0000;
constexpr uint64_t corrupt_salt = 0xc022'0000;

// Upper bound on one controller wait, so a lost wake-up could only delay.
constexpr int64_t max_controller_wait_ms = 200;

struct error_defaults {
  const char* type;
  const char* code;
  const char* message;
};

// OpenAI's error fields per status, for `status` faults that do not set them.
error_defaults defaults_for(int status) {
  switch (status) {
    case 401:
      return {"invalid_request_error", "invalid_api_key",
              "Incorrect API key provided (mock fault)."};
    case 403:
      return {"permission_error", "", "You are not allowed to do this (mock fault)."};
    case 404:
      return {"invalid_request_error", "model_not_found",
              "The model does not exist or you do not have access to it (mock fault)."};
    case 429:
      return {"requests", "rate_limit_exceeded",
              "Rate limit reached for requests (mock fault)."};
    case 500:
      return {"server_error", "",
              "The server had an error while processing your request (mock fault)."};
    case 502: return {"server_error", "", "Bad gateway (mock fault)."};
    case 503:
      return {"server_error", "",
              "The engine is currently overloaded, please try again later (mock "
              "fault)."};
    case 504: return {"server_error", "", "Gateway timeout (mock fault)."};
    default:
      if (status >= 500)
        return {"server_error", "", "Upstream error (mock fault)."};
      return {"invalid_request_error", "", "Invalid request (mock fault)."};
  }
}

void set_linger_zero(int fd) {
  linger lg{};
  lg.l_onoff = 1;
  lg.l_linger = 0;
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

void bump(mock_counters& c, int status, fault_kind fault, size_t inputs) {
  c.requests += 1;
  c.inputs += inputs;
  c.statuses[status] += 1;
  if (fault != fault_kind::none)
    c.faults[to_string(fault)] += 1;
}

nlohmann::json counters_json(const mock_counters& c) {
  nlohmann::json statuses = nlohmann::json::object();
  for (auto& [code, n] : c.statuses)
    statuses[std::to_string(code)] = n;
  nlohmann::json faults = nlohmann::json::object();
  for (auto& [kind, n] : c.faults)
    faults[kind] = n;
  return {{"requests", c.requests},
          {"inputs", c.inputs},
          {"connections_accepted", c.connections_accepted},
          {"connections_rejected", c.connections_rejected},
          {"statuses", std::move(statuses)},
          {"faults", std::move(faults)}};
}

} // namespace

// -- the server's state -------------------------------------------------------

struct mock_server::impl : loop_handler {
  explicit impl(mock_options opts);
  ~impl() override;

  // -- loop_handler -----------------------------------------------------------
  mock_reply handle(const http_request& req) override;
  mock_reply handle_bad_request(int status, std::string_view why) override;
  uint64_t phase_generation() const noexcept override {
    return phase_generation_.load(std::memory_order_acquire);
  }
  uint64_t drop_generation() const noexcept override {
    return drop_generation_.load(std::memory_order_acquire);
  }
  void connection_closed() noexcept override {
    open_connections_.fetch_sub(1, std::memory_order_relaxed);
  }

  // -- phases (all *_locked functions need mutex_) ----------------------------
  struct decision {
    std::shared_ptr<const mock_script> script;
    const mock_fault* fault = nullptr;
    std::vector<const mock_fault*> header_faults;
    bool refused = false;
    int64_t delay_us = 0;
    uint64_t generation = 0;
    uint64_t request_id = 0;
    uint64_t seed = 0;
  };

  /// Picks phase, latency and fault for one request and records it.
  decision decide(const embeddings_request* req, int base_status);

  /// Moves to later phases when the current one is over; true if it moved.
  /// `arrival`: a request is arriving, so request-count limits apply.
  bool advance_locked(int64_t now, bool arrival);
  void enter_locked(size_t index, int64_t at);
  const mock_phase& phase_locked() const { return script_->phases[phase_index_]; }
  /// When the current phase ends by time, or -1.
  int64_t phase_deadline_locked() const;
  void install_locked(std::shared_ptr<const mock_script> script, int64_t now);
  void log_locked(int64_t t, int status, fault_kind fault, size_t inputs);

  /// Wakes the controller and every loop (after a phase change).
  void notify();

  // -- replies ----------------------------------------------------------------
  mock_reply control(const http_request& req, bool& handled);
  mock_reply error_reply(int status, std::string_view message, std::string_view type,
                         std::string_view code, bool keep_alive, const decision& d);
  mock_reply build_reply(const http_request& req, const embeddings_request& er,
                         const decision& d);

  // -- statistics -------------------------------------------------------------
  mock_stats stats(bool with_log);
  std::string report_json(bool with_log);

  // -- sockets ----------------------------------------------------------------
  int open_listener(uint16_t port, std::string& error);
  void controller_run();
  void accept_ready();

  int64_t now_us() const noexcept {
    return steady_now_us() - t0_.load(std::memory_order_relaxed);
  }

  const mock_options options_;
  const std::string embeddings_path_;
  std::atomic<int64_t> t0_;

  mutable std::mutex mutex_;
  std::shared_ptr<const mock_script> script_;
  uint64_t seed_ = 0;
  size_t phase_index_ = 0;
  int64_t phase_started_us_ = 0;
  uint64_t phase_requests_ = 0;
  uint64_t phase_connections_ = 0;
  std::vector<uint64_t> fault_reached_;
  uint64_t next_request_id_ = 1;
  mock_counters total_;
  std::vector<mock_phase_stats> phase_stats_;
  std::deque<mock_log_entry> log_;
  uint64_t log_dropped_ = 0;
  /// With `track_texts`: input text -> requests that carried it.
  std::unordered_map<std::string, uint64_t> text_requests_;

  std::atomic<uint64_t> phase_generation_{1};
  std::atomic<uint64_t> drop_generation_{1};
  std::atomic<uint64_t> open_connections_{0};
  std::atomic<uint16_t> port_{0};

  // Lifecycle: start() creates these before any thread runs, the destructor frees
  // them after every thread has been joined.
  bool started_ = false;
  std::atomic<bool> running_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> stopped_at_us_{0};
  int listen_fd_ = -1; // controller thread only, once running
  int controller_wake_fd_ = -1;
  std::vector<std::unique_ptr<io_loop>> loops_;
  size_t next_loop_ = 0;
  std::thread controller_;
};

mock_server::impl::impl(mock_options opts)
  : options_(std::move(opts)), embeddings_path_(options_.path_prefix + "/embeddings"),
    t0_(steady_now_us()) {
  mock_script plain;
  plain.phases.emplace_back().name = "default";
  install_locked(std::make_shared<const mock_script>(std::move(plain)), 0);
}

mock_server::impl::~impl() {
  // mock_server::stop() ran; only descriptors are left.
  loops_.clear();
  if (listen_fd_ >= 0)
    ::close(listen_fd_);
  if (controller_wake_fd_ >= 0)
    ::close(controller_wake_fd_);
}

// -- phases -------------------------------------------------------------------

void mock_server::impl::install_locked(std::shared_ptr<const mock_script> script,
                                       int64_t now) {
  script_ = std::move(script);
  seed_ = script_->seed.value_or(options_.seed);
  phase_stats_.clear();
  for (auto& p : script_->phases)
    phase_stats_.emplace_back().name = p.name;
  phase_index_ = 0;
  enter_locked(0, now);
}

void mock_server::impl::enter_locked(size_t index, int64_t at) {
  if (phase_index_ != index)
    phase_stats_[phase_index_].ended_at_us = at;
  phase_index_ = index;
  phase_started_us_ = at;
  phase_requests_ = 0;
  phase_connections_ = 0;
  fault_reached_.assign(phase_locked().faults.size(), 0);
  phase_stats_[index].started_at_us = at;
  phase_stats_[index].ended_at_us = -1;
  phase_generation_.fetch_add(1, std::memory_order_acq_rel);
  if (phase_closes_listener(phase_locked()))
    drop_generation_.fetch_add(1, std::memory_order_acq_rel);
}

bool mock_server::impl::advance_locked(int64_t now, bool arrival) {
  bool moved = false;
  while (phase_index_ + 1 < script_->phases.size()) {
    auto& p = phase_locked();
    auto limit_us = static_cast<int64_t>(p.duration_ms) * 1000;
    if (p.duration_ms > 0 && now >= phase_started_us_ + limit_us) {
      // Time limits chain exactly, whenever they are noticed.
      enter_locked(phase_index_ + 1, phase_started_us_ + limit_us);
    } else if (arrival && p.requests > 0 && phase_requests_ >= p.requests) {
      enter_locked(phase_index_ + 1, now);
    } else {
      break;
    }
    moved = true;
  }
  return moved;
}

int64_t mock_server::impl::phase_deadline_locked() const {
  auto& p = phase_locked();
  if (p.duration_ms == 0 || phase_index_ + 1 >= script_->phases.size())
    return -1;
  return phase_started_us_ + static_cast<int64_t>(p.duration_ms) * 1000;
}

void mock_server::impl::log_locked(int64_t t, int status, fault_kind fault,
                                   size_t inputs) {
  if (options_.log_capacity == 0) {
    ++log_dropped_;
    return;
  }
  if (log_.size() >= options_.log_capacity) {
    log_.pop_front();
    ++log_dropped_;
  }
  log_.push_back(mock_log_entry{t, static_cast<uint32_t>(phase_index_), status, fault,
                                static_cast<uint32_t>(inputs)});
}

void mock_server::impl::notify() {
  if (!running_.load(std::memory_order_acquire))
    return;
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(controller_wake_fd_, &one, sizeof(one));
  for (auto& loop : loops_)
    loop->wake();
}

mock_server::impl::decision mock_server::impl::decide(const embeddings_request* req,
                                                      int base_status) {
  decision d;
  bool moved = false;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    auto now = now_us();
    moved = advance_locked(now, true);
    auto& p = phase_locked();
    auto seq = phase_requests_++;
    d.script = script_;
    d.seed = seed_;
    d.request_id = next_request_id_++;
    if (p.latency_ms > 0 || p.latency_jitter_ms > 0) {
      int64_t delay = int64_t{p.latency_ms} * 1000;
      if (p.latency_jitter_ms > 0) {
        auto span = int64_t{p.latency_jitter_ms} * 1000;
        auto r = mix_keys(seed_, latency_salt, phase_index_, seq);
        delay += static_cast<int64_t>(r % static_cast<uint64_t>(2 * span + 1)) - span;
      }
      d.delay_us = std::max<int64_t>(0, delay);
    }
    if (p.latency_per_input_us > 0 && req != nullptr)
      d.delay_us += int64_t{p.latency_per_input_us}
                    * static_cast<int64_t>(req->inputs.size());
    auto status = base_status;
    auto fault = fault_kind::none;
    if (phase_closes_listener(p)) {
      // Arrived on a connection opened before the phase: it gets no answer.
      d.refused = true;
      status = 0;
      fault = fault_kind::refuse_connections;
    } else if (req != nullptr) {
      for (size_t i = 0; i < p.faults.size(); ++i) {
        auto& f = p.faults[i];
        bool exclusive = f.kind != fault_kind::ratelimit_headers;
        if (f.kind == fault_kind::refuse_connections
            || (exclusive && d.fault != nullptr))
          continue;
        if (!f.match.empty()) {
          bool hit = false;
          for (auto& text : req->inputs)
            hit = hit || pattern_matches(text, f.match);
          if (!hit)
            continue;
        }
        auto n = fault_reached_[i]++;
        auto salt = fault_salt ^ (uint64_t{phase_index_} << 16) ^ i;
        if (!fault_takes(f.rate, f.mode, seed_, salt, n))
          continue;
        if (exclusive)
          d.fault = &f;
        else
          d.header_faults.push_back(&f);
      }
      if (d.fault != nullptr) {
        fault = d.fault->kind;
        if (fault == fault_kind::status)
          status = d.fault->status;
        else if (fault == fault_kind::hang)
          status = 0;
      }
    }
    auto inputs = req != nullptr ? req->inputs.size() : 0;
    if (options_.track_texts && req != nullptr) {
      std::unordered_set<std::string_view> seen;
      for (auto& text : req->inputs)
        if (seen.insert(text).second)
          ++text_requests_[text];
    }
    bump(total_, status, fault, inputs);
    auto& ps = phase_stats_[phase_index_].counters;
    bump(ps, status, fault, inputs);
    if (!d.header_faults.empty()) {
      total_.faults["ratelimit_headers"] += 1;
      ps.faults["ratelimit_headers"] += 1;
    }
    // The log names the exclusive fault; ratelimit_headers only when alone.
    if (fault == fault_kind::none && !d.header_faults.empty())
      fault = fault_kind::ratelimit_headers;
    log_locked(now, status, fault, inputs);
    d.generation = phase_generation_.load(std::memory_order_acquire);
  }
  if (moved)
    notify();
  return d;
}

// -- replies ------------------------------------------------------------------

mock_reply mock_server::impl::error_reply(int status, std::string_view message,
                                          std::string_view type, std::string_view code,
                                          bool keep_alive, const decision& d) {
  header_list headers;
  headers.emplace_back("x-request-id", "req_mock_" + std::to_string(d.request_id));
  for (auto f : d.header_faults)
    headers.insert(headers.end(), f->headers.begin(), f->headers.end());
  auto body = error_body(message, type, code);
  mock_reply r;
  append_response_head(r.data, status, body.size(), keep_alive, headers);
  r.data += body;
  r.delay_us = d.delay_us;
  r.generation = d.generation;
  r.action = keep_alive ? after_reply::keep_alive : after_reply::close;
  return r;
}

mock_reply mock_server::impl::build_reply(const http_request& req,
                                          const embeddings_request& er,
                                          const decision& d) {
  mock_reply r;
  r.delay_us = d.delay_us;
  r.generation = d.generation;
  if (d.refused) {
    r.action = after_reply::reset;
    return r;
  }
  auto kind = d.fault != nullptr ? d.fault->kind : fault_kind::none;
  if (kind == fault_kind::hang) {
    r.action = after_reply::park;
    r.hold_us = int64_t{d.fault->hold_ms} * 1000;
    return r;
  }
  header_list headers;
  headers.emplace_back("x-request-id", "req_mock_" + std::to_string(d.request_id));
  for (auto f : d.header_faults)
    headers.insert(headers.end(), f->headers.begin(), f->headers.end());
  if (d.fault != nullptr)
    headers.insert(headers.end(), d.fault->headers.begin(), d.fault->headers.end());
  int status = 200;
  std::string body;
  auto dimension = er.dimensions > 0 ? er.dimensions : options_.dimension;
  body_tweaks tweaks;
  switch (kind) {
    case fault_kind::status: {
      auto& f = *d.fault;
      status = f.status;
      if (f.body) {
        body = *f.body;
      } else {
        auto def = defaults_for(status);
        body = error_body(f.message.empty() ? def.message : f.message,
                          f.error_type.empty() ? def.type : f.error_type,
                          f.error_code.empty() ? def.code : f.error_code);
      }
      break;
    }
    case fault_kind::wrong_dimension:
      tweaks.dimension_override = d.fault->dimension > 0 ? d.fault->dimension
                                  : dimension >= 2       ? dimension / 2
                                                         : 2;
      break;
    case fault_kind::nan:
      tweaks.nan = true;
      tweaks.nan_token = d.fault->token;
      break;
    case fault_kind::shuffle_index:
      tweaks.shuffle = true;
      tweaks.shuffle_seed = mix_keys(d.seed, shuffle_salt, d.request_id);
      break;
    case fault_kind::fewer_vectors: tweaks.drop_last = true; break;
    case fault_kind::wrong_type: tweaks.wrong_type = true; break;
    case fault_kind::always_float: tweaks.always_float = true; break;
    case fault_kind::corrupt_vectors:
      tweaks.corrupt_rate = d.fault->vector_rate;
      tweaks.corrupt_truncate = d.fault->corrupt_truncate;
      tweaks.corrupt_nan = d.fault->corrupt_nan;
      tweaks.corrupt_seed = mix_keys(d.seed, corrupt_salt, d.request_id);
      break;
    default: break;
  }
  if (status == 200) {
    body = embeddings_body(er, dimension, er.model, tweaks);
    if (kind == fault_kind::malformed_json)
      body = d.fault->body ? *d.fault->body : body.substr(0, body.size() / 2);
  }
  if (kind == fault_kind::endless_body) {
    r.data = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n";
    for (auto& [name, value] : headers)
      r.data += name + ": " + value + "\r\n";
    r.data += "Connection: close\r\n\r\n";
    r.data
      += R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":")";
    r.action = after_reply::endless;
    return r;
  }
  r.action = req.keep_alive ? after_reply::keep_alive : after_reply::close;
  append_response_head(r.data, status, body.size(), req.keep_alive, headers);
  switch (kind) {
    case fault_kind::stall_body:
    case fault_kind::reset_mid_body: {
      auto part
        = static_cast<size_t>(static_cast<double>(body.size()) * d.fault->fraction);
      r.data.append(body, 0, std::min(part, body.size() - 1));
      if (kind == fault_kind::stall_body) {
        r.action = after_reply::park;
        r.hold_us = int64_t{d.fault->hold_ms} * 1000;
      } else {
        r.action = after_reply::reset;
        r.reset_delay_us = int64_t{d.fault->delay_ms} * 1000;
      }
      return r;
    }
    case fault_kind::close_connection: r.action = after_reply::close; break;
    default: break;
  }
  r.data += body;
  return r;
}

mock_reply mock_server::impl::control(const http_request& req, bool& handled) {
  handled = true;
  mock_reply r;
  std::string body;
  int status = 200;
  if (req.path == "/health" && req.method == "GET") {
    body = R"({"status":"ok"})";
  } else if (req.path == "/mock/report" && req.method == "GET") {
    body = report_json(true);
  } else if (req.path == "/mock/script" && req.method == "POST") {
    mock_script script;
    std::string error;
    if (parse_mock_script(req.body, script, error)) {
      {
        std::lock_guard<std::mutex> guard{mutex_};
        install_locked(std::make_shared<const mock_script>(std::move(script)),
                       now_us());
      }
      notify();
      body = R"({"ok":true})";
    } else {
      status = 400;
      body = error_body(error, "invalid_request_error");
    }
  } else {
    handled = false;
    return r;
  }
  append_response_head(r.data, status, body.size(), req.keep_alive, {});
  r.data += body;
  r.action = req.keep_alive ? after_reply::keep_alive : after_reply::close;
  return r;
}

mock_reply mock_server::impl::handle(const http_request& req) {
  bool handled = false;
  auto r = control(req, handled);
  if (handled)
    return r;
  embeddings_request er;
  int status = 200;
  std::string message;
  std::string code;
  const char* type = "invalid_request_error";
  bool embeddings_path = req.path == embeddings_path_ || req.path == "/embeddings";
  if (!embeddings_path) {
    status = 404;
    message = "Invalid URL (" + req.method + " " + req.path + ")";
  } else if (req.method != "POST") {
    status = 405;
    message = "Invalid method for URL (" + req.method + " " + req.path + ")";
  } else if (!options_.api_key.empty()
             && req.authorization != "Bearer " + options_.api_key) {
    // Never echo what was sent: it may be a real key.
    status = 401;
    code = "invalid_api_key";
    message
      = req.authorization.empty()
          ? "You didn't provide an API key. Provide it in an Authorization header "
            "using Bearer auth (mock)."
          : "Incorrect API key provided (mock).";
  } else if (!parse_embeddings_request(req.body, er, message)) {
    status = 400;
  } else if (!options_.model.empty() && er.model != options_.model) {
    status = 404;
    code = "model_not_found";
    message = "The model `" + er.model
              + "` does not exist or you do not have access to it (mock).";
  }
  auto d = decide(status == 200 ? &er : nullptr, status);
  if (status != 200 && !d.refused)
    return error_reply(status, message, type, code, req.keep_alive, d);
  return build_reply(req, er, d);
}

mock_reply mock_server::impl::handle_bad_request(int status, std::string_view why) {
  auto d = decide(nullptr, status);
  auto r = error_reply(status, why, "invalid_request_error", "", false, d);
  r.delay_us = 0; // the connection is broken anyway; answer at once
  return r;
}

// -- statistics ---------------------------------------------------------------

mock_stats mock_server::impl::stats(bool with_log) {
  auto& s = *this;
  mock_stats out;
  bool moved = false;
  {
    std::lock_guard<std::mutex> guard{s.mutex_};
    auto now = s.now_us();
    moved = s.advance_locked(now, false);
    out.uptime_us = s.running_.load() ? now : s.stopped_at_us_.load();
    out.port = s.port_.load();
    out.current_phase = s.phase_index_;
    out.connections_open = s.open_connections_.load();
    out.total = s.total_;
    out.phases = s.phase_stats_;
    if (with_log)
      out.log.assign(s.log_.begin(), s.log_.end());
    out.log_dropped = s.log_dropped_;
    out.text_requests.insert(s.text_requests_.begin(), s.text_requests_.end());
  }
  if (moved)
    s.notify();
  return out;
}

std::string mock_server::impl::report_json(bool with_log) {
  auto st = stats(with_log);
  nlohmann::json phases = nlohmann::json::array();
  for (size_t i = 0; i < st.phases.size(); ++i) {
    auto& p = st.phases[i];
    auto j = counters_json(p.counters);
    j["index"] = i;
    j["name"] = p.name;
    j["started_at_us"] = p.started_at_us;
    j["ended_at_us"] = p.ended_at_us;
    phases.push_back(std::move(j));
  }
  nlohmann::json log = nlohmann::json::array();
  for (auto& e : st.log)
    log.push_back({{"t_us", e.t_us},
                   {"phase", e.phase},
                   {"status", e.status},
                   {"fault", to_string(e.fault)},
                   {"inputs", e.inputs}});
  nlohmann::json doc = {{"uptime_us", st.uptime_us},
                        {"port", st.port},
                        {"current_phase", st.current_phase},
                        {"connections_open", st.connections_open},
                        {"total", counters_json(st.total)},
                        {"phases", std::move(phases)},
                        {"log", std::move(log)},
                        {"log_dropped", st.log_dropped}};
  if (options_.track_texts) {
    uint64_t most = 0;
    for (auto& kv : st.text_requests)
      most = std::max(most, kv.second);
    doc["texts"] = {{"distinct", st.text_requests.size()}, {"max_requests", most}};
  }
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// -- sockets ------------------------------------------------------------------

int mock_server::impl::open_listener(uint16_t port, std::string& error) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  auto host = options_.host == "localhost" ? std::string{"127.0.0.1"} : options_.host;
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    error = "invalid IPv4 address: " + options_.host;
    return -1;
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string{"socket: "} + std::strerror(errno);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0
      || ::listen(fd, options_.backlog) != 0) {
    error = "bind " + host + ":" + std::to_string(port) + ": " + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port_.store(ntohs(addr.sin_port), std::memory_order_release);
  return fd;
}

void mock_server::impl::controller_run() {
  bool retry_soon = false;
  while (!stopping_.load(std::memory_order_acquire)) {
    bool moved = false;
    bool want_listen = true;
    int64_t deadline = -1;
    {
      std::lock_guard<std::mutex> guard{mutex_};
      moved = advance_locked(now_us(), false);
      want_listen = !phase_closes_listener(phase_locked());
      deadline = phase_deadline_locked();
    }
    if (moved)
      for (auto& loop : loops_)
        loop->wake();
    if (want_listen && listen_fd_ < 0) {
      std::string error;
      // Same port: clients keep their base URL across an outage.
      listen_fd_ = open_listener(port_.load(), error);
      retry_soon = listen_fd_ < 0;
    } else if (!want_listen && listen_fd_ >= 0) {
      // Pending, not yet accepted connections are reset by the kernel.
      ::close(listen_fd_);
      listen_fd_ = -1;
    }
    auto wait_ms = max_controller_wait_ms;
    if (deadline >= 0)
      wait_ms = std::clamp<int64_t>((deadline - now_us() + 999) / 1000, 0, wait_ms);
    if (retry_soon)
      wait_ms = std::min<int64_t>(wait_ms, 10);
    pollfd fds[2] = {{controller_wake_fd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    int n = ::poll(fds, listen_fd_ >= 0 ? 2 : 1, static_cast<int>(wait_ms));
    if (n <= 0)
      continue;
    if (fds[0].revents & POLLIN) {
      uint64_t count = 0;
      [[maybe_unused]] auto r = ::read(controller_wake_fd_, &count, sizeof(count));
    }
    if (listen_fd_ >= 0 && (fds[1].revents & POLLIN))
      accept_ready();
  }
}

void mock_server::impl::accept_ready() {
  // Bounded batch, so phase changes and stop() are looked at between batches.
  for (int i = 0; i < 256; ++i) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      if (errno == EMFILE || errno == ENFILE)
        std::this_thread::sleep_for(std::chrono::milliseconds(5)); // do not spin
      return;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    bool reset = false;
    bool rejected = false;
    uint64_t drop = 0;
    {
      std::lock_guard<std::mutex> guard{mutex_};
      auto& ps = phase_stats_[phase_index_].counters;
      total_.connections_accepted += 1;
      ps.connections_accepted += 1;
      for (auto& f : phase_locked().faults) {
        if (f.kind == fault_kind::refuse_connections) {
          reset = fault_takes(f.rate, f.mode, seed_,
                              refuse_salt ^ (uint64_t{phase_index_} << 16),
                              phase_connections_);
          break;
        }
      }
      ++phase_connections_;
      if (reset) {
        total_.faults["refuse_connections"] += 1;
        ps.faults["refuse_connections"] += 1;
      } else if (open_connections_.load() >= options_.max_connections) {
        rejected = true;
        total_.connections_rejected += 1;
        ps.connections_rejected += 1;
      }
      drop = drop_generation_.load(std::memory_order_acquire);
    }
    if (reset || rejected) {
      set_linger_zero(fd);
      ::close(fd);
      continue;
    }
    open_connections_.fetch_add(1, std::memory_order_relaxed);
    loops_[next_loop_++ % loops_.size()]->adopt(fd, drop);
  }
}

// -- mock_server --------------------------------------------------------------

mock_server::mock_server(mock_options options)
  : impl_(std::make_unique<impl>(std::move(options))) {
  // nop
}

mock_server::~mock_server() {
  stop();
}

uint16_t mock_server::start() {
  auto& s = *impl_;
  if (s.started_)
    throw std::logic_error("mock_server::start: already started");
  s.started_ = true;
  s.t0_.store(steady_now_us());
  {
    std::lock_guard<std::mutex> guard{s.mutex_};
    // A script set before start() begins now.
    s.phase_started_us_ = 0;
    s.phase_stats_[s.phase_index_].started_at_us = 0;
  }
  std::string error;
  s.listen_fd_ = s.open_listener(s.options_.port, error);
  if (s.listen_fd_ < 0)
    throw std::system_error(std::make_error_code(std::errc::address_in_use), error);
  s.controller_wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (s.controller_wake_fd_ < 0)
    throw std::system_error(errno, std::generic_category(), "eventfd");
  auto threads = s.options_.threads;
  if (threads == 0)
    threads = std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
  io_loop_limits limits;
  limits.max_body_bytes = s.options_.max_body_bytes;
  for (uint32_t i = 0; i < threads; ++i)
    s.loops_.push_back(std::make_unique<io_loop>(s, limits));
  s.running_.store(true, std::memory_order_release);
  for (auto& loop : s.loops_)
    loop->start();
  s.controller_ = std::thread([&s] { s.controller_run(); });
  return s.port_.load();
}

void mock_server::stop() {
  auto& s = *impl_;
  if (!s.running_.exchange(false))
    return;
  s.stopped_at_us_.store(s.now_us());
  s.stopping_.store(true, std::memory_order_release);
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(s.controller_wake_fd_, &one, sizeof(one));
  if (s.controller_.joinable())
    s.controller_.join();
  if (s.listen_fd_ >= 0) {
    ::close(s.listen_fd_);
    s.listen_fd_ = -1;
  }
  for (auto& loop : s.loops_)
    loop->stop();
}

uint16_t mock_server::port() const noexcept {
  return impl_->port_.load();
}

std::string mock_server::base_url() const {
  return "http://" + impl_->options_.host + ":" + std::to_string(port())
         + impl_->options_.path_prefix;
}

void mock_server::set_script(mock_script script) {
  if (script.phases.empty())
    script.phases.emplace_back().name = "phase 0";
  {
    std::lock_guard<std::mutex> guard{impl_->mutex_};
    impl_->install_locked(std::make_shared<const mock_script>(std::move(script)),
                          impl_->started_ ? impl_->now_us() : 0);
  }
  impl_->notify();
}

bool mock_server::load_script_json(std::string_view json_text, std::string& error) {
  mock_script script;
  if (!parse_mock_script(json_text, script, error))
    return false;
  set_script(std::move(script));
  return true;
}

mock_stats mock_server::stats(bool with_log) const {
  return impl_->stats(with_log);
}

std::string mock_server::report_json(bool with_log) const {
  return impl_->report_json(with_log);
}

int64_t mock_server::now_us() const noexcept {
  return impl_->now_us();
}

uint64_t mock_server::requests_between(int64_t from_us, int64_t to_us) const {
  std::lock_guard<std::mutex> guard{impl_->mutex_};
  uint64_t n = 0;
  for (auto& e : impl_->log_)
    if (e.t_us >= from_us && e.t_us < to_us)
      ++n;
  return n;
}

size_t mock_server::current_phase() const {
  return stats(false).current_phase;
}

} // namespace embedrt::mock
