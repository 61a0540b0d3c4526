// Protocol between the rate limiter and its shared-budget store actor (Redis): one
// call asks for a lease and carries what this process learnt since the last call.
#pragma once

#include <cstdint>
#include <string>

#include <caf/meta/type_name.hpp>

namespace embedrt {

/// One call to the shared store. Every field is a count or milliseconds; negative
/// header fields were absent.
struct shared_budget_ask {
  /// Matches the answer to the call; stale answers are dropped.
  uint64_t seq = 0;
  /// Lease wanted: requests and tokens.
  int64_t want_requests = 0;
  int64_t want_tokens = 0;
  /// Unused lease given back.
  int64_t return_requests = 0;
  int64_t return_tokens = 0;
  /// Reconciled token usage: positive charges more, negative gives back.
  int64_t usage_tokens = 0;
  /// A 429 seen here: pause every process for this long, ms (0: none).
  int64_t pause_ms = 0;
  /// Latest x-ratelimit-* observation (-1: absent).
  int64_t remaining_requests = -1;
  int64_t reset_requests_ms = -1;
  int64_t remaining_tokens = -1;
  int64_t reset_tokens_ms = -1;
};

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, shared_budget_ask& x) {
  return f(caf::meta::type_name("shared_budget_ask"), x.seq, x.want_requests,
           x.want_tokens, x.return_requests, x.return_tokens, x.usage_tokens,
           x.pause_ms, x.remaining_requests, x.reset_requests_ms, x.remaining_tokens,
           x.reset_tokens_ms);
}

/// The store's answer to one `shared_budget_ask`.
struct shared_budget_grant {
  uint64_t seq = 0;
  /// False: the store was unreachable, slow or failed (`error` says why, no secrets);
  /// nothing was granted and nothing sent was applied.
  bool ok = false;
  std::string error;
  /// Lease granted.
  int64_t requests = 0;
  int64_t tokens = 0;
  /// Shared pause still to run, ms (0: none).
  int64_t pause_ms = 0;
  /// When the store can grant again if it granted less than wanted, µs (0: now).
  int64_t retry_us = 0;
};

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, shared_budget_grant& x) {
  return f(caf::meta::type_name("shared_budget_grant"), x.seq, x.ok, x.error,
           x.requests, x.tokens, x.pause_ms, x.retry_us);
}

} // namespace embedrt
