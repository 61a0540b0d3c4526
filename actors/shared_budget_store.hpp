// The shared budget's store: a detached actor (its own thread) that owns the Redis
// connection and runs the budget script for the rate limiter, one call at a time.
// Blocking here never blocks a CAF scheduler thread; every call has a deadline, and
// the limiter has its own (it never waits on this actor).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "messages/shared_budget.hpp"
#include "src/policy/lease_policy.hpp"
#include "src/shared/redis_client.hpp"
#include <embedrt/runtime_config.hpp>

namespace embedrt {

struct shared_store_settings {
  shared::redis_endpoint endpoint;
  /// Never printed.
  std::string password;
  /// The Redis key of the budget.
  std::string key;
  std::chrono::milliseconds call_timeout{200};
  uint64_t requests_per_minute = 0;
  uint64_t tokens_per_minute = 0;
  uint32_t burst_seconds = 1;
};

struct shared_budget_store_state {
  static inline const char* name = "shared_budget_store";
  std::unique_ptr<shared::redis_client> client;
};

/// Everything a rate limiter needs to share its budget.
struct shared_budget_args {
  shared_store_settings store;
  policy::lease_settings lease;
  /// Seeds the jitter of the store probes.
  uint64_t seed = 0;
};

/// The shared budget of `cfg`, or nothing when `shared_store` is empty. The name
/// defaults to `default_budget_name(embeddings_url, api_key)`; the password comes from
/// the variable named by `shared_password_env`. Assumes a validated `cfg`.
std::optional<shared_budget_args>
make_shared_budget_args(const rate_limiter_config& cfg,
                        const std::string& embeddings_url, const std::string& api_key);

/// The limits of the local share used while the store is away.
rate_limiter_config fallback_share(const rate_limiter_config& cfg);

/// Answers `shared_budget_ask` with `shared_budget_grant` (`ok = false` on failure).
caf::behavior shared_budget_store(caf::stateful_actor<shared_budget_store_state>* self,
                                  shared_store_settings settings);

} // namespace embedrt
