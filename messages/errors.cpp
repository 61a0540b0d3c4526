#include <embedrt/errors.hpp>

#include <caf/atom.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace embedrt {

namespace {

constexpr const char* errc_names[] = {
  "none",         "invalid_input",     "overloaded",        "circuit_open",
  "rate_limited", "deadline_exceeded", "upstream_rejected", "upstream_unavailable",
  "bad_response", "shutting_down",     "worker_failed",     "runtime_unavailable",
};

constexpr size_t errc_count = sizeof(errc_names) / sizeof(errc_names[0]);

} // namespace

const char* to_string(embed_errc x) {
  auto i = static_cast<size_t>(x);
  return i < errc_count ? errc_names[i] : "unknown";
}

bool from_string(const std::string& name, embed_errc& x) {
  for (size_t i = 0; i < errc_count; ++i) {
    if (name == errc_names[i]) {
      x = static_cast<embed_errc>(i);
      return true;
    }
  }
  return false;
}

caf::error to_error(const embed_failure& x) {
  return caf::make_error(x.code, x.message, x.upstream_status);
}

embed_failure to_failure(const caf::error& x) {
  embed_failure result;
  if (!x)
    return result;
  if (x.category() == embed_error_category) {
    result.code = static_cast<embed_errc>(x.code());
    const auto& ctx = x.context();
    if (ctx.match_elements<std::string, uint16_t>()) {
      result.message = ctx.get_as<std::string>(0);
      result.upstream_status = ctx.get_as<uint16_t>(1);
    } else if (ctx.match_elements<std::string>()) {
      result.message = ctx.get_as<std::string>(0);
    }
    return result;
  }
  result.code = embed_errc::worker_failed;
  result.message = caf::to_string(x);
  return result;
}

std::string render_embed_error(uint8_t code, caf::atom_value,
                               const caf::message& context) {
  std::string result = "embed_error(";
  result += to_string(static_cast<embed_errc>(code));
  if (!context.empty()) {
    result += ", ";
    result += caf::to_string(context);
  }
  result += ')';
  return result;
}

} // namespace embedrt
