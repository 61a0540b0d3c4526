// Reading samples out of a Prometheus text exposition in tests.
#pragma once

#include <sstream>
#include <string>

namespace embedrt::test {

/// The value of the sample `series` (name with labels, exactly as exposed), or -1.
inline double sample(const std::string& text, const std::string& series) {
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line))
    if (line.compare(0, series.size() + 1, series + " ") == 0)
      return std::stod(line.substr(series.size() + 1));
  return -1;
}

} // namespace embedrt::test
