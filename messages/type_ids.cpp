#include "messages/type_ids.hpp"

#include <caf/atom.hpp>

#include "messages/interfaces.hpp"

namespace embedrt {

void add_embedrt_types(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::embedrt>();
  cfg.add_message_types<caf::id_block::embedrt_internal>();
  cfg.add_error_category(embed_error_category, render_embed_error);
}

} // namespace embedrt
