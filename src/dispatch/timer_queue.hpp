// A min-heap of (time, kind, id) with lazy deletion: entries are never removed early;
// whoever pops one checks whether it still applies. One actor timer (the earliest
// entry) replaces thousands of CAF delayed messages, whose cancellation is linear in
// CAF 0.17's clock.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "src/policy/clock.hpp"

namespace embedrt::dispatch {

enum class timer_kind : uint8_t {
  request_deadline,
  batch_wake,
  linger_end,
  grace_end,
  /// Held slots of key `id` are re-sent (no other response confirmed their length).
  held_end,
};

struct timer_entry {
  policy::time_point at;
  timer_kind kind;
  uint64_t id;
  /// Distinguishes re-arms of the same object (e.g. a batch parked twice).
  uint64_t epoch;
};

class timer_queue {
public:
  void push(timer_entry x) {
    heap_.push_back(x);
    std::push_heap(heap_.begin(), heap_.end(), later{});
  }

  bool empty() const noexcept { return heap_.empty(); }

  const timer_entry& top() const { return heap_.front(); }

  void pop() {
    std::pop_heap(heap_.begin(), heap_.end(), later{});
    heap_.pop_back();
  }

  size_t size() const noexcept { return heap_.size(); }

  /// Drops every entry for which `keep` returns false.
  template<class Predicate>
  void compact(Predicate keep) {
    heap_.erase(std::remove_if(heap_.begin(), heap_.end(),
                               [&](const timer_entry& e) { return !keep(e); }),
                heap_.end());
    std::make_heap(heap_.begin(), heap_.end(), later{});
  }

private:
  struct later {
    bool operator()(const timer_entry& x, const timer_entry& y) const noexcept {
      return x.at > y.at;
    }
  };
  std::vector<timer_entry> heap_;
};

} // namespace embedrt::dispatch
