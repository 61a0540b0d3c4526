// The `embedrt` binary.
#include <iostream>
#include <string>
#include <vector>

#include "src/cli/cli.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return embedrt::cli::main(args, std::cout, std::cerr);
}
