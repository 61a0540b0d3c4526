// The README's example, compiled by the build and run by the tests (examples.*).
#include <iostream>

#include <embedrt/runtime.hpp>

int main(int argc, char** argv) {
  // Settings come from a caf-application.conf; a host can also fill a
  // embedrt::runtime_config in code and call runtime::start(cfg, errors).
  std::vector<embedrt::config_error> errors;
  auto path = argc > 1 ? argv[1] : "caf-application.conf";
  auto rt = embedrt::runtime::start_from_file(path, errors);
  if (!rt) {
    for (auto& e : errors)
      std::cerr << "config: " << e.to_string() << "\n";
    return 2;
  }
  auto outcome = rt->embed({"How do I keep a RAG host from hanging?"}).get();
  if (!outcome) {
    const auto& err = outcome.error();
    switch (err.code) {
      case embedrt::embed_errc::overloaded:   // shed at once: back off, retry later
      case embedrt::embed_errc::circuit_open: // the upstream is failing: fail fast
        std::cerr << "try again later: " << err.message << "\n";
        return 1;
      default:
        std::cerr << embedrt::to_string(err.code) << ": " << err.message << "\n";
        return 1;
    }
  }
  std::cout << "got " << outcome.value().embeddings[0].size() << " dimensions\n";
}
