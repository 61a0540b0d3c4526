#include "tools/mock/mock_script.hpp"

#include <array>
#include <cmath>
#include <initializer_list>

#include <nlohmann/json.hpp>

#include "tools/mock/mock_random.hpp"

namespace embedrt::mock {

namespace {

constexpr std::array<const char*, 17> fault_names = {
  "none",
  "status",
  "ratelimit_headers",
  "refuse_connections",
  "hang",
  "stall_body",
  "reset_mid_body",
  "malformed_json",
  "wrong_dimension",
  "nan",
  "shuffle_index",
  "fewer_vectors",
  "wrong_type",
  "close_connection",
  "endless_body",
  "corrupt_vectors",
  "always_float",
};

using json = nlohmann::json;

// Upper bound for millisecond values: one day. Larger values are typos, and keeping
// them small keeps every µs computation far from overflow.
constexpr uint64_t max_ms = 86'400'000;

// Collects the first error with its JSON path; parsing stops at the first one because
// later errors are often consequences of it.
class script_parser {
public:
  explicit script_parser(std::string& error) : error_(error) {
    // nop
  }

  bool fail(const std::string& path, const std::string& what) {
    error_ = path.empty() ? what : path + ": " + what;
    return false;
  }

  static std::string show(const json& x) {
    auto text = x.dump();
    if (text.size() > 40)
      text = text.substr(0, 37) + "...";
    return text;
  }

  bool check_keys(const json& obj, const std::string& path,
                  std::initializer_list<const char*> allowed) {
    for (auto& [key, value] : obj.items()) {
      bool known = false;
      for (auto name : allowed)
        if (key == name)
          known = true;
      if (!known)
        return fail(path, "unknown key \"" + key + "\"");
    }
    return true;
  }

  bool get_uint(const json& obj, const char* key, const std::string& path, uint64_t max,
                uint64_t& out) {
    auto i = obj.find(key);
    if (i == obj.end())
      return true;
    auto where = path + "." + key;
    if (!i->is_number_integer() || i->get<int64_t>() < 0
        || static_cast<uint64_t>(i->get<int64_t>()) > max)
      return fail(where, "must be an integer in [0, " + std::to_string(max) + "], got "
                           + show(*i));
    out = static_cast<uint64_t>(i->get<int64_t>());
    return true;
  }

  bool get_u32(const json& obj, const char* key, const std::string& path, uint64_t max,
               uint32_t& out) {
    uint64_t tmp = out;
    if (!get_uint(obj, key, path, max, tmp))
      return false;
    out = static_cast<uint32_t>(tmp);
    return true;
  }

  bool get_string(const json& obj, const char* key, const std::string& path,
                  std::string& out, bool allow_empty = true) {
    auto i = obj.find(key);
    if (i == obj.end())
      return true;
    if (!i->is_string() || (!allow_empty && i->get_ref<const std::string&>().empty()))
      return fail(path + "." + key, std::string{"must be a "}
                                      + (allow_empty ? "" : "non-empty ")
                                      + "string, got " + show(*i));
    out = i->get<std::string>();
    return true;
  }

  bool get_fraction(const json& obj, const char* key, const std::string& path,
                    bool upper_inclusive, double& out) {
    auto i = obj.find(key);
    if (i == obj.end())
      return true;
    auto where = path + "." + key;
    bool ok = i->is_number();
    double value = ok ? i->get<double>() : 0.0;
    ok = ok && std::isfinite(value) && value >= 0.0
         && (upper_inclusive ? value <= 1.0 : value < 1.0);
    if (!ok)
      return fail(where, std::string{"must be a number in [0, 1"}
                           + (upper_inclusive ? "]" : ")") + ", got " + show(*i));
    out = value;
    return true;
  }

  // Header values: printable ASCII only, so a script cannot inject CRLF into a
  // response.
  static bool valid_header_value(const std::string& x) {
    for (char c : x)
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e)
        return false;
    return true;
  }

  static bool valid_header_name(const std::string& x) {
    if (x.empty())
      return false;
    for (char c : x) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                || (c >= '0' && c <= '9') || c == '-' || c == '_';
      if (!ok)
        return false;
    }
    return true;
  }

