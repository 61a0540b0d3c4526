// Protocol of the rate limiter: permits for requests and tokens per minute.
#pragma once

#include <cstdint>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

namespace embedrt {

/// What the upstream's `x-ratelimit-*` headers said; negative fields were absent.
struct rate_limit_headers {
  int64_t remaining_requests = -1;
  int64_t remaining_tokens = -1;
  caf::timespan reset_requests{-1};
  caf::timespan reset_tokens{-1};
};

inline bool operator==(const rate_limit_headers& x, const rate_limit_headers& y) {
  return x.remaining_requests == y.remaining_requests
         && x.remaining_tokens == y.remaining_tokens
         && x.reset_requests == y.reset_requests && x.reset_tokens == y.reset_tokens;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, rate_limit_headers& x) {
  return f(caf::meta::type_name("rate_limit_headers"), x.remaining_requests,
           x.remaining_tokens, x.reset_requests, x.reset_tokens);
}

/// Reports how one granted permit ended, so the buckets learn from the upstream.
struct permit_feedback {
  /// Tokens reserved by the permit.
  uint32_t reserved_tokens = 0;
  /// Tokens the upstream reported (`usage.prompt_tokens`); negative: unknown (the
  /// reservation stands).
  int64_t actual_tokens = -1;
  /// Headers seen on the response (all absent when there was no response).
  rate_limit_headers headers;
  /// The upstream answered 429: pause grants for everybody for this long
  /// (Retry-After or the backoff); zero: no pause.
  caf::timespan pause{0};
};

inline bool operator==(const permit_feedback& x, const permit_feedback& y) {
  return x.reserved_tokens == y.reserved_tokens && x.actual_tokens == y.actual_tokens
         && x.headers == y.headers && x.pause == y.pause;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, permit_feedback& x) {
  return f(caf::meta::type_name("permit_feedback"), x.reserved_tokens, x.actual_tokens,
           x.headers, x.pause);
}

/// Asks for permission to send one upstream request carrying `tokens` estimated
/// tokens. Waits in the limiter's bounded FIFO until granted or denied.
struct acquire_permit {
  /// Chosen by the requester, echoed in the decision.
  uint64_t ticket = 0;
  /// Estimated prompt tokens, reserved now and reconciled with `usage` later.
  uint32_t tokens = 0;
  /// The permit is useless after this point; the limiter denies instead of waiting past
  /// it.
  caf::actor_clock::time_point deadline;
  /// Feedback on earlier permits, piggybacked so steady load needs no extra message;
  /// applied before this permit is decided.
  std::vector<permit_feedback> feedback;
};

inline bool operator==(const acquire_permit& x, const acquire_permit& y) {
  return x.ticket == y.ticket && x.tokens == y.tokens && x.deadline == y.deadline
         && x.feedback == y.feedback;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, acquire_permit& x) {
  return f(caf::meta::type_name("acquire_permit"), x.ticket, x.tokens, x.deadline,
           x.feedback);
}

/// Feedback that found no permit request to ride on (sent at most ~4 ms late, or at
/// once when it carries a 429 pause).
struct feedback_report {
  std::vector<permit_feedback> feedback;
};

inline bool operator==(const feedback_report& x, const feedback_report& y) {
  return x.feedback == y.feedback;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, feedback_report& x) {
  return f(caf::meta::type_name("feedback_report"), x.feedback);
}

/// How much of a lease was spent (the rest goes back to the buckets).
struct lease_usage {
  /// The lease (0: none).
  uint64_t lease = 0;
  uint32_t requests = 0;
  uint64_t tokens = 0;
};

inline bool operator==(const lease_usage& x, const lease_usage& y) {
  return x.lease == y.lease && x.requests == y.requests && x.tokens == y.tokens;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, lease_usage& x) {
  return f(caf::meta::type_name("lease_usage"), x.lease, x.requests, x.tokens);
}

/// Fast path: the dispatcher asks for a block of permits it may hand out itself, and
/// closes the leases it no longer uses. `requests == 0` only closes (the answer is
/// then an empty lease).
struct lease_request {
  /// Leases the asker stopped using, and how much of each was spent.
  std::vector<lease_usage> closed;
  /// Asked for (sized to recent demand by the asker).
  uint32_t requests = 0;
  uint64_t tokens = 0;
  /// Feedback on earlier permits (applied first, like on `acquire_permit`).
  std::vector<permit_feedback> feedback;
};

inline bool operator==(const lease_request& x, const lease_request& y) {
  return x.closed == y.closed && x.requests == y.requests && x.tokens == y.tokens
         && x.feedback == y.feedback;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, lease_request& x) {
  return f(caf::meta::type_name("lease_request"), x.closed, x.requests, x.tokens,
           x.feedback);
}

/// A block of permits: until `expires`, the holder grants up to `requests` permits
/// carrying up to `tokens` tokens in all without asking. `id == 0`: none granted
/// (permits are queued, grants are paused, or the buckets are empty).
struct permit_lease {
  uint64_t id = 0;
  uint32_t requests = 0;
  /// `unlimited_tokens`: no token limit applies while the lease lasts.
  uint64_t tokens = 0;
  caf::actor_clock::time_point expires;
};

/// `permit_lease::tokens` when the limiter has no tokens-per-minute limit.
constexpr uint64_t unlimited_tokens = ~uint64_t{0};

inline bool operator==(const permit_lease& x, const permit_lease& y) {
  return x.id == y.id && x.requests == y.requests && x.tokens == y.tokens
         && x.expires == y.expires;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, permit_lease& x) {
  return f(caf::meta::type_name("permit_lease"), x.id, x.requests, x.tokens, x.expires);
}

/// The limiter takes a lease back at once (a pause or a tighter upstream limit learnt
/// elsewhere); the holder stops using it and closes it with its usage.
struct lease_revoked {
  uint64_t lease = 0;
};

inline bool operator==(const lease_revoked& x, const lease_revoked& y) {
  return x.lease == y.lease;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, lease_revoked& x) {
  return f(caf::meta::type_name("lease_revoked"), x.lease);
}

enum class permit_status : uint8_t {
  granted = 0,
  /// The limiter's FIFO is full.
  denied_queue_full,
  /// The buckets (or an upstream pause) cannot grant before the deadline.
  denied_deadline,
  /// The limiter is stopping.
  denied_shutting_down,
};

const char* to_string(permit_status x);

struct permit_decision {
  uint64_t ticket = 0;
  permit_status status = permit_status::granted;
  /// How long the permit waited in the FIFO.
  caf::timespan waited{0};
};

inline bool operator==(const permit_decision& x, const permit_decision& y) {
  return x.ticket == y.ticket && x.status == y.status && x.waited == y.waited;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, permit_decision& x) {
  return f(caf::meta::type_name("permit_decision"), x.ticket, x.status, x.waited);
}

} // namespace embedrt
