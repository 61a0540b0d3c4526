#include "tests/support/promtool.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace embedrt::test {

bool promtool_accepts(const std::string& text, std::string& complaint) {
  char in_path[] = "/tmp/embedrt-promtool-in-XXXXXX";
  char out_path[] = "/tmp/embedrt-promtool-out-XXXXXX";
  int in_fd = mkstemp(in_path);
  int out_fd = mkstemp(out_path);
  if (in_fd < 0 || out_fd < 0) {
    complaint = "cannot create temporary files";
    return false;
  }
  close(in_fd);
  close(out_fd);
  {
    std::ofstream out{in_path, std::ios::binary};
    out << text;
  }
  auto cmd = std::string{"promtool check metrics < "} + in_path + " > " + out_path
             + " 2>&1";
  int rc = std::system(cmd.c_str());
  std::ifstream said{out_path};
  std::stringstream ss;
  ss << said.rdbuf();
  std::remove(in_path);
  std::remove(out_path);
  // promtool prints lint problems (and exits 1) or nothing (exit 0); 127: not found.
  if (rc != 0 || !ss.str().empty()) {
    complaint = "promtool exit " + std::to_string(rc) + ": " + ss.str();
    return false;
  }
  return true;
}

} // namespace embedrt::test
