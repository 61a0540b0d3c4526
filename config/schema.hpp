// The one table of embedrt's configuration keys. Each row names a key
// `embedrt.<section>.<field>`, says how to reach the field in `runtime_config`, gives
// its valid range and a one-line description. Defaults are not repeated here: they are
// the in-class initializers of runtime_config.hpp, read from a default-constructed
// struct.
//
// Everything that needs to know the keys works from this table: the CAF option
// declarations and the loader (config_loader.cpp), `validate` (runtime_config.cpp),
// `dump_config`, `describe_keys` and the tests that check config/caf-application.conf.
//
// Adding a key: a field with a /// comment in runtime_config.hpp, one row in `keys()`
// (schema.cpp; a new section is a new struct, a member of runtime_config and its rows),
// and the key with its default and a comment in config/caf-application.conf. The
// config.* suites check that the three agree, and README's reference is generated from
// the table (config.readme_reference).
//
// Internal header: hosts use runtime_config.hpp and config_loader.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <embedrt/runtime_config.hpp>

namespace embedrt::schema {

/// Returns a reference to one field of a runtime_config.
template<class T>
using field_ref = T& (*)(runtime_config&);

/// `field_of<&runtime_config::retry, &retry_config::max_attempts>` is a `field_ref`.
template<auto Section, auto Field>
auto& field_of(runtime_config& cfg) {
  return (cfg.*Section).*Field;
}

/// An unsigned integer in [min, max].
struct integer_rule {
  std::variant<field_ref<uint32_t>, field_ref<uint64_t>> ref;
  uint64_t min;
  uint64_t max;
};

/// A real number in [min, max]; integers are accepted as well (`multiplier = 3`).
struct real_rule {
  field_ref<double> ref;
  double min;
  double max;
};

/// `true` or `false`.
struct bool_rule {
  field_ref<bool> ref;
};

/// A quoted string: one of `choices` if there are any, and checked by `check` if set
/// (appends broken rules to `out`).
struct string_rule {
  field_ref<std::string> ref;
  /// What is valid, for the docs, e.g. `"base64" or "float"`.
  std::string valid;
  /// The only values allowed; empty: any that `check` accepts.
  std::vector<std::string_view> choices;
  void (*check)(const std::string& key, const std::string& value,
                std::vector<config_error>& out);
};

/// One row of the table.
struct key_descriptor {
  std::string_view section;
  std::string_view field;
  std::variant<integer_rule, real_rule, bool_rule, string_rule> rule;
  std::string_view description;

  /// "embedrt.<section>.<field>".
  std::string key() const;
  /// "embedrt.<section>".
  std::string category() const;
};

/// All keys, grouped by section in the order of runtime_config.
const std::vector<key_descriptor>& keys();

/// The row of `key` ("embedrt.retry.seed"), or nullptr.
const key_descriptor* find_key(std::string_view key);

/// Whether `path` is "embedrt" or "embedrt.<section>" of a row.
bool is_section(std::string_view path);

/// Whether `path` is "embedrt" or below it: the part of a config file embedrt owns.
bool is_embedrt_path(std::string_view path);

/// A rule between two integer keys of one section: `lhs <= rhs` or `lhs >= rhs`.
struct order_rule {
  std::string_view lhs;
  std::string_view op; // "<=" or ">="
  std::string_view rhs;
};

/// The cross-field rules; `validate` checks them when both keys are in range.
const std::vector<order_rule>& order_rules();

// -- rule texts and values, shared by validate, the loader and the docs -------------

/// "must be an integer in [1, 100]".
std::string rule_text(const integer_rule& x);
/// "must be a number in [1.0, 10.0]".
std::string rule_text(const real_rule& x);
/// "must be true or false".
std::string rule_text(const bool_rule& x);
/// "must be a quoted string".
std::string rule_text(const string_rule& x);

/// Appends the broken rules of a string value (`choices`, then `check`) to `out`.
void check_string(const string_rule& x, const std::string& key,
                  const std::string& value, std::vector<config_error>& out);

/// Range for the docs: "[1, 100]", "[1.0, 10.0]", "true or false", or the string rule.
std::string range_text(const key_descriptor& x);

/// Type for the docs: "integer", "number", "bool" or "string".
std::string type_text(const key_descriptor& x);

/// The field's value in `cfg`, written as in a config file: 3, 2.0, true, "base64".
std::string value_text(const key_descriptor& x, const runtime_config& cfg);

/// " (did you mean embedrt.x.y?)" for the closest key, or "".
std::string suggestion_for(std::string_view unknown_key);

// -- names ----------------------------------------------------------------------------

/// [A-Za-z_][A-Za-z0-9_]*.
bool is_env_var_name(std::string_view x);

/// The rule and displayed value for an invalid api_key_env (never echoes the value:
/// the likeliest mistake is pasting the key itself).
config_error api_key_env_error(const std::string& value);

} // namespace embedrt::schema
