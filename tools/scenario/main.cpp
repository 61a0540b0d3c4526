// embedrt-scenario: plays scenario files (scenarios/*.json) against the runtime and the
// bundled mock upstream. A test tool: the shipped `embedrt` CLI does not contain it.
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "tools/scenario/scenario.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  bool abandoned = false;
  auto rc = embedrt::scenario::command(args, std::cout, std::cerr, abandoned);
  if (abandoned) {
    // A runtime that could not be stopped still runs: leave without destructors.
    std::cout.flush();
    std::cerr.flush();
    std::_Exit(rc == 0 ? 1 : rc);
  }
  return rc;
}
