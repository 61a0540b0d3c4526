#include "src/dispatch/slot_table.hpp"

#include <algorithm>
#include <functional>

namespace embedrt::dispatch {

size_t slot_table::dedup_hash::operator()(const dedup_key& x) const noexcept {
  return std::hash<std::string_view>{}(x.text)
         ^ (size_t{x.key} * 0x9E3779B97F4A7C15ull);
}

slot_table::added slot_table::add(uint32_t key, std::string&& text, uint32_t tokens,
                                  waiter w, policy::time_point now) {
  if (dedup_) {
    if (auto hit = index_.find(dedup_key{key, text}); hit != index_.end()) {
      slots_.at(hit->second).waiters.push_back(w);
      return {hit->second, true};
    }
  }
  auto id = next_++;
  auto& s = slots_[id];
  s.text = std::move(text);
  s.key = key;
  s.tokens = tokens;
  s.waiters.push_back(w);
  s.queued_at = now;
  if (dedup_)
    index_.emplace(dedup_key{key, s.text}, id);
  return {id, false};
}

void slot_table::drop_waiter(uint64_t id, uint64_t request) {
  auto s = find(id);
  if (s == nullptr)
    return;
  auto& ws = s->waiters;
  ws.erase(std::remove_if(ws.begin(), ws.end(),
                          [&](const waiter& w) { return w.request == request; }),
           ws.end());
}

bool slot_table::release_if_orphaned(uint64_t id) {
  auto it = slots_.find(id);
  if (it == slots_.end() || !it->second.waiters.empty())
    return false;
  bool queued = it->second.place == slot_place::queued;
  if (dedup_)
    index_.erase(dedup_key{it->second.key, it->second.text});
  // A batch that still lists the slot skips it: batches check that slots exist.
  slots_.erase(it);
  return queued;
}

std::vector<waiter> slot_table::take(uint64_t id) {
  auto it = slots_.find(id);
  if (it == slots_.end())
    return {};
  auto waiters = std::move(it->second.waiters);
  if (dedup_)
    index_.erase(dedup_key{it->second.key, it->second.text});
  slots_.erase(it);
  return waiters;
}

} // namespace embedrt::dispatch
