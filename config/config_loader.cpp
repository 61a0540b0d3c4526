#include "config/config_loader.hpp"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <variant>

#include <caf/config_option.hpp>
#include <caf/config_option_adder.hpp>
#include <caf/config_option_set.hpp>
#include <caf/config_value.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/settings.hpp>

#include "config/caf_ini.hpp"
#include "config/schema.hpp"
#include "config/url.hpp"
#include "messages/type_ids.hpp"

namespace embedrt {

namespace {

using caf::config_value;

caf::string_view caf_view(std::string_view x) {
  return {x.data(), x.size()};
}

bool starts_with(std::string_view x, std::string_view prefix) {
  return x.substr(0, prefix.size()) == prefix;
}

// -- storing one value into the struct ----------------------------------------------

std::string rule_text(const schema::key_descriptor& x) {
  return std::visit([](const auto& r) { return schema::rule_text(r); }, x.rule);
}

/// Stores `value` into the field of `x` if it has the right type; otherwise reports the
/// rule with `as_written`. Ranges are left to `validate` (one message per rule).
void apply(const schema::key_descriptor& x, const config_value& value,
           const std::string& as_written, runtime_config& out,
           std::vector<config_error>& errors) {
  struct visitor {
    const config_value& value;
    runtime_config& out;
    bool operator()(const schema::integer_rule& r) const {
      auto i = caf::get_if<config_value::integer>(&value);
      if (i == nullptr || *i < 0)
        return false;
      return std::visit(
        [this, i](auto ref) {
          using field_type = std::remove_reference_t<decltype(ref(out))>;
          if (static_cast<uint64_t>(*i) > std::numeric_limits<field_type>::max())
            return false;
          ref(out) = static_cast<field_type>(*i);
          return true;
        },
        r.ref);
    }
    bool operator()(const schema::real_rule& r) const {
      if (auto d = caf::get_if<double>(&value)) {
        r.ref(out) = *d;
        return true;
      }
      if (auto i = caf::get_if<config_value::integer>(&value)) {
        r.ref(out) = static_cast<double>(*i); // CAF alone drops `multiplier = 3`
        return true;
      }
      return false;
    }
    bool operator()(const schema::bool_rule& r) const {
      if (auto b = caf::get_if<bool>(&value)) {
        r.ref(out) = *b;
        return true;
      }
      return false;
    }
    bool operator()(const schema::string_rule& r) const {
      if (auto s = caf::get_if<std::string>(&value)) {
        r.ref(out) = *s;
        return true;
      }
      return false;
    }
  };
  if (std::visit(visitor{value, out}, x.rule))
    return;
  errors.push_back({x.key(), rule_text(x), as_written});
}

void apply_entry(const std::string& path, const config_value& value,
                 runtime_config& out, std::vector<config_error>& errors) {
  auto dict = caf::get_if<caf::settings>(&value);
  if (dict != nullptr && !dict->empty()) {
    for (auto& kvp : *dict)
      apply_entry(path + "." + kvp.first, kvp.second, out, errors);
    return;
  }
  if (auto x = schema::find_key(path)) {
    apply(*x, value, caf_ini::written(value), out, errors);
    return;
  }
  if (dict != nullptr) { // an empty map: `retry {}`
    if (!schema::is_section(path))
      errors.push_back({path, "unknown section" + schema::suggestion_for(path), ""});
    return;
  }
  // The value is not shown: a likely unknown key is `api_key = "sk-..."`.
  errors.push_back({path, "unknown key" + schema::suggestion_for(path), ""});
}

// -- the file: the document read once --------------------------------------------

/// " (did you mean embedrt.retry.max_attempts? put it under [embedrt.retry])" for an
/// embedrt field written before any section header.
std::string outside_section_hint(std::string_view key) {
  for (auto& x : schema::keys())
    if (x.field == key)
      return " (did you mean " + x.key() + "? put it under [" + x.category() + "])";
  return {};
}

/// Applies the document in file order: embedrt's entries to `cfg.values` through the
/// schema, CAF's own entries to CAF's options and `cfg.content` as CAF would.
void apply_document(const caf_ini::document& doc, embedrt_config& cfg,
                    std::vector<config_error>& errors) {
  size_t next = 0;
  for (size_t block = 0; block < doc.sections.size(); ++block) {
    auto& section = doc.sections[block];
    if (section.entries == 0 && schema::is_embedrt_path(section.path)
        && !schema::is_section(section.path)) {
      if (schema::find_key(section.path) != nullptr)
        errors.push_back({section.path, "is a key, not a section", ""});
      else
        errors.push_back(
          {section.path, "unknown section" + schema::suggestion_for(section.path), ""});
    }
    for (; next < doc.entries.size() && doc.entries[next].block == block; ++next) {
      auto& x = doc.entries[next];
      auto path = doc.path_of(x);
      if (schema::is_embedrt_path(path))
        apply_entry(path, x.value, cfg.values, errors);
      else if (!caf_ini::store(doc, x, cfg.declared_options(), cfg.content, errors))
        errors.push_back(
          {x.key, "unknown key outside any section" + outside_section_hint(x.key), ""});
    }
  }
}

// -- the command line ---------------------------------------------------------------

/// Applies `--embedrt.section.field[=value]`.
void apply_argument(const std::string& arg, runtime_config& out,
                    std::vector<config_error>& errors) {
  auto body = std::string_view{arg}.substr(2); // without "--"
  auto eq = body.find('=');
  auto name = std::string{body.substr(0, eq)};
  bool has_value = eq != std::string_view::npos;
  auto text = has_value ? std::string{body.substr(eq + 1)} : std::string{};
  auto x = schema::find_key(name);
  if (x == nullptr) {
    errors.push_back({name, "unknown key" + schema::suggestion_for(name), ""});
    return;
  }
  if (auto b = std::get_if<schema::bool_rule>(&x->rule)) {
    if (!has_value || text == "true")
      b->ref(out) = true;
    else if (text == "false")
      b->ref(out) = false;
    else
      errors.push_back({name, schema::rule_text(*b), text});
    return;
  }
  if (!has_value) {
    errors.push_back({name, "needs a value: --" + name + "=VALUE", ""});
    return;
  }
  if (auto s = std::get_if<schema::string_rule>(&x->rule)) {
    // Like CAF: the shell usually strips quotes; a quoted string is unescaped.
    if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
      auto parsed = config_value::parse(text);
      if (parsed && caf::holds_alternative<std::string>(*parsed)) {
        apply(*x, *parsed, text, out, errors);
        return;
      }
    }
    s->ref(out) = text;
    return;
  }
  auto parsed = config_value::parse(text);
  if (!parsed) {
    errors.push_back({name, rule_text(*x), text});
    return;
  }
  apply(*x, *parsed, text, out, errors);
}

// -- the common path ----------------------------------------------------------------

std::vector<config_error> load(embedrt_config& cfg, const std::string& source,
                               std::string text, const std::vector<std::string>& args,
                               std::vector<config_error> errors) {
  try {
    // embedrt's options are applied by apply_argument (all errors, not only the
    // first; bools with =false); CAF gets the rest. As with CAF, everything after the
    // first positional argument is left alone (cfg.remainder).
    std::vector<std::string> caf_args;
    std::vector<std::string> embedrt_args;
    bool positional = false;
    for (auto& arg : args) {
      if (!positional && starts_with(arg, "--embedrt.")) {
        embedrt_args.push_back(arg);
      } else {
        positional = positional || arg.empty() || arg.front() != '-';
        caf_args.push_back(arg);
      }
    }
    // 1. The text, read once; what parsed before a syntax error still counts.
    auto normalized = caf_ini::normalize(std::move(text));
    caf_ini::document doc;
    caf_ini::syntax_error syntax;
    if (!caf_ini::parse(normalized, doc, syntax))
      // "file:line:column: rule". The line is not shown: it may be `api_key = sk-...`.
      errors.push_back({source + ":" + std::to_string(syntax.line) + ":"
                          + std::to_string(syntax.column),
                        caf_ini::syntax_rule(syntax), ""});
    caf_ini::find_repeats(doc, schema::is_embedrt_path, errors);
    apply_document(doc, cfg, errors);
    // 2. The command line. CAF handles its own options, --help and the remainder; it
    // gets no text, that was read above.
    std::istringstream no_text;
    if (auto err = cfg.parse(caf_args, no_text))
      errors.push_back(caf_ini::describe(err, cfg.declared_options(), source));
    for (auto& arg : embedrt_args)
      apply_argument(arg, cfg.values, errors);
    // 3. Ranges and cross-field rules.
    for (auto& e : validate(cfg.values))
      errors.push_back(std::move(e));
  } catch (const std::exception& e) {
    errors.push_back({source, "cannot be loaded", e.what()});
  }
  // One message per broken rule.
  std::vector<config_error> result;
  for (auto& e : errors) {
    auto same = [&e](const config_error& x) {
      return x.key == e.key && x.rule == e.rule && x.value == e.value;
    };
    if (std::none_of(result.begin(), result.end(), same))
      result.push_back(std::move(e));
  }
  return result;
}

/// Reads `path` into `text`; on failure returns false and sets `problem`.
bool read_file(const std::string& path, std::string& text, std::string& problem) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    problem = "no such file";
    return false;
  }
  if (std::filesystem::is_directory(path, ec)) {
    problem = "is a directory, not a config file";
    return false;
  }
  std::ifstream in{path, std::ios::binary};
  std::ostringstream buf;
  if (!in || !(buf << in.rdbuf())) {
    problem = "cannot be read";
    return false;
  }
  text = buf.str();
  return true;
}

} // namespace

