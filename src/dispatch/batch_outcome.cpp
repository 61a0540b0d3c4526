// What the dispatcher does with a usable 2xx response: per-item outcomes, dimension
// learning and encoding tolerance (issue 9 B, C, F). Split from dispatcher_core.cpp to
// keep both readable; same class, same rules (no clock, no messages: `effects` only).
//
// - Every good vector goes to its callers at once, whatever its neighbours look like.
// - A refused item (the codec's verdict: wrong length, NaN, bad base64; or a length
//   other than the key's confirmed dimension) is re-sent on its own. Each re-send is an
//   attempt of that text: it counts against `retry.max_attempts`, the retry budget and
//   the deadline like any retry; when none is left, its callers get `bad_response`
//   with the reason.
// - Without `dimensions`, vectors of a length not confirmed yet are *held* (never
//   delivered). The next response that confirms the length releases them (good ones
//   delivered, others re-sent); if none comes within `held_wait`, they are re-sent to
//   get another opinion. Such a confirmation re-send is not an attempt of the text
//   (nothing was wrong with it) but there are at most `max_confirmations` per text;
//   after that the text is re-sent as a refused item (an attempt) and, when none is
//   left, fails `bad_response`.
// - An upstream that answers base64 requests with float arrays (or the reverse) is
//   decoded all the same; after `encoding_switch_after` such responses in a row, it is
//   asked for floats from then on.
#include <algorithm>

#include "src/dispatch/dispatcher_core.hpp"

