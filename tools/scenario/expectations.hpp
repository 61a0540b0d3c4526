// The registry of expectation kinds: one table (expectations.cpp) says, per kind, the
// key that names it in a scenario file, how it is written, what it checks, the figures
// its verdict reports, its parser and its check. Parsing, checking, the error for an
// unknown kind and `embedrt-scenario kinds` all read that table, nothing else; a new
// kind is one row and two functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tools/scenario/scenario.hpp"

namespace embedrt::scenario {

class kind_parser;

/// What a check reads.
struct check_input {
  const scenario& sc;
  const observation& obs;
  /// Multiplies scaled upper bounds (see "Times" in scenario.hpp).
  double scale = 1.0;
};

struct expectation_kind {
  /// The key naming it in a file, e.g. "latency_p99_ms"; also the verdict's label.
  std::string_view name;
  /// The smallest complete example, as written in "expect" (JSON).
  std::string_view example;
  /// What must hold.
  std::string_view checks;
  /// What its verdict reports as "seen".
  std::string_view figures;
  /// Reads the kind's fields into `e`; false with the error set (names the key).
  bool (*parse)(kind_parser& p, expectation& e);
  /// Judges the observation; `v.label` is preset to the kind's name.
  void (*check)(const check_input& in, const expectation& e, verdict& v);
};

/// Every kind, in the order `embedrt-scenario kinds` prints them.
const std::vector<expectation_kind>& expectation_kinds();

/// The kind named `name`, or null.
const expectation_kind* find_expectation_kind(std::string_view name);

/// "answered_exactly_once, outcome, ...": every kind's name.
std::string known_kind_names();

/// The kind checked in every run, whether the file lists it or not.
inline constexpr std::string_view always_checked_kind = "answered_exactly_once";

/// Parses `j`, one element of "expect", at `path` (e.g. "expect[2]"): the kind is
/// the object's key that names one (exactly one may), its parser reads the rest.
bool parse_expectation(const nlohmann::json& j, const std::string& path, expectation& e,
                       const scenario& sc, std::string& error);

/// The table as Markdown (`embedrt-scenario kinds`).
std::string describe_kinds_markdown();

} // namespace embedrt::scenario
