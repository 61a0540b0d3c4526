#include "src/dispatch/attempt_pipeline.hpp"

#include <algorithm>

namespace embedrt::dispatch {

attempt_pipeline::attempt_pipeline(uint32_t window, uint32_t interactive_reserve)
  : window_(std::max(1u, window)) {
  // Bulk always keeps one slot, so a reserve as large as the window cannot stall it.
  bulk_window_ = window_ - std::min(interactive_reserve, window_ - 1);
}

uint64_t attempt_pipeline::add(batch_state b) {
  auto id = next_batch_++;
  bytes_ += b.response_bytes;
  batches_.emplace(id, std::move(b));
  return id;
}

std::optional<batch_state> attempt_pipeline::remove(uint64_t id) {
  auto it = batches_.find(id);
  if (it == batches_.end())
    return std::nullopt;
  auto b = std::move(it->second);
  batches_.erase(it);
  end(b);
  bytes_ -= b.response_bytes;
  return b;
}

void attempt_pipeline::make_ready(uint64_t id, batch_state& b, policy::time_point now) {
  b.stage = batch_stage::ready;
  b.stage_since = now;
  ready_.push_back(id);
}

uint64_t attempt_pipeline::park(uint64_t id, batch_state& b, policy::time_point now) {
  b.stage = batch_stage::parked;
  b.stage_since = now;
  parked_.push_back(id);
  return ++b.wake_epoch;
}

uint64_t attempt_pipeline::back_off(batch_state& b, policy::time_point now) {
  b.stage = batch_stage::backing_off;
  b.stage_since = now;
  return ++b.wake_epoch;
}

void attempt_pipeline::wake_parked(policy::time_point now) {
  auto ids = std::move(parked_);
  parked_.clear();
  for (auto id : ids)
    if (auto b = find(id); b != nullptr && b->stage == batch_stage::parked)
      make_ready(id, *b, now);
}

std::optional<uint64_t> attempt_pipeline::next_ready() {
  // Ready batches keep their order; bulk ones are skipped while bulk has no room.
  for (auto i = ready_.begin(); i != ready_.end();) {
    auto b = find(*i);
    if (b == nullptr || b->stage != batch_stage::ready) {
      i = ready_.erase(i);
      continue;
    }
    if (!has_room(b->batch_lane)) {
      ++i;
      continue;
    }
    auto id = *i;
    ready_.erase(i);
    return id;
  }
  return std::nullopt;
}

uint64_t attempt_pipeline::begin(uint64_t id, batch_state& b, policy::time_point now) {
  b.attempt = next_attempt_++;
  attempts_.emplace(b.attempt, id);
  b.stage = batch_stage::waiting_permit;
  b.stage_since = now;
  ++active_;
  ++active_lane_[static_cast<size_t>(b.batch_lane)];
  return b.attempt;
}

std::pair<uint64_t, batch_state*> attempt_pipeline::attempt(uint64_t ticket) {
  auto at = attempts_.find(ticket);
  if (at == attempts_.end())
    return {0, nullptr};
  auto b = find(at->second);
  if (b == nullptr || b->attempt != ticket)
    return {0, nullptr};
  return {at->second, b};
}

std::pair<uint64_t, batch_state*> attempt_pipeline::attempt(uint64_t ticket,
                                                            batch_stage stage) {
  auto found = attempt(ticket);
  if (found.second == nullptr || found.second->stage != stage)
    return {0, nullptr};
  return found;
}

policy::duration attempt_pipeline::advance(batch_state& b, batch_stage to,
                                           policy::time_point now) {
  auto spent = now - b.stage_since;
  b.stage = to;
  b.stage_since = now;
  return spent;
}

void attempt_pipeline::end(batch_state& b) {
  if (b.attempt == 0)
    return;
  attempts_.erase(b.attempt);
  b.attempt = 0;
  --active_;
  --active_lane_[static_cast<size_t>(b.batch_lane)];
}

} // namespace embedrt::dispatch
