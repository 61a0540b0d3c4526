#define CAF_SUITE examples.embed_query
#include <caf/test/unit_test.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

#include "tools/mock/mock_server.hpp"

// The README's example must compile (the build does that), run, and stay identical to
// the code shown in the README (so the README cannot rot).

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in{path};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace

CAF_TEST(the readme shows the example source verbatim) {
  auto readme = slurp(EMBEDRT_SOURCE_DIR "/README.md");
  auto example = slurp(EMBEDRT_SOURCE_DIR "/examples/embed_query.cpp");
  CAF_REQUIRE(!example.empty());
  CAF_CHECK(readme.find(example) != std::string::npos);
}

CAF_TEST(the example embeds a query against the mock upstream) {
  embedrt::mock::mock_options opts;
  opts.dimension = 12;
  embedrt::mock::mock_server server{opts};
  server.start();
  auto conf = std::string{"/tmp/embedrt-example-"} + std::to_string(::getpid())
              + ".conf";
  std::ofstream{conf} << "[embedrt.endpoint]\nbase_url = \"" << server.base_url()
                      << "\"\napi_key_env = \"EMBEDRT_EXAMPLE_NO_KEY\"\n";
  auto cmd = std::string{EMBEDRT_BINARY_DIR "/example_embed_query "} + conf;
  FILE* p = ::popen(cmd.c_str(), "r");
  CAF_REQUIRE(p != nullptr);
  char buf[256] = {};
  std::string out;
  while (std::fgets(buf, sizeof(buf), p) != nullptr)
    out += buf;
  auto status = ::pclose(p);
  std::remove(conf.c_str());
  CAF_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CAF_CHECK_EQUAL(out, "got 12 dimensions\n");
}
