// The dispatcher's logic as a plain state machine: admission with per-lane bounds and
// bulk credit, in-flight dedup, micro-batching with a linger bound, priority lanes, the
// per-attempt pipeline (limiter permit -> breaker verdict -> pool call), retries, batch
// bisection on 400/413/422, deadlines and shutdown. It never reads a clock and never
// sends a message: inputs carry `now`, outputs go through `effects`. The dispatcher
// actor is a thin shell around it; tests drive it directly.
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
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/runtime_config.hpp"
#include "messages/circuit.hpp"
#include "messages/embedding.hpp"
#include "messages/errors.hpp"
#include "messages/http.hpp"
#include "messages/lifecycle.hpp"
#include "messages/observability.hpp"
#include "messages/rate_limit.hpp"
#include "messages/trace.hpp"
#include "src/dispatch/timer_queue.hpp"
#include "src/policy/clock.hpp"
#include "src/policy/dimension_learner.hpp"
#include "src/policy/retry_policy.hpp"

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
  /// Send to the pool; answer with `on_call_result` (or `on_call_lost`).
  virtual void start_call(http_call msg) = 0;
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
  dispatcher_core(const runtime_config& cfg, effects& fx, time_point now);
  ~dispatcher_core();

  dispatcher_core(const dispatcher_core&) = delete;
  dispatcher_core& operator=(const dispatcher_core&) = delete;

  // -- from callers -----------------------------------------------------------------

  /// Admits request `id` (unique, chosen by the shell) or answers it at once.
  void admit(uint64_t id, embed_request request, time_point now);

  /// Bulk credit: answered through `grant_credit` once the bulk lane has room.
  void acquire_credit(uint64_t waiter, uint32_t max_requests, time_point now);
  void release_credit(uint32_t requests, time_point now);

  // -- from components --------------------------------------------------------------

  void on_permit(const permit_decision& x, time_point now);
  void on_verdict(const breaker_verdict& x, time_point now);
  void on_call_result(http_call_result x, time_point now);

  /// The component did not answer (it died); the work is re-issued or, for a call,
  /// treated as `worker_failed`.
  void on_permit_lost(uint64_t ticket, time_point now);
  void on_verdict_lost(uint64_t ticket, time_point now);
  void on_call_lost(uint64_t attempt, time_point now);

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
  const runtime_counters& counters() const noexcept { return counters_; }
  size_t pending_requests() const noexcept { return requests_.size(); }
  size_t pending_slots() const noexcept { return slots_.size(); }
  size_t pending_batches() const noexcept { return batches_.size(); }
  /// Estimated response bytes of the batches alive (bounded by
  /// limits.response_memory_mib).
  uint64_t response_bytes_in_flight() const noexcept {
    return response_bytes_in_flight_;
  }
  /// Texts waiting in lane `l`'s queues for a batch (entries of requests answered
  /// meanwhile included until popped).
  size_t queued_texts(lane l) const noexcept {
    size_t n = 0;
    for (auto& k : keys_)
      n += k.lanes[static_cast<size_t>(l) & 1].size();
    return n;
  }
  /// Attempts holding a pipeline slot (permit, verdict or call outstanding).
  uint32_t active_attempts() const noexcept { return active_; }
  /// Entries in the timer heap (live and not yet compacted).
  size_t pending_timers() const noexcept { return timers_.size(); }

