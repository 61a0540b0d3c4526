#include "config/config_loader.hpp"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <variant>

#include <caf/config_option.hpp>
#include <caf/config_option_adder.hpp>
#include <caf/config_option_set.hpp>
#include <caf/config_value.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/message.hpp>
#include <caf/pec.hpp>
#include <caf/settings.hpp>

#include "config/schema.hpp"
#include "messages/type_ids.hpp"

namespace embedrt {

namespace {

using caf::config_value;

caf::string_view caf_view(std::string_view x) {
  return {x.data(), x.size()};
}

std::string std_string(caf::string_view x) {
  return {x.data(), x.size()};
}

bool starts_with(std::string_view x, std::string_view prefix) {
  return x.substr(0, prefix.size()) == prefix;
}

bool is_embedrt_path(std::string_view x) {
  return x == "embedrt" || starts_with(x, "embedrt.");
}

std::string_view trim(std::string_view x) {
  auto first = x.find_first_not_of(" \t");
  if (first == std::string_view::npos)
    return {};
  auto last = x.find_last_not_of(" \t");
  return x.substr(first, last - first + 1);
}

/// A value as the user wrote it, as far as CAF kept it.
std::string written(const config_value& x) {
  if (auto d = caf::get_if<double>(&x))
    return schema::format_real(*d);
  return caf::to_string(x);
}

// -- storing one value into the struct ----------------------------------------------

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
  auto rule = std::visit([](const auto& r) { return schema::rule_text(r); }, x.rule);
  errors.push_back({x.key(), std::move(rule), as_written});
}

// -- the file: what CAF parsed into cfg.content -------------------------------------

bool is_section_path(std::string_view path) {
  if (path == "embedrt")
    return true;
  for (auto& x : schema::keys())
    if (path == x.category())
      return true;
  return false;
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
    apply(*x, value, written(value), out, errors);
    return;
  }
  if (dict != nullptr) { // an empty [section]
    if (!is_section_path(path))
      errors.push_back({path, "unknown section" + schema::suggestion_for(path), ""});
    return;
  }
  // The value is not shown: a likely unknown key is `api_key = "sk-..."`.
  errors.push_back({path, "unknown key" + schema::suggestion_for(path), ""});
}

/// Applies every `embedrt.*` entry of the parsed settings.
void apply_content(const caf::settings& content, runtime_config& out,
                   std::vector<config_error>& errors) {
  for (auto& kvp : content)
    if (is_embedrt_path(kvp.first))
      apply_entry(kvp.first, kvp.second, out, errors);
}

/// What CAF 0.17 silently drops even when the syntax is fine: a repeated
/// [embedrt...] section (a later [a.b] block replaces the earlier one) and a key
/// written twice in one block (the first one wins). Works on lines; values that span
/// lines (lists, maps) are skipped by tracking bracket depth.
void find_repeats(const std::string& text, std::vector<config_error>& errors) {
  std::map<std::string, size_t> section_lines;
  std::map<std::string, size_t> key_lines;
  std::string section = "global";
  int depth = 0;
  size_t line_no = 0;
  std::istringstream in{text};
  std::string line;
  auto lines = [](size_t a, size_t b) {
    return "(lines " + std::to_string(a) + " and " + std::to_string(b) + ")";
  };
  while (std::getline(in, line)) {
    ++line_no;
    auto rest = trim(line);
    if (depth == 0 && !rest.empty() && rest.front() == '[') {
      auto close = rest.find(']');
      if (close == std::string_view::npos)
        continue;
      section = std::string{trim(rest.substr(1, close - 1))};
      key_lines.clear();
      if (is_embedrt_path(section)) {
        auto [i, added] = section_lines.emplace(section, line_no);
        if (!added)
          errors.push_back({section,
                            "section appears more than once "
                              + lines(i->second, line_no)
                              + "; CAF 0.17 keeps only the last one, merge them",
                            ""});
      }
      continue;
    }
    if (depth == 0 && !rest.empty() && rest.front() != ';') {
      auto end = rest.find_first_of("={ \t");
      if (end != 0 && end != std::string_view::npos) {
        if (is_embedrt_path(section)) {
          auto key = section + "." + std::string{rest.substr(0, end)};
          auto [i, added] = key_lines.emplace(key, line_no);
          if (!added)
            errors.push_back({key,
                              "is set more than once in its section "
                                + lines(i->second, line_no)
                                + "; CAF 0.17 keeps the first one",
                              ""});
        }
        rest.remove_prefix(end);
      }
    }
    // Track [ ] and { } of multi-line values, skipping strings, atoms and comments.
    for (size_t i = 0; i < rest.size(); ++i) {
      auto c = rest[i];
      if (c == ';')
        break;
      if (c == '"' || c == '\'') {
        for (++i; i < rest.size() && rest[i] != c; ++i)
          if (rest[i] == '\\')
            ++i;
      } else if (c == '[' || c == '{') {
        ++depth;
      } else if ((c == ']' || c == '}') && depth > 0) {
        --depth;
      }
    }
  }
}

