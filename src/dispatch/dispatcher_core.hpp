// The dispatcher's logic as a plain state machine, composed of four parts, each with
// its own tests:
//   admission.hpp        lanes, bulk credit, shedding (places in the shared
//   admission_gate) slot_table.hpp       slots (distinct texts in flight) and dedup
//   batch_former.hpp     batches from queued slots: linger, memory budget, lane
//   fairness attempt_pipeline.hpp batches alive and their attempts (permit -> verdict
//   -> call)
// This class holds the requests and wires the parts: what an answer does to a request
// (retries, bisection on 400/413/422, per-item outcomes in batch_outcome.cpp),
// deadlines, shutdown, counting and each request's trace. It never reads a clock and
// never sends a message: inputs carry `now`, outputs go through `effects`. The
// dispatcher actor is a thin shell around it; tests drive it directly.
//
// Vocabulary: a *request* is what a caller sent (one or more texts); a *slot* is one
// distinct text in flight (shared by identical texts of several requests when dedup is
// on); a *batch* is one upstream request (one or more slots) that may take several
// *attempts*.
//
// Per-item outcomes: a usable response delivers every good vector; a refused item
// (codec fault, or a length other than the key's confirmed dimension) is re-sent on
// its own as a further attempt of that text (batch_outcome.cpp). Lanes never share a
// batch, and bulk batches may not take the last `limits.interactive_reserved_attempts`
// pipeline slots.
//
// Assumptions: one upstream endpoint per runtime; results are placed by the response's
// `index`; usage is shared among a batch's slots by bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "messages/circuit.hpp"
#include "messages/host.hpp"
#include "messages/http.hpp"
#include "messages/lifecycle.hpp"
#include "messages/rate_limit.hpp"
#include "src/dispatch/admission.hpp"
#include "src/dispatch/attempt_pipeline.hpp"
#include "src/dispatch/batch_former.hpp"
#include "src/dispatch/slot_table.hpp"
#include "src/dispatch/timer_queue.hpp"
#include "src/policy/clock.hpp"
#include "src/policy/retry_policy.hpp"
#include <embedrt/embedding.hpp>
#include <embedrt/errors.hpp>
#include <embedrt/observability.hpp>
#include <embedrt/runtime_config.hpp>
#include <embedrt/trace.hpp>

namespace embedrt::dispatch {

using policy::duration;
using policy::time_point;

/// What the core asks of its shell.
class effects {
public:
  virtual ~effects() = default;
  /// Ask the rate limiter; answer with `on_permit` (or `on_permit_lost`).
  virtual void request_permit(acquire_permit msg) = 0;
  /// Ask the circuit breaker; answer with `on_verdict` (or `on_verdict_lost`).
  virtual void check_breaker(breaker_check msg) = 0;
  /// Send the attempt to a worker; answer with `on_call_result` (or `on_call_lost`).
  virtual void send_call(http_call msg) = 0;
  virtual void report_outcome(call_outcome msg) = 0;
  virtual void report_permit(permit_feedback msg) = 0;
  /// Answer request `id`; called exactly once per admitted or refused request.
  virtual void answer(uint64_t id, embed_result result) = 0;
  virtual void fail(uint64_t id, embed_failure failure) = 0;
  /// Answer credit waiter `waiter` (0 requests: shutting down).
  virtual void grant_credit(uint64_t waiter, uint32_t requests) = 0;
  /// Call `on_timer` at (or soon after) `at`.
  virtual void wake_at(time_point at) = 0;
  virtual void publish(event_kind kind, std::string detail) = 0;
  /// Request `trace.request_id` got its answer (after `answer`/`fail`); for metrics and
  /// the host's on_request_done hook.
  virtual void request_done(const request_trace& trace) { (void)trace; }
};

class dispatcher_core {
public:
  /// `gate`: the runtime's admission gate, shared with `runtime::embed`; null: one of
  /// its own (tests, tools).
  dispatcher_core(const runtime_config& cfg, effects& fx, time_point now,
                  std::shared_ptr<admission_gate> gate = nullptr);
  ~dispatcher_core();