namespace embedrt::dispatch {

namespace {

/// How long vectors of an unconfirmed length wait for another response to confirm
/// their length before they are re-sent for a second opinion.
constexpr duration held_wait = std::chrono::milliseconds{50};

/// Re-sends of one text made only to confirm an unknown length.
constexpr uint32_t max_confirmations = 4;

/// Responses in a row in the other encoding after which base64 is no longer asked.
constexpr uint32_t encoding_switch_after = 3;

} // namespace

void dispatcher_core::note_encoding(const http_call_result& x) {
  if (x.encoding_mismatches == 0) {
    encoding_mismatch_streak_ = 0;
    return;
  }
  ++counters_.responses_encoding_mismatch;
  if (++encoding_mismatch_streak_ >= encoding_switch_after
      && encoding_ == encoding_format::base64) {
    encoding_ = encoding_format::float_array;
    fx_.publish(event_kind::encoding_switched,
                "base64->float: " + std::to_string(encoding_mismatch_streak_)
                  + " responses in a row answered base64 requests with float arrays");
  }
}

void dispatcher_core::deliver(uint64_t batch_id, batch_state& b, http_call_result& x,
                              time_point now) {
  note_encoding(x);
  auto key = b.key;
  auto& q = former_.key(key);
  auto sent = std::move(b.sent);
  auto attempts = b.attempts;
  auto n = sent.size();
  // The lengths of the good items are this response's votes on the dimension.
  std::vector<uint32_t> lengths(n, 0);
  for (size_t i = 0; i < n; ++i) {
    bool faulty = i < x.item_faults.size() && !x.item_faults[i].empty();
    if (!faulty)
      lengths[i] = static_cast<uint32_t>(x.embeddings[i].size());
  }
  auto was = q.dimension.confirmed();
  auto dim = q.dimension.observe(lengths);
  uint64_t sent_bytes = 0;
  for (auto sid : sent)
    if (auto s = slots_.find(sid))
      sent_bytes += s->text.size();
  std::vector<std::pair<uint64_t, std::string>> refused;
  for (size_t i = 0; i < n; ++i) {
    auto sp = slots_.find(sent[i]);
    if (sp == nullptr)
      continue;
    auto& s = *sp;
    uint64_t prompt = 0;
    uint64_t total = 0;
    if (sent_bytes > 0) {
      auto bytes = s.text.size();
      prompt = (x.usage.prompt_tokens * bytes + sent_bytes / 2) / sent_bytes;
      total = (x.usage.total_tokens * bytes + sent_bytes / 2) / sent_bytes;
    }
    if (lengths[i] == 0) {
      refused.emplace_back(
        sent[i], i < x.item_faults.size() && !x.item_faults[i].empty()
                   ? x.item_faults[i]
                   : "wrong_dimension: vector " + std::to_string(i) + " is empty");
    } else if (dim != 0 && lengths[i] != dim) {
      refused.emplace_back(sent[i], "wrong_dimension: vector " + std::to_string(i)
                                      + " has " + std::to_string(lengths[i])
                                      + " values, the model's vectors have "
                                      + std::to_string(dim));
    } else if (dim == 0) {
      hold(key, sent[i], std::move(x.embeddings[i]), prompt, total, attempts, now);
    } else {
      succeed_slot(sent[i], std::move(x.embeddings[i]), prompt, total);
    }
  }
  // Take the refused slots out of the batch before it goes (erase_batch would queue
  // them again), then re-send each on its own.
  for (auto& [sid, why] : refused)
    if (auto s = slots_.find(sid)) {
      s->batch = 0;
      s->attempts = attempts;
    }
  erase_batch(batch_id);
  for (auto& [sid, why] : refused) {
    ++counters_.vectors_refused;
    resend_alone(sid, attempts, why, false, now);
  }
  if (was == 0 && dim != 0)
    release_held(key, now, false);
}

void dispatcher_core::hold(uint32_t key, uint64_t slot_id, std::vector<float>&& vec,
                           uint64_t prompt, uint64_t total, uint32_t attempts,
                           time_point now) {
  auto sp = slots_.find(slot_id);
  if (sp == nullptr)
    return;
  auto& s = *sp;
  s.place = slot_place::held;
  s.batch = 0;
  s.attempts = attempts;
  s.held_vector = std::move(vec);
  s.held_prompt = prompt;
  s.held_total = total;
  ++counters_.vectors_held_unconfirmed;
  auto& q = former_.key(key);
  q.held.push_back(slot_id);
  if (q.held_until == time_point::max()) {
    q.held_until = now + held_wait;
    schedule(q.held_until, timer_kind::held_end, key);
  }
}

void dispatcher_core::release_held(uint32_t key, time_point now, bool timed_out) {
  auto& q = former_.key(key);
  auto ids = std::move(q.held);
  q.held.clear();
  q.held_until = time_point::max();
  auto dim = q.dimension.confirmed();
  for (auto sid : ids) {
    auto sp = slots_.find(sid);
    if (sp == nullptr || sp->place != slot_place::held)
      continue;
    auto& s = *sp;
    s.place = slot_place::batched; // in no batch until re-sent
    if (s.waiters.empty()) {
      release_slot_if_orphaned(sid);
      continue;
    }
    auto length = static_cast<uint32_t>(s.held_vector.size());
    if (dim != 0 && length == dim) {
      // succeed_slot erases the slot: take the vector out of it first.
      auto vec = std::move(s.held_vector);
      succeed_slot(sid, std::move(vec), s.held_prompt, s.held_total);
      continue;
    }
    s.held_vector = {};
    std::string why;
    if (dim != 0) {
      ++counters_.vectors_refused;
      why = "wrong_dimension: the vector has " + std::to_string(length)
            + " values, the model's vectors have " + std::to_string(dim);
    } else {
      why = "wrong_dimension: no other response confirmed the length "
            + std::to_string(length) + " of the vector";
    }
    resend_alone(sid, s.attempts, why, timed_out && dim == 0, now);
  }
  static_cast<void>(timed_out);
  pump(now);
  request_wake();
}

void dispatcher_core::resend_alone(uint64_t slot_id, uint32_t attempts,
                                   const std::string& reason, bool to_confirm,
                                   time_point now) {
  auto sp = slots_.find(slot_id);
  if (sp == nullptr)
    return;
  auto& s = *sp;
  s.place = slot_place::batched;
  s.batch = 0;
  if (s.waiters.empty()) {
    release_slot_if_orphaned(slot_id);
    return;
  }
  auto deadline = time_point::min();
  for (auto& w : s.waiters)
    if (auto r = requests_.find(w.request); r != requests_.end())
      deadline = std::max(deadline, r->second.deadline);
  auto l = lane_of_slot(s);
  policy::retry_decision decision;
  if (to_confirm && s.confirmations < max_confirmations
      && now + min_attempt_ <= deadline) {
    // Not an attempt: the next send gives it back (put_on_wire counts one).
    ++s.confirmations;
    decision.retry = true;
    attempts = attempts > 0 ? attempts - 1 : 0;
  } else {
    // Decided like a retry of a broken body: attempts, deadline, budget.
    http_call_result broken;
    broken.status = attempt_status::bad_response;
    broken.http_status = 200;
    broken.detail = reason;
    decision = retry_.decide(broken, attempts, now, deadline);
  }
  if (!decision.retry) {
    if (decision.budget_exhausted) {
      ++counters_.retries_denied_budget;
      fx_.publish(event_kind::retry_budget_exhausted, decision.reason);
    }
    auto waiters = s.waiters;
    for (auto& w : waiters)
      fail_request(w.request, embed_failure{decision.error, decision.reason, 200});
    return;
  }
  batch_state b;
  b.key = s.key;
  b.batch_lane = l;
  b.slots.push_back(slot_id);
  b.attempts = attempts;
  b.response_bytes = former_.bytes_per_input(s.key, encoding_);
  auto bid = add_batch(std::move(b));
  auto& stored = *pipeline_.find(bid);
  if (decision.delay.count() <= 0)
    pipeline_.make_ready(bid, stored, now);
  else
    back_off(bid, stored, now, now + decision.delay);
}

} // namespace embedrt::dispatch
