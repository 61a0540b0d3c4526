#include "src/dispatch/worker_router.hpp"

#include <algorithm>

namespace embedrt::dispatch {

void worker_router::add(worker_id id, uint32_t capacity) {
  workers_[id] = worker{std::max(1u, capacity), 0};
}

std::vector<uint64_t> worker_router::remove(worker_id id) {
  std::vector<uint64_t> lost;
  if (workers_.erase(id) == 0)
    return lost;
  for (auto i = assigned_.begin(); i != assigned_.end();) {
    if (i->second == id) {
      lost.push_back(i->first);
      i = assigned_.erase(i);
    } else {
      ++i;
    }
  }
  return lost;
}

void worker_router::submit(http_call call) {
  waiting_.push_back(std::move(call));
}

std::optional<worker_router::routed> worker_router::next() {
  if (waiting_.empty())
    return std::nullopt;
  worker* best = nullptr;
  worker_id best_id = 0;
  for (auto& [id, w] : workers_)
    if (w.in_flight < w.capacity
        && (best == nullptr || w.in_flight < best->in_flight)) {
      best = &w;
      best_id = id;
    }
  if (best == nullptr)
    return std::nullopt;
  ++best->in_flight;
  routed r{std::move(waiting_.front()), best_id};
  waiting_.pop_front();
  assigned_.emplace(r.call.attempt_id, best_id);
  return r;
}

bool worker_router::finish(uint64_t attempt) {
  auto i = assigned_.find(attempt);
  if (i == assigned_.end())
    return false;
  if (auto w = workers_.find(i->second); w != workers_.end() && w->second.in_flight > 0)
    --w->second.in_flight;
  assigned_.erase(i);
  return true;
}

std::vector<uint64_t> worker_router::expire(policy::time_point now) {
  std::vector<uint64_t> expired;
  for (auto i = waiting_.begin(); i != waiting_.end();) {
    if (i->deadline <= now) {
      expired.push_back(i->attempt_id);
      i = waiting_.erase(i);
    } else {
      ++i;
    }
  }
  return expired;
}

policy::time_point worker_router::next_deadline() const {
  auto result = policy::time_point::max();
  for (auto& c : waiting_)
    result = std::min(result, c.deadline);
  return result;
}

} // namespace embedrt::dispatch
