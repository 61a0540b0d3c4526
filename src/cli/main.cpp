// The `embedrt` binary.
#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include "src/cli/cli.hpp"

int main(int argc, char** argv) {
  // A closed stdout (embed --output - | head) is a write error (exit 3), not a kill.
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> args(argv + 1, argv + argc);
  return embedrt::cli::main(args, std::cout, std::cerr);
}
