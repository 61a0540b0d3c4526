// Integration suites: the runtime config every mock-backed suite starts from, and a
// start that fails the test (naming every config error) instead of returning null.
// Include after <caf/test/unit_test.hpp> (it uses CAF_REQUIRE).
#pragma once

#include <memory>
#include <vector>

#include <embedrt/runtime.hpp>

#include "tools/mock/mock_server.hpp"

namespace embedrt::test {

/// The mock's URL, no API key (the environment variable does not exist), retries fast.
inline runtime_config config_for(const mock::mock_server& server) {
  runtime_config cfg;
  cfg.endpoint.base_url = server.base_url();
  cfg.endpoint.api_key_env = "EMBEDRT_TEST_NO_SUCH_KEY";
  cfg.retry.base_delay_ms = 10;
  cfg.retry.max_delay_ms = 50;
  return cfg;
}

inline std::unique_ptr<runtime> start(const runtime_config& cfg,
                                      runtime_options opts = {}) {
  std::vector<config_error> errors;
  auto rt = runtime::start(cfg, errors, std::move(opts));
  for (auto& e : errors)
    CAF_MESSAGE("config error: " << e.to_string());
  CAF_REQUIRE(rt != nullptr);
  return rt;
}

} // namespace embedrt::test
