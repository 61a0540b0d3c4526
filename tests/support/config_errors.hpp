// Config errors as one text (one per line), for checks that search it.
#pragma once

#include <string>
#include <vector>

#include <embedrt/runtime_config.hpp>

namespace embedrt::test {

inline std::string join(const std::vector<config_error>& xs) {
  std::string result;
  for (auto& x : xs) {
    if (!result.empty())
      result += '\n';
    result += x.to_string();
  }
  return result;
}

} // namespace embedrt::test
