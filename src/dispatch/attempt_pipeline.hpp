// The batches alive and their attempts: permit -> verdict -> call -> outcome. At most
// `http_pool.max_connections` attempts hold a pipeline slot at once (a permit, verdict
// or call outstanding), and bulk batches may not take the last
// `limits.interactive_reserved_attempts` of them. A batch waits in `ready` for a slot,
// `backing_off` for a retry delay, or `parked` while the breaker turns it away.
//
// Every attempt leaves the pipeline through `end` (answered, refused or abandoned), so
// the slot count cannot drift. Plain code: no clock (stage changes carry `now` and
// return the time spent in the stage before), no messages.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>
#include <vector>

#include "src/policy/clock.hpp"
#include <embedrt/embedding.hpp>

namespace embedrt::dispatch {

enum class batch_stage : uint8_t {
  ready,           // in the ready queue, waiting for a pipeline slot
  waiting_permit,  // acquire_permit outstanding
  waiting_breaker, // breaker_check outstanding
  in_flight,       // http_call sent to a worker
  backing_off,     // retry delay running
  parked,          // breaker open or half-open busy; waits without spending attempts
};

struct batch_state {
  uint32_t key = 0;
  /// Every slot of a batch comes from this lane (lanes never share a batch).
  lane batch_lane = lane::interactive;
  std::vector<uint64_t> slots;
  /// Its share of the response memory budget (estimated).
  uint64_t response_bytes = 0;
  batch_stage stage = batch_stage::ready;
  /// When it entered `stage`.
  policy::time_point stage_since;
  uint64_t attempt = 0;
  uint32_t attempts = 0;
  uint32_t reserved_tokens = 0;
  uint64_t generation = 0;
  bool trial = false;
  uint64_t wake_epoch = 0;
  /// Slots sent with the current attempt, in `index` order.
  std::vector<uint64_t> sent;
  policy::time_point deadline;
};

class attempt_pipeline {
public:
  /// `window`: pipeline slots; `interactive_reserve`: slots bulk may not take (bulk
  /// always keeps one).
  attempt_pipeline(uint32_t window, uint32_t interactive_reserve);

  // -- batches ----------------------------------------------------------------------

  /// Stores a new batch (in no queue yet) and returns its id.
  uint64_t add(batch_state b);
  batch_state* find(uint64_t id) {
    auto i = batches_.find(id);
    return i == batches_.end() ? nullptr : &i->second;
  }
  /// Removes batch `id` (ending its attempt, if any) and returns it.
  std::optional<batch_state> remove(uint64_t id);
  const std::unordered_map<uint64_t, batch_state>& batches() const { return batches_; }
  size_t size() const noexcept { return batches_.size(); }
  uint64_t bytes_in_flight() const noexcept { return bytes_; }

  /// Queues batch `id` for a pipeline slot (behind the others).
  void make_ready(uint64_t id, batch_state& b, policy::time_point now);
  /// Waits for a breaker change; returns the new wake epoch.
  uint64_t park(uint64_t id, batch_state& b, policy::time_point now);
  /// Waits for a timer; returns the new wake epoch.
  uint64_t back_off(batch_state& b, policy::time_point now);
  /// Every parked batch goes back to `ready`.
  void wake_parked(policy::time_point now);
  /// The oldest ready batch whose lane has room, taken out of the ready queue.
  std::optional<uint64_t> next_ready();

  // -- attempts ---------------------------------------------------------------------

  bool has_room(lane l) const noexcept {
    return active_ < window_
           && (l == lane::interactive || active_lane_[1] < bulk_window_);
  }
  bool full() const noexcept { return active_ >= window_; }
  uint32_t active() const noexcept { return active_; }
  uint32_t active_in(lane l) const noexcept {
    return active_lane_[static_cast<size_t>(l)];
  }

  /// Takes a pipeline slot for a new attempt of batch `id` (waiting for its permit);
  /// returns the attempt id (the ticket).
  uint64_t begin(uint64_t id, batch_state& b, policy::time_point now);
  /// The batch of attempt `ticket`, if that attempt is still current; with `stage`,
  /// only while the batch is in it.
  std::pair<uint64_t, batch_state*> attempt(uint64_t ticket);
  std::pair<uint64_t, batch_state*> attempt(uint64_t ticket, batch_stage stage);
  /// Moves to the next stage; returns the time spent in the one before.
  policy::duration advance(batch_state& b, batch_stage to, policy::time_point now);
  /// The attempt leaves the pipeline (answered, refused or abandoned): the one place
  /// that gives its slot back.
  void end(batch_state& b);

private:
  uint32_t window_;
  uint32_t bulk_window_;
  uint32_t active_ = 0;
  uint32_t active_lane_[2] = {0, 0};
  uint64_t bytes_ = 0;
  uint64_t next_batch_ = 1;
  uint64_t next_attempt_ = 1;
  std::unordered_map<uint64_t, batch_state> batches_;
  std::unordered_map<uint64_t, uint64_t> attempts_; // attempt id -> batch id
  std::deque<uint64_t> ready_;
  std::deque<uint64_t> parked_;
};

} // namespace embedrt::dispatch
