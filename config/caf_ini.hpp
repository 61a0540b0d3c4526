// CAF 0.17's INI dialect and its quirks, in one place:
// - reading a config text ONCE with CAF's own parser (caf/detail/parser/read_ini.hpp)
//   into a `document` that keeps what CAF throws away: the line of every section
//   header and `key = value` entry, repeated sections and keys, and an input that ends
//   in the middle of a value (CAF 0.17 reports none of these);
// - storing CAF's own keys (scheduler, logger, middleman, ...) the way CAF's consumer
//   would, but reporting a value of the wrong type instead of dropping it silently;
// - CAF's error codes turned into messages that name the rule;
// - writing numbers and strings so that CAF's parser reads back the same value (its
//   float parser is one ulp off for many inputs).
//
// Internal header (config_loader.cpp, schema.cpp and their tests).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <caf/config_option_set.hpp>
#include <caf/config_value.hpp>
#include <caf/error.hpp>
#include <caf/pec.hpp>
#include <caf/settings.hpp>

#include <embedrt/runtime_config.hpp>

namespace embedrt::caf_ini {

// -- reading --------------------------------------------------------------------------

/// One [section] header, or the implicit "global" block before the first header.
struct section {
  /// "embedrt.retry", "scheduler"; "global" for keys before the first header.
  std::string path;
  /// 1-based line of the header (of the first key for "global").
  int32_t line = 0;
  /// Line of an earlier header with the same path; 0 if this is the first.
  int32_t earlier_line = 0;
  /// `key = value` entries in this block.
  size_t entries = 0;
};

/// One `key = value` (or `key { ... }`) at the top of a section block.
struct entry {
  /// Index into `document::sections`.
  size_t block = 0;
  /// "retry" in [embedrt] `retry { max_attempts = 5 }`; "max_attempts" in
  /// [embedrt.retry] `max_attempts = 5`.
  std::string key;
  /// The value as CAF's parser read it; maps and lists included.
  caf::config_value value;
  /// 1-based line of the key.
  int32_t line = 0;
  /// Line of an earlier entry with the same key in the same block; 0 if first.
  int32_t earlier_line = 0;
};

/// Everything a config text says, in file order.
struct document {
  std::vector<section> sections;
  std::vector<entry> entries;

  /// "section.key", or "key" for the global block (where `scheduler { ... }` is a
  /// section written as a map, as in CAF).
  std::string path_of(const entry& x) const;
};

/// Deepest nesting of section name parts ([a.b.c] is 3), maps and lists that `parse`
/// accepts: CAF's parser recurses once per level, a deeper text would overflow the
/// stack.
inline constexpr int32_t max_nesting = 64;

/// Where and why a text did not parse.
struct syntax_error {
  caf::pec code = caf::pec::success;
  /// Nested deeper than `max_nesting` (`code` says nothing then).
  bool too_deep = false;
  int32_t line = 0;
  int32_t column = 0; // as CAF counts: the first character of a line is column 2
};

/// `text` without a UTF-8 byte-order mark and without '\r' (CAF 0.17's parser refuses
/// both; editors write them).
std::string normalize(std::string text);

/// Reads `text` (after `normalize`) once with CAF 0.17's INI parser. Returns false and
/// sets `error` when the text does not parse; `out` then holds the complete entries
/// before the error. Unlike CAF, a text that ends inside a value or a section is an
/// error too (CAF 0.17 drops that section silently).
bool parse(std::string_view text, document& out, syntax_error& error);

/// The rule broken by a parser error, e.g. "fractional duration (write 1500ms, not
/// 1.5s)".
std::string syntax_rule(caf::pec code);

/// The rule `x` broke: `syntax_rule(x.code)`, or the nesting bound.
std::string syntax_rule(const syntax_error& x);

/// What CAF 0.17 would read differently from what the text seems to say, for the
/// sections `watched(path)` selects: a repeated section (a later [a.b] block replaces
/// the earlier one) and a key set twice in one block.
void find_repeats(const document& doc, bool (*watched)(std::string_view path),
                  std::vector<config_error>& errors);

// -- CAF's own keys
// ---------------------------------------------------------------------

/// Stores `x` (an entry of a section embedrt does not own) as CAF 0.17's INI consumer
/// would: into `content`, and into the bound variable of its option after a type check
/// (the first of repeated keys in a block wins, as in CAF). A value of the wrong type
/// is reported instead of dropped. Returns false for a global key that no option
/// declares (CAF would keep it silently; the caller reports it).
bool store(const document& doc, const entry& x, const caf::config_option_set& options,
           caf::settings& content, std::vector<config_error>& errors);

/// The rule of a CAF option type as `config_option::type_name` names it:
/// "must be a non-negative integer" for uint64, ...
std::string type_rule(std::string_view type_name);

/// An error of `actor_system_config::parse` (a syntax error of the text or a bad
/// command-line option of CAF's own) as a config_error; `source` names the text.
config_error describe(const caf::error& err, const caf::config_option_set& options,
                      const std::string& source);

// -- writing
// ------------------------------------------------------------------------------

/// A value as the user wrote it, as far as CAF kept it: 1.5, "abc", [1, 2].
std::string written(const caf::config_value& x);

/// The shortest plain decimal that reads back as `x` (strtod): 2.0, 0.99, 100.5; the
/// exponent form only for magnitudes outside [1e-4, 1e15). For messages and docs.
std::string format_real(double x);

/// A decimal that CAF 0.17's config parser reads back as exactly `x`, for the dump.
/// CAF's float parser is one ulp off for many inputs ("1.007" reads as
/// 1.0070000000000001), so the shortest form is not always the right one.
std::string format_real_for_caf(double x);

/// A CAF string literal: "text" with \" \\ \n \r \t escaped.
std::string quote(std::string_view x);

} // namespace embedrt::caf_ini