  static std::string lower(std::string x) {
    for (auto& c : x)
      if (c >= 'A' && c <= 'Z')
        c = static_cast<char>(c - 'A' + 'a');
    return x;
  }

  bool value_text(const json& x, const std::string& where, std::string& out) {
    if (x.is_string()) {
      out = x.get<std::string>();
    } else if (x.is_number_integer()) {
      out = x.dump();
    } else if (x.is_number() && std::isfinite(x.get<double>())) {
      out = x.dump();
    } else {
      return fail(where, "must be a number or a string, got " + show(x));
    }
    if (!valid_header_value(out))
      return fail(where, "must be printable ASCII (no control characters)");
    return true;
  }

  bool parse_headers(const json& f, const std::string& path, mock_fault& out) {
    if (auto i = f.find("retry_after"); i != f.end()) {
      std::string text;
      auto where = path + ".retry_after";
      if (i->is_number() && i->get<double>() < 0)
        return fail(where, "must not be negative, got " + show(*i));
      if (!value_text(*i, where, text))
        return false;
      out.headers.emplace_back("retry-after", text);
    }
    if (auto i = f.find("retry_after_ms"); i != f.end()) {
      auto where = path + ".retry_after_ms";
      if (!i->is_number() || i->get<double>() < 0)
        return fail(where, "must be a non-negative number, got " + show(*i));
      std::string text;
      if (!value_text(*i, where, text))
        return false;
      out.headers.emplace_back("retry-after-ms", text);
    }
    if (auto i = f.find("ratelimit"); i != f.end()) {
      auto where = path + ".ratelimit";
      if (!i->is_object())
        return fail(where, "must be an object, got " + show(*i));
      if (!check_keys(*i, where,
                      {"limit_requests", "limit_tokens", "remaining_requests",
                       "remaining_tokens", "reset_requests", "reset_tokens"}))
        return false;
      for (auto& [key, value] : i->items()) {
        std::string text;
        if (!value_text(value, where + "." + key, text))
          return false;
        auto name = "x-ratelimit-" + key;
        for (auto& c : name)
          if (c == '_')
            c = '-';
        out.headers.emplace_back(std::move(name), std::move(text));
      }
    }
    if (auto i = f.find("headers"); i != f.end()) {
      auto where = path + ".headers";
      if (!i->is_object())
        return fail(where, "must be an object, got " + show(*i));
      for (auto& [key, value] : i->items()) {
        if (!valid_header_name(key))
          return fail(where, "invalid header name \"" + key + "\"");
        if (!value.is_string())
          return fail(where + "." + key, "must be a string, got " + show(value));
        auto text = value.get<std::string>();
        if (!valid_header_value(text))
          return fail(where + "." + key,
                      "must be printable ASCII (no control characters)");
        out.headers.emplace_back(lower(key), std::move(text));
      }
    }
    return true;
  }

