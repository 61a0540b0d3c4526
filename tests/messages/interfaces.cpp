#define CAF_SUITE messages.interfaces
#include "messages/interfaces.hpp"

#include <caf/test/unit_test.hpp>

#include <type_traits>

// Who may send what is checked by the compiler; these pin down the split between the
// host's handle and the runtime's internal one.

using namespace embedrt;

namespace {

template<class Handle, class Signature>
constexpr bool accepts
  = caf::detail::tl_contains<typename Handle::signatures, Signature>::value;

using shutdown_sig = caf::replies_to<begin_shutdown>::with<shutdown_report>;
using embed_sig = caf::replies_to<embed_request>::with<embed_result>;

} // namespace

CAF_TEST(hosts see only host messages on the embedder handle) {
  static_assert(accepts<embedder_actor, embed_sig>);
  static_assert(accepts<embedder_actor, caf::reacts_to<release_credit>>);
  static_assert(!accepts<embedder_actor, shutdown_sig>);
  static_assert(!accepts<embedder_actor, caf::reacts_to<host_embed>>);
  static_assert(!accepts<embedder_actor, caf::reacts_to<rate_limiter_replaced>>);
  static_assert(!accepts<embedder_actor, caf::reacts_to<availability_changed>>);
  CAF_CHECK_EQUAL(caf::detail::tl_size<embedder_actor::signatures>::value, 4u);
}

CAF_TEST(the dispatcher handle extends the embedder handle with control) {
  static_assert(accepts<dispatcher_actor, embed_sig>);
  static_assert(accepts<dispatcher_actor, shutdown_sig>);
  static_assert(accepts<dispatcher_actor, caf::reacts_to<circuit_breaker_replaced>>);
  // The fast path's pushes (lease revoked, breaker state) are internal too.
  static_assert(accepts<dispatcher_actor, caf::reacts_to<lease_revoked>>);
  static_assert(accepts<dispatcher_actor, caf::reacts_to<breaker_state_changed>>);
  static_assert(!accepts<embedder_actor, caf::reacts_to<lease_revoked>>);
  // Internal to public converts (the reverse is a static_assert inside CAF's
  // converting constructor, invisible to type traits).
  static_assert(std::is_convertible<dispatcher_actor, embedder_actor>::value);
  CAF_CHECK_EQUAL(caf::detail::tl_size<dispatcher_actor::signatures>::value,
                  caf::detail::tl_size<embedder_actor::signatures>::value + 8);
}
