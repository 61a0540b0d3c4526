// The one CAF type-ID block of embedrt: every message type, sorted by name.
// Register it with `embedrt::add_embedrt_types(cfg)` (also done by the runtime and the
// test fixture).
#pragma once

#include <caf/actor_system_config.hpp>
#include <caf/type_id.hpp>

#include "messages/circuit.hpp"
#include "messages/embedding.hpp"
#include "messages/errors.hpp"
#include "messages/http.hpp"
#include "messages/lifecycle.hpp"
#include "messages/observability.hpp"
#include "messages/rate_limit.hpp"
#include "messages/shared_budget.hpp"

#define EMBEDRT_ADD_TYPE_ID(type) CAF_ADD_TYPE_ID(embedrt, (embedrt::type))

CAF_BEGIN_TYPE_ID_BLOCK(embedrt, caf::first_custom_type_id)
EMBEDRT_ADD_TYPE_ID(acquire_credit)
EMBEDRT_ADD_TYPE_ID(acquire_permit)
EMBEDRT_ADD_TYPE_ID(availability_changed)
EMBEDRT_ADD_TYPE_ID(begin_shutdown)
EMBEDRT_ADD_TYPE_ID(breaker_check)
EMBEDRT_ADD_TYPE_ID(breaker_state_changed)
EMBEDRT_ADD_TYPE_ID(breaker_verdict)
EMBEDRT_ADD_TYPE_ID(call_outcome)
EMBEDRT_ADD_TYPE_ID(component_replaced)
EMBEDRT_ADD_TYPE_ID(crash_worker_for_test)
EMBEDRT_ADD_TYPE_ID(credit_grant)
EMBEDRT_ADD_TYPE_ID(embed_failure)
EMBEDRT_ADD_TYPE_ID(embed_options)
EMBEDRT_ADD_TYPE_ID(embed_request)
EMBEDRT_ADD_TYPE_ID(embed_result)
EMBEDRT_ADD_TYPE_ID(embedding_usage)
EMBEDRT_ADD_TYPE_ID(feedback_report)
EMBEDRT_ADD_TYPE_ID(http_call)
EMBEDRT_ADD_TYPE_ID(http_call_result)
EMBEDRT_ADD_TYPE_ID(http_call_results)
EMBEDRT_ADD_TYPE_ID(lease_request)
EMBEDRT_ADD_TYPE_ID(lease_revoked)
EMBEDRT_ADD_TYPE_ID(lease_usage)
EMBEDRT_ADD_TYPE_ID(outcome_report)
EMBEDRT_ADD_TYPE_ID(permit_decision)
EMBEDRT_ADD_TYPE_ID(permit_feedback)
EMBEDRT_ADD_TYPE_ID(permit_lease)
EMBEDRT_ADD_TYPE_ID(rate_limit_headers)
EMBEDRT_ADD_TYPE_ID(release_credit)
EMBEDRT_ADD_TYPE_ID(runtime_counters)
EMBEDRT_ADD_TYPE_ID(runtime_event)
EMBEDRT_ADD_TYPE_ID(shared_budget_ask)
EMBEDRT_ADD_TYPE_ID(shared_budget_grant)
EMBEDRT_ADD_TYPE_ID(shutdown_report)
EMBEDRT_ADD_TYPE_ID(worker_joined)
CAF_END_TYPE_ID_BLOCK(embedrt)

#undef EMBEDRT_ADD_TYPE_ID

namespace embedrt {

/// Registers embedrt's message types and its error category with `cfg`. Call once per
/// config, before the actor system is constructed.
void add_embedrt_types(caf::actor_system_config& cfg);

} // namespace embedrt
