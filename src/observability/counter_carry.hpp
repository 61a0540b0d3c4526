// Counters that outlive the actor counting them. The runtime owns one slot per
// restartable component (supervisor_state); the actor starts from the slot's totals
// and, when its state is destroyed (also when it failed), writes its totals back. CAF
// destroys an actor's state in on_exit, before the monitors get the down message, so
// the supervisor and the successor read the slot only after the write (ordered by that
// message and by the spawn). One writer at a time: the component's one incarnation.
#pragma once

#include <memory>

#include <embedrt/observability.hpp>

namespace embedrt::observability {

class counter_carry {
public:
  counter_carry() = default;

  /// Starts `live` from the slot's totals and hands them back on destruction.
  counter_carry(std::shared_ptr<runtime_counters> slot, runtime_counters& live)
    : slot_(std::move(slot)), live_(&live) {
    if (slot_)
      *live_ = base_ = *slot_;
  }

  counter_carry(const counter_carry&) = delete;
  counter_carry& operator=(const counter_carry&) = delete;

  counter_carry& operator=(counter_carry&& other) noexcept {
    slot_ = std::move(other.slot_);
    live_ = other.live_;
    base_ = other.base_;
    other.live_ = nullptr;
    return *this;
  }

  ~counter_carry() {
    if (slot_ && live_)
      *slot_ = *live_;
  }

  /// The totals of the predecessors (for counters set from a policy's own count).
  const runtime_counters& base() const noexcept { return base_; }

private:
  std::shared_ptr<runtime_counters> slot_;
  runtime_counters* live_ = nullptr;
  runtime_counters base_;
};

} // namespace embedrt::observability
