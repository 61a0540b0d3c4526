// The CAF type-ID block of embedrt's internal messages, sorted by name; it follows the
// public block (<embedrt/type_ids.hpp>). `embedrt::add_embedrt_types(cfg)` registers
// both (also done by the runtime and the test fixture).
#pragma once

#include <caf/actor_system_config.hpp>
#include <caf/type_id.hpp>

#include <embedrt/type_ids.hpp>

#include "messages/circuit.hpp"
#include "messages/http.hpp"
#include "messages/lifecycle.hpp"
#include "messages/rate_limit.hpp"
#include "messages/shared_budget.hpp"

namespace embedrt {

// Defined in messages/interfaces.hpp (they hold typed handles).
struct circuit_breaker_replaced;
struct rate_limiter_replaced;

} // namespace embedrt

#define EMBEDRT_ADD_TYPE_ID(type) CAF_ADD_TYPE_ID(embedrt_internal, (embedrt::type))

CAF_BEGIN_TYPE_ID_BLOCK(embedrt_internal, caf::id_block::embedrt::end)
EMBEDRT_ADD_TYPE_ID(acquire_permit)
EMBEDRT_ADD_TYPE_ID(availability_changed)
EMBEDRT_ADD_TYPE_ID(begin_shutdown)
EMBEDRT_ADD_TYPE_ID(breaker_check)
EMBEDRT_ADD_TYPE_ID(breaker_state_changed)
EMBEDRT_ADD_TYPE_ID(breaker_verdict)
EMBEDRT_ADD_TYPE_ID(call_outcome)
EMBEDRT_ADD_TYPE_ID(circuit_breaker_replaced)
EMBEDRT_ADD_TYPE_ID(crash_worker_for_test)
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
EMBEDRT_ADD_TYPE_ID(rate_limiter_replaced)
EMBEDRT_ADD_TYPE_ID(shared_budget_ask)
EMBEDRT_ADD_TYPE_ID(shared_budget_grant)
EMBEDRT_ADD_TYPE_ID(worker_joined)
CAF_END_TYPE_ID_BLOCK(embedrt_internal)

#undef EMBEDRT_ADD_TYPE_ID
