#include "config/caf_ini.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include <caf/actor_system_config.hpp>
#include <caf/config_option.hpp>
#include <caf/detail/parser/read_ini.hpp>
#include <caf/message.hpp>
#include <caf/parser_state.hpp>

namespace embedrt::caf_ini {

namespace {

bool starts_with(std::string_view x, std::string_view prefix) {
  return x.substr(0, prefix.size()) == prefix;
}

caf::string_view caf_view(std::string_view x) {
  return {x.data(), x.size()};
}

std::string std_string(caf::string_view x) {
  return {x.data(), x.size()};
}

// -- the consumer CAF's read_ini drives -----------------------------------------------

using parser_state = caf::parser_state<const char*>;

/// What the nodes of one parse share.
struct reader {
  const char* begin;
  parser_state* ps;
  document* doc;
  /// Open section name parts, maps and lists: CAF's parser recurses per level.
  int32_t depth = 0;
  bool too_deep = false;

  /// Counts one more level; past `max_nesting` stops the parser as at the end of the
  /// text (every open level then fails with unexpected_eof and unwinds).
  void enter() {
    if (++depth > max_nesting && !too_deep) {
      too_deep = true;
      ps->i = ps->e;
    }
  }

  /// The line of the character before the current one. CAF counts a '\n' as the first
  /// character of the next line, and reports a section's name after consuming its ']'.
  int32_t line_before() const {
    bool on_newline = ps->i != ps->e && *ps->i == '\n';
    return on_newline ? ps->line - 1 : ps->line;
  }

  /// Whether the key just read names a part of a section header ("b" in [a.b]) rather
  /// than an entry: CAF emits those right after consuming the '.' or ']' behind them,
  /// entry keys at the '=' or '{' after them.
  bool key_is_section_part() const {
    if (ps->i == begin)
      return false;
    auto previous = *(ps->i - 1);
    return previous == '.' || previous == ']';
  }
};

/// One consumer of CAF's INI parser: the top level (section names), a section block
/// (entries and nested section names), or a map or list value.
class node {
public:
  enum class kind { top, section, map, list };

  node(reader* r, node* parent, kind k, std::string path = {}, int32_t line = 0)
    : r_(r), parent_(parent), kind_(k), path_(std::move(path)), header_line_(line) {
    // nop
  }

  // Children point to their parent: nodes never move (CAF passes them as prvalues).
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  void key(std::string name) {
    switch (kind_) {
      case kind::top:
        pending_section_ = std::move(name);
        header_line_ = r_->line_before();
        return;
      case kind::section:
        if (r_->key_is_section_part()) {
          has_subsection_ = true;
          pending_section_ = std::move(name);
          return;
        }
        key_ = std::move(name);
        key_line_ = r_->ps->line; // at the '=' or '{': never a '\n'
        open_block();
        return;
      default: key_ = std::move(name);
    }
  }

  template<class T>
  void value(T&& x) {
    put(caf::config_value{std::forward<T>(x)});
  }

  node begin_map() {
    r_->enter();
    if (kind_ == kind::top)
      return {r_, this, kind::section, std::move(pending_section_), header_line_};
    if (kind_ == kind::section && !pending_section_.empty()) {
      auto path = path_ + "." + pending_section_;
      pending_section_.clear();
      return {r_, this, kind::section, std::move(path), header_line_};
    }
    return {r_, this, kind::map};
  }

  node begin_list() {
    r_->enter();
    return {r_, this, kind::list};
  }

  void end_map() {
    --r_->depth;
    if (kind_ == kind::section) {
      if (!has_subsection_)
        open_block(); // an empty [section]
    } else if (kind_ == kind::map) {
      parent_->put(caf::config_value{std::move(map_)});
    }
  }

  void end_list() {
    --r_->depth;
    parent_->put(caf::config_value{std::move(list_)});
  }

private:
  void put(caf::config_value&& x) {
    switch (kind_) {
      case kind::section: {
        auto& doc = *r_->doc;
        entry e;
        e.block = block_;
        e.key = key_;
        e.value = std::move(x);
        e.line = key_line_;
        for (auto i = doc.entries.rbegin(); i != doc.entries.rend(); ++i) {
          if (i->block != block_)
            break;
          if (i->key == key_)
            e.earlier_line = i->line;
        }
        doc.entries.push_back(std::move(e));
        ++doc.sections[block_].entries;
        return;
      }
      case kind::map: map_.insert_or_assign(key_, std::move(x)); return;
      case kind::list: list_.push_back(std::move(x)); return;
      default: return; // the top level holds sections only
    }
  }

