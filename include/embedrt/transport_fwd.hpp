// Names of the HTTP transport seam, for `runtime_options::transport` (tests replace
// libcurl with a scripted transport). The types themselves are internal
// (src/http/transport.hpp); a host never needs them.
#pragma once

#include <functional>
#include <memory>
#include <vector>

namespace embedrt::http {

class transport;
struct transport_settings;
struct transfer_result;

/// Receives the completions of one turn of the transport loop (at least one), on a
/// transport thread; every transfer appears exactly once. Must not block. Batching
/// turns many completions into one message to the worker under load.
using completion_sink = std::function<void(std::vector<transfer_result>&&)>;

/// Creates a transport that delivers completions to `sink`. Destroying the transport
/// aborts outstanding transfers without calling the sink.
using transport_factory = std::function<std::unique_ptr<transport>(
  const transport_settings&, completion_sink)>;

} // namespace embedrt::http
