// Slots and dedup. A *slot* is one distinct text in flight, shared by identical texts
// of several requests when dedup is on (same model and dimensions, same bytes). Each
// slot lists its *waiters* (request, position); a slot nobody waits for any more is
// released. Plain data structure: no clock, no effects.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "src/policy/clock.hpp"
#include <embedrt/embedding.hpp>

namespace embedrt::dispatch {

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
  policy::time_point queued_at;
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

class slot_table {
public:
  explicit slot_table(bool dedup) : dedup_(dedup) {}

  struct added {
    uint64_t id;
    /// True: the text joined a slot already in flight (dedup); false: a new slot,
    /// not queued yet.
    bool joined;
  };

  /// Adds waiter `w` for `text` under `key`: joins an identical slot in flight or
  /// creates one (with `tokens`, queued at `now`).
  added add(uint32_t key, std::string&& text, uint32_t tokens, waiter w,
            policy::time_point now);

  slot* find(uint64_t id) {
    auto i = slots_.find(id);
    return i == slots_.end() ? nullptr : &i->second;
  }
  const slot* find(uint64_t id) const {
    auto i = slots_.find(id);
    return i == slots_.end() ? nullptr : &i->second;
  }
  slot& at(uint64_t id) { return slots_.at(id); }

  /// Exists and somebody still waits for it.
  bool live(uint64_t id) const {
    auto s = find(id);
    return s != nullptr && !s->waiters.empty();
  }

  /// Request `request` no longer waits for slot `id`.
  void drop_waiter(uint64_t id, uint64_t request);

  /// Erases slot `id` if nobody waits for it; returns true if it was erased while
  /// queued (its key's queued count must drop).
  bool release_if_orphaned(uint64_t id);

  /// Erases slot `id` and returns its waiters (it got its vector).
  std::vector<waiter> take(uint64_t id);

  size_t size() const noexcept { return slots_.size(); }

private:
  struct dedup_key {
    uint32_t key;
    std::string_view text; // points into the slot
    bool operator==(const dedup_key& y) const { return key == y.key && text == y.text; }
  };
  struct dedup_hash {
    size_t operator()(const dedup_key& x) const noexcept;
  };

  bool dedup_;
  uint64_t next_ = 1;
  std::unordered_map<uint64_t, slot> slots_;
  std::unordered_map<dedup_key, uint64_t, dedup_hash> index_;
};

} // namespace embedrt::dispatch