  dispatcher_core(const dispatcher_core&) = delete;
  dispatcher_core& operator=(const dispatcher_core&) = delete;

  // -- from callers -----------------------------------------------------------------

  /// Admits request `id` (unique, chosen by the shell) or answers it at once. `path`
  /// says how it takes its place in its lane (a CAF host's `embed_request`: here).
  void admit(uint64_t id, embed_request request, time_point now) {
    admit(id, std::move(request), admission_path::at_dispatcher, now);
  }
  void admit(uint64_t id, embed_request request, admission_path path, time_point now);

  /// Bulk credit: answered through `grant_credit` once the bulk lane has room.
  void acquire_credit(uint64_t waiter, uint32_t max_requests, time_point now);
  void release_credit(uint32_t requests, time_point now);

  // -- from components --------------------------------------------------------------

  void on_permit(const permit_decision& x, time_point now);
  void on_verdict(const breaker_verdict& x, time_point now);
  void on_call_result(http_call_result x, time_point now);

  /// The component did not answer (it died). One abandon path for all three: a
  /// permit or verdict is asked again shortly, without spending an attempt; a call is
  /// treated as `worker_failed` (a retry within the attempt limit and the deadline).
  void on_permit_lost(uint64_t ticket, time_point now) { abandon(ticket, now); }
  void on_verdict_lost(uint64_t ticket, time_point now) { abandon(ticket, now); }
  void on_call_lost(uint64_t attempt, time_point now) { abandon(attempt, now); }

  /// A component was restarted: re-issue what waits on the old one.
  void on_component_replaced(component_kind kind, time_point now);

  /// While unavailable, pending and new requests are answered `runtime_unavailable`.
  void set_available(bool available, std::string reason, time_point now);

  /// Stops admitting; answers what is left `shutting_down` after `grace`.
  void begin_shutdown(duration grace, time_point now);

  /// The timer set through `effects::wake_at` fired.
  void on_timer(time_point now);

  // -- state ------------------------------------------------------------------------

  /// True after `begin_shutdown` once every admitted request has its answer.
  bool drained() const noexcept;
  bool shutting_down() const noexcept { return shutting_down_; }
  shutdown_report shutdown_result() const noexcept { return shutdown_report_; }
  /// The dispatcher's counters; lane-full sheds are the gate's (host-side ones too).
  const runtime_counters& counters() const noexcept;
  size_t pending_requests() const noexcept { return requests_.size(); }
  size_t pending_slots() const noexcept { return slots_.size(); }
  size_t pending_batches() const noexcept { return pipeline_.size(); }
  /// Estimated response bytes of the batches alive (bounded by
  /// limits.response_memory_mib).
  uint64_t response_bytes_in_flight() const noexcept {
    return pipeline_.bytes_in_flight();
  }
  /// Texts waiting in lane `l`'s queues for a batch (entries of requests answered
  /// meanwhile included until popped).
  size_t queued_texts(lane l) const noexcept {
    size_t n = 0;
    for (size_t k = 0; k < former_.key_count(); ++k)
      n += former_.key(static_cast<uint32_t>(k))
             .lanes[static_cast<size_t>(l) & 1]
             .size();
    return n;
  }
  /// Attempts holding a pipeline slot (permit, verdict or call outstanding).
  uint32_t active_attempts() const noexcept { return pipeline_.active(); }
  /// Entries in the timer heap (live and not yet compacted).
  size_t pending_timers() const noexcept { return timers_.size(); }
  const admission_gate& gate() const noexcept { return admission_.gate(); }

private:
  struct request_state {
    admission_ticket ticket;
    bool waits_on_open_circuit = false;
    time_point admitted_at;
    time_point deadline;
    uint32_t remaining = 0;
    std::vector<uint64_t> slots;
    std::vector<std::vector<float>> results;
    embedding_usage usage;
    /// Filled as its texts move through the pipeline; `model` is the request's.
    request_trace trace;
    bool on_wire = false;
  };

