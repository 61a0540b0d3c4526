// Routes attempts to HTTP workers: least loaded first, never beyond a worker's
// capacity (its share of `http_pool.max_connections`), and remembers which worker
// carries which attempt, so a failed worker's attempts can be answered at once. Calls
// wait here only while no worker has room (e.g. during a restart); the dispatcher
// never has more attempts out than the total capacity, so the wait list is bounded.
// Pure: no CAF, no clock.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>
#include <vector>

#include "messages/http.hpp"
#include "src/policy/clock.hpp"

namespace embedrt::dispatch {

class worker_router {
public:
  using worker_id = uint64_t;

  /// A call ready to go out, and where.
  struct routed {
    http_call call;
    worker_id worker;
  };

  /// A worker joined with room for `capacity` attempts at once.
  void add(worker_id id, uint32_t capacity);

  /// A worker left (failed); returns the attempts it carried, now forgotten.
  std::vector<uint64_t> remove(worker_id id);

  /// Queues a call until a worker has room.
  void submit(http_call call);

  /// The next waiting call that a worker has room for (the least loaded one), now
  /// counted against that worker; nullopt when none can go.
  std::optional<routed> next();

  /// An attempt finished; frees its worker's slot. False for an unknown attempt (its
  /// worker already failed, or it expired while waiting): the answer is stale.
  bool finish(uint64_t attempt);

  /// Removes waiting calls whose deadline is at or before `now`; returns them.
  std::vector<uint64_t> expire(policy::time_point now);

  /// The earliest deadline among waiting calls (max() when none).
  policy::time_point next_deadline() const;

  size_t workers() const noexcept { return workers_.size(); }

  size_t waiting() const noexcept { return waiting_.size(); }

  /// Attempts out on workers.
  size_t in_flight() const noexcept { return assigned_.size(); }

private:
  struct worker {
    uint32_t capacity = 0;
    uint32_t in_flight = 0;
  };
  std::unordered_map<worker_id, worker> workers_;
  std::unordered_map<uint64_t, worker_id> assigned_;
  std::deque<http_call> waiting_;
};

} // namespace embedrt::dispatch
