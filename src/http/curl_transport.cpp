// libcurl transport: option (b) of caf-0.17-notes.md section 6, without the mutex.
//
//   worker actor --submit()--> [SPSC ring] --curl_multi_wakeup--> curl thread
//                                                                  | CURLM: perform,
//                                                                  | info_read, poll
//   worker actor <----------------- sink(transfer_result) ---------+
//
// Assumptions and choices:
// - One producer at a time calls submit() (the owning worker actor); the ring is
//   single-producer/single-consumer and needs no lock. `outstanding_` caps accepted,
//   unfinished transfers at `max_connections`, so the ring (same capacity) never
//   overflows and there are never more transfers than connections: HTTP/1.1
//   transfers never queue inside curl for a connection.
// - `outstanding_` is decremented before the sink runs, so a worker that submits as
//   soon as it sees a completion is never refused.
// - A fixed set of `max_connections` transfer slots, each with an easy handle that is
//   created on first use and reused; per-transfer options are re-set on every use.
//   Connections live in the multi handle's cache and are shared by all slots.
// - A timeout before the request was sent (connect or TLS handshake, detected with
//   CURLOPT_PREREQFUNCTION) is `connect_failed`: the upstream never saw the request.
//   A timeout after it is `timed_out`.
// - `connections_opened` sums CURLINFO_NUM_CONNECTS over finished transfers: new
//   connections that carried a request (a connection attempt that failed is not
//   counted; transfers aborted by the destructor are not counted).
// - `transfers_completed` counts every result handed to the sink, whatever status.
// - After a curl_multi_* error the transport is broken: every outstanding transfer and
//   every later submission is answered with `transport_broken` (submit keeps accepting
//   within capacity, so a worker with nothing in flight still learns of it) and no
//   transfer starts again.
// - Proxy environment variables (http_proxy, ...) are honoured, as libcurl does,
//   unless `settings.proxy` names one explicitly or `settings.bypass_proxy` is set
//   (loopback base URLs: CURLOPT_PROXY "" and CURLOPT_NOPROXY "*").
// - Bodies are bounded before the first byte: a 2xx body past the request's bound
//   (or `max_response_bytes`) stops the transfer (`too_large`); a non-2xx body is cut
//   at `max_error_body_bytes` and the response is kept as complete (its message is
//   in the first bytes, and the connection is closed rather than drained).
// - Certificate and host-name failures are `tls_rejected` (never retried), not
//   `connect_failed`: a retry cannot fix them and would only wait for the deadline.
#include "src/http/curl_transport.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <limits>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <vector>

#include <sys/socket.h>
#include <unistd.h>

#if defined(__linux__)
#  include <pthread.h>
#endif

#include "src/policy/http_headers.hpp"

namespace embedrt::http {

namespace {

constexpr const char* user_agent = "embedrt/0.1";

/// The curl thread sleeps at most this long without I/O or a wakeup.
constexpr int poll_timeout_ms = 1000;

/// Content-Length sizes the body buffer up front up to this much (a lying header
/// must not allocate gigabytes before any byte arrives).
constexpr size_t max_presize = 64u << 20;

/// Non-2xx bodies are read up to this much (their message is near the start).
constexpr size_t max_error_body_bytes = size_t{64} << 10;

/// Longer header values are ignored (treated as absent); ours are short.
constexpr size_t max_header_value = 128;

// -- response headers we keep -------------------------------------------------------

enum header_index : size_t {
  hdr_retry_after,
  hdr_retry_after_ms,
  hdr_remaining_requests,
  hdr_remaining_tokens,
  hdr_reset_requests,
  hdr_reset_tokens,
  hdr_count,
};

constexpr std::array<std::string_view, hdr_count> header_names = {
  "retry-after",
  "retry-after-ms",
  "x-ratelimit-remaining-requests",
  "x-ratelimit-remaining-tokens",
  "x-ratelimit-reset-requests",
  "x-ratelimit-reset-tokens",
};

bool iequals_lower(std::string_view x, std::string_view lower) {
  if (x.size() != lower.size())
    return false;
  for (size_t i = 0; i < x.size(); ++i) {
    auto c = x[i];
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i])
      return false;
  }
  return true;
}

std::string_view trim(std::string_view x) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!x.empty() && space(x.front()))
    x.remove_prefix(1);
  while (!x.empty() && space(x.back()))
    x.remove_suffix(1);
  return x;
}

