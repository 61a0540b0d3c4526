// The one admission point: how many requests each lane holds (in a mailbox or in the
// dispatcher), bounded by `limits.interactive_capacity` / `limits.bulk_capacity`.
// Owned by the runtime and shared with the dispatcher; lock-free (std::atomic only),
// so host threads in `runtime::embed` enter it without a message.
//
// A request enters once, before anything else (`runtime::embed` before it sends, the
// dispatcher for a CAF host's `embed_request`), and leaves exactly once, when its
// answer is delivered. Bulk credit takes places of the bulk lane ahead of time: a
// request that uses a credit takes over the credit's place instead of entering.
#pragma once

#include <atomic>
#include <cstdint>

#include <embedrt/embedding.hpp>

namespace embedrt::dispatch {

class admission_gate {
public:
  admission_gate(uint32_t interactive_capacity, uint32_t bulk_capacity) noexcept
    : capacity_{interactive_capacity, bulk_capacity} {}

  admission_gate(const admission_gate&) = delete;
  admission_gate& operator=(const admission_gate&) = delete;

  /// Takes a place in lane `l`; false (counted as shed) when the lane is full.
  bool try_enter(lane l) noexcept {
    auto i = index(l);
    if (!take(i, 1)) {
      shed_[i].fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    entered_[i].fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  /// Gives back the place of a request that got its answer.
  void leave(lane l) noexcept { give(index(l), 1); }

  /// Takes up to `want` places of the bulk lane as credit; returns how many (0: full).
  uint32_t take_credit(uint32_t want) noexcept {
    auto& o = occupied_[1];
    auto cur = o.load(std::memory_order_relaxed);
    for (;;) {
      auto cap = capacity_[1];
      if (cur >= cap || want == 0)
        return 0;
      auto n = want < cap - cur ? want : cap - cur;
      if (o.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed)) {
        credits_.fetch_add(n, std::memory_order_relaxed);
        return n;
      }
    }
  }

  /// A credit holder's request takes over one credit's place; false when no credit
  /// is out (the request must then enter like any other).
  bool use_credit() noexcept {
    auto cur = credits_.load(std::memory_order_relaxed);
    while (cur > 0)
      if (credits_.compare_exchange_weak(cur, cur - 1, std::memory_order_relaxed)) {
        entered_[1].fetch_add(1, std::memory_order_relaxed);
        return true;
      }
    return false;
  }

  /// Gives back up to `n` unused credits; returns how many were out.
  uint32_t return_credit(uint32_t n) noexcept {
    auto cur = credits_.load(std::memory_order_relaxed);
    for (;;) {
      auto k = n < cur ? n : cur;
      if (k == 0)
        return 0;
      if (credits_.compare_exchange_weak(cur, cur - k, std::memory_order_relaxed)) {
        give(1, k);
        return k;
      }
    }
  }

  uint32_t capacity(lane l) const noexcept { return capacity_[index(l)]; }
  /// Places taken: requests entered and not answered yet, plus (bulk) credits out.
  uint32_t occupied(lane l) const noexcept {
    return occupied_[index(l)].load(std::memory_order_relaxed);
  }
  uint32_t room(lane l) const noexcept {
    auto o = occupied(l);
    return o >= capacity(l) ? 0 : capacity(l) - o;
  }
  uint32_t credits_out() const noexcept {
    return credits_.load(std::memory_order_relaxed);
  }
  /// Requests that took a place (by entering or with a credit), and requests shed.
  uint64_t entered(lane l) const noexcept {
    return entered_[index(l)].load(std::memory_order_relaxed);
  }
  uint64_t shed(lane l) const noexcept {
    return shed_[index(l)].load(std::memory_order_relaxed);
  }
  uint64_t shed_total() const noexcept {
    return shed(lane::interactive) + shed(lane::bulk);
  }

private:
  static size_t index(lane l) noexcept { return l == lane::bulk ? 1 : 0; }

  bool take(size_t i, uint32_t n) noexcept {
    auto& o = occupied_[i];
    auto cur = o.load(std::memory_order_relaxed);
    do {
      if (cur + n > capacity_[i])
        return false;
    } while (!o.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed));
    return true;
  }

  void give(size_t i, uint32_t n) noexcept {
    occupied_[i].fetch_sub(n, std::memory_order_relaxed);
  }

  const uint32_t capacity_[2];
  std::atomic<uint32_t> occupied_[2] = {0, 0};
  std::atomic<uint32_t> credits_{0};
  std::atomic<uint64_t> entered_[2] = {0, 0};
  std::atomic<uint64_t> shed_[2] = {0, 0};
};

} // namespace embedrt::dispatch
