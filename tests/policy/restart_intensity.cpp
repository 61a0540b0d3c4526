#define CAF_SUITE policy.restart_intensity
#include <caf/test/unit_test.hpp>

#include <chrono>

#include "src/policy/restart_intensity.hpp"

using namespace embedrt::policy;
using namespace std::chrono_literals;

namespace {

const time_point t0 = time_point{} + 1h;

} // namespace

CAF_TEST(restarts up to the maximum within the window are allowed) {
  restart_intensity intensity{3, 10s};
  CAF_CHECK(intensity.record(t0));
  CAF_CHECK(intensity.record(t0 + 1s));
  CAF_CHECK(intensity.record(t0 + 2s));
  CAF_CHECK_EQUAL(intensity.recent(t0 + 2s), 3u);
}

CAF_TEST(one restart more than the maximum within the window escalates) {
  restart_intensity intensity{3, 10s};
  for (int i = 0; i < 3; ++i)
    intensity.record(t0);
  CAF_CHECK(!intensity.record(t0 + 9s));
  CAF_CHECK_EQUAL(intensity.recent(t0 + 9s), 4u);
}

CAF_TEST(restarts older than the window no longer count) {
  restart_intensity intensity{3, 10s};
  intensity.record(t0);
  intensity.record(t0 + 1s);
  intensity.record(t0 + 2s);
  // The restart at t0 is exactly one window old: out.
  CAF_CHECK(intensity.record(t0 + 10s));
  CAF_CHECK_EQUAL(intensity.recent(t0 + 10s), 3u);
  CAF_CHECK_EQUAL(intensity.recent(t0 + 12s), 1u);
  CAF_CHECK_EQUAL(intensity.recent(t0 + 20s), 0u);
}

CAF_TEST(a maximum of zero escalates on the first restart) {
  restart_intensity intensity{0, 10s};
  CAF_CHECK(!intensity.record(t0));
}

CAF_TEST(reset forgets all restarts) {
  restart_intensity intensity{1, 10s};
  intensity.record(t0);
  CAF_REQUIRE(!intensity.record(t0));
  intensity.reset();
  CAF_CHECK_EQUAL(intensity.recent(t0), 0u);
  CAF_CHECK(intensity.record(t0));
}
