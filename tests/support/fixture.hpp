// Deterministic actor-test fixture with embedrt's message types registered.
#pragma once

#ifndef FAIL
#  define FAIL CAF_FAIL // 0.17.6: the fixture's request<T>() calls an undefined FAIL()
#endif

#include <caf/test/dsl.hpp>

#include "messages/type_ids.hpp"

namespace embedrt::test {

struct test_config : caf::actor_system_config {
  test_config() { add_embedrt_types(*this); }
};

using fixture = test_coordinator_fixture<test_config>;

} // namespace embedrt::test