embedrt_config::embedrt_config() {
  add_embedrt_types(*this);
  for (auto& x : schema::keys()) {
    auto category = x.category();
    auto description = std::string{x.description} + " " + schema::range_text(x);
    opt_group group{custom_options_, caf_view(category)};
    std::visit(
      [&](const auto& rule) {
        using rule_type = std::decay_t<decltype(rule)>;
        if constexpr (std::is_same_v<rule_type, schema::integer_rule>)
          std::visit(
            [&](auto ref) {
              group.add(ref(values), caf_view(x.field), caf_view(description));
            },
            rule.ref);
        else
          group.add(rule.ref(values), caf_view(x.field), caf_view(description));
      },
      x.rule);
  }
}

std::vector<config_error> load_config(embedrt_config& cfg, int argc, char** argv,
                                      const std::string& default_file) {
  std::vector<std::string> args;
  if (argc > 1)
    args.assign(argv + 1, argv + argc);
  std::vector<config_error> errors;
  std::string path = default_file;
  bool explicit_file = false;
  for (auto& arg : args) {
    if (starts_with(arg, "--config-file=")) {
      path = arg.substr(14);
      explicit_file = true;
      break;
    }
  }
  std::string text;
  std::string problem;
  if (explicit_file && path.empty())
    errors.push_back({"--config-file", "needs a file name", ""});
  else if (!read_file(path, text, problem)
           && (explicit_file || problem != "no such file"))
    errors.push_back({path, problem, ""});
  cfg.config_file_path = path;
  return load(cfg, path, std::move(text), args, std::move(errors));
}

