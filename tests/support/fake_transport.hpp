// A scripted transport for actor tests on the deterministic scheduler: it records
// submitted transfers and completes them only when the test says so. Completions go
// through the worker's sink (an anon_send), exactly as the curl thread's would.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "src/http/transport.hpp"

namespace embedrt::test {

class fake_upstream : public std::enable_shared_from_this<fake_upstream> {
public:
  struct transfer {
    http::transfer_request request;
    /// Which transport (worker incarnation) it went to.
    uint64_t transport;
  };

  /// A factory creating transports bound to this upstream.
  http::transport_factory factory();

  /// Transfers submitted and not yet completed, oldest first.
  std::deque<transfer>& pending() { return pending_; }

  /// Completes pending transfer `i` with `result` (its id is filled in).
  void complete(size_t i, http::transfer_result result);

  /// Completes pending transfer `i` with a valid 200 body (float encoding if the
  /// request asked for it), vectors of `dimension` derived from each input.
  void complete_ok(size_t i, uint32_t dimension = 4);

  /// Completes pending transfer `i` with an HTTP status and error body.
  void complete_status(size_t i, uint16_t status, std::string body = {});

  /// Transports created so far (one per worker incarnation).
  uint64_t transports_created() const { return next_transport_ - 1; }

  /// Transports alive now.
  uint64_t transports_alive() const { return alive_; }

  /// The vector `complete_ok` returns for `text`.
  static std::vector<float> vector_for(const std::string& text, uint32_t dimension);

private:
  friend class fake_transport;
  std::deque<transfer> pending_;
  std::vector<std::pair<uint64_t, http::completion_sink>> sinks_;
  uint64_t next_transport_ = 1;
  uint64_t alive_ = 0;
};

} // namespace embedrt::test
