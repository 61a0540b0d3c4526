#include "src/dispatch/dispatcher_core.hpp"

#include <algorithm>

#include "src/dispatch/input_checks.hpp"

namespace embedrt::dispatch {

namespace {

using std::chrono::milliseconds;

} // namespace

dispatcher_core::dispatcher_core(const runtime_config& cfg, effects& fx, time_point now,
                                 std::shared_ptr<admission_gate> gate)
  : cfg_(cfg), fx_(fx), retry_(cfg.retry, cfg.request, cfg.retry.seed),
    encoding_(cfg.endpoint.encoding_format == "float" ? encoding_format::float_array
                                                      : encoding_format::base64),
    default_timeout_(milliseconds{cfg.request.timeout_ms}),
    attempt_timeout_(milliseconds{cfg.endpoint.attempt_timeout_ms}),
    min_attempt_(milliseconds{cfg.request.min_attempt_ms}), now_(now),
    admission_(cfg, std::move(gate)), slots_(cfg.batching.dedup), former_(cfg),
    pipeline_(cfg.http_pool.max_connections, cfg.limits.interactive_reserved_attempts),
    requested_wake_(time_point::max()) {}

dispatcher_core::~dispatcher_core() {
  // Requests never answered (the actor died): their places go back to the gate.
  for (auto& kv : requests_)
    admission_.leave(kv.second.ticket);
}

const runtime_counters& dispatcher_core::counters() const noexcept {
  counters_.requests_shed_overloaded = admission_.gate().shed_total();
  counters_.credits_granted = admission_.credits_granted();
  return counters_;
}

// -- admission ------------------------------------------------------------------------

void dispatcher_core::refuse(uint64_t id, lane l, std::string model, uint32_t inputs,
                             embed_errc code, std::string message) {
  if (code != embed_errc::overloaded) // a lane-full shed is counted by the gate
    count_failure(code);
  fx_.fail(id, embed_failure{code, std::move(message), 0});
  request_trace t;
  t.request_id = id;
  t.request_lane = l;
  t.model = std::move(model);
  t.inputs = inputs;
  t.outcome = code;
  fx_.request_done(t);
}

void dispatcher_core::admit(uint64_t id, embed_request request, admission_path path,
                            time_point now) {
  now_ = now;
  auto& opts = request.options;
  auto l = opts.priority == lane::bulk ? lane::bulk : lane::interactive;
  auto model = opts.model.empty() ? cfg_.endpoint.model : opts.model;
  auto n = static_cast<uint32_t>(request.texts.size());
  auto turn_away = [&](embed_errc code, std::string why) {
    if (path == admission_path::credit) // the holder spent it: its place goes back
      admission_.release_credit(1);
    refuse(id, l, std::move(model), n, code, std::move(why));
    grant_credits();
  };
  if (!available_)
    return turn_away(embed_errc::runtime_unavailable, unavailable_reason_);
  if (shutting_down_)
    return turn_away(embed_errc::shutting_down, "the runtime is shutting down");
  if (auto bad = check_inputs(request.texts, cfg_.input); bad.code != embed_errc::none)
    return turn_away(bad.code, std::move(bad.message));
  admission_ticket ticket;
  std::string why;
  if (!admission_.enter(l, path, ticket, why))
    return refuse(id, l, std::move(model), n, embed_errc::overloaded, std::move(why));
  auto [it, added] = requests_.emplace(id, request_state{});
  if (!added) { // a shell bug; never answer twice
    admission_.leave(ticket);
    return;
  }
  ++counters_.requests_admitted;
  auto dims = opts.dimensions != 0 ? opts.dimensions : cfg_.endpoint.dimensions;
  auto timeout = opts.timeout.count() > 0 ? duration{opts.timeout} : default_timeout_;
  auto key = former_.key_index(model, dims);
  auto& r = it->second;
  r.ticket = ticket;
  r.waits_on_open_circuit
    = opts.on_open_circuit == open_circuit_policy::wait
      || (opts.on_open_circuit == open_circuit_policy::lane_default && l == lane::bulk);
  r.admitted_at = now;
  r.deadline = now + timeout;
  r.trace.request_id = id;
  r.trace.request_lane = l;
  r.trace.model = std::move(model);
  r.trace.inputs = n;
  r.remaining = n;
  r.results.resize(n);
  r.slots.reserve(n);
  bool joined_parked = false;
  for (uint32_t i = 0; i < n; ++i) {
    auto& text = request.texts[i];
    auto tokens = estimate_tokens(text.size(), cfg_.input.bytes_per_token);
    auto a = slots_.add(key, std::move(text), tokens, waiter{id, i}, now);
    r.slots.push_back(a.id);
    auto& s = slots_.at(a.id);
    if (!a.joined) {
      former_.enqueue(a.id, s, l);
      continue;
    }
    ++counters_.texts_deduplicated;
    if (s.place == slot_place::queued && l == lane::interactive) {
      former_.promote(a.id, s); // an interactive caller now waits for this text
    } else if (s.place == slot_place::batched) {
      auto b = pipeline_.find(s.batch);
      joined_parked |= b != nullptr && b->stage == batch_stage::parked;
    }
  }
  schedule(r.deadline, timer_kind::request_deadline, id);
  if (joined_parked && !r.waits_on_open_circuit) {
    // It joined texts that wait for an open breaker: a fail-fast caller must not wait.
    fail_request(
      id,
      embed_failure{embed_errc::circuit_open,
                    "the circuit breaker for model " + r.trace.model + " is open", 0});
  }
  pump(now);
  request_wake();
}

// -- credit ---------------------------------------------------------------------------

void dispatcher_core::acquire_credit(uint64_t waiter_id, uint32_t max_requests,
                                     time_point now) {
  now_ = now;
  if (shutting_down_ || !available_) {
    fx_.grant_credit(waiter_id, 0);
    return;
  }
  admission_.wait_for_credit(waiter_id, max_requests);
  grant_credits();
  request_wake();
}

void dispatcher_core::release_credit(uint32_t requests, time_point now) {
  now_ = now;
  admission_.release_credit(requests);
  grant_credits();
}

void dispatcher_core::grant_credits() {
  admission_.grant(
    [this](uint64_t waiter_id, uint32_t n) { fx_.grant_credit(waiter_id, n); });
}

void dispatcher_core::refuse_credit_waiters() {
  for (auto waiter_id : admission_.take_waiters())
    fx_.grant_credit(waiter_id, 0);
}

// -- answers --------------------------------------------------------------------------

void dispatcher_core::done(uint64_t id, request_state& r, embed_errc outcome) {
  auto& t = r.trace;
  t.request_id = id;
  t.outcome = outcome;
  t.total = now_ - r.admitted_at;
  if (!r.on_wire)
    t.queue = t.total;
  admission_.leave(r.ticket);
  fx_.request_done(t);
}

void dispatcher_core::finish_request(uint64_t id, request_state& r) {
  ++counters_.requests_succeeded;
  if (shutting_down_)
    ++shutdown_report_.finished_in_grace;
  auto node = requests_.extract(id);
  auto& x = node.mapped();
  embed_result result{std::move(x.results), x.usage, x.trace.model};
  fx_.answer(id, std::move(result));
  done(id, x, embed_errc::none);
  grant_credits();
  static_cast<void>(r);
}

void dispatcher_core::fail_request(uint64_t id, embed_failure failure) {
  auto it = requests_.find(id);
  if (it == requests_.end())
    return;
  auto node = requests_.extract(it);
  auto& r = node.mapped();
  for (auto sid : r.slots)
    slots_.drop_waiter(sid, id);
  count_failure(failure.code);
  if (shutting_down_) {
    if (failure.code == embed_errc::shutting_down)
      ++shutdown_report_.answered_shutting_down;
    else
      ++shutdown_report_.finished_in_grace;
  }
  for (auto sid : r.slots)
    release_slot_if_orphaned(sid);
  auto code = failure.code;
  fx_.fail(id, std::move(failure));
  done(id, r, code);
  grant_credits();
}

void dispatcher_core::fail_all(const embed_failure& failure) {
  std::vector<uint64_t> ids;
  ids.reserve(requests_.size());
  for (auto& kv : requests_)
    ids.push_back(kv.first);
  for (auto id : ids)
    fail_request(id, failure);
}

void dispatcher_core::release_slot_if_orphaned(uint64_t slot_id) {
  auto s = slots_.find(slot_id);
  if (s == nullptr || !s->waiters.empty())
    return;
  auto key = s->key;
  if (slots_.release_if_orphaned(slot_id))
    former_.forget_queued(key);
}

void dispatcher_core::succeed_slot(uint64_t slot_id, std::vector<float>&& vec,
                                   uint64_t prompt_tokens, uint64_t total_tokens) {
  auto waiters = slots_.take(slot_id);
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

const std::vector<uint64_t>&
dispatcher_core::requests_of(const std::vector<uint64_t>& slot_ids) const {
  auto& ids = scratch_ids_;
  ids.clear();
  for (auto sid : slot_ids)
    if (auto s = slots_.find(sid))
      for (auto& w : s->waiters)
        ids.push_back(w.request);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

// -- batches --------------------------------------------------------------------------

bool dispatcher_core::has_live_slots(const batch_state& b) const {
  return std::any_of(b.slots.begin(), b.slots.end(),
                     [this](uint64_t sid) { return slots_.live(sid); });
}

time_point dispatcher_core::batch_deadline(const batch_state& b) const {
  auto result = time_point::min();
  for (auto id : requests_of(b.slots))
    if (auto r = requests_.find(id); r != requests_.end())
      result = std::max(result, r->second.deadline);
  return result;
}

lane dispatcher_core::lane_of_slot(const slot& s) const {
  for (auto& w : s.waiters)
    if (auto r = requests_.find(w.request);
        r != requests_.end() && r->second.ticket.admitted_lane == lane::interactive)
      return lane::interactive;
  return lane::bulk;
}

uint64_t dispatcher_core::add_batch(batch_state b) {
  auto bid = pipeline_.add(std::move(b));
  for (auto sid : pipeline_.find(bid)->slots)
    if (auto s = slots_.find(sid))
      s->batch = bid;
  ++counters_.upstream_requests_formed;
  return bid;
}

void dispatcher_core::fail_batch(uint64_t batch_id, const embed_failure& failure) {
  auto b = pipeline_.find(batch_id);
  if (b == nullptr)
    return;
  auto ids = requests_of(b->slots); // a copy: answers may look again
  for (auto id : ids)
    fail_request(id, failure);
  erase_batch(batch_id);
}

void dispatcher_core::fail_fast_waiters(batch_state& b, const embed_failure& failure) {
  std::vector<uint64_t> doomed;
  for (auto id : requests_of(b.slots))
    if (auto r = requests_.find(id);
        r != requests_.end() && !r->second.waits_on_open_circuit)
      doomed.push_back(id);
  for (auto id : doomed)
    fail_request(id, failure);
}

void dispatcher_core::erase_batch(uint64_t batch_id) {
  auto b = pipeline_.remove(batch_id);
  if (!b)
    return;
  for (auto sid : b->slots) {
    auto s = slots_.find(sid);
    if (s == nullptr || s->batch != batch_id)
      continue;
    if (s->waiters.empty()) {
      s->place = slot_place::batched; // not counted as queued
      release_slot_if_orphaned(sid);
    } else {
      // Should not happen (batches end only when their waiters are answered); if it
      // does, the text goes back to its queue rather than being lost.
      former_.enqueue(sid, *s, lane_of_slot(*s));
    }
  }
}

void dispatcher_core::bisect(uint64_t batch_id, batch_state& b) {
  std::vector<uint64_t> live;
  for (auto sid : b.sent)
    if (slots_.live(sid))
      live.push_back(sid);
  ++counters_.batches_split_rejected;
  auto half = live.size() / 2;
  auto key = b.key;
  auto b_lane = b.batch_lane;
  auto per_input = former_.bytes_per_input(key, encoding_);
  // Forget the old batch without touching its slots: they move to the halves.
  pipeline_.remove(batch_id);
  for (auto [first, last] :
       {std::pair{size_t{0}, half}, std::pair{half, live.size()}}) {
    batch_state part;
    part.key = key;
    part.batch_lane = b_lane;
    part.slots.assign(live.begin() + static_cast<ptrdiff_t>(first),
                      live.begin() + static_cast<ptrdiff_t>(last));
    part.response_bytes = part.slots.size() * per_input;
    auto bid = add_batch(std::move(part));
    pipeline_.make_ready(bid, *pipeline_.find(bid), now_);
  }
}

void dispatcher_core::pump(time_point now) {
  while (!pipeline_.full() && available_) {
    // Ready batches (retries, re-sends, halves) first, then a new one.
    if (auto bid = pipeline_.next_ready()) {
      start_attempt(*bid, *pipeline_.find(*bid), now);
      continue;
    }
    if (!form_batch(now))
      return;
  }
}

bool dispatcher_core::form_batch(time_point now) {
  pipeline_room room;
  room.bulk = pipeline_.has_room(lane::bulk);
  room.active = pipeline_.active();
  room.active_lane[0] = pipeline_.active_in(lane::interactive);
  room.active_lane[1] = pipeline_.active_in(lane::bulk);
  room.bytes_in_flight = pipeline_.bytes_in_flight();
  auto f = former_.form(slots_, room, encoding_, now);
  using verdict = formed_batch::verdict;
  switch (f.what) {
    case verdict::lingering:
      if (f.linger_until != time_point::max())
        schedule(f.linger_until, timer_kind::linger_end, f.key);
      return false;
    case verdict::nothing:
    case verdict::over_budget: return false; // pumped again when a batch ends
    case verdict::stale: return true;
    case verdict::formed: break;
  }
  batch_state b;
  b.key = f.key;
  b.batch_lane = f.batch_lane;
  b.slots = std::move(f.slots);
  b.response_bytes = f.response_bytes;
  auto bid = add_batch(std::move(b));
  start_attempt(bid, *pipeline_.find(bid), now);
  return true;
}

} // namespace embedrt::dispatch
