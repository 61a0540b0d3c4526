// Dispatcher: the runtime's entry point (`embedder_actor`). A thin shell around
// `dispatch::dispatcher_core`: it numbers requests, keeps their reply channels (a CAF
// response promise or a host's one-shot callback), turns the core's effects into
// messages to the rate limiter, circuit breaker and pool, and feeds their answers and
// one timer back in. All timing goes through `self->clock()`.
//
// Talks to its components with `request(..., infinite)` and tickets instead of CAF
// request timeouts: the core's own deadline heap bounds every wait, and CAF 0.17
// cancels request timeouts in linear time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <variant>

#include <caf/typed_response_promise.hpp>

#include "config/runtime_config.hpp"
#include "messages/interfaces.hpp"
#include "src/dispatch/dispatcher_core.hpp"

namespace embedrt {

/// The dispatcher's full interface: the public one plus its timer.
using dispatcher_impl = embedder_actor::extend<caf::reacts_to<caf::tick_atom>>;

struct dispatcher_args {
  runtime_config config;
  rate_limiter_actor limiter;
  circuit_breaker_actor breaker;
  http_pool_actor pool;
  event_sink_actor events;
};

struct dispatcher_state {
  static inline const char* name = "dispatcher";

  using reply_channel = std::variant<caf::typed_response_promise<embed_result>,
                                     std::shared_ptr<embed_completion>>;
  using credit_channel = std::variant<caf::typed_response_promise<credit_grant>,
                                      std::shared_ptr<credit_completion>>;

  rate_limiter_actor limiter;
  circuit_breaker_actor breaker;
  http_pool_actor pool;
  event_sink_actor events;
  std::unique_ptr<dispatch::effects> effects;
  std::unique_ptr<dispatch::dispatcher_core> core;
  std::unordered_map<uint64_t, reply_channel> replies;
  std::unordered_map<uint64_t, credit_channel> credit_replies;
  std::optional<caf::typed_response_promise<shutdown_report>> shutdown;
  uint64_t next_id = 1;
  caf::actor_clock::time_point tick_at = caf::actor_clock::time_point::max();
};

dispatcher_impl::behavior_type
dispatcher(dispatcher_impl::stateful_pointer<dispatcher_state> self,
           dispatcher_args args);

} // namespace embedrt