private:
  struct waiter {
    uint64_t request;
    uint32_t position;
  };

  /// `held`: answered with a vector whose length is not confirmed yet (see
  /// policy::dimension_learner); waits in its key's `held` list, in no batch.
  enum class slot_place : uint8_t { queued, batched, held };

  struct slot {
    std::string text;
    uint32_t key = 0;
    uint32_t tokens = 0;
    slot_place place = slot_place::queued;
    lane queued_lane = lane::interactive;
    uint64_t batch = 0;
    time_point queued_at;
    std::vector<waiter> waiters;
    /// Attempts spent on this text in earlier batches (a text re-sent on its own
    /// carries them on).
    uint32_t attempts = 0;
    /// Re-sends made only to confirm a length (not counted as attempts, bounded).
    uint32_t confirmations = 0;
    /// While held: the vector and its share of the response's usage.
    std::vector<float> held_vector;
    uint64_t held_prompt = 0;
    uint64_t held_total = 0;
  };

  struct request_state {
    lane admitted_lane = lane::interactive;
    bool waits_on_open_circuit = false;
    time_point deadline;
    uint32_t remaining = 0;
    std::string model;
    std::vector<uint64_t> slots;
    std::vector<std::vector<float>> results;
    embedding_usage usage;
  };

  enum class batch_stage : uint8_t {
    ready,          // in ready_, waiting for a pipeline slot
    waiting_permit, // acquire_permit outstanding
    waiting_breaker,
    in_pool,
    backing_off, // retry delay running
    parked,      // breaker open or half-open busy; waits without spending attempts
  };

  struct batch_state {
    uint32_t key = 0;
    /// Every slot of a batch comes from this lane (lanes never share a batch).
    lane batch_lane = lane::interactive;
    std::vector<uint64_t> slots;
    /// Its share of `response_bytes_in_flight_` (estimated, see `limits`).
    uint64_t response_bytes = 0;
    batch_stage stage = batch_stage::ready;
    uint64_t attempt = 0;
    uint32_t attempts = 0;
    uint32_t reserved_tokens = 0;
    uint64_t generation = 0;
    bool trial = false;
    uint64_t wake_epoch = 0;
    /// Slots sent with the current attempt, in `index` order.
    std::vector<uint64_t> sent;
    time_point deadline;
  };

  struct batch_key {
    std::string model;
    uint32_t dimensions;
    bool operator<(const batch_key& y) const {
      return model != y.model ? model < y.model : dimensions < y.dimensions;
    }
  };

  struct key_queues {
    batch_key key;
    std::deque<uint64_t> lanes[2];
    /// Live slots queued (both lanes).
    uint32_t live = 0;
    /// When the pending linger timer of this key fires (avoids re-arming it).
    time_point linger_at;
    /// The vector length: `dimensions` when configured, else learned by agreement
    /// (a model swapped behind the same name must not hand callers vectors of another
    /// length, and a first corrupt vector must not set the length).
    policy::dimension_learner dimension;
    /// Slots held until their length is confirmed, and when they are re-sent if no
    /// other response confirms it first.
    std::vector<uint64_t> held;
    time_point held_until = time_point::max();
  };

  // -- helpers ----------------------------------------------------------------------
  uint32_t key_index(const std::string& model, uint32_t dimensions);
  void enqueue_slot(uint64_t slot_id, slot& s, lane l, time_point now);
  void refuse(uint64_t id, embed_errc code, std::string message);
  void finish_request(uint64_t id, request_state& r);
  void fail_request(uint64_t id, embed_failure failure);
  void succeed_slot(uint64_t slot_id, std::vector<float>&& vec, uint64_t prompt_tokens,
                    uint64_t total_tokens);
  void release_slot_if_orphaned(uint64_t slot_id);
  void drop_waiter(uint64_t slot_id, uint64_t request);
  bool has_live_slots(const batch_state& b) const;
  time_point batch_deadline(const batch_state& b) const;
  void fail_batch(uint64_t batch_id, const embed_failure& failure);
  void fail_fast_waiters(batch_state& b, const embed_failure& failure);
  void erase_batch(uint64_t batch_id);
  void start_attempt(uint64_t batch_id, batch_state& b, time_point now);
  void send_call(uint64_t batch_id, batch_state& b, time_point now);
  void park(uint64_t batch_id, batch_state& b, time_point until);
  void wake_parked(time_point now);
  void handle_failure(uint64_t batch_id, batch_state& b, http_call_result& x,
                      time_point now);
  // batch_outcome.cpp: per-item outcomes, dimension learning, encoding tolerance.
  void deliver(uint64_t batch_id, batch_state& b, http_call_result& x, time_point now);
  void resend_alone(uint64_t slot_id, uint32_t attempts, const std::string& reason,
                    bool to_confirm, time_point now);
  void hold(uint32_t key, uint64_t slot_id, std::vector<float>&& vec, uint64_t prompt,
            uint64_t total, uint32_t attempts, time_point now);
  void release_held(uint32_t key, time_point now, bool timed_out);
  void note_encoding(const http_call_result& x);
  bool lane_has_room(lane l) const noexcept;
  uint64_t response_bytes_per_input(const key_queues& q) const noexcept;
  void bisect(uint64_t batch_id, batch_state& b);
  void pump(time_point now);
  bool form_batch(time_point now);
  uint64_t pop_slot(key_queues& q, lane l);
  lane pick_lane(const key_queues& q) const;
  void schedule(time_point at, timer_kind kind, uint64_t id, uint64_t epoch = 0);
  void request_wake();
  void grant_credits();
  uint32_t bulk_room() const noexcept;
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
  duration linger_;
  uint32_t window_;
  /// `limits.response_memory_mib` in bytes, and what the batches alive now take of it.
  uint64_t response_budget_;
  uint64_t response_bytes_in_flight_ = 0;
  uint32_t interactive_run_;
  /// Pipeline slots bulk batches may hold (window minus the interactive reserve).
  uint32_t bulk_window_;
  uint32_t active_lane_[2] = {0, 0};
  /// Inputs per batch, per lane.
  uint32_t max_inputs_[2];
  /// Consecutive responses in the other encoding than asked.
  uint32_t encoding_mismatch_streak_ = 0;

  std::unordered_map<uint64_t, request_state> requests_;
  std::unordered_map<uint64_t, slot> slots_;
  std::unordered_map<uint64_t, batch_state> batches_;
  std::unordered_map<uint64_t, uint64_t> attempts_; // attempt id -> batch id
  std::vector<key_queues> keys_;
  std::map<batch_key, uint32_t> key_ids_;
  /// (key, text) -> slot, for dedup; the text view points into the slot.
  struct dedup_key {
    uint32_t key;
    std::string_view text;
    bool operator==(const dedup_key& y) const { return key == y.key && text == y.text; }
  };
  struct dedup_hash {
    size_t operator()(const dedup_key& x) const noexcept;
  };
  std::unordered_map<dedup_key, uint64_t, dedup_hash> dedup_;
  std::deque<uint64_t> ready_;
  std::deque<uint64_t> parked_;
  std::deque<std::pair<uint64_t, uint32_t>> credit_waiters_;

  timer_queue timers_;
  time_point requested_wake_;
  uint64_t next_slot_ = 1;
  uint64_t next_batch_ = 1;
  uint64_t next_attempt_ = 1;
  uint32_t active_ = 0;
  uint32_t admitted_[2] = {0, 0};
  uint32_t reserved_credit_ = 0;
  uint32_t interactive_streak_ = 0;
  uint32_t next_key_ = 0;
  bool available_ = true;
  std::string unavailable_reason_;
  bool shutting_down_ = false;
  time_point grace_end_;
  shutdown_report shutdown_report_;
  runtime_counters counters_;
};

} // namespace embedrt::dispatch
