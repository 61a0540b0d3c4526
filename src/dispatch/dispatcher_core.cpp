#include "src/dispatch/dispatcher_core.hpp"

#include <algorithm>
#include <functional>

#include "src/dispatch/input_checks.hpp"
#include "src/openai/embeddings_codec.hpp"
#include "src/openai/response_bound.hpp"

namespace embedrt::dispatch {

namespace {

using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

/// How long a batch turned away by a half-open breaker (all trials out) waits before
/// asking again if no trial outcome wakes it first.
constexpr duration half_open_poll = milliseconds{250};

/// How long a batch waits before re-asking a component that did not answer (it died
/// and is being restarted).
constexpr duration component_retry = milliseconds{50};

std::string ms_text(duration d) {
  return std::to_string(duration_cast<milliseconds>(d).count()) + " ms";
}

} // namespace

size_t dispatcher_core::dedup_hash::operator()(const dedup_key& x) const noexcept {
  return std::hash<std::string_view>{}(x.text)
         ^ (size_t{x.key} * 0x9E3779B97F4A7C15ull);
}

dispatcher_core::dispatcher_core(const runtime_config& cfg, effects& fx, time_point)
  : cfg_(cfg), fx_(fx), retry_(cfg.retry, cfg.request, cfg.retry.seed),
    encoding_(cfg.endpoint.encoding_format == "float" ? encoding_format::float_array
                                                      : encoding_format::base64),
    default_timeout_(milliseconds{cfg.request.timeout_ms}),
    attempt_timeout_(milliseconds{cfg.endpoint.attempt_timeout_ms}),
    min_attempt_(milliseconds{cfg.request.min_attempt_ms}),
    linger_(microseconds{cfg.batching.linger_us}),
    window_(std::max(1u, cfg.http_pool.max_connections)),
    response_budget_(uint64_t{std::max(1u, cfg.limits.response_memory_mib)} << 20),
    requested_wake_(time_point::max()) {
  auto share = std::clamp(cfg.limits.bulk_min_share_percent, 1u, 100u);
  interactive_run_ = (100 - share) / share;
  // Bulk always keeps one slot, so a reserve as large as the window cannot stall it.
  auto reserve = std::min(cfg.limits.interactive_reserved_attempts, window_ - 1);
  bulk_window_ = window_ - reserve;
  max_inputs_[0] = std::max(1u, cfg.batching.max_inputs);
  max_inputs_[1] = std::clamp(cfg.batching.bulk_max_inputs, 1u, max_inputs_[0]);
}

dispatcher_core::~dispatcher_core() = default;

// -- admission ------------------------------------------------------------------------

void dispatcher_core::refuse(uint64_t id, embed_errc code, std::string message) {
  count_failure(code);
  fx_.fail(id, embed_failure{code, std::move(message), 0});
}

void dispatcher_core::admit(uint64_t id, embed_request request, time_point now) {
  if (!available_)
    return refuse(id, embed_errc::runtime_unavailable, unavailable_reason_);
  if (shutting_down_)
    return refuse(id, embed_errc::shutting_down, "the runtime is shutting down");
  if (auto bad = check_inputs(request.texts, cfg_.input); bad.code != embed_errc::none)
    return refuse(id, bad.code, std::move(bad.message));
  auto& opts = request.options;
  auto l = opts.priority == lane::bulk ? lane::bulk : lane::interactive;
  auto li = static_cast<size_t>(l);
  if (l == lane::bulk && opts.uses_credit && reserved_credit_ > 0) {
    --reserved_credit_;
  } else if (l == lane::interactive
             && admitted_[li] >= cfg_.limits.interactive_capacity) {
    ++counters_.requests_shed_overloaded;
    fx_.fail(id,
             embed_failure{embed_errc::overloaded,
                           "the interactive lane is full ("
                             + std::to_string(admitted_[li]) + " requests admitted)",
                           0});
    return;
  } else if (l == lane::bulk && bulk_room() == 0) {
    ++counters_.requests_shed_overloaded;
    fx_.fail(id, embed_failure{embed_errc::overloaded,
                               "the bulk lane is full (" + std::to_string(admitted_[li])
                                 + " requests admitted, "
                                 + std::to_string(reserved_credit_) + " credits out)",
                               0});
    return;
  }
  ++admitted_[li];
  ++counters_.requests_admitted;
  auto model = opts.model.empty() ? cfg_.endpoint.model : opts.model;
  auto dims = opts.dimensions != 0 ? opts.dimensions : cfg_.endpoint.dimensions;
  auto timeout = opts.timeout.count() > 0 ? duration{opts.timeout} : default_timeout_;
  auto key = key_index(model, dims);
  auto [it, added] = requests_.emplace(id, request_state{});
  if (!added) { // a shell bug; never answer twice
    --admitted_[li];
    return;
  }
  auto& r = it->second;
  r.admitted_lane = l;
  r.waits_on_open_circuit
    = opts.on_open_circuit == open_circuit_policy::wait
      || (opts.on_open_circuit == open_circuit_policy::lane_default && l == lane::bulk);
  r.deadline = now + timeout;
  r.model = std::move(model);
  auto n = static_cast<uint32_t>(request.texts.size());
  r.remaining = n;
  r.results.resize(n);
  r.slots.reserve(n);
  bool joined_parked = false;
  for (uint32_t i = 0; i < n; ++i) {
    auto& text = request.texts[i];
    if (cfg_.batching.dedup) {
      if (auto hit = dedup_.find(dedup_key{key, text}); hit != dedup_.end()) {
        auto sid = hit->second;
        auto& s = slots_.at(sid);
        s.waiters.push_back(waiter{id, i});
        r.slots.push_back(sid);
        ++counters_.texts_deduplicated;
        if (s.place == slot_place::queued && l == lane::interactive
            && s.queued_lane == lane::bulk) {
          // Promote: an interactive caller now waits for this text.
          s.queued_lane = lane::interactive;
          keys_[s.key].lanes[0].push_back(sid);
        } else if (s.place == slot_place::batched) {
          auto b = batches_.find(s.batch);
          joined_parked |= b != batches_.end()
                           && b->second.stage == batch_stage::parked;
        }
        continue;
      }
    }
    auto sid = next_slot_++;
    auto& s = slots_[sid];
    s.text = std::move(text);
    s.key = key;
    s.tokens = estimate_tokens(s.text.size(), cfg_.input.bytes_per_token);
    s.waiters.push_back(waiter{id, i});
    s.queued_at = now;
    if (cfg_.batching.dedup)
      dedup_.emplace(dedup_key{key, s.text}, sid);
    r.slots.push_back(sid);
    enqueue_slot(sid, s, l, now);
  }
  schedule(r.deadline, timer_kind::request_deadline, id);
  if (joined_parked && !r.waits_on_open_circuit) {
    // It joined texts that wait for an open breaker: a fail-fast caller must not wait.
    fail_request(id, embed_failure{embed_errc::circuit_open,
                                   "the circuit breaker for model "
                                     + cfg_.endpoint.model + " is open",
                                   0});
  }
  pump(now);
  request_wake();
}

uint32_t dispatcher_core::key_index(const std::string& model, uint32_t dimensions) {
  batch_key k{model, dimensions};
  if (auto i = key_ids_.find(k); i != key_ids_.end())
    return i->second;
  auto id = static_cast<uint32_t>(keys_.size());
  key_queues q{k,
               {},
               0,
               time_point{},
               policy::dimension_learner{dimensions, model},
               {},
               time_point::max()};
  keys_.push_back(std::move(q));
  key_ids_.emplace(std::move(k), id);
  return id;
}

void dispatcher_core::enqueue_slot(uint64_t slot_id, slot& s, lane l, time_point) {
  s.place = slot_place::queued;
  s.queued_lane = l;
  s.batch = 0;
  auto& q = keys_[s.key];
  q.lanes[static_cast<size_t>(l)].push_back(slot_id);
  ++q.live;
}

// -- credit
// -----------------------------------------------------------------------------

uint32_t dispatcher_core::bulk_room() const noexcept {
  auto used = admitted_[1] + reserved_credit_;
  return used >= cfg_.limits.bulk_capacity ? 0 : cfg_.limits.bulk_capacity - used;
}

void dispatcher_core::acquire_credit(uint64_t waiter_id, uint32_t max_requests,
                                     time_point now) {
  if (shutting_down_ || !available_) {
    fx_.grant_credit(waiter_id, 0);
    return;
  }
  credit_waiters_.emplace_back(waiter_id, std::max(1u, max_requests));
  grant_credits();
  request_wake();
  static_cast<void>(now);
}

void dispatcher_core::release_credit(uint32_t requests, time_point now) {
  reserved_credit_ -= std::min(requests, reserved_credit_);
  grant_credits();
  static_cast<void>(now);
}

void dispatcher_core::grant_credits() {
  while (!credit_waiters_.empty()) {
    auto room = bulk_room();
    if (room == 0)
      return;
    auto [waiter_id, want] = credit_waiters_.front();
    credit_waiters_.pop_front();
    auto n = std::min(room, want);
    reserved_credit_ += n;
    counters_.credits_granted += n;
    fx_.grant_credit(waiter_id, n);
  }
}

// -- answers
// ----------------------------------------------------------------------------

void dispatcher_core::count_response(const http_call_result& x) {
  auto& c = counters_;
  if (x.status == attempt_status::expired) {
    ++c.calls_expired_in_flight;
    return;
  }
  ++c.calls_completed;
  auto s = x.http_status;
  if (s >= 200 && s < 300)
    ++c.responses_2xx;
  else if (s == 429)
    ++c.responses_429;
  else if (s >= 400 && s < 500)
    ++c.responses_4xx_other;
  else if (s >= 500)
    ++c.responses_5xx;
}

void dispatcher_core::count_failure(embed_errc code) {
  auto& c = counters_;
  switch (code) {
    case embed_errc::none: break;
    case embed_errc::invalid_input: ++c.requests_failed_invalid_input; break;
    case embed_errc::overloaded: ++c.requests_shed_overloaded; break;
    case embed_errc::circuit_open: ++c.requests_failed_circuit_open; break;
    case embed_errc::rate_limited: ++c.requests_failed_rate_limited; break;
    case embed_errc::deadline_exceeded: ++c.requests_failed_deadline_exceeded; break;
    case embed_errc::upstream_rejected: ++c.requests_failed_upstream_rejected; break;
    case embed_errc::upstream_unavailable:
      ++c.requests_failed_upstream_unavailable;
      break;
    case embed_errc::bad_response: ++c.requests_failed_bad_response; break;
    case embed_errc::shutting_down: ++c.requests_failed_shutting_down; break;
    case embed_errc::worker_failed: ++c.requests_failed_worker_failed; break;
    case embed_errc::runtime_unavailable:
      ++c.requests_failed_runtime_unavailable;
      break;
  }
}

void dispatcher_core::finish_request(uint64_t id, request_state& r) {
  --admitted_[static_cast<size_t>(r.admitted_lane)];
  ++counters_.requests_succeeded;
  if (shutting_down_)
    ++shutdown_report_.finished_in_grace;
  embed_result result{std::move(r.results), r.usage, std::move(r.model)};
  requests_.erase(id);
  fx_.answer(id, std::move(result));
  grant_credits();
}

void dispatcher_core::fail_request(uint64_t id, embed_failure failure) {
  auto it = requests_.find(id);
  if (it == requests_.end())
    return;
  auto& r = it->second;
  for (auto sid : r.slots)
    drop_waiter(sid, id);
  --admitted_[static_cast<size_t>(r.admitted_lane)];
  count_failure(failure.code);
  if (shutting_down_) {
    if (failure.code == embed_errc::shutting_down)
      ++shutdown_report_.answered_shutting_down;
    else
      ++shutdown_report_.finished_in_grace;
  }
  // Copy the slot list: releasing slots does not touch it, but erase invalidates `r`.
  auto slot_ids = std::move(r.slots);
  requests_.erase(it);
  for (auto sid : slot_ids)
    release_slot_if_orphaned(sid);
  fx_.fail(id, std::move(failure));
  grant_credits();
}

void dispatcher_core::drop_waiter(uint64_t slot_id, uint64_t request) {
  auto it = slots_.find(slot_id);
  if (it == slots_.end())
    return;
  auto& ws = it->second.waiters;
  ws.erase(std::remove_if(ws.begin(), ws.end(),
                          [&](const waiter& w) { return w.request == request; }),
           ws.end());
}

void dispatcher_core::release_slot_if_orphaned(uint64_t slot_id) {
  auto it = slots_.find(slot_id);
  if (it == slots_.end() || !it->second.waiters.empty())
    return;
  auto& s = it->second;
  if (s.place == slot_place::queued)
    --keys_[s.key].live;
  if (cfg_.batching.dedup)
    dedup_.erase(dedup_key{s.key, s.text});
  // A batch that still lists the slot skips it: batches check that slots exist.
  slots_.erase(it);
}

void dispatcher_core::succeed_slot(uint64_t slot_id, std::vector<float>&& vec,
                                   uint64_t prompt_tokens, uint64_t total_tokens) {
  auto it = slots_.find(slot_id);
  if (it == slots_.end())
    return;
  auto waiters = std::move(it->second.waiters);
  if (cfg_.batching.dedup)
    dedup_.erase(dedup_key{it->second.key, it->second.text});
  slots_.erase(it);
  for (size_t k = 0; k < waiters.size(); ++k) {
    auto rit = requests_.find(waiters[k].request);
    if (rit == requests_.end())
      continue;
    auto& r = rit->second;
    if (k + 1 == waiters.size())
      r.results[waiters[k].position] = std::move(vec);
    else
      r.results[waiters[k].position] = vec;
    r.usage.prompt_tokens += prompt_tokens;
    r.usage.total_tokens += total_tokens;
    if (--r.remaining == 0)
      finish_request(rit->first, r);
  }
}

// -- batches
// ----------------------------------------------------------------------------

bool dispatcher_core::has_live_slots(const batch_state& b) const {
  for (auto sid : b.slots) {
    auto it = slots_.find(sid);
    if (it != slots_.end() && !it->second.waiters.empty())
      return true;
  }
  return false;
}

time_point dispatcher_core::batch_deadline(const batch_state& b) const {
  auto result = time_point::min();
  for (auto sid : b.slots) {
    auto it = slots_.find(sid);
    if (it == slots_.end())
      continue;
    for (auto& w : it->second.waiters)
      if (auto r = requests_.find(w.request); r != requests_.end())
        result = std::max(result, r->second.deadline);
  }
  return result;
}

void dispatcher_core::fail_batch(uint64_t batch_id, const embed_failure& failure) {
  auto it = batches_.find(batch_id);
  if (it == batches_.end())
    return;
  auto slot_ids = it->second.slots;
  for (auto sid : slot_ids) {
    auto s = slots_.find(sid);
    if (s == slots_.end())
      continue;
    auto waiters = s->second.waiters;
    for (auto& w : waiters)
      fail_request(w.request, failure);
  }
  erase_batch(batch_id);
}

void dispatcher_core::fail_fast_waiters(batch_state& b, const embed_failure& failure) {
  std::vector<uint64_t> doomed;
  for (auto sid : b.slots) {
    auto s = slots_.find(sid);
    if (s == slots_.end())
      continue;
    for (auto& w : s->second.waiters) {
      auto r = requests_.find(w.request);
      if (r != requests_.end() && !r->second.waits_on_open_circuit)
        doomed.push_back(w.request);
    }
  }
  for (auto id : doomed)
    fail_request(id, failure);
}

void dispatcher_core::erase_batch(uint64_t batch_id) {
  auto it = batches_.find(batch_id);
  if (it == batches_.end())
    return;
  auto& b = it->second;
  if (b.attempt != 0)
    attempts_.erase(b.attempt);
  auto slot_ids = std::move(b.slots);
  response_bytes_in_flight_ -= b.response_bytes;
  batches_.erase(it);
  for (auto sid : slot_ids) {
    auto s = slots_.find(sid);
    if (s == slots_.end() || s->second.batch != batch_id)
      continue;
    if (s->second.waiters.empty()) {
      s->second.place = slot_place::batched; // not counted in `live`
      release_slot_if_orphaned(sid);
    } else {
      // Should not happen (batches end only when their waiters are answered); if it
      // does, the text goes back to its queue rather than being lost.
      auto lane_of = lane::bulk;
      for (auto& w : s->second.waiters)
        if (auto r = requests_.find(w.request);
            r != requests_.end() && r->second.admitted_lane == lane::interactive)
          lane_of = lane::interactive;
      enqueue_slot(sid, s->second, lane_of, time_point{});
    }
  }
}

bool dispatcher_core::lane_has_room(lane l) const noexcept {
  if (active_ >= window_)
    return false;
  return l == lane::interactive || active_lane_[1] < bulk_window_;
}

lane dispatcher_core::pick_lane(const key_queues& q) const {
  bool interactive = !q.lanes[0].empty();
  bool bulk = !q.lanes[1].empty() && lane_has_room(lane::bulk);
  if (interactive && bulk)
    return interactive_streak_ >= interactive_run_ ? lane::bulk : lane::interactive;
  return interactive ? lane::interactive : lane::bulk;
}

uint64_t dispatcher_core::pop_slot(key_queues& q, lane l) {
  auto& dq = q.lanes[static_cast<size_t>(l)];
  while (!dq.empty()) {
    auto sid = dq.front();
    dq.pop_front();
    auto it = slots_.find(sid);
    if (it == slots_.end())
      continue; // answered or abandoned meanwhile
    auto& s = it->second;
    if (s.place != slot_place::queued || s.queued_lane != l)
      continue; // stale entry: promoted to the other lane, or already batched
    return sid;
  }
  return 0;
}

bool dispatcher_core::form_batch(time_point now) {
  if (keys_.empty())
    return false;
  // Round robin over (model, dimensions) keys with queued texts in a lane that may
  // start a batch now (bulk may not take the interactive reserve).
  bool bulk_room = lane_has_room(lane::bulk);
  key_queues* q = nullptr;
  uint32_t k = 0;
  for (uint32_t i = 0; i < keys_.size(); ++i) {
    k = (next_key_ + i) % static_cast<uint32_t>(keys_.size());
    auto& c = keys_[k];
    if (c.live > 0 && (!c.lanes[0].empty() || (bulk_room && !c.lanes[1].empty()))) {
      q = &keys_[k];
      break;
    }
  }
  if (q == nullptr)
    return false;
  next_key_ = k + 1;
  // One lane per batch: an interactive text never waits inside a bulk batch.
  auto l = pick_lane(*q);
  auto li = static_cast<size_t>(l);
  auto& dq = q->lanes[li];
  auto max_inputs = max_inputs_[li];
  // Linger: while other attempts of this lane are in flight, a partial batch may wait
  // a little for company. A lone request never waits, nor does an interactive text
  // because bulk is busy.
  if (cfg_.batching.enabled && linger_.count() > 0 && active_lane_[li] > 0
      && dq.size() < max_inputs) {
    auto oldest = time_point::max();
    for (auto sid : dq)
      if (auto it = slots_.find(sid); it != slots_.end()) {
        oldest = it->second.queued_at;
        break;
      }
    if (oldest != time_point::max() && now < oldest + linger_) {
      if (q->linger_at != oldest + linger_) {
        q->linger_at = oldest + linger_;
        schedule(q->linger_at, timer_kind::linger_end, k);
      }
      return false;
    }
  }
  // Memory: the responses of every batch alive must fit the budget. A first batch
  // always goes (one input at least), so a tiny budget slows down, never stalls.
  auto per_input = response_bytes_per_input(*q);
  if (active_ > 0 && response_bytes_in_flight_ + per_input > response_budget_)
    return false; // pumped again when a batch ends
  auto bid = next_batch_++;
  batch_state b;
  b.key = k;
  b.batch_lane = l;
  uint32_t tokens = 0;
  uint64_t first_request = 0;
  while (b.slots.size() < max_inputs) {
    auto sid = pop_slot(*q, l);
    if (sid == 0)
      break;
    auto& s = slots_.at(sid);
    if (!b.slots.empty()) {
      bool over_tokens = tokens + s.tokens > cfg_.batching.max_tokens;
      bool over_memory = response_bytes_in_flight_ + (b.slots.size() + 1) * per_input
                         > response_budget_;
      // Without batching, an upstream request carries the texts of one caller only.
      bool other_caller = !cfg_.batching.enabled
                          && s.waiters.front().request != first_request;
      if (over_tokens || over_memory || other_caller) {
        dq.push_front(sid);
        break;
      }
    } else {
      first_request = s.waiters.front().request;
    }
    s.place = slot_place::batched;
    s.batch = bid;
    --q->live;
    tokens += s.tokens;
    b.slots.push_back(sid);
  }
  if (b.slots.empty())
    return true; // only stale entries were left (now dropped): look again
  if (l == lane::interactive && !q->lanes[1].empty())
    ++interactive_streak_;
  else
    interactive_streak_ = 0;
  ++counters_.upstream_requests_formed;
  b.response_bytes = b.slots.size() * per_input;
  response_bytes_in_flight_ += b.response_bytes;
  auto& stored = batches_.emplace(bid, std::move(b)).first->second;
  start_attempt(bid, stored, now);
  return true;
}

void dispatcher_core::pump(time_point now) {
  while (active_ < window_ && available_) {
    // Ready batches (retries, re-sends, halves) first, skipping bulk ones while bulk
    // has no room; they keep their order.
    bool started = false;
    for (auto i = ready_.begin(); i != ready_.end();) {
      auto it = batches_.find(*i);
      if (it == batches_.end() || it->second.stage != batch_stage::ready) {
        i = ready_.erase(i);
        continue;
      }
      if (!lane_has_room(it->second.batch_lane)) {
        ++i;
        continue;
      }
      ready_.erase(i);
      start_attempt(it->first, it->second, now);
      started = true;
      break;
    }
    if (started)
      continue;
    if (!form_batch(now))
      return;
  }
}

void dispatcher_core::start_attempt(uint64_t batch_id, batch_state& b, time_point now) {
  if (!has_live_slots(b)) {
    erase_batch(batch_id);
    return;
  }
  auto deadline = batch_deadline(b);
  if (now + min_attempt_ > deadline) {
    fail_batch(batch_id,
               embed_failure{embed_errc::deadline_exceeded,
                             "no time left for an attempt before the deadline", 0});
    return;
  }
  b.deadline = deadline;
  b.attempt = next_attempt_++;
  attempts_.emplace(b.attempt, batch_id);
  b.stage = batch_stage::waiting_permit;
  uint32_t tokens = 0;
  for (auto sid : b.slots)
    if (auto it = slots_.find(sid); it != slots_.end() && !it->second.waiters.empty())
      tokens += it->second.tokens;
  b.reserved_tokens = tokens;
  ++active_;
  ++active_lane_[static_cast<size_t>(b.batch_lane)];
  fx_.request_permit(acquire_permit{b.attempt, tokens, deadline, {}});
}

void dispatcher_core::on_permit(const permit_decision& x, time_point now) {
  auto at = attempts_.find(x.ticket);
  if (at == attempts_.end())
    return;
  auto bid = at->second;
  auto it = batches_.find(bid);
  if (it == batches_.end() || it->second.stage != batch_stage::waiting_permit)
    return;
  auto& b = it->second;
  if (x.status == permit_status::granted) {
    if (!has_live_slots(b)) { // everybody left while it waited
      fx_.report_permit(permit_feedback{b.reserved_tokens, 0, {}, duration{0}});
      --active_;
      --active_lane_[static_cast<size_t>(b.batch_lane)];
      erase_batch(bid);
    } else {
      b.stage = batch_stage::waiting_breaker;
      fx_.check_breaker(breaker_check{b.attempt, keys_[b.key].key.model, {}});
      return;
    }
  } else {
    --active_;
    --active_lane_[static_cast<size_t>(b.batch_lane)];
    attempts_.erase(at);
    b.attempt = 0;
    embed_failure failure;
    switch (x.status) {
      case permit_status::denied_queue_full:
        failure = {embed_errc::overloaded, "the rate limiter's queue is full", 0};
        break;
      case permit_status::denied_deadline:
        failure = {embed_errc::rate_limited,
                   "the rate limit allows no request before the deadline", 0};
        break;
      default:
        failure = {embed_errc::shutting_down, "the rate limiter is stopping", 0};
        break;
    }
    fail_batch(bid, failure);
  }
  pump(now);
  request_wake();
}

void dispatcher_core::on_verdict(const breaker_verdict& x, time_point now) {
  auto at = attempts_.find(x.ticket);
  if (at == attempts_.end())
    return;
  auto bid = at->second;
  auto it = batches_.find(bid);
  if (it == batches_.end() || it->second.stage != batch_stage::waiting_breaker)
    return;
  auto& b = it->second;
  const auto& model = keys_[b.key].key.model;
  bool allowed = x.decision == breaker_decision::allowed
                 || x.decision == breaker_decision::allowed_trial;
  if (allowed && has_live_slots(b)) {
    b.generation = x.generation;
    b.trial = x.decision == breaker_decision::allowed_trial;
    put_on_wire(b, now);
    return;
  }
  --active_;
  --active_lane_[static_cast<size_t>(b.batch_lane)];
  attempts_.erase(at);
  b.attempt = 0;
  // The permit was not used: give its tokens back.
  fx_.report_permit(permit_feedback{b.reserved_tokens, 0, {}, duration{0}});
  if (allowed) { // allowed, but everybody left: release a trial permit
    fx_.report_outcome(call_outcome{model, x.generation,
                                    x.decision == breaker_decision::allowed_trial,
                                    call_result::cancelled, duration{0}});
    erase_batch(bid);
  } else {
    bool open = x.decision == breaker_decision::rejected_open;
    fail_fast_waiters(
      b, embed_failure{embed_errc::circuit_open,
                       open ? "the circuit breaker for model " + model + " is open"
                            : "the circuit breaker for model " + model
                                + " is half-open and its trial calls "
                                  "are out",
                       0});
    auto again = batches_.find(bid);
    if (again != batches_.end()) {
      if (!has_live_slots(again->second)) {
        erase_batch(bid);
      } else {
        ++counters_.waits_circuit_open;
        auto until = open ? x.retry_at : now + half_open_poll;
        park(bid, again->second, std::max(until, now));
      }
    }
  }
  pump(now);
  request_wake();
}

void dispatcher_core::put_on_wire(batch_state& b, time_point now) {
  b.sent.clear();
  std::vector<const std::string*> inputs;
  for (auto sid : b.slots) {
    auto it = slots_.find(sid);
    if (it == slots_.end() || it->second.waiters.empty())
      continue;
    b.sent.push_back(sid);
    inputs.push_back(&it->second.text);
  }
  const auto& key = keys_[b.key].key;
  ++b.attempts;
  ++counters_.attempts_started;
  if (b.attempts > 1) {
    ++counters_.attempts_retried;
  } else {
    // The budget counts texts: a text refused inside a batch is re-sent on its own,
    // and those re-sends must not outgrow a budget fed by one batch.
    for (size_t i = 0; i < inputs.size(); ++i)
      retry_.on_first_attempt(now);
  }
  auto left = b.deadline - now;
  auto timeout = std::max(duration{milliseconds{1}}, std::min(attempt_timeout_, left));
  b.stage = batch_stage::in_flight;
  http_call call;
  call.attempt_id = b.attempt;
  call.body = openai::encode_request(key.model, inputs, key.dimensions, encoding_);
  call.input_count = static_cast<uint32_t>(inputs.size());
  call.expected_dimension = keys_[b.key].dimension.confirmed();
  call.encoding = encoding_;
  call.max_response_bytes
    = openai::max_response_bytes(call.input_count, call.expected_dimension, encoding_,
                                 cfg_.limits.max_response_bytes);
  call.timeout = timeout;
  call.deadline = b.deadline;
  fx_.send_call(std::move(call));
}

void dispatcher_core::on_call_result(http_call_result x, time_point now) {
  count_response(x);
  auto at = attempts_.find(x.attempt_id);
  if (at == attempts_.end())
    return; // a late answer of an attempt already given up: dropped
  auto bid = at->second;
  auto it = batches_.find(bid);
  if (it == batches_.end() || it->second.stage != batch_stage::in_flight)
    return;
  auto& b = it->second;
  attempts_.erase(at);
  b.attempt = 0;
  --active_;
  --active_lane_[static_cast<size_t>(b.batch_lane)];
  bool was_trial = b.trial;
  fx_.report_outcome(call_outcome{keys_[b.key].key.model, b.generation, b.trial,
                                  policy::classify_for_breaker(x.status, x.http_status),
                                  x.wire_time});
  if (x.status == attempt_status::succeeded && x.embeddings.size() == b.sent.size()) {
    fx_.report_permit(permit_feedback{b.reserved_tokens,
                                      static_cast<int64_t>(x.usage.prompt_tokens),
                                      x.limits, duration{0}});
    deliver(bid, b, x, now);
  } else {
    if (x.status == attempt_status::succeeded) { // the worker's count check failed
      x.status = attempt_status::bad_response;
      x.detail = "the response does not match the request's inputs";
    }
    handle_failure(bid, b, x, now);
  }
  if (was_trial)
    wake_parked(now);
  pump(now);
  request_wake();
}

uint64_t dispatcher_core::response_bytes_per_input(const key_queues& q) const noexcept {
  // Before the first answer the dimension is unknown: assume the common 1536.
  uint64_t dims = q.dimension.confirmed() != 0 ? q.dimension.confirmed() : 1536;
  // The body's text (base64: 16/3 bytes per float; float text: ~13) plus the decoded
  // float32 copy that lives beside it while the body is parsed, plus the JSON around.
  uint64_t text = encoding_ == encoding_format::base64 ? dims * 16 / 3 : dims * 13;
  return text + dims * 4 + 64;
}

void dispatcher_core::handle_failure(uint64_t batch_id, batch_state& b,
                                     http_call_result& x, time_point now) {
  auto status = x.http_status;
  bool splittable = (x.status == attempt_status::http_error
                     && (status == 400 || status == 413 || status == 422))
                    || x.status == attempt_status::too_large;
  if (splittable) {
    size_t live = 0;
    for (auto sid : b.sent)
      if (auto s = slots_.find(sid); s != slots_.end() && !s->second.waiters.empty())
        ++live;
    if (live > 1) {
      fx_.report_permit(permit_feedback{b.reserved_tokens, 0, x.limits, duration{0}});
      bisect(batch_id, b);
      return;
    }
  }
  auto decision = retry_.decide(x, b.attempts, now, b.deadline);
  auto pause = duration{0};
  if (x.status == attempt_status::http_error && status == 429)
    pause = x.retry_after.count() >= 0 ? duration{x.retry_after} : decision.delay;
  fx_.report_permit(permit_feedback{b.reserved_tokens, 0, x.limits, pause});
  if (decision.retry) {
    if (x.status == attempt_status::worker_failed)
      ++counters_.attempts_redispatched_worker_failed;
    b.stage = batch_stage::backing_off;
    ++b.wake_epoch;
    schedule(now + decision.delay, timer_kind::batch_wake, batch_id, b.wake_epoch);
    return;
  }
  if (decision.budget_exhausted) {
    ++counters_.retries_denied_budget;
    fx_.publish(event_kind::retry_budget_exhausted, decision.reason);
  }
  fail_batch(batch_id, embed_failure{decision.error, decision.reason, status});
}

void dispatcher_core::bisect(uint64_t batch_id, batch_state& b) {
  std::vector<uint64_t> live;
  for (auto sid : b.sent)
    if (auto s = slots_.find(sid); s != slots_.end() && !s->second.waiters.empty())
      live.push_back(sid);
  ++counters_.batches_split_rejected;
  auto half = live.size() / 2;
  auto key = b.key;
  auto b_lane = b.batch_lane;
  auto per_input = response_bytes_per_input(keys_[key]);
  response_bytes_in_flight_ -= b.response_bytes;
  // Forget the old batch without touching its slots: they move to the halves.
  batches_.erase(batch_id);
  for (auto [first, last] :
       {std::pair{size_t{0}, half}, std::pair{half, live.size()}}) {
    auto bid = next_batch_++;
    batch_state part;
    part.key = key;
    part.batch_lane = b_lane;
    part.slots.assign(live.begin() + static_cast<ptrdiff_t>(first),
                      live.begin() + static_cast<ptrdiff_t>(last));
    for (auto sid : part.slots)
      slots_.at(sid).batch = bid;
    part.response_bytes = part.slots.size() * per_input;
    response_bytes_in_flight_ += part.response_bytes;
    batches_.emplace(bid, std::move(part));
    ready_.push_back(bid);
    ++counters_.upstream_requests_formed;
  }
}

void dispatcher_core::park(uint64_t batch_id, batch_state& b, time_point until) {
  b.stage = batch_stage::parked;
  ++b.wake_epoch;
  parked_.push_back(batch_id);
  schedule(std::min(until, b.deadline), timer_kind::batch_wake, batch_id, b.wake_epoch);
}

void dispatcher_core::wake_parked(time_point) {
  auto ids = std::move(parked_);
  parked_.clear();
  for (auto bid : ids) {
    auto it = batches_.find(bid);
    if (it == batches_.end() || it->second.stage != batch_stage::parked)
      continue;
    it->second.stage = batch_stage::ready;
    ready_.push_back(bid);
  }
}

// -- component failures -----------------------------------------------------------

void dispatcher_core::on_permit_lost(uint64_t ticket, time_point now) {
  auto at = attempts_.find(ticket);
  if (at == attempts_.end())
    return;
  auto it = batches_.find(at->second);
  if (it == batches_.end() || it->second.stage != batch_stage::waiting_permit)
    return;
  auto& b = it->second;
  attempts_.erase(at);
  b.attempt = 0;
  --active_;
  --active_lane_[static_cast<size_t>(b.batch_lane)];
  b.stage = batch_stage::backing_off;
  ++b.wake_epoch;
  schedule(now + component_retry, timer_kind::batch_wake, it->first, b.wake_epoch);
  pump(now);
  request_wake();
}

void dispatcher_core::on_verdict_lost(uint64_t ticket, time_point now) {
  auto at = attempts_.find(ticket);
  if (at == attempts_.end())
    return;
  auto it = batches_.find(at->second);
  if (it == batches_.end() || it->second.stage != batch_stage::waiting_breaker)
    return;
  auto& b = it->second;
  attempts_.erase(at);
  b.attempt = 0;
  --active_;
  --active_lane_[static_cast<size_t>(b.batch_lane)];
  fx_.report_permit(permit_feedback{b.reserved_tokens, 0, {}, duration{0}});
  b.stage = batch_stage::backing_off;
  ++b.wake_epoch;
  schedule(now + component_retry, timer_kind::batch_wake, it->first, b.wake_epoch);
  pump(now);
  request_wake();
}

void dispatcher_core::on_call_lost(uint64_t attempt, time_point now) {
  http_call_result x;
  x.attempt_id = attempt;
  x.status = attempt_status::worker_failed;
  x.detail = "the worker carrying the attempt failed before it finished";
  on_call_result(std::move(x), now);
}

void dispatcher_core::on_component_replaced(component_kind kind, time_point now) {
  std::vector<uint64_t> tickets;
  auto stage = kind == component_kind::rate_limiter      ? batch_stage::waiting_permit
               : kind == component_kind::circuit_breaker ? batch_stage::waiting_breaker
                                                         : batch_stage::in_flight;
  for (auto& [bid, b] : batches_)
    if (b.stage == stage && b.attempt != 0)
      tickets.push_back(b.attempt);
  for (auto t : tickets) {
    switch (kind) {
      case component_kind::rate_limiter: on_permit_lost(t, now); break;
      case component_kind::circuit_breaker: on_verdict_lost(t, now); break;
      case component_kind::http_pool: on_call_lost(t, now); break;
    }
  }
  pump(now);
  request_wake();
}

// -- lifecycle
// --------------------------------------------------------------------------

void dispatcher_core::set_available(bool available, std::string reason,
                                    time_point now) {
  available_ = available;
  unavailable_reason_ = std::move(reason);
  if (!available_) {
    std::vector<uint64_t> ids;
    ids.reserve(requests_.size());
    for (auto& kv : requests_)
      ids.push_back(kv.first);
    for (auto id : ids)
      fail_request(id, embed_failure{embed_errc::runtime_unavailable,
                                     unavailable_reason_, 0});
    while (!credit_waiters_.empty()) {
      fx_.grant_credit(credit_waiters_.front().first, 0);
      credit_waiters_.pop_front();
    }
  }
  pump(now);
  request_wake();
}

void dispatcher_core::begin_shutdown(duration grace, time_point now) {
  if (shutting_down_)
    return;
  shutting_down_ = true;
  grace_end_ = now + grace;
  fx_.publish(event_kind::shutdown_started, std::to_string(requests_.size())
                                              + " requests pending, grace "
                                              + ms_text(grace));
  while (!credit_waiters_.empty()) {
    fx_.grant_credit(credit_waiters_.front().first, 0);
    credit_waiters_.pop_front();
  }
  schedule(grace_end_, timer_kind::grace_end, 0);
  if (grace.count() <= 0)
    on_timer(now);
  request_wake();
}

bool dispatcher_core::drained() const noexcept {
  return shutting_down_ && requests_.empty();
}

// -- time
// -------------------------------------------------------------------------------

void dispatcher_core::schedule(time_point at, timer_kind kind, uint64_t id,
                               uint64_t epoch) {
  timers_.push(timer_entry{at, kind, id, epoch});
  // Lazy deletion leaves dead entries (answered requests' deadlines); compact when
  // they dominate so memory follows the live set, not the request rate.
  auto live = requests_.size() + batches_.size() + keys_.size() + 16;
  if (timers_.size() > 4 * live) {
    timers_.compact([this](const timer_entry& e) {
      switch (e.kind) {
        case timer_kind::request_deadline: return requests_.count(e.id) > 0;
        case timer_kind::batch_wake: {
          auto it = batches_.find(e.id);
          return it != batches_.end() && it->second.wake_epoch == e.epoch;
        }
        default: return true;
      }
    });
  }
}

void dispatcher_core::request_wake() {
  if (timers_.empty())
    return;
  auto at = timers_.top().at;
  if (at < requested_wake_) {
    requested_wake_ = at;
    fx_.wake_at(at);
  }
}

void dispatcher_core::on_timer(time_point now) {
  requested_wake_ = time_point::max();
  while (!timers_.empty() && timers_.top().at <= now) {
    auto e = timers_.top();
    timers_.pop();
    switch (e.kind) {
      case timer_kind::request_deadline: {
        auto it = requests_.find(e.id);
        if (it != requests_.end() && it->second.deadline <= now)
          fail_request(e.id, embed_failure{embed_errc::deadline_exceeded,
                                           "no answer before the deadline", 0});
        break;
      }
      case timer_kind::batch_wake: {
        auto it = batches_.find(e.id);
        if (it == batches_.end() || it->second.wake_epoch != e.epoch)
          break;
        auto& b = it->second;
        if (b.stage == batch_stage::backing_off || b.stage == batch_stage::parked) {
          b.stage = batch_stage::ready;
          ready_.push_back(e.id);
        }
        break;
      }
      case timer_kind::linger_end: break; // pump below forms the batch
      case timer_kind::held_end: {
        if (e.id < keys_.size() && keys_[e.id].held_until <= now)
          release_held(static_cast<uint32_t>(e.id), now, true);
        break;
      }
      case timer_kind::grace_end: {
        if (!shutting_down_)
          break;
        std::vector<uint64_t> ids;
        for (auto& kv : requests_)
          ids.push_back(kv.first);
        for (auto id : ids)
          fail_request(id, embed_failure{embed_errc::shutting_down,
                                         "the runtime stopped before the request "
                                         "finished",
                                         0});
        break;
      }
    }
  }
  pump(now);
  request_wake();
}

} // namespace embedrt::dispatch
