#include <embedrt/observability.hpp>

#include <vector>

namespace embedrt {

namespace {

/// An inspector that collects the addresses of all counter fields, so `inspect` is
/// the single list of fields that `+=` and `==` walk.
struct field_collector {
  using result_type = void;
  static constexpr bool reads_state = true;
  static constexpr bool writes_state = false;
  std::vector<uint64_t*> fields;

  template<class... Ts>
  void operator()(caf::meta::type_name_t, Ts&... xs) {
    (fields.push_back(&xs), ...);
  }
};

std::vector<uint64_t*> fields_of(runtime_counters& x) {
  field_collector f;
  inspect(f, x);
  return std::move(f.fields);
}

} // namespace

runtime_counters& runtime_counters::operator+=(const runtime_counters& other) {
  auto dst = fields_of(*this);
  auto src = fields_of(const_cast<runtime_counters&>(other));
  for (size_t i = 0; i < dst.size(); ++i)
    *dst[i] += *src[i];
  return *this;
}

bool operator==(const runtime_counters& x, const runtime_counters& y) {
  auto xs = fields_of(const_cast<runtime_counters&>(x));
  auto ys = fields_of(const_cast<runtime_counters&>(y));
  for (size_t i = 0; i < xs.size(); ++i)
    if (*xs[i] != *ys[i])
      return false;
  return true;
}

} // namespace embedrt
