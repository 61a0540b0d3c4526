// dispatcher_core: what happens to one attempt of a batch, permit -> verdict -> call ->
// outcome, and the one abandon path for a component that does not answer. The
// pipeline (attempt_pipeline.hpp) keeps the stages and the slot count; this file
// decides. Same class as dispatcher_core.cpp, same rules (no clock, `effects` only).
#include <algorithm>

#include "src/dispatch/dispatcher_core.hpp"
#include "src/openai/embeddings_codec.hpp"
#include "src/openai/response_bound.hpp"

namespace embedrt::dispatch {

namespace {

using std::chrono::milliseconds;

/// How long a batch turned away by a half-open breaker (all trials out) waits before
/// asking again if no trial outcome wakes it first.
constexpr duration half_open_poll = milliseconds{250};

/// How long a batch waits before re-asking a component that did not answer (it died
/// and is being restarted).
constexpr duration component_retry = milliseconds{50};

/// Attempts listed in one request's trace (the durations still sum all of them).
constexpr size_t max_traced_attempts = 16;

std::chrono::nanoseconds ns(duration d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d);
}

} // namespace

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
  uint32_t tokens = 0;
  for (auto sid : b.slots)
    if (auto s = slots_.find(sid); s != nullptr && !s->waiters.empty())
      tokens += s->tokens;
  b.reserved_tokens = tokens;
  auto ticket = pipeline_.begin(batch_id, b, now);
  fx_.request_permit(acquire_permit{ticket, tokens, deadline, {}});
}

void dispatcher_core::on_permit(const permit_decision& x, time_point now) {
  now_ = now;
  auto [bid, bp] = pipeline_.attempt(x.ticket, batch_stage::waiting_permit);
  if (bp == nullptr)
    return;
  auto& b = *bp;
  auto waited = ns(now - b.stage_since);
  for_requests(b.slots, [&](request_state& r) { r.trace.permit += waited; });
  if (x.status == permit_status::granted) {
    if (has_live_slots(b)) {
      pipeline_.advance(b, batch_stage::waiting_breaker, now);
      fx_.check_breaker(breaker_check{b.attempt, former_.key(b.key).key.model, {}});
      return;
    }
    // Everybody left while it waited: give the permit back.
    fx_.report_permit(permit_feedback{b.reserved_tokens, 0, {}, duration{0}});
    pipeline_.end(b);
    erase_batch(bid);
  } else {
    pipeline_.end(b);
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
  now_ = now;
  auto [bid, bp] = pipeline_.attempt(x.ticket, batch_stage::waiting_breaker);
  if (bp == nullptr)
    return;
  auto& b = *bp;
  auto waited = ns(now - b.stage_since);
  for_requests(b.slots, [&](request_state& r) { r.trace.breaker += waited; });
  auto model = former_.key(b.key).key.model;
  bool allowed = x.decision == breaker_decision::allowed
                 || x.decision == breaker_decision::allowed_trial;
  if (allowed && has_live_slots(b)) {
    b.generation = x.generation;
    b.trial = x.decision == breaker_decision::allowed_trial;
    put_on_wire(b, now);
    return;
  }
  pipeline_.end(b);
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
                                + " is half-open and its trial calls are out",
                       0});
    if (auto again = pipeline_.find(bid)) {
      if (!has_live_slots(*again)) {
        erase_batch(bid);
      } else {
        ++counters_.waits_circuit_open;
        auto until = open ? x.retry_at : now + half_open_poll;
        park(bid, *again, now, std::max(until, now));
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
    auto s = slots_.find(sid);
    if (s == nullptr || s->waiters.empty())
      continue;
    b.sent.push_back(sid);
    inputs.push_back(&s->text);
  }
  const auto& q = former_.key(b.key);
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
  pipeline_.advance(b, batch_stage::in_flight, now);
  for_requests(b.sent, [&](request_state& r) {
    if (!r.on_wire) {
      r.on_wire = true;
      r.trace.queue = ns(now - r.admitted_at);
    }
  });
  http_call call;
  call.attempt_id = b.attempt;
  call.body = openai::encode_request(q.key.model, inputs, q.key.dimensions, encoding_);
  call.input_count = static_cast<uint32_t>(inputs.size());
  call.expected_dimension = q.dimension.confirmed();
  call.encoding = encoding_;
  call.max_response_bytes
    = openai::max_response_bytes(call.input_count, call.expected_dimension, encoding_,
                                 cfg_.limits.max_response_bytes);
  call.timeout = timeout;
  call.deadline = b.deadline;
  fx_.send_call(std::move(call));
}

