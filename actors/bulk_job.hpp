// Bulk job: one short-lived actor per `runtime::embed_many` call. It asks the
// dispatcher for bulk credit, sends the texts as requests of at most
// `texts_per_request` on the bulk lane (one credit each, so it waits for room instead
// of being shed), and answers every text on its own (`host::bulk_plan` decides what
// goes out and splits a request refused because of one of its texts). When the
// credit is refused (the runtime stops), the texts not sent yet fail
// `shutting_down`; requests in flight are answered by the dispatcher as usual. It
// quits once every text has its answer, returning unused credit.
//
// Assumes the texts fit in memory twice over for the requests in flight (a request
// carries copies, so that the texts of a refused one can be sent again).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <embedrt/embedder.hpp>
#include <embedrt/outcome.hpp>

#include "src/host/bulk_plan.hpp"

namespace embedrt {

/// Delivers the outcome of one `embed_many` call exactly once: the job's, or, if the
/// job is gone without one (it failed, or was never spawned), every text failed
/// `worker_failed`. Like `one_shot`, without holding a fallback of every text.
class bulk_completion {
public:
  bulk_completion(size_t texts, std::function<void(embed_many_outcome)> f)
    : texts_(texts), f_(std::move(f)) {}
  bulk_completion(const bulk_completion&) = delete;
  bulk_completion& operator=(const bulk_completion&) = delete;
  ~bulk_completion();

  /// Delivers `x`; later calls are ignored.
  void deliver(embed_many_outcome x);

  /// Every text failed with `f`.
  static embed_many_outcome all_failed(size_t texts, const embed_failure& f);

private:
  size_t texts_;
  std::function<void(embed_many_outcome)> f_;
};

struct bulk_job_args {
  embedder_actor embedder;
  std::vector<std::string> texts;
  embed_options options;
  uint32_t texts_per_request = 64;
  std::shared_ptr<bulk_completion> done;
};

struct bulk_job_state {
  static inline const char* name = "bulk_job";
  embedder_actor embedder;
  /// The inputs; a text is released once it has its answer.
  std::vector<std::string> texts;
  embed_options options;
  std::unique_ptr<host::bulk_plan> plan;
  /// Credit held and not spent yet.
  uint32_t credit = 0;
  /// An `acquire_credit` is out.
  bool asking = false;
  /// The credit was refused: nothing more is sent.
  bool stopping = false;
  std::shared_ptr<bulk_completion> done;
};

caf::behavior bulk_job(caf::stateful_actor<bulk_job_state>* self, bulk_job_args args);

} // namespace embedrt