  bool parse_fault(const json& f, const std::string& path, mock_fault& out) {
    if (!f.is_object())
      return fail(path, "must be an object, got " + show(f));
    auto k = f.find("kind");
    if (k == f.end())
      return fail(path, "missing key \"kind\"");
    if (!k->is_string() || !from_string(k->get<std::string>(), out.kind)
        || out.kind == fault_kind::none) {
      std::string names;
      for (size_t i = 1; i < fault_names.size(); ++i)
        names += (i > 1 ? ", " : "") + std::string{fault_names[i]};
      return fail(path + ".kind", "must be one of " + names + ", got " + show(*k));
    }
    // Keys valid for every kind, plus the header keys for kinds that send a response.
    std::vector<const char*> allowed = {"kind", "rate", "mode", "match"};
    bool sends_response = out.kind != fault_kind::hang
                          && out.kind != fault_kind::refuse_connections;
    if (sends_response)
      allowed.insert(allowed.end(),
                     {"retry_after", "retry_after_ms", "ratelimit", "headers"});
    switch (out.kind) {
      case fault_kind::status:
        allowed.insert(allowed.end(),
                       {"status", "message", "error_type", "error_code", "body"});
        break;
      case fault_kind::hang: allowed.push_back("hold_ms"); break;
      case fault_kind::stall_body:
        allowed.insert(allowed.end(), {"fraction", "hold_ms"});
        break;
      case fault_kind::reset_mid_body:
        allowed.insert(allowed.end(), {"fraction", "delay_ms"});
        break;
      case fault_kind::malformed_json: allowed.push_back("body"); break;
      case fault_kind::wrong_dimension: allowed.push_back("dimension"); break;
      case fault_kind::nan: allowed.push_back("token"); break;
      case fault_kind::corrupt_vectors:
        allowed.insert(allowed.end(), {"vector_rate", "corruption"});
        break;
      default: break;
    }
    for (auto& [key, value] : f.items()) {
      bool known = false;
      for (auto name : allowed)
        if (key == name)
          known = true;
      if (!known)
        return fail(path, "key \"" + key + "\" is not valid for kind \""
                            + to_string(out.kind) + "\"");
    }
    if (!get_fraction(f, "rate", path, true, out.rate))
      return false;
    if (auto i = f.find("mode"); i != f.end()) {
      if (*i == "even")
        out.mode = rate_mode::even;
      else if (*i == "random")
        out.mode = rate_mode::random;
      else
        return fail(path + ".mode", "must be \"even\" or \"random\", got " + show(*i));
    }
    if (!get_string(f, "match", path, out.match, false))
      return false;
    if (out.kind == fault_kind::refuse_connections && !out.match.empty())
      return fail(path + ".match",
                  "refuse_connections acts on connections, not requests");
    if (out.kind == fault_kind::status) {
      auto i = f.find("status");
      if (i == f.end())
        return fail(path, "missing key \"status\"");
      if (!i->is_number_integer() || i->get<int64_t>() < 400 || i->get<int64_t>() > 599)
        return fail(path + ".status",
                    "must be an integer in [400, 599], got " + show(*i));
      out.status = static_cast<int>(i->get<int64_t>());
    }
    if (!get_string(f, "message", path, out.message)
        || !get_string(f, "error_type", path, out.error_type)
        || !get_string(f, "error_code", path, out.error_code))
      return false;
    if (auto i = f.find("body"); i != f.end()) {
      if (!i->is_string())
        return fail(path + ".body", "must be a string, got " + show(*i));
      out.body = i->get<std::string>();
    }
    if (!get_fraction(f, "fraction", path, false, out.fraction)
        || !get_u32(f, "hold_ms", path, max_ms, out.hold_ms)
        || !get_u32(f, "delay_ms", path, max_ms, out.delay_ms)
        || !get_u32(f, "dimension", path, 65536, out.dimension))
      return false;
    if (f.contains("dimension") && out.dimension == 0)
      return fail(path + ".dimension", "must be an integer in [1, 65536], got 0");
    if (!get_string(f, "token", path, out.token, false))
      return false;
    if (!get_fraction(f, "vector_rate", path, true, out.vector_rate))
      return false;
    if (auto i = f.find("corruption"); i != f.end()) {
      if (*i == "truncate" || *i == "nan" || *i == "both") {
        out.corrupt_truncate = *i != "nan";
        out.corrupt_nan = *i != "truncate";
      } else {
        return fail(path + ".corruption",
                    "must be \"truncate\", \"nan\" or \"both\", got " + show(*i));
      }
    }
    return parse_headers(f, path, out);
  }

  bool parse_phase(const json& p, const std::string& path, size_t index,
                   mock_phase& out) {
    if (!p.is_object())
      return fail(path, "must be an object, got " + show(p));
    if (!check_keys(p, path,
                    {"name", "duration_ms", "requests", "latency_ms",
                     "latency_jitter_ms", "latency_per_input_us", "faults"}))
      return false;
    out.name = "phase " + std::to_string(index);
    if (!get_string(p, "name", path, out.name)
        || !get_uint(p, "duration_ms", path, max_ms, out.duration_ms)
        || !get_uint(p, "requests", path, uint64_t{1} << 53, out.requests)
        || !get_u32(p, "latency_ms", path, max_ms, out.latency_ms)
        || !get_u32(p, "latency_jitter_ms", path, max_ms, out.latency_jitter_ms)
        || !get_u32(p, "latency_per_input_us", path, 1'000'000,
                    out.latency_per_input_us))
      return false;
    if (auto i = p.find("faults"); i != p.end()) {
      if (!i->is_array())
        return fail(path + ".faults", "must be an array, got " + show(*i));
      for (size_t j = 0; j < i->size(); ++j) {
        mock_fault f;
        if (!parse_fault((*i)[j], path + ".faults[" + std::to_string(j) + "]", f))
          return false;
        out.faults.push_back(std::move(f));
      }
    }
    return true;
  }

