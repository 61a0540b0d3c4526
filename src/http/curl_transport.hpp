// libcurl transport: one CURLM on a dedicated thread drives many transfers over pooled
// keep-alive connections. The owning worker submits through a lock-free single-producer
// queue and `curl_multi_wakeup`; completions go out through the sink. This pair of
// files is the only place that includes <curl/curl.h>.
#pragma once

#include <memory>

#include "src/http/transport.hpp"

namespace embedrt::http {

/// Creates a libcurl-backed transport (see transport_factory).
std::unique_ptr<transport> make_curl_transport(const transport_settings& settings,
                                               completion_sink sink);

/// Calls curl_global_init once per process (thread-safe); call before any transport.
void ensure_curl_initialized();

} // namespace embedrt::http
