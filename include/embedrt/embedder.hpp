// The typed handle a host that is a CAF actor talks to (`runtime::embedder()`):
//
//   self->request(rt->embedder(), 30s, embed_request{{"a text"}, {}})
//     .then([](embed_result& r) { ... }, [](caf::error& e) { ... });
//
// It accepts host messages only; supervision and shutdown travel on the runtime's
// internal handle. Errors are `caf::error`s of category `embedrt` (`embed_errc`).
#pragma once

#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <embedrt/embedding.hpp>
#include <embedrt/observability.hpp>
#include <embedrt/type_ids.hpp>

namespace embedrt {

/// The public entry point: admission, micro-batching, retries, deadlines.
/// - `embed_request` -> `embed_result`, or an `embed_errc` error;
/// - `acquire_credit` -> `credit_grant` (bulk credit), `release_credit` returns it;
/// - `get_atom` -> the dispatcher's `runtime_counters`.
using embedder_actor
  = caf::typed_actor<caf::replies_to<embed_request>::with<embed_result>,
                     caf::replies_to<acquire_credit>::with<credit_grant>,
                     caf::reacts_to<release_credit>,
                     caf::replies_to<caf::get_atom>::with<runtime_counters>>;

} // namespace embedrt