std::vector<config_error> load_config_file(embedrt_config& cfg,
                                           const std::string& path) {
  std::vector<config_error> errors;
  std::string text;
  std::string problem;
  if (!read_file(path, text, problem))
    errors.push_back({path, problem, ""});
  cfg.config_file_path = path;
  return load(cfg, path, std::move(text), {}, std::move(errors));
}

std::vector<config_error> load_config_text(embedrt_config& cfg, const std::string& ini,
                                           const std::vector<std::string>& args) {
  return load(cfg, "config text", ini, args, {});
}

std::string dump_config(const runtime_config& cfg) {
  std::string result = "; embedrt configuration in CAF 0.17 INI syntax (dump_config)\n";
  std::string_view section;
  for (auto& x : schema::keys()) {
    if (x.section != section) {
      section = x.section;
      result += "\n[" + x.category() + "]\n";
    }
    result += "; " + std::string{x.description} + "\n; valid: " + schema::range_text(x)
              + "\n";
    auto value = schema::value_text(x, cfg);
    if (std::holds_alternative<schema::string_rule>(x.rule))
      value = url::redact_userinfo(value);
    result += std::string{x.field} + " = " + value + "\n";
  }
  return result;
}

std::vector<key_info> describe_keys() {
  const runtime_config defaults;
  std::vector<key_info> result;
  for (auto& x : schema::keys())
    result.push_back({x.key(), schema::type_text(x), schema::value_text(x, defaults),
                      schema::range_text(x), std::string{x.description}});
  return result;
}

std::string describe_keys_markdown() {
  auto cell = [](const std::string& x) {
    std::string result;
    for (char c : x) {
      if (c == '|')
        result += '\\';
      result += c;
    }
    return result;
  };
  std::string result = "| key | type | default | range | description |\n"
                       "| --- | --- | --- | --- | --- |\n";
  for (auto& x : describe_keys())
    result += "| `" + x.key + "` | " + x.type + " | `" + cell(x.default_value) + "` | "
              + cell(x.range) + " | " + cell(x.description) + " |\n";
  return result;
}

} // namespace embedrt
