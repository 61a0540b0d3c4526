#include "src/dispatch/batch_former.hpp"

#include <algorithm>

namespace embedrt::dispatch {

batch_former::batch_former(const runtime_config& cfg)
  : batching_(cfg.batching.enabled),
    linger_(std::chrono::microseconds{cfg.batching.linger_us}),
    max_tokens_(cfg.batching.max_tokens),
    response_budget_(uint64_t{std::max(1u, cfg.limits.response_memory_mib)} << 20) {
  auto share = std::clamp(cfg.limits.bulk_min_share_percent, 1u, 100u);
  interactive_run_ = (100 - share) / share;
  max_inputs_[0] = std::max(1u, cfg.batching.max_inputs);
  max_inputs_[1] = std::clamp(cfg.batching.bulk_max_inputs, 1u, max_inputs_[0]);
}

uint32_t batch_former::key_index(const std::string& model, uint32_t dimensions) {
  batch_key k{model, dimensions};
  if (auto i = key_ids_.find(k); i != key_ids_.end())
    return i->second;
  auto id = static_cast<uint32_t>(keys_.size());
  key_queues q{k,
               {},
               0,
               policy::time_point{},
               policy::dimension_learner{dimensions, model},
               {},
               policy::time_point::max()};
  keys_.push_back(std::move(q));
  key_ids_.emplace(std::move(k), id);
  return id;
}

void batch_former::enqueue(uint64_t id, slot& s, lane l) {
  s.place = slot_place::queued;
  s.queued_lane = l;
  s.batch = 0;
  auto& q = keys_[s.key];
  q.lanes[static_cast<size_t>(l)].push_back(id);
  ++q.live;
}

void batch_former::promote(uint64_t id, slot& s) {
  if (s.place != slot_place::queued || s.queued_lane != lane::bulk)
    return;
  // The bulk entry goes stale (pop_slot skips it).
  s.queued_lane = lane::interactive;
  keys_[s.key].lanes[0].push_back(id);
}

uint64_t batch_former::bytes_per_input(uint32_t k,
                                       encoding_format encoding) const noexcept {
  auto& q = keys_[k];
  // Before the first answer the dimension is unknown: assume the common 1536.
  uint64_t dims = q.dimension.confirmed() != 0 ? q.dimension.confirmed() : 1536;
  // The body's text (base64: 16/3 bytes per float; float text: ~13) plus the decoded
  // float32 copy that lives beside it while the body is parsed, plus the JSON around.
  uint64_t text = encoding == encoding_format::base64 ? dims * 16 / 3 : dims * 13;
  return text + dims * 4 + 64;
}

lane batch_former::pick_lane(const key_queues& q, bool bulk_room) const {
  bool interactive = !q.lanes[0].empty();
  bool bulk = !q.lanes[1].empty() && bulk_room;
  if (interactive && bulk)
    return interactive_streak_ >= interactive_run_ ? lane::bulk : lane::interactive;
  return interactive ? lane::interactive : lane::bulk;
}

uint64_t batch_former::pop_slot(slot_table& slots, key_queues& q, lane l) {
  auto& dq = q.lanes[static_cast<size_t>(l)];
  while (!dq.empty()) {
    auto sid = dq.front();
    dq.pop_front();
    auto s = slots.find(sid);
    if (s == nullptr)
      continue; // answered or abandoned meanwhile
    if (s->place != slot_place::queued || s->queued_lane != l)
      continue; // stale entry: promoted to the other lane, or already batched
    return sid;
  }
  return 0;
}

formed_batch batch_former::form(slot_table& slots, const pipeline_room& room,
                                encoding_format encoding, policy::time_point now) {
  using verdict = formed_batch::verdict;
  formed_batch out;
  // Round robin over keys with queued texts in a lane that may start a batch now.
  key_queues* q = nullptr;
  uint32_t k = 0;
  for (uint32_t i = 0; i < keys_.size(); ++i) {
    k = (next_key_ + i) % static_cast<uint32_t>(keys_.size());
    auto& c = keys_[k];
    if (c.live > 0 && (!c.lanes[0].empty() || (room.bulk && !c.lanes[1].empty()))) {
      q = &keys_[k];
      break;
    }
  }
  if (q == nullptr)
    return out;
  next_key_ = k + 1;
  // One lane per batch: an interactive text never waits inside a bulk batch.
  auto l = pick_lane(*q, room.bulk);
  auto li = static_cast<size_t>(l);
  auto& dq = q->lanes[li];
  auto max_inputs = max_inputs_[li];
  // Linger: while other attempts of this lane are in flight, a partial batch may wait
  // a little for company. A lone request never waits, nor does an interactive text
  // because bulk is busy.
  if (batching_ && linger_.count() > 0 && room.active_lane[li] > 0
      && dq.size() < max_inputs) {
    auto oldest = policy::time_point::max();
    for (auto sid : dq)
      if (auto s = slots.find(sid)) {
        oldest = s->queued_at;
        break;
      }
    if (oldest != policy::time_point::max() && now < oldest + linger_) {
      out.what = verdict::lingering;
      if (q->linger_at != oldest + linger_) {
        q->linger_at = oldest + linger_;
        out.key = k;
        out.linger_until = q->linger_at;
      }
      return out;
    }
  }
  // Memory: the responses of every batch alive must fit the budget. A first batch
  // always goes (one input at least), so a tiny budget slows down, never stalls.
  auto per_input = bytes_per_input(k, encoding);
  if (room.active > 0 && room.bytes_in_flight + per_input > response_budget_) {
    out.what = verdict::over_budget;
    return out;
  }
  uint32_t tokens = 0;
  uint64_t first_request = 0;
  while (out.slots.size() < max_inputs) {
    auto sid = pop_slot(slots, *q, l);
    if (sid == 0)
      break;
    auto& s = slots.at(sid);
    if (!out.slots.empty()) {
      bool over_tokens = tokens + s.tokens > max_tokens_;
      bool over_memory = room.bytes_in_flight + (out.slots.size() + 1) * per_input
                         > response_budget_;
      // Without batching, an upstream request carries the texts of one caller only.
      bool other_caller = !batching_ && s.waiters.front().request != first_request;
      if (over_tokens || over_memory || other_caller) {
        dq.push_front(sid);
        break;
      }
    } else {
      first_request = s.waiters.front().request;
    }
    s.place = slot_place::batched;
    --q->live;
    tokens += s.tokens;
    out.slots.push_back(sid);
  }
  if (out.slots.empty()) {
    out.what = verdict::stale;
    return out;
  }
  if (l == lane::interactive && !q->lanes[1].empty())
    ++interactive_streak_;
  else
    interactive_streak_ = 0;
  out.what = verdict::formed;
  out.key = k;
  out.batch_lane = l;
  out.response_bytes = out.slots.size() * per_input;
  return out;
}

} // namespace embedrt::dispatch
