// Admission policy: who takes a place in a lane, who is shed, and bulk credit. The
// places live in the shared `admission_gate` (one bound per lane, one meaning: requests
// entered and not answered yet, plus bulk credit out); this class decides, for the
// dispatcher, how a request enters (see `admission_path`), who leaves the gate when it
// is answered, and which credit waiters get a grant. One counter per shed reason lives
// in the gate (lane full); the limiter's queue-full answer is counted apart
// (`requests_shed_limiter_queue_full`). Plain code: no clock, no messages.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "messages/host.hpp"
#include "src/dispatch/admission_gate.hpp"
#include <embedrt/runtime_config.hpp>

namespace embedrt::dispatch {

/// A request's place in its lane.
struct admission_ticket {
  lane admitted_lane = lane::interactive;
  /// The dispatcher leaves the gate when the request is answered (else the host's
  /// completion does).
  bool dispatcher_leaves = false;
};

class admission {
public:
  /// `gate`: shared with the runtime; null: a gate of its own from `cfg.limits`.
  admission(const runtime_config& cfg, std::shared_ptr<admission_gate> gate);

  /// Takes a place for a request of lane `l` arriving by `path`; false: shed (the
  /// lane is full), with the reason in `why`.
  bool enter(lane l, admission_path path, admission_ticket& ticket, std::string& why);

  /// The request of `ticket` got its answer.
  void leave(const admission_ticket& ticket);

  // -- bulk credit -----------------------------------------------------------------

  /// Waits for up to `max_requests` places of the bulk lane.
  void wait_for_credit(uint64_t waiter, uint32_t max_requests);
  /// A credit holder gives back `requests` unused credits.
  void release_credit(uint32_t requests) { gate_->return_credit(requests); }
  /// Grants waiting credit, oldest first, while the bulk lane has room; calls
  /// `grant(waiter, requests)` for each grant.
  template<class F>
  void grant(F&& grant_fn) {
    while (!waiters_.empty()) {
      auto [id, want] = waiters_.front();
      auto n = gate_->take_credit(want);
      if (n == 0)
        return;
      waiters_.pop_front();
      credits_granted_ += n;
      grant_fn(id, n);
    }
  }
  /// Takes every waiter out (they get a zero grant: shutting down or unavailable).
  std::vector<uint64_t> take_waiters();

  uint64_t credits_granted() const noexcept { return credits_granted_; }
  admission_gate& gate() noexcept { return *gate_; }
  const admission_gate& gate() const noexcept { return *gate_; }

private:
  std::shared_ptr<admission_gate> gate_;
  std::deque<std::pair<uint64_t, uint32_t>> waiters_;
  uint64_t credits_granted_ = 0;
};

} // namespace embedrt::dispatch