  // -- requests ---------------------------------------------------------------------
  void refuse(uint64_t id, lane l, std::string model, uint32_t inputs, embed_errc code,
              std::string message);
  void finish_request(uint64_t id, request_state& r);
  void fail_request(uint64_t id, embed_failure failure);
  void fail_all(const embed_failure& failure);
  void done(uint64_t id, request_state& r, embed_errc outcome);
  void succeed_slot(uint64_t slot_id, std::vector<float>&& vec, uint64_t prompt_tokens,
                    uint64_t total_tokens);
  void release_slot_if_orphaned(uint64_t slot_id);
  void grant_credits();
  void refuse_credit_waiters();
  /// Every request waiting for one of `slot_ids` (each once), in a scratch buffer
  /// reused by the next call (copy it before answering anybody).
  const std::vector<uint64_t>& requests_of(const std::vector<uint64_t>& slot_ids) const;
  template<class F>
  void for_requests(const std::vector<uint64_t>& slot_ids, F&& f) {
    for (auto id : requests_of(slot_ids))
      if (auto r = requests_.find(id); r != requests_.end())
        f(r->second);
  }
  // -- batches ----------------------------------------------------------------------
  bool has_live_slots(const batch_state& b) const;
  time_point batch_deadline(const batch_state& b) const;
  lane lane_of_slot(const slot& s) const;
  uint64_t add_batch(batch_state b);
  void fail_batch(uint64_t batch_id, const embed_failure& failure);
  void fail_fast_waiters(batch_state& b, const embed_failure& failure);
  void erase_batch(uint64_t batch_id);
  void bisect(uint64_t batch_id, batch_state& b);
  void pump(time_point now);
  bool form_batch(time_point now);
  // -- attempts ---------------------------------------------------------------------
  void start_attempt(uint64_t batch_id, batch_state& b, time_point now);
  void put_on_wire(batch_state& b, time_point now);
  void back_off(uint64_t batch_id, batch_state& b, time_point now, time_point until);
  void park(uint64_t batch_id, batch_state& b, time_point now, time_point until);
  void abandon(uint64_t ticket, time_point now);
  void handle_failure(uint64_t batch_id, batch_state& b, http_call_result& x,
                      time_point now);
  void trace_attempt(uint64_t batch_id, const batch_state& b, const http_call_result& x,
                     duration wire);
  // batch_outcome.cpp: per-item outcomes, dimension learning, encoding tolerance.
  void deliver(uint64_t batch_id, batch_state& b, http_call_result& x, time_point now);
  void resend_alone(uint64_t slot_id, uint32_t attempts, const std::string& reason,
                    bool to_confirm, time_point now);
  void hold(uint32_t key, uint64_t slot_id, std::vector<float>&& vec, uint64_t prompt,
            uint64_t total, uint32_t attempts, time_point now);
  void release_held(uint32_t key, time_point now, bool timed_out);
  void note_encoding(const http_call_result& x);
  // -- time and counting ------------------------------------------------------------
  void schedule(time_point at, timer_kind kind, uint64_t id, uint64_t epoch = 0);
  void request_wake();
  void count_failure(embed_errc code);
  void count_response(const http_call_result& x);

  // -- state ------------------------------------------------------------------------
  runtime_config cfg_;
  effects& fx_;
  policy::retry_policy retry_;
  encoding_format encoding_;
  duration default_timeout_;
  duration attempt_timeout_;
  duration min_attempt_;
  /// Consecutive responses in the other encoding than asked.
  uint32_t encoding_mismatch_streak_ = 0;
  /// The `now` of the call being handled (answers stamp their trace with it).
  time_point now_;

  admission admission_;
  slot_table slots_;
  batch_former former_;
  attempt_pipeline pipeline_;
  std::unordered_map<uint64_t, request_state> requests_;

  timer_queue timers_;
  time_point requested_wake_;
  bool available_ = true;
  std::string unavailable_reason_;
  bool shutting_down_ = false;
  time_point grace_end_;
  shutdown_report shutdown_report_;
  mutable runtime_counters counters_;
  /// Reused by `requests_of` (no allocation per attempt step).
  mutable std::vector<uint64_t> scratch_ids_;
};

} // namespace embedrt::dispatch
