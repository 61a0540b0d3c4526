// Forms upstream requests (batches) from queued slots: one queue pair (interactive,
// bulk) per (model, dimensions) key, round robin over keys, lane fairness (bulk keeps
// `limits.bulk_min_share_percent` of the batches while interactive texts wait), a
// linger bound (a partial batch waits for company only while others of its lane are
// in flight) and the response memory budget. Plain code: `now` and the pipeline's room
// come in, a decision goes out; timers are the caller's.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "src/dispatch/slot_table.hpp"
#include "src/policy/clock.hpp"
#include "src/policy/dimension_learner.hpp"
#include <embedrt/embedding.hpp>
#include <embedrt/runtime_config.hpp>

namespace embedrt::dispatch {

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
  policy::time_point linger_at;
  /// The vector length: `dimensions` when configured, else learned by agreement
  /// (a model swapped behind the same name must not hand callers vectors of another
  /// length, and a first corrupt vector must not set the length).
  policy::dimension_learner dimension;
  /// Slots held until their length is confirmed, and when they are re-sent if no
  /// other response confirms it first.
  std::vector<uint64_t> held;
  policy::time_point held_until = policy::time_point::max();
};

/// What the attempt pipeline can take now.
struct pipeline_room {
  /// A bulk batch may start (bulk may not take the interactive reserve).
  bool bulk = true;
  /// Attempts in the pipeline, in all and per lane.
  uint32_t active = 0;
  uint32_t active_lane[2] = {0, 0};
  /// Estimated response bytes of the batches alive.
  uint64_t bytes_in_flight = 0;
};

struct formed_batch {
  enum class verdict : uint8_t {
    /// Nothing queued that may start now.
    nothing,
    /// A partial batch waits for company; arm a timer at `linger_until` if set.
    lingering,
    /// The response memory budget is full: wait for a batch to end.
    over_budget,
    /// Only stale queue entries were found (dropped): ask again.
    stale,
    formed,
  };
  verdict what = verdict::nothing;
  uint32_t key = 0;
  lane batch_lane = lane::interactive;
  std::vector<uint64_t> slots;
  uint64_t response_bytes = 0;
  /// Set with `lingering` when a new timer is needed.
  policy::time_point linger_until = policy::time_point::max();
};

class batch_former {
public:
  explicit batch_former(const runtime_config& cfg);

  /// The queue pair of (model, dimensions), created on first use.
  uint32_t key_index(const std::string& model, uint32_t dimensions);
  key_queues& key(uint32_t k) { return keys_[k]; }
  const key_queues& key(uint32_t k) const { return keys_[k]; }
  size_t key_count() const noexcept { return keys_.size(); }

  /// Queues slot `id` in lane `l` of its key.
  void enqueue(uint64_t id, slot& s, lane l);
  /// An interactive caller now waits for a text queued in bulk: it moves ahead.
  void promote(uint64_t id, slot& s);
  /// A queued slot was released (nobody waits for it any more).
  void forget_queued(uint32_t k) { --keys_[k].live; }

  /// Estimated response bytes per input of key `k` in `encoding`.
  uint64_t bytes_per_input(uint32_t k, encoding_format encoding) const noexcept;

  /// Forms the next batch (marking its slots batched in `slots`) or says why not.
  formed_batch form(slot_table& slots, const pipeline_room& room,
                    encoding_format encoding, policy::time_point now);

private:
  lane pick_lane(const key_queues& q, bool bulk_room) const;
  uint64_t pop_slot(slot_table& slots, key_queues& q, lane l);

  bool batching_;
  policy::duration linger_;
  uint32_t max_inputs_[2];
  uint32_t max_tokens_;
  uint64_t response_budget_;
  /// Interactive batches in a row before a bulk one while both wait.
  uint32_t interactive_run_;
  uint32_t interactive_streak_ = 0;
  uint32_t next_key_ = 0;
  std::vector<key_queues> keys_;
  std::map<batch_key, uint32_t> key_ids_;
};

} // namespace embedrt::dispatch