bool is_https(std::string_view url) {
  return url.size() >= 8 && iequals_lower(url.substr(0, 8), "https://");
}

// -- result classification ------------------------------------------------------------

transfer_status classify(CURLcode rc, bool request_sent) {
  switch (rc) {
    case CURLE_OK: return transfer_status::completed;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_PROXY:
    case CURLE_QUIC_CONNECT_ERROR: return transfer_status::connect_failed;
    case CURLE_PEER_FAILED_VERIFICATION: // untrusted, expired, wrong host name
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS: return transfer_status::tls_rejected;
    case CURLE_OPERATION_TIMEDOUT:
      return request_sent ? transfer_status::timed_out
                          : transfer_status::connect_failed;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_BAD_CONTENT_ENCODING: return transfer_status::connection_lost;
    default: return transfer_status::failed;
  }
}

// -- SPSC ring ------------------------------------------------------------------------

/// Bounded lock-free single-producer/single-consumer queue. `head_` and `tail_` count
/// pops and pushes forever (64 bits do not wrap); slot = count % capacity.
template<class T>
class spsc_ring {
public:
  explicit spsc_ring(size_t capacity) : capacity_(capacity), slots_(new T[capacity]) {
    // nop
  }

  /// Producer only.
  bool try_push(T&& x) {
    auto tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_.load(std::memory_order_acquire) >= capacity_)
      return false;
    slots_[tail % capacity_] = std::move(x);
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  /// Consumer only: whether a push is visible.
  bool empty() const {
    return head_.load(std::memory_order_relaxed)
           == tail_.load(std::memory_order_acquire);
  }

  /// Consumer only.
  bool try_pop(T& out) {
    auto head = head_.load(std::memory_order_relaxed);
    if (head == tail_.load(std::memory_order_acquire))
      return false;
    out = std::move(slots_[head % capacity_]);
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

private:
  const size_t capacity_;
  std::unique_ptr<T[]> slots_;
  // Separate cache lines: the producer writes tail_, the consumer head_.
  alignas(64) std::atomic<uint64_t> head_{0};
  alignas(64) std::atomic<uint64_t> tail_{0};
};

// -- one transfer slot --------------------------------------------------------------

struct transfer {
  /// Created on first use, reused afterwards; null until then.
  CURL* easy = nullptr;
  /// Added to the multi handle.
  bool active = false;
  /// CURLOPT_PREREQFUNCTION ran: a connection exists and the request goes out.
  bool request_sent = false;
  /// The most bytes `body` may hold for this transfer (see on_body).
  size_t body_limit = 0;
  /// on_body has looked at the response status.
  bool status_seen = false;
  /// The body passed `body_limit` on a 2xx: stopped, `too_large`.
  bool too_large = false;
  /// A non-2xx body was cut at its limit: the response counts as complete.
  bool error_body_cut = false;
  /// Owns the body for CURLOPT_POSTFIELDS during the transfer.
  transfer_request req;
  std::string body;
  std::array<std::string, hdr_count> headers;
  std::chrono::steady_clock::time_point started;
  char error[CURL_ERROR_SIZE] = {};

  void reset_headers() {
    for (auto& x : headers)
      x.clear();
  }
};

size_t on_body(char* data, size_t size, size_t nmemb, void* user) noexcept {
  auto& t = *static_cast<transfer*>(user);
  auto n = size * nmemb;
  if (!t.status_seen) {
    t.status_seen = true;
    long code = 0;
    curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &code);
    if (code < 200 || code >= 300)
      t.body_limit = std::min(t.body_limit, max_error_body_bytes);
  }
  if (t.body.size() + n > t.body_limit) {
    long code = 0;
    curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && code < 300) {
      t.too_large = true;
      return 0; // CURLE_WRITE_ERROR: the transfer stops here
    }
    try {
      t.body.append(data, t.body_limit - t.body.size());
    } catch (...) {
      return 0;
    }
    t.error_body_cut = true;
    return 0;
  }
  try {
    auto& body = t.body;
    if (body.capacity() < body.size() + n + body_padding) {
      size_t want = body.size() + n + body_padding;
      if (body.empty()) {
        // First chunk: size the buffer from Content-Length when known.
        curl_off_t length = -1;
        if (curl_easy_getinfo(t.easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length)
              == CURLE_OK
            && length > 0)
          want = std::max(
            want, std::min({static_cast<size_t>(length), max_presize, t.body_limit})
                    + body_padding);
      } else {
        want = std::max(want, body.capacity() * 2);
      }
      body.reserve(want);
    }
    body.append(data, n);
  } catch (...) {
    return 0; // CURLE_WRITE_ERROR
  }
  return n;
}