/// The rule of a CAF option type as reported by `config_option::type_name`.
std::string caf_type_rule(const std::string& type) {
  if (starts_with(type, "uint"))
    return "must be a non-negative integer";
  if (starts_with(type, "int"))
    return "must be an integer";
  if (type == "timespan")
    return "must be a duration such as 250ms";
  if (type == "boolean")
    return "must be true or false";
  if (type == "string")
    return "must be a quoted string";
  if (type == "real64")
    return "must be a number";
  if (type == "atom")
    return "must be an atom in single quotes ('name')";
  return "must be a " + type;
}

/// CAF's own options (scheduler, middleman, ...) of single-level sections are checked
/// by CAF, but a value of the wrong type is dropped silently: re-read the text without
/// options and report those. Also reports keys before the first [section] that no
/// option declares (e.g. an embedrt key whose section header was forgotten).
void check_caf_keys(const std::string& text, const caf::config_option_set& options,
                    std::vector<config_error>& errors) {
  std::istringstream in{text};
  auto raw = caf::actor_system_config::parse_config(in);
  if (!raw)
    return; // reported already
  auto check = [&](const std::string& category, const std::string& name,
                   const config_value& value) {
    auto opt = options.qualified_name_lookup(caf_view(category), caf_view(name));
    if (opt != nullptr && opt->check(value)) {
      auto key = category == "global" ? name : category + "." + name;
      errors.push_back(
        {key, caf_type_rule(std_string(opt->type_name())), written(value)});
    }
  };
  for (auto& kvp : *raw) {
    if (is_embedrt_path(kvp.first))
      continue;
    if (auto dict = caf::get_if<caf::settings>(&kvp.second)) {
      for (auto& entry : *dict)
        if (!caf::holds_alternative<caf::settings>(entry.second))
          check(kvp.first, entry.first, entry.second);
    } else if (options.qualified_name_lookup("global", caf_view(kvp.first))) {
      check("global", kvp.first, kvp.second);
    } else {
      std::string hint;
      for (auto& x : schema::keys())
        if (x.field == kvp.first)
          hint = " (did you mean " + x.key() + "? put it under [" + x.category() + "])";
      errors.push_back({kvp.first, "unknown key outside any section" + hint, ""});
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
    auto rule = std::visit([](const auto& r) { return schema::rule_text(r); }, x->rule);
    errors.push_back({name, std::move(rule), text});
    return;
  }
  apply(*x, *parsed, text, out, errors);
}

// -- CAF's errors -------------------------------------------------------------------

std::string syntax_rule(caf::pec code) {
  using caf::pec;
  switch (code) {
    case pec::trailing_character:
    case pec::unexpected_character:
      return "syntax error: unexpected character (comments start with ';', strings "
             "are quoted)";
    case pec::unexpected_newline:
      return "syntax error: unexpected end of line (missing value, quote or ']')";
    case pec::unexpected_eof: return "syntax error: unexpected end of file";
    case pec::integer_overflow:
    case pec::integer_underflow:
      return "integer out of range (config integers are signed 64-bit)";
    case pec::exponent_overflow:
    case pec::exponent_underflow: return "number out of range";
    case pec::fractional_timespan:
      return "fractional duration (write 1500ms, not 1.5s)";
    case pec::timespan_overflow: return "duration out of range";
    case pec::illegal_escape_sequence:
      return R"(invalid escape sequence (use \n, \r, \t, \\ or \"))";
    case pec::too_many_characters:
      return "atom longer than 10 characters (strings are written in double quotes)";
    default: return "syntax error: " + caf::to_string(code);
  }
}

/// Turns what `caf::actor_system_config::parse` returned into a config_error; sets
/// `syntax_error` if the text did not parse.
config_error convert(const caf::error& err, const std::string& source,
                     const embedrt_config& cfg, bool& syntax_error) {
  auto& ctx = err.context();
  // 0.17 names error categories by atom; take pec's from a pec error.
  static const auto pec_category = caf::make_error(caf::pec::type_mismatch).category();
  if (err.category() == pec_category && ctx.match_elements<caf::settings>()) {
    auto code = static_cast<caf::pec>(err.code());
    auto& info = ctx.get_as<caf::settings>(0);
    auto line = caf::get_if<config_value::integer>(&info, "line");
    auto column = caf::get_if<config_value::integer>(&info, "column");
    auto argument = caf::get_if<std::string>(&info, "argument");
    if (line && column) {
      // A syntax error in the file: "file:line:column: rule". The line is not shown:
      // it may be `api_key = sk-...`.
      syntax_error = true;
      return {source + ":" + std::to_string(*line) + ":" + std::to_string(*column),
              syntax_rule(code), ""};
    }
    if (argument) {
      // A command-line option of CAF's own (embedrt's never reach CAF's parser).
      std::string_view arg = *argument;
      auto eq = arg.find('=');
      auto value = eq == std::string_view::npos ? std::string{}
                                                : std::string{arg.substr(eq + 1)};
      auto name = std::string{arg.substr(0, eq)};
      auto bare = std::string_view{name};
      while (!bare.empty() && bare.front() == '-')
        bare.remove_prefix(1);
      auto opt = cfg.declared_options().cli_long_name_lookup(caf_view(bare));
      switch (code) {
        case caf::pec::not_an_option:
          return {name, "unknown command-line option", value};
        case caf::pec::illegal_argument:
          return {std::string{bare},
                  "is a flag on the command line: write --" + std::string{bare}
                    + " without a value",
                  value};
        case caf::pec::missing_argument:
          return {std::string{bare}, "needs a value: --" + std::string{bare} + "=VALUE",
                  value};
        default:
          return {std::string{bare},
                  opt ? caf_type_rule(std_string(opt->type_name()))
                      : "invalid value (" + caf::to_string(code) + ")",
                  value};
      }
    }
  }
  return {source, "cannot be loaded: " + caf::actor_system_config::render(err), ""};
}

// -- the common path ----------------------------------------------------------------

std::vector<config_error> load(embedrt_config& cfg, const std::string& source,
                               std::string text, const std::vector<std::string>& args,
                               std::vector<config_error> errors) {
  try {
    // CAF 0.17's parser refuses "\r\n" and a byte-order mark; editors produce both.
    if (starts_with(text, "\xEF\xBB\xBF"))
      text.erase(0, 3);
    text.erase(std::remove(text.begin(), text.end(), '\r'), text.end());
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
    std::istringstream in{text};
    auto err = cfg.parse(caf_args, in);
    bool syntax_error = false;
    if (err)
      errors.push_back(convert(err, source, cfg, syntax_error));
    if (!syntax_error) {
      find_repeats(text, errors);
      check_caf_keys(text, cfg.declared_options(), errors);
    }
    apply_content(cfg.content, cfg.values, errors);
    for (auto& arg : embedrt_args)
      apply_argument(arg, cfg.values, errors);
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
      value = schema::redact_userinfo(value);
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
