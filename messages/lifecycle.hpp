// Protocol of start, supervision and shutdown.
#pragma once

#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

#include <embedrt/outcome.hpp> // shutdown_report

namespace embedrt {

/// Asks the dispatcher to stop admitting, let what is in flight finish within `grace`,
/// and answer the rest `shutting_down`. Replied to with a `shutdown_report` once every
/// admitted request has its answer.
struct begin_shutdown {
  caf::timespan grace{0};
};

inline bool operator==(const begin_shutdown& x, const begin_shutdown& y) {
  return x.grace == y.grace;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, begin_shutdown& x) {
  return f(caf::meta::type_name("begin_shutdown"), x.grace);
}

/// A component the supervisor restarts (see `rate_limiter_replaced`,
/// `circuit_breaker_replaced` in messages/interfaces.hpp).
enum class component_kind : uint8_t { rate_limiter = 0, circuit_breaker, http_pool };

const char* to_string(component_kind x);

/// Supervisor -> dispatcher: whether the runtime accepts work. While unavailable,
/// requests are answered `runtime_unavailable` at once.
struct availability_changed {
  bool available = true;
  /// Why, for the error message.
  std::string reason;
};

inline bool operator==(const availability_changed& x, const availability_changed& y) {
  return x.available == y.available && x.reason == y.reason;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, availability_changed& x) {
  return f(caf::meta::type_name("availability_changed"), x.available, x.reason);
}

/// Test hook: the pool makes worker `worker_index` fail with an exception, as a broken
/// curl state would. Only honoured when `embedrt.supervision.test_hooks` is on.
struct crash_worker_for_test {
  uint32_t worker_index = 0;
};

inline bool operator==(const crash_worker_for_test& x, const crash_worker_for_test& y) {
  return x.worker_index == y.worker_index;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, crash_worker_for_test& x) {
  return f(caf::meta::type_name("crash_worker_for_test"), x.worker_index);
}

/// Pool -> dispatcher: a worker is ready to take up to `capacity` attempts at once.
/// The dispatcher sends it `http_call`s directly (the pool is off the data path) and
/// monitors it: when it fails, the attempts it carried are answered `worker_failed`.
struct worker_joined {
  /// An `http_worker_actor`.
  caf::actor worker;
  uint32_t capacity = 0;
  /// Position in the pool, for events and tests.
  uint32_t index = 0;
};

inline bool operator==(const worker_joined& x, const worker_joined& y) {
  return x.worker == y.worker && x.capacity == y.capacity && x.index == y.index;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, worker_joined& x) {
  return f(caf::meta::type_name("worker_joined"), x.worker, x.capacity, x.index);
}

} // namespace embedrt