size_t on_header(char* data, size_t size, size_t nitems, void* user) noexcept {
  auto& t = *static_cast<transfer*>(user);
  auto n = size * nitems;
  std::string_view line{data, n};
  // Every status line starts a new header block (1xx, redirects, proxy CONNECT).
  if (line.size() >= 5 && line.substr(0, 5) == "HTTP/") {
    t.reset_headers();
    return n;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos)
    return n;
  auto name = trim(line.substr(0, colon));
  for (size_t i = 0; i < hdr_count; ++i) {
    if (iequals_lower(name, header_names[i])) {
      auto value = trim(line.substr(colon + 1));
      if (value.size() > max_header_value)
        value = {};
      try {
        t.headers[i].assign(value.data(), value.size());
      } catch (...) {
        return 0;
      }
      break;
    }
  }
  return n;
}

int on_prereq(void* user, char*, char*, int, int) noexcept {
  static_cast<transfer*>(user)->request_sent = true;
  return CURL_PREREQFUNC_OK;
}

/// Sockets opened and closed by libcurl, counted (embedrt_open_connections).
curl_socket_t on_open_socket(void* user, curlsocktype, curl_sockaddr* addr) noexcept {
  auto fd = ::socket(addr->family, addr->socktype, addr->protocol);
  if (fd != CURL_SOCKET_BAD)
    static_cast<transport_counters*>(user)->connections_open.fetch_add(
      1, std::memory_order_relaxed);
  return fd;
}

int on_close_socket(void* user, curl_socket_t fd) noexcept {
  static_cast<transport_counters*>(user)->connections_open.fetch_sub(
    1, std::memory_order_relaxed);
  return ::close(fd);
}

void parse_headers(const transfer& t, transfer_result& r) {
  if (auto x = policy::parse_retry_after(t.headers[hdr_retry_after_ms],
                                         t.headers[hdr_retry_after],
                                         std::chrono::system_clock::now()))
    r.retry_after = std::chrono::ceil<std::chrono::milliseconds>(*x);
  if (auto x = policy::parse_count(t.headers[hdr_remaining_requests]))
    r.limits.remaining_requests = *x;
  if (auto x = policy::parse_count(t.headers[hdr_remaining_tokens]))
    r.limits.remaining_tokens = *x;
  if (auto x = policy::parse_reset_duration(t.headers[hdr_reset_requests]))
    r.limits.reset_requests = std::chrono::duration_cast<caf::timespan>(*x);
  if (auto x = policy::parse_reset_duration(t.headers[hdr_reset_tokens]))
    r.limits.reset_tokens = std::chrono::duration_cast<caf::timespan>(*x);
}

void set_thread_name() {
#if defined(__linux__)
  pthread_setname_np(pthread_self(), "embedrt-curl");
#endif
}

// -- the transport ------------------------------------------------------------------

