#include <embedrt/runtime_config.hpp>

#include <algorithm>
#include <variant>

#include "config/caf_ini.hpp"
#include "config/schema.hpp"

namespace embedrt {

namespace {

/// The field's value as an unsigned integer (integer rules only).
uint64_t integer_value(const schema::integer_rule& rule, const runtime_config& cfg) {
  auto& mut = const_cast<runtime_config&>(cfg); // read only
  return std::visit([&mut](auto ref) { return static_cast<uint64_t>(ref(mut)); },
                    rule.ref);
}

/// Checks one row of the table; returns whether the value is in range.
bool check_key(const schema::key_descriptor& x, const runtime_config& cfg,
               std::vector<config_error>& out) {
  auto& mut = const_cast<runtime_config&>(cfg); // read only
  auto key = x.key();
  auto size_before = out.size();
  if (auto r = std::get_if<schema::integer_rule>(&x.rule)) {
    auto value = integer_value(*r, cfg);
    if (value < r->min || value > r->max)
      out.push_back({key, schema::rule_text(*r), std::to_string(value)});
  } else if (auto d = std::get_if<schema::real_rule>(&x.rule)) {
    auto value = d->ref(mut);
    if (!(value >= d->min && value <= d->max)) // NaN fails too
      out.push_back({key, schema::rule_text(*d), caf_ini::format_real(value)});
  } else if (auto s = std::get_if<schema::string_rule>(&x.rule)) {
    schema::check_string(*s, key, s->ref(mut), out);
  }
  return out.size() == size_before;
}

} // namespace

std::string config_error::to_string() const {
  std::string result = key;
  result += ": ";
  result += rule;
  if (!value.empty()) {
    result += ", got ";
    result += value;
  }
  return result;
}

std::vector<config_error> validate(const runtime_config& cfg) {
  std::vector<config_error> result;
  std::vector<std::string> in_range;
  for (auto& x : schema::keys())
    if (check_key(x, cfg, result))
      in_range.push_back(x.key());
  auto ok = [&in_range](std::string_view key) {
    return std::find(in_range.begin(), in_range.end(), key) != in_range.end();
  };
  for (auto& rule : schema::order_rules()) {
    if (!ok(rule.lhs) || !ok(rule.rhs))
      continue; // the range error says enough
    auto lhs = schema::find_key(rule.lhs);
    auto rhs = schema::find_key(rule.rhs);
    auto a = integer_value(std::get<schema::integer_rule>(lhs->rule), cfg);
    auto b = integer_value(std::get<schema::integer_rule>(rhs->rule), cfg);
    bool holds = rule.op == "<=" ? a <= b : a >= b;
    if (!holds) {
      std::string text = "must be ";
      text.append(rule.op).append(" ").append(rule.rhs);
      text += " (" + std::to_string(b) + ")";
      result.push_back({std::string{rule.lhs}, std::move(text), std::to_string(a)});
    }
  }
  return result;
}

} // namespace embedrt
