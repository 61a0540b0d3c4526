// The public CAF type-ID block of embedrt: the messages a host exchanges with the
// `embedder_actor`, sorted by name. The runtime's internal messages have a block of
// their own right after this one (`embedrt_internal`). `add_embedrt_types(cfg)`
// registers both (the runtime does it for its own actor system).
#pragma once

#include <caf/actor_system_config.hpp>
#include <caf/type_id.hpp>

#include <embedrt/embedding.hpp>
#include <embedrt/errors.hpp>
#include <embedrt/observability.hpp>
#include <embedrt/outcome.hpp>

#define EMBEDRT_ADD_TYPE_ID(type) CAF_ADD_TYPE_ID(embedrt, (embedrt::type))

CAF_BEGIN_TYPE_ID_BLOCK(embedrt, caf::first_custom_type_id)
EMBEDRT_ADD_TYPE_ID(acquire_credit)
EMBEDRT_ADD_TYPE_ID(credit_grant)
EMBEDRT_ADD_TYPE_ID(embed_failure)
EMBEDRT_ADD_TYPE_ID(embed_options)
EMBEDRT_ADD_TYPE_ID(embed_request)
EMBEDRT_ADD_TYPE_ID(embed_result)
EMBEDRT_ADD_TYPE_ID(embedding_usage)
EMBEDRT_ADD_TYPE_ID(release_credit)
EMBEDRT_ADD_TYPE_ID(runtime_counters)
EMBEDRT_ADD_TYPE_ID(runtime_event)
EMBEDRT_ADD_TYPE_ID(shutdown_report)
CAF_END_TYPE_ID_BLOCK(embedrt)

#undef EMBEDRT_ADD_TYPE_ID

namespace embedrt {

/// Registers embedrt's message types (public and internal) and its error category
/// with `cfg`. Call once per config, before the actor system is constructed.
void add_embedrt_types(caf::actor_system_config& cfg);

} // namespace embedrt