void dispatcher_core::trace_attempt(uint64_t batch_id, const batch_state& b,
                                    const http_call_result& x, duration wire) {
  attempt_trace a;
  a.status = x.status;
  a.http_status = x.http_status;
  a.duration = ns(wire);
  a.batch_id = batch_id;
  a.batch_inputs = static_cast<uint32_t>(b.sent.size());
  auto sent_at = now_ - wire;
  for_requests(b.sent, [&](request_state& r) {
    if (!r.on_wire) { // joined a text already on the wire (dedup): it did not queue
      r.on_wire = true;
      r.trace.queue = ns(std::max(duration{0}, sent_at - r.admitted_at));
    }
    // Its share of the wire time: never more than it has been waiting.
    r.trace.attempt += std::min(a.duration, ns(now_ - r.admitted_at));
    if (r.trace.attempts.size() < max_traced_attempts)
      r.trace.attempts.push_back(a);
  });
}

void dispatcher_core::on_call_result(http_call_result x, time_point now) {
  now_ = now;
  count_response(x);
  auto [bid, bp] = pipeline_.attempt(x.attempt_id, batch_stage::in_flight);
  if (bp == nullptr)
    return; // a late answer of an attempt already given up: dropped
  auto& b = *bp;
  trace_attempt(bid, b, x, now - b.stage_since);
  pipeline_.end(b);
  bool was_trial = b.trial;
  fx_.report_outcome(call_outcome{former_.key(b.key).key.model, b.generation, b.trial,
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
    pipeline_.wake_parked(now);
  pump(now);
  request_wake();
}

void dispatcher_core::handle_failure(uint64_t batch_id, batch_state& b,
                                     http_call_result& x, time_point now) {
  auto status = x.http_status;
  bool splittable = (x.status == attempt_status::http_error
                     && (status == 400 || status == 413 || status == 422))
                    || x.status == attempt_status::too_large;
  if (splittable) {
    auto live = std::count_if(b.sent.begin(), b.sent.end(),
                              [this](uint64_t sid) { return slots_.live(sid); });
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
    back_off(batch_id, b, now, now + decision.delay);
    return;
  }
  if (decision.budget_exhausted) {
    ++counters_.retries_denied_budget;
    fx_.publish(event_kind::retry_budget_exhausted, decision.reason);
  }
  fail_batch(batch_id, embed_failure{decision.error, decision.reason, status});
}

void dispatcher_core::back_off(uint64_t batch_id, batch_state& b, time_point now,
                               time_point until) {
  auto epoch = pipeline_.back_off(b, now);
  schedule(until, timer_kind::batch_wake, batch_id, epoch);
}

void dispatcher_core::park(uint64_t batch_id, batch_state& b, time_point now,
                           time_point until) {
  auto epoch = pipeline_.park(batch_id, b, now);
  schedule(std::min(until, b.deadline), timer_kind::batch_wake, batch_id, epoch);
}

void dispatcher_core::abandon(uint64_t ticket, time_point now) {
  now_ = now;
  auto [bid, bp] = pipeline_.attempt(ticket);
  if (bp == nullptr)
    return;
  auto& b = *bp;
  switch (b.stage) {
    case batch_stage::in_flight: {
      http_call_result x;
      x.attempt_id = ticket;
      x.status = attempt_status::worker_failed;
      x.detail = "the worker carrying the attempt failed before it finished";
      on_call_result(std::move(x), now);
      return;
    }
    case batch_stage::waiting_breaker: // the permit was granted: give it back
      fx_.report_permit(permit_feedback{b.reserved_tokens, 0, {}, duration{0}});
      [[fallthrough]];
    case batch_stage::waiting_permit:
      // Asked again shortly (the component is being restarted); not an attempt.
      pipeline_.end(b);
      back_off(bid, b, now, now + component_retry);
      break;
    default: return;
  }
  pump(now);
  request_wake();
}

void dispatcher_core::on_component_replaced(component_kind kind, time_point now) {
  auto stage = kind == component_kind::rate_limiter      ? batch_stage::waiting_permit
               : kind == component_kind::circuit_breaker ? batch_stage::waiting_breaker
                                                         : batch_stage::in_flight;
  std::vector<uint64_t> tickets;
  for (auto& [bid, b] : pipeline_.batches())
    if (b.stage == stage && b.attempt != 0)
      tickets.push_back(b.attempt);
  for (auto t : tickets)
    abandon(t, now);
  pump(now);
  request_wake();
}

} // namespace embedrt::dispatch