class curl_transport final : public transport {
public:
  curl_transport(const transport_settings& settings, completion_sink sink)
    : settings_(settings), capacity_(std::max<uint32_t>(settings.max_connections, 1)),
      sink_(std::move(sink)),
      counters_(settings.counters ? settings.counters
                                  : std::make_shared<transport_counters>()),
      ring_(capacity_) {
    ensure_curl_initialized();
    settings_.counters = counters_;
    multi_ = curl_multi_init();
    if (multi_ == nullptr)
      throw std::runtime_error("curl_multi_init failed");
    auto cap = static_cast<long>(capacity_);
    curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, cap);
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, cap);
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, cap);
    curl_multi_setopt(multi_, CURLMOPT_PIPELINING, long{CURLPIPE_MULTIPLEX});
    if (!append_header("Content-Type: application/json")
        || !append_header("Accept: application/json") || !append_header("Expect:")
        || (!settings_.api_key.empty()
            && !append_header("Authorization: Bearer " + settings_.api_key))) {
      release();
      throw std::bad_alloc();
    }
    slots_.reserve(capacity_);
    free_.reserve(capacity_);
    for (uint32_t i = 0; i < capacity_; ++i) {
      slots_.emplace_back(std::make_unique<transfer>());
      free_.push_back(slots_.back().get());
    }
    try {
      thread_ = std::thread{[this] { run(); }};
    } catch (...) {
      release();
      throw;
    }
  }

  ~curl_transport() override {
    stop_.store(true, std::memory_order_seq_cst);
    curl_multi_wakeup(multi_);
    if (thread_.joinable())
      thread_.join();
    // Requests still in the ring and active transfers end here without the sink.
    release();
  }

  bool submit(transfer_request req) override {
    // Only the producer increments, so the value cannot grow between the check and
    // the increment; counting before the push keeps it from ever dipping below the
    // number of queued and running transfers.
    if (outstanding_.load(std::memory_order_acquire) >= capacity_)
      return false;
    outstanding_.fetch_add(1, std::memory_order_relaxed);
    if (!ring_.try_push(std::move(req))) {
      // Unreachable: ring occupancy <= outstanding_ <= capacity_.
      outstanding_.fetch_sub(1, std::memory_order_relaxed);
      return false;
    }
    // Wake the curl thread only when it sleeps in curl_multi_poll: a busy loop sees
    // the ring before it polls again. The fences pair with the ones in run() (the
    // thread publishes `polling_` and then checks the ring; we publish the push and
    // then check `polling_`), so one of the two always sees the other.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (polling_.load(std::memory_order_relaxed))
      curl_multi_wakeup(multi_);
    return true;
  }

  /// Makes the curl thread behave as if a curl_multi_* call had failed.
  void break_for_test() {
    inject_fault_.store(true);
    curl_multi_wakeup(multi_);
  }

