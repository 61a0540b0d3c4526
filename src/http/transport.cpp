#include "src/http/transport.hpp"

namespace embedrt::http {

const char* to_string(transfer_status x) {
  switch (x) {
    case transfer_status::completed: return "completed";
    case transfer_status::connect_failed: return "connect_failed";
    case transfer_status::timed_out: return "timed_out";
    case transfer_status::connection_lost: return "connection_lost";
    case transfer_status::failed: return "failed";
    case transfer_status::transport_broken: return "transport_broken";
    case transfer_status::too_large: return "too_large";
    case transfer_status::tls_rejected: return "tls_rejected";
  }
  return "???";
}

} // namespace embedrt::http