  bool parse(std::string_view text, mock_script& out) {
    auto doc = json::parse(text.begin(), text.end(), nullptr, false);
    if (doc.is_discarded())
      return fail("", "not valid JSON");
    const json* phases = nullptr;
    if (doc.is_array()) {
      phases = &doc;
    } else if (doc.is_object()) {
      if (!check_keys(doc, "script", {"seed", "phases"}))
        return false;
      if (auto i = doc.find("seed"); i != doc.end()) {
        if (!i->is_number_unsigned())
          return fail("seed", "must be a non-negative integer, got " + show(*i));
        out.seed = i->get<uint64_t>();
      }
      auto i = doc.find("phases");
      if (i == doc.end())
        return fail("script", "missing key \"phases\"");
      if (!i->is_array())
        return fail("phases", "must be an array, got " + show(*i));
      phases = &*i;
    } else {
      return fail("script", "must be an object or an array of phases");
    }
    for (size_t i = 0; i < phases->size(); ++i) {
      mock_phase p;
      if (!parse_phase((*phases)[i], "phases[" + std::to_string(i) + "]", i, p))
        return false;
      out.phases.push_back(std::move(p));
    }
    for (size_t i = 0; i + 1 < out.phases.size(); ++i) {
      auto& p = out.phases[i];
      if (phase_closes_listener(p) && p.duration_ms == 0)
        return fail("phases[" + std::to_string(i) + "]",
                    "refuses connections, so it receives no requests: end it with "
                    "duration_ms");
    }
    if (out.phases.empty())
      out.phases.emplace_back().name = "phase 0";
    return true;
  }

private:
  std::string& error_;
};

} // namespace

const char* to_string(fault_kind x) {
  auto i = static_cast<size_t>(x);
  return i < fault_names.size() ? fault_names[i] : "invalid";
}

bool from_string(std::string_view name, fault_kind& out) {
  for (size_t i = 0; i < fault_names.size(); ++i) {
    if (name == fault_names[i]) {
      out = static_cast<fault_kind>(i);
      return true;
    }
  }
  return false;
}

bool parse_mock_script(std::string_view json_text, mock_script& out,
                       std::string& error) {
  mock_script result;
  script_parser parser{error};
  if (!parser.parse(json_text, result))
    return false;
  out = std::move(result);
  return true;
}

bool fault_takes(double rate, rate_mode mode, uint64_t seed, uint64_t salt,
                 uint64_t n) {
  if (rate >= 1.0)
    return true;
  if (rate <= 0.0)
    return false;
  if (mode == rate_mode::random)
    return unit_double(mix_keys(seed, salt, n)) < rate;
  // The epsilon absorbs binary rounding (0.29 * 100 = 28.999999999999996), so that
  // rate 0.29 takes exactly 29 of 100.
  constexpr double eps = 1e-9;
  auto before = std::floor(static_cast<double>(n) * rate + eps);
  auto after = std::floor(static_cast<double>(n + 1) * rate + eps);
  return after > before;
}

bool pattern_matches(std::string_view text, std::string_view pattern) {
  size_t pos = 0;
  while (!pattern.empty()) {
    auto star = pattern.find('*');
    auto piece = pattern.substr(0, star);
    if (!piece.empty()) {
      auto found = text.find(piece, pos);
      if (found == std::string_view::npos)
        return false;
      pos = found + piece.size();
    }
    if (star == std::string_view::npos)
      break;
    pattern.remove_prefix(star + 1);
  }
  return true;
}

bool phase_closes_listener(const mock_phase& phase) {
  for (auto& f : phase.faults)
    if (f.kind == fault_kind::refuse_connections && f.rate >= 1.0)
      return true;
  return false;
}

double phase_connection_reset_rate(const mock_phase& phase) {
  for (auto& f : phase.faults)
    if (f.kind == fault_kind::refuse_connections)
      return f.rate >= 1.0 ? 0.0 : f.rate;
  return 0.0;
}

} // namespace embedrt::mock
