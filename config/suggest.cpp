#include "config/suggest.hpp"

#include <algorithm>

namespace embedrt::suggest {

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min(
        {row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0u : 1u)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string closest(std::string_view word, const std::vector<std::string>& candidates,
                    size_t max_distance) {
  const std::string* best = nullptr;
  size_t best_distance = max_distance;
  for (auto& x : candidates) {
    auto d = edit_distance(word, x);
    if (d < best_distance) {
      best = &x;
      best_distance = d;
    }
  }
  return best != nullptr ? *best : std::string{};
}

} // namespace embedrt::suggest
