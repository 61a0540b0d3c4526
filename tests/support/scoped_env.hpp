// Sets (or unsets) an environment variable for one scope, restoring it after.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>

namespace embedrt::test {

class scoped_env {
public:
  /// `value` nullopt: unset for the scope.
  scoped_env(const char* name, std::optional<std::string> value) : name_(name) {
    if (auto old = std::getenv(name))
      old_ = old;
    if (value)
      setenv(name, value->c_str(), 1);
    else
      unsetenv(name);
  }
  ~scoped_env() {
    if (old_)
      setenv(name_, old_->c_str(), 1);
    else
      unsetenv(name_);
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

private:
  const char* name_;
  std::optional<std::string> old_;
};

} // namespace embedrt::test
