// HTTP worker: owns one transport (in production a curl multi handle on its own
// thread) and turns `http_call`s from the dispatcher into checked `http_call_result`s.
// Many transfers run at once; the actor itself never blocks. The transport hands over
// the completions of each loop turn as one `transfer_batch`; the bodies are decoded
// and checked here (simdjson), on the actor scheduler, and go back to the dispatcher
// as one `http_call_results` message.
//
// A worker fails (and its pool restarts it) when its transport breaks or when a test
// asks it to; the dispatcher, which monitors it, answers what it carried.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>

#include "messages/interfaces.hpp"
#include "src/http/transport.hpp"

namespace embedrt {

/// Finished transfers of one transport loop turn, sent by the transport thread.
struct transfer_batch {
  std::vector<http::transfer_result> results;
};

} // namespace embedrt

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(embedrt::transfer_batch)

namespace embedrt {

using http_worker_actor
  = caf::typed_actor<caf::reacts_to<http_call>, caf::reacts_to<transfer_batch>,
                     caf::reacts_to<crash_worker_for_test>>;

struct http_worker_args {
  /// Position in the pool, for events and tests.
  uint32_t index = 0;
  /// Where results go (the dispatcher).
  call_sink_actor sink;
  /// Holds the API key: never printed, never put in a message.
  http::transport_settings settings;
  http::transport_factory make_transport;
  /// Honour `crash_worker_for_test`.
  bool test_hooks = false;
};

struct http_worker_state {
  static inline const char* name = "http_worker";

  struct in_flight {
    uint32_t input_count = 0;
    uint32_t expected_dimension = 0;
    encoding_format encoding = encoding_format::base64;
    /// Size of the request body: reported usage is believed up to this many tokens
    /// (a token is at least one byte of input).
    uint64_t request_bytes = 0;
  };

  http_worker_args args;
  std::unique_ptr<http::transport> transport;
  std::unordered_map<uint64_t, in_flight> calls;
  /// Response buffers to hand back to the transport with the next submits.
  std::vector<std::string> spare_bodies;
};

http_worker_actor::behavior_type
http_worker(http_worker_actor::stateful_pointer<http_worker_state> self,
            http_worker_args args);

/// Maps a finished transfer to the attempt's result: status mapping, the upstream's
/// error message for non-2xx, and the full response check for 2xx. Pure.
/// Leaves `x.body` in place (the caller recycles the buffer). Every text from the
/// upstream in `detail` passes openai::clean_upstream_text (512 bytes, no control
/// characters, secrets and `api_key` redacted); durations saturate.
http_call_result to_call_result(http::transfer_result& x,
                                const http_worker_state::in_flight& call,
                                std::string_view api_key = {});

} // namespace embedrt
