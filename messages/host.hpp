// Answer channels for hosts that are not actors. A request from such a host carries a
// one-shot callback; if the message or the actor holding it dies before answering,
// the callback still fires once, with a typed error. That keeps the promise "every
// request gets exactly one answer" even across crashes.
#pragma once

#include <functional>
#include <memory>
#include <utility>

#include <caf/allowed_unsafe_message_type.hpp>

#include <embedrt/embedding.hpp>
#include <embedrt/errors.hpp>
#include <embedrt/outcome.hpp>

namespace embedrt {

/// Calls `f` exactly once: with the delivered value, or with `fallback` if dropped.
template<class T>
class one_shot {
public:
  one_shot(std::function<void(T)> f, T fallback)
    : f_(std::move(f)), fallback_(std::move(fallback)) {}
  one_shot(const one_shot&) = delete;
  one_shot& operator=(const one_shot&) = delete;
  ~one_shot() {
    if (f_)
      f_(std::move(fallback_));
  }
  /// Delivers `x`; later calls are ignored.
  void deliver(T x) {
    if (auto f = std::exchange(f_, nullptr))
      f(std::move(x));
  }
  bool delivered() const noexcept { return !f_; }

private:
  std::function<void(T)> f_;
  T fallback_;
};

using embed_completion = one_shot<embed_outcome>;
using credit_completion = one_shot<credit_grant>;

/// How a request took its place in its lane (internal: hosts never choose it).
enum class admission_path : uint8_t {
  /// The dispatcher enters the admission gate for it (sheds when the lane is full).
  at_dispatcher = 0,
  /// `runtime::embed` entered the gate before sending; its completion leaves it.
  entered = 1,
  /// A bulk credit holder's request: it takes over one credit's place.
  credit = 2,
};

/// `embed_request` from a host that is not an actor.
struct host_embed {
  embed_request request;
  std::shared_ptr<embed_completion> completion;
  admission_path admission = admission_path::at_dispatcher;
};

/// `acquire_credit` from a host that is not an actor.
struct host_acquire_credit {
  acquire_credit request;
  std::shared_ptr<credit_completion> completion;
};

} // namespace embedrt

// Local-only messages: they carry callbacks and never cross a process boundary.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(embedrt::host_embed)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(embedrt::host_acquire_credit)
