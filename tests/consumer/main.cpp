// A host embedding a query through an installed embedrt. Usage: consumer MOCK_BINARY
// (starts the mock upstream on a free loopback port, embeds, checks, stops it).
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include "src/runtime.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: consumer MOCK_BINARY\n";
    return 2;
  }
  int out[2];
  if (pipe(out) != 0)
    return 2;
  auto pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    execl(argv[1], argv[1], "--port", "0", "--dimension", "8", "--max-seconds", "30",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  std::string line;
  char c;
  while (read(out[0], &c, 1) == 1 && c != '\n')
    line += c;
  auto url = line.substr(line.rfind(' ') + 1);

  embedrt::runtime_config cfg;
  cfg.endpoint.base_url = url;
  std::vector<embedrt::config_error> errors;
  auto rt = embedrt::runtime::start(cfg, errors);
  int rc = 1;
  if (rt) {
    auto outcome = rt->embed({"what does a consumer see?"}).get();
    if (outcome && outcome.value().embeddings.at(0).size() == 8) {
      std::cout << "consumer: got a vector of 8 values\n";
      rc = 0;
    } else {
      std::cout << "consumer: " << embedrt::to_string(outcome.error().code) << ": "
                << outcome.error().message << "\n";
    }
    rt->stop();
  } else {
    for (auto& e : errors)
      std::cout << "consumer: " << e.to_string() << "\n";
  }
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  return rc;
}
