// "Did you mean ...?" for mistyped names: the Levenshtein distance and the closest
// candidate within a bound. Pure, no knowledge of the schema (see
// schema::suggestion_for).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace embedrt::suggest {

/// Levenshtein distance: insertions, deletions and substitutions of one byte.
size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate closest to `word` with a distance below `max_distance`, the first
/// one on ties; empty if none is that close.
std::string closest(std::string_view word, const std::vector<std::string>& candidates,
                    size_t max_distance);

} // namespace embedrt::suggest
