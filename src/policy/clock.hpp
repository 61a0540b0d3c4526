// Time types of the policies: the same as CAF's actor clock, but without CAF. Policies
// never read a clock; the caller passes `now`.
#pragma once

#include <chrono>

namespace embedrt::policy {

using time_point = std::chrono::steady_clock::time_point;
using duration = std::chrono::nanoseconds;

} // namespace embedrt::policy
