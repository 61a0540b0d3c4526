#include "actors/bulk_job.hpp"

#include <algorithm>
#include <utility>

#include <caf/send.hpp>

namespace embedrt {

// -- bulk_completion ---------------------------------------------------------------

bulk_completion::~bulk_completion() {
  if (f_)
    f_(all_failed(texts_, embed_failure{embed_errc::worker_failed,
                                        "the bulk job ended without an answer (the "
                                        "runtime stopped or the job failed)",
                                        0}));
}

void bulk_completion::deliver(embed_many_outcome x) {
  if (auto f = std::exchange(f_, nullptr))
    f(std::move(x));
}

embed_many_outcome bulk_completion::all_failed(size_t texts, const embed_failure& f) {
  embed_many_outcome result;
  result.texts.resize(texts);
  for (auto& t : result.texts)
    t.failure = f;
  result.failures = texts;
  return result;
}

// -- the actor ---------------------------------------------------------------------

namespace {

using self_ptr = caf::stateful_actor<bulk_job_state>*;

/// Most requests asked for in one `acquire_credit`.
constexpr size_t max_credit_ask = 1024;

void pump(self_ptr self);

/// Answers once every text has its answer, and quits once no credit ask is out
/// (credit granted after the answer is returned, not lost to the lane).
void maybe_finish(self_ptr self) {
  auto& st = self->state;
  if (st.done && st.plan->finished())
    std::exchange(st.done, nullptr)->deliver(st.plan->take());
  if (st.done || st.asking)
    return;
  if (st.credit > 0)
    self->send(st.embedder, release_credit{st.credit});
  st.credit = 0;
  self->quit();
}

/// Nothing more is sent: what is not in flight fails with `f`.
void stop_sending(self_ptr self, const embed_failure& f) {
  auto& st = self->state;
  st.stopping = true;
  st.plan->fail_waiting(f);
  maybe_finish(self);
}

void ask_credit(self_ptr self) {
  auto& st = self->state;
  if (st.asking || st.stopping)
    return;
  auto want = std::min(st.plan->chunks_waiting(), max_credit_ask);
  if (want == 0)
    return;
  st.asking = true;
  self->request(st.embedder, caf::infinite, acquire_credit{static_cast<uint32_t>(want)})
    .then(
      [=](credit_grant& g) {
        self->state.asking = false;
        if (!self->state.done) { // answered meanwhile: give it back
          self->state.credit += g.requests;
          maybe_finish(self);
          return;
        }
        if (g.requests == 0) {
          stop_sending(self, embed_failure{embed_errc::shutting_down,
                                           "the runtime is shutting down", 0});
          return;
        }
        self->state.credit += g.requests;
        pump(self);
      },
      [=](caf::error& err) {
        self->state.asking = false;
        if (!self->state.done)
          maybe_finish(self);
        else
          stop_sending(self, to_failure(err));
      });
}

void release_texts(self_ptr self, const host::bulk_plan::chunk& c) {
  for (auto i : c)
    std::string{}.swap(self->state.texts[i]);
}

void send_chunk(self_ptr self, host::bulk_plan::chunk c) {
  auto& st = self->state;
  embed_request req;
  req.texts.reserve(c.size());
  for (auto i : c)
    req.texts.push_back(st.texts[i]); // a copy: a refused request is split and resent
  req.options = st.options;
  req.options.priority = lane::bulk;
  auto shared = std::make_shared<host::bulk_plan::chunk>(std::move(c));
  self->request(st.embedder, caf::infinite, std::move(req))
    .then(
      [=](embed_result& r) {
        self->state.plan->succeeded(*shared, std::move(r));
        release_texts(self, *shared);
        maybe_finish(self);
      },
      [=](caf::error& err) {
        auto f = to_failure(err);
        auto answered = self->state.plan->answered();
        self->state.plan->failed(*shared, f);
        if (self->state.plan->answered() > answered)
          release_texts(self, *shared);
        if (f.code == embed_errc::shutting_down) {
          stop_sending(self, f);
          return;
        }
        pump(self); // split halves, if any
        maybe_finish(self);
      });
}

void pump(self_ptr self) {
  auto& st = self->state;
  while (!st.stopping && st.credit > 0 && st.plan->chunks_waiting() > 0) {
    --st.credit;
    send_chunk(self, st.plan->next());
  }
  if (st.plan->chunks_waiting() > 0)
    ask_credit(self);
}

} // namespace

caf::behavior bulk_job(caf::stateful_actor<bulk_job_state>* self, bulk_job_args args) {
  auto& st = self->state;
  st.embedder = std::move(args.embedder);
  st.texts = std::move(args.texts);
  st.options = std::move(args.options);
  st.done = std::move(args.done);
  st.plan = std::make_unique<host::bulk_plan>(st.texts.size(), args.texts_per_request);
  if (st.plan->finished()) { // no texts: nothing to answer
    std::exchange(st.done, nullptr)->deliver(st.plan->take());
    self->quit();
    return {};
  }
  pump(self);
  // Only responses arrive; the behavior keeps the actor alive until they have.
  return {[](caf::unit_t) {}};
}

} // namespace embedrt
