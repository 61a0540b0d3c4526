#include "src/dispatch/admission.hpp"

#include <algorithm>

namespace embedrt::dispatch {

admission::admission(const runtime_config& cfg, std::shared_ptr<admission_gate> gate)
  : gate_(gate ? std::move(gate)
               : std::make_shared<admission_gate>(cfg.limits.interactive_capacity,
                                                  cfg.limits.bulk_capacity)) {}

bool admission::enter(lane l, admission_path path, admission_ticket& ticket,
                      std::string& why) {
  ticket.admitted_lane = l;
  ticket.dispatcher_leaves = true;
  if (path == admission_path::entered) {
    ticket.dispatcher_leaves = false;
    return true;
  }
  if (path == admission_path::credit && l == lane::bulk && gate_->use_credit())
    return true;
  if (gate_->try_enter(l))
    return true;
  why = "the " + std::string{to_string(l)} + " lane is full ("
        + std::to_string(gate_->capacity(l)) + " requests"
        + (l == lane::bulk ? " and credits" : "") + " admitted)";
  return false;
}

void admission::leave(const admission_ticket& ticket) {
  if (ticket.dispatcher_leaves)
    gate_->leave(ticket.admitted_lane);
}

void admission::wait_for_credit(uint64_t waiter, uint32_t max_requests) {
  waiters_.emplace_back(waiter, std::max(1u, max_requests));
}

std::vector<uint64_t> admission::take_waiters() {
  std::vector<uint64_t> ids;
  ids.reserve(waiters_.size());
  for (auto& w : waiters_)
    ids.push_back(w.first);
  waiters_.clear();
  return ids;
}

} // namespace embedrt::dispatch