  /// Adds this block to the document, once, before its first entry.
  void open_block() {
    if (block_open_)
      return;
    block_open_ = true;
    auto& sections = r_->doc->sections;
    section s;
    s.path = path_;
    s.line = path_ == "global" ? key_line_ : header_line_;
    for (auto& earlier : sections)
      if (earlier.path == path_ && s.earlier_line == 0)
        s.earlier_line = earlier.line;
    block_ = sections.size();
    sections.push_back(std::move(s));
  }

  reader* r_;
  node* parent_;
  kind kind_;
  std::string path_;
  int32_t header_line_;
  std::string pending_section_;
  bool has_subsection_ = false;
  bool block_open_ = false;
  size_t block_ = 0;
  std::string key_;
  int32_t key_line_ = 0;
  caf::config_value::dictionary map_;
  caf::config_value::list list_;
};

// -- formatting ---------------------------------------------------------------------

/// `x` with %.*f (`fixed`) or %.*g at `precision`, plus ".0" for whole numbers.
std::string print_real(bool fixed, int precision, double x) {
  char buf[64];
  if (fixed)
    std::snprintf(buf, sizeof(buf), "%.*f", precision, x);
  else
    std::snprintf(buf, sizeof(buf), "%.*g", precision, x);
  std::string result = buf;
  if (result.find_first_of(".en") == std::string::npos) // not 1.5, 1e+20, nan, inf
    result += ".0";
  return result;
}

/// Decimal forms of `x` from short to long: plain decimals (2.0, 0.99, 100.5) for
/// usual magnitudes, then exponent forms. Returns the first one `accept` takes.
template<class Predicate>
std::string first_real_form(double x, Predicate accept) {
  if (!std::isfinite(x))
    return print_real(false, 1, x); // inf, -inf, nan: no config file can hold them
  auto magnitude = std::fabs(x);
  if (x == 0 || (magnitude >= 1e-4 && magnitude < 1e15)) {
    for (int decimals = 1; decimals <= 20; ++decimals) {
      auto str = print_real(true, decimals, x);
      if (accept(str))
        return str;
    }
  }
  for (int precision = 1; precision <= 17; ++precision) {
    auto str = print_real(false, precision, x);
    if (accept(str))
      return str;
  }
  return {};
}

bool caf_reads_back(const std::string& str, double x) {
  auto parsed = caf::config_value::parse(str);
  if (!parsed)
    return false;
  if (auto d = caf::get_if<double>(&*parsed))
    return *d == x;
  return false;
}

/// Stores `value` under `category.name` as CAF's category consumer does.
void store_one(const std::string& category, const std::string& name,
               const caf::config_value& value, const caf::config_option_set& options,
               caf::settings& content, std::vector<config_error>& errors) {
  auto key = category == "global" ? name : category + "." + name;
  auto opt = options.qualified_name_lookup(caf_view(category), caf_view(name));
  if (opt != nullptr) {
    if (opt->check(value)) {
      errors.push_back({key, type_rule(std_string(opt->type_name())), written(value)});
      return;
    }
    opt->store(value);
  }
  caf::put(content, key, value);
}

} // namespace

// -- reading ------------------------------------------------------------------------

std::string document::path_of(const entry& x) const {
  auto& block = sections[x.block].path;
  return block == "global" ? x.key : block + "." + x.key;
}

std::string normalize(std::string text) {
  if (starts_with(text, "\xEF\xBB\xBF"))
    text.erase(0, 3);
  text.erase(std::remove(text.begin(), text.end(), '\r'), text.end());
  return text;
}

bool parse(std::string_view text, document& out, syntax_error& error) {
  out = document{};
  error = syntax_error{};
  parser_state ps{text.data(), text.data() + text.size()};
  reader r{text.data(), &ps, &out};
  node top{&r, nullptr, node::kind::top};
  caf::detail::parser::read_ini(ps, top);
  if (r.too_deep) {
    error.too_deep = true;
    error.line = ps.line;
    error.column = ps.column;
    return false;
  }
  // CAF 0.17 reports an error only if the parser stopped before the end of the text;
  // a text that ends inside a value stops at the end, with the section in progress
  // lost. A NUL byte stops the parser like the end of the text.
  if (ps.i == ps.e && ps.code <= caf::pec::trailing_character)
    return true;
  error.code = ps.code > caf::pec::trailing_character ? ps.code
                                                      : caf::pec::unexpected_character;
  error.line = ps.line;
  error.column = ps.column;
  return false;
}

std::string syntax_rule(const syntax_error& x) {
  if (x.too_deep)
    return "nested deeper than " + std::to_string(max_nesting)
           + " section name parts, lists or maps";
  return syntax_rule(x.code);
}

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

void find_repeats(const document& doc, bool (*watched)(std::string_view),
                  std::vector<config_error>& errors) {
  auto lines = [](int32_t a, int32_t b) {
    return "(lines " + std::to_string(a) + " and " + std::to_string(b) + ")";
  };
  for (auto& x : doc.sections)
    if (x.earlier_line != 0 && watched(x.path))
      errors.push_back({x.path,
                        "section appears more than once "
                          + lines(x.earlier_line, x.line)
                          + "; CAF 0.17 keeps only the last one, merge them",
                        ""});
  for (auto& x : doc.entries)
    if (x.earlier_line != 0 && watched(doc.sections[x.block].path))
      errors.push_back({doc.path_of(x),
                        "is set more than once in its section "
                          + lines(x.earlier_line, x.line) + "; keep one",
                        ""});
}

// -- CAF's own keys -----------------------------------------------------------------

bool store(const document& doc, const entry& x, const caf::config_option_set& options,
           caf::settings& content, std::vector<config_error>& errors) {
  auto& category = doc.sections[x.block].path;
  if (category == "global") {
    if (auto dict = caf::get_if<caf::settings>(&x.value)) {
      // `scheduler { max-threads = 2 }` before any header: a section as a map.
      for (auto& kvp : *dict)
        store_one(x.key, kvp.first, kvp.second, options, content, errors);
      return true;
    }
    if (options.qualified_name_lookup("global", caf_view(x.key)) == nullptr) {
      caf::put(content, x.key, x.value); // what CAF does; the caller reports it
      return false;
    }
  }
  if (x.earlier_line == 0) // CAF keeps the first value of a key in a block
    store_one(category, x.key, x.value, options, content, errors);
  return true;
}

std::string type_rule(std::string_view type) {
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
  return "must be a " + std::string{type};
}

config_error describe(const caf::error& err, const caf::config_option_set& options,
                      const std::string& source) {
  auto& ctx = err.context();
  // 0.17 names error categories by atom; take pec's from a pec error.
  static const auto pec_category = caf::make_error(caf::pec::type_mismatch).category();
  if (err.category() == pec_category && ctx.match_elements<caf::settings>()) {
    auto code = static_cast<caf::pec>(err.code());
    auto& info = ctx.get_as<caf::settings>(0);
    auto line = caf::get_if<caf::config_value::integer>(&info, "line");
    auto column = caf::get_if<caf::config_value::integer>(&info, "column");
    auto argument = caf::get_if<std::string>(&info, "argument");
    if (line && column) {
      // "file:line:column: rule". The line is not shown: it may be `api_key = sk-...`.
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
      auto opt = options.cli_long_name_lookup(caf_view(bare));
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
                  opt ? type_rule(std_string(opt->type_name()))
                      : "invalid value (" + caf::to_string(code) + ")",
                  value};
      }
    }
  }
  return {source, "cannot be loaded: " + caf::actor_system_config::render(err), ""};
}

// -- writing ------------------------------------------------------------------------

std::string written(const caf::config_value& x) {
  if (auto d = caf::get_if<double>(&x))
    return format_real(*d);
  return caf::to_string(x);
}

std::string format_real(double x) {
  auto result = first_real_form(x, [x](const std::string& str) {
    return std::strtod(str.c_str(), nullptr) == x;
  });
  return result.empty() ? print_real(false, 17, x) : result;
}

std::string format_real_for_caf(double x) {
  auto result = first_real_form(x, [x](const std::string& str) {
    return caf_reads_back(str, x);
  });
  return result.empty() ? format_real(x) : result; // CAF reads it within one ulp
}

std::string quote(std::string_view x) {
  std::string result = "\"";
  for (char c : x) {
    switch (c) {
      case '"': result += "\\\""; break;
      case '\\': result += "\\\\"; break;
      case '\n': result += "\\n"; break;
      case '\r': result += "\\r"; break;
      case '\t': result += "\\t"; break;
      default: result += c;
    }
  }
  result += '"';
  return result;
}

} // namespace embedrt::caf_ini