private:
  bool append_header(const std::string& line) {
    auto next = curl_slist_append(headers_, line.c_str());
    if (next == nullptr)
      return false;
    headers_ = next;
    return true;
  }

  /// Frees every handle. Only when the curl thread is not running.
  void release() {
    for (auto& t : slots_) {
      if (t->easy == nullptr)
        continue;
      if (t->active)
        curl_multi_remove_handle(multi_, t->easy);
      curl_easy_cleanup(t->easy);
      t->easy = nullptr;
    }
    if (multi_ != nullptr) {
      curl_multi_cleanup(multi_);
      multi_ = nullptr;
    }
    curl_slist_free_all(headers_);
    headers_ = nullptr;
  }

  // -- curl thread ------------------------------------------------------------------

  void run() {
    set_thread_name();
    while (!stop_.load(std::memory_order_acquire)) {
      if (broken_) {
        idle_broken();
        continue;
      }
      if (inject_fault_.exchange(false)) {
        break_transport(CURLM_INTERNAL_ERROR);
        continue;
      }
      start_submitted();
      if (broken_)
        continue;
      int running = 0;
      if (auto mc = curl_multi_perform(multi_, &running); mc != CURLM_OK) {
        break_transport(mc);
        continue;
      }
      collect_completions();
      flush();
      if (broken_)
        continue;
      polling_.store(true, std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      if (!ring_.empty() || inject_fault_.load() || stop_.load()) {
        polling_.store(false, std::memory_order_relaxed);
        continue;
      }
      auto mc = curl_multi_poll(multi_, nullptr, 0, poll_timeout_ms, nullptr);
      polling_.store(false, std::memory_order_relaxed);
      if (mc != CURLM_OK)
        break_transport(mc);
    }
    // Stopping: whatever is left in batch_ is dropped with the transport, like the
    // transfers still running (the owner is going away).
  }

  /// Hands the completions of this turn to the sink in one call.
  void flush() {
    if (batch_.empty())
      return;
    auto batch = std::move(batch_);
    batch_.clear();
    sink_(std::move(batch));
  }

  void start_submitted() {
    transfer_request req;
    while (!broken_ && ring_.try_pop(req)) {
      // outstanding_ <= capacity_ == slots_.size(), so a slot is always free.
      auto t = free_.back();
      free_.pop_back();
      t->req = std::move(req);
      start(*t);
    }
  }

  bool init_easy(transfer& t) {
    t.easy = curl_easy_init();
    if (t.easy == nullptr)
      return false;
    auto e = t.easy;
    curl_easy_setopt(e, CURLOPT_URL, settings_.url.c_str());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(e, CURLOPT_USERAGENT, user_agent);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, long{CURL_HTTP_VERSION_2TLS});
    // Over TLS, wait for the first connection's ALPN answer rather than opening
    // one connection per transfer of a burst, so HTTP/2 can multiplex. Plain http
    // never multiplexes here, and waiting would serialize the first burst behind
    // the first response.
    if (is_https(settings_.url))
      curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(
      e, CURLOPT_CONNECTTIMEOUT_MS,
      static_cast<long>(std::max<int64_t>(settings_.connect_timeout.count(), 1)));
    if (!settings_.ca_bundle.empty())
      curl_easy_setopt(e, CURLOPT_CAINFO, settings_.ca_bundle.c_str());
    if (settings_.bypass_proxy) {
      curl_easy_setopt(e, CURLOPT_PROXY, "");
      curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    } else if (!settings_.proxy.empty()) {
      curl_easy_setopt(e, CURLOPT_PROXY, settings_.proxy.c_str());
    }
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.error);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq);
    curl_easy_setopt(e, CURLOPT_PREREQDATA, &t);
    curl_easy_setopt(e, CURLOPT_PRIVATE, &t);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, counters_.get());
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, counters_.get());
    return true;
  }

  void start(transfer& t) {
    t.started = std::chrono::steady_clock::now();
    t.request_sent = false;
    t.status_seen = false;
    t.too_large = false;
    t.error_body_cut = false;
    {
      uint64_t cap = std::max<uint64_t>(settings_.max_response_bytes, 1);
      if (t.req.max_body_bytes > 0)
        cap = std::min(cap, t.req.max_body_bytes);
      t.body_limit = static_cast<size_t>(
        std::min<uint64_t>(cap, std::numeric_limits<size_t>::max() / 2));
    }
    t.error[0] = '\0';
    // Reuse the buffer the owner handed back, if any (see transfer_request).
    if (t.req.spare_body.capacity() > t.body.capacity())
      t.body = std::move(t.req.spare_body);
    t.req.spare_body = std::string{};
    t.body.clear();
    t.reset_headers();
    counters_->transfers_started.fetch_add(1, std::memory_order_relaxed);
    if (t.easy == nullptr && !init_easy(t)) {
      finish_failed(t, transfer_status::failed, "curl_easy_init failed");
      return;
    }
    auto e = t.easy;
    // A zero timeout means "none" to libcurl: never ask for that.
    auto timeout = std::max<int64_t>(t.req.timeout.count(), 1);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout));
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(t.req.body.size()));
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t.req.body.data());
    if (auto mc = curl_multi_add_handle(multi_, e); mc != CURLM_OK) {
      finish_failed(t, transfer_status::transport_broken, curl_multi_strerror(mc));
      break_transport(mc);
      return;
    }
    t.active = true;
  }

  void collect_completions() {
    int left = 0;
    while (auto msg = curl_multi_info_read(multi_, &left)) {
      if (msg->msg != CURLMSG_DONE)
        continue;
      auto easy = msg->easy_handle;
      auto rc = msg->data.result; // msg is invalid after remove_handle
      char* ptr = nullptr;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, &ptr);
      auto& t = *reinterpret_cast<transfer*>(ptr);
      transfer_result r;
      r.id = t.req.id;
      r.wire_time = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - t.started);
      long connects = 0;
      if (curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK
          && connects > 0)
        counters_->connections_opened.fetch_add(static_cast<uint64_t>(connects),
                                                std::memory_order_relaxed);
      r.status = classify(rc, t.request_sent);
      if (rc == CURLE_WRITE_ERROR && t.error_body_cut)
        r.status = transfer_status::completed;
      if (rc == CURLE_WRITE_ERROR && t.too_large) {
        r.status = transfer_status::too_large;
        t.body.clear();
      }
      if (r.status == transfer_status::completed) {
        long code = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
        r.http_status = static_cast<uint16_t>(code);
        r.body = std::move(t.body);
      } else if (r.status == transfer_status::too_large) {
        r.error = "the response body passed " + std::to_string(t.body_limit)
                  + " bytes (the bound for this request); transfer stopped";
      } else {
        r.error = t.error[0] != '\0' ? t.error : curl_easy_strerror(rc);
      }
      ensure_padding(r.body);
      parse_headers(t, r);
      auto mc = curl_multi_remove_handle(multi_, easy);
      t.active = false;
      finish(t, std::move(r));
      if (mc != CURLM_OK) {
        break_transport(mc);
        return;
      }
    }
  }

  static void ensure_padding(std::string& body) {
    if (body.capacity() < body.size() + body_padding)
      body.reserve(body.size() + body_padding);
  }

  void finish_failed(transfer& t, transfer_status status, const char* error) {
    transfer_result r;
    r.id = t.req.id;
    r.status = status;
    r.error = error;
    r.wire_time = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - t.started);
    ensure_padding(r.body);
    finish(t, std::move(r));
  }

  /// Returns the slot, then hands the result out.
  void finish(transfer& t, transfer_result&& r) {
    // Drop the request body and any partial response now, not at the slot's reuse.
    t.req.body = std::string{};
    t.body = std::string{};
    free_.push_back(&t);
    outstanding_.fetch_sub(1, std::memory_order_release);
    counters_->transfers_completed.fetch_add(1, std::memory_order_relaxed);
    if (counters_->on_response_bytes && !r.body.empty())
      counters_->on_response_bytes(r.body.size());
    batch_.push_back(std::move(r));
  }

  /// A curl_multi_* call failed: fail everything outstanding, start nothing again.
  void break_transport(CURLMcode mc) {
    broken_ = true;
    broken_error_ = std::string{"curl multi error: "} + curl_multi_strerror(mc);
    for (auto& slot : slots_) {
      auto& t = *slot;
      if (!t.active)
        continue;
      curl_multi_remove_handle(multi_, t.easy);
      t.active = false;
      finish_failed(t, transfer_status::transport_broken, broken_error_.c_str());
    }
    fail_submitted();
  }

  void fail_submitted() {
    transfer_request req;
    while (ring_.try_pop(req)) {
      auto t = free_.back();
      free_.pop_back();
      t->req = std::move(req);
      t->started = std::chrono::steady_clock::now();
      counters_->transfers_started.fetch_add(1, std::memory_order_relaxed);
      finish_failed(*t, transfer_status::transport_broken, broken_error_.c_str());
    }
  }

  /// Broken: answer late submissions until the owner destroys us. The multi handle
  /// may still deliver wakeups; if even polling fails, fall back to short sleeps.
  void idle_broken() {
    fail_submitted();
    flush();
    if (stop_.load(std::memory_order_acquire))
      return;
    if (curl_multi_poll(multi_, nullptr, 0, poll_timeout_ms, nullptr) != CURLM_OK)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

  // -- state ----------------------------------------------------------------------

  transport_settings settings_;
  const uint32_t capacity_;
  completion_sink sink_;
  std::shared_ptr<transport_counters> counters_;

  CURLM* multi_ = nullptr;
  curl_slist* headers_ = nullptr;

  // Producer side (submit) and shared.
  spsc_ring<transfer_request> ring_;
  std::atomic<uint32_t> outstanding_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> inject_fault_{false};
  /// The curl thread is (about to be) blocked in curl_multi_poll.
  std::atomic<bool> polling_{false};

  // Curl thread only (and the destructor after join).
  std::vector<std::unique_ptr<transfer>> slots_;
  std::vector<transfer*> free_;
  bool broken_ = false;
  std::string broken_error_;
  /// Completions of the current loop turn, not yet handed to the sink.
  std::vector<transfer_result> batch_;

  std::thread thread_; // last: starts after everything above exists
};

} // namespace

std::unique_ptr<transport> make_curl_transport(const transport_settings& settings,
                                               completion_sink sink) {
  return std::make_unique<curl_transport>(settings, std::move(sink));
}

void ensure_curl_initialized() {
  static std::once_flag flag;
  std::call_once(flag, [] {
    if (auto rc = curl_global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK)
      throw std::runtime_error(std::string{"curl_global_init failed: "}
                               + curl_easy_strerror(rc));
  });
}

/// Test hook, declared by tests/integration/curl_transport.cpp: makes the curl thread
/// fail as if a curl_multi_* call had returned an error. `t` must come from
/// make_curl_transport.
void break_curl_transport_for_test(transport& t) {
  static_cast<curl_transport&>(t).break_for_test();
}

} // namespace embedrt::http
