#define CAF_SUITE config.readme_reference
#include <caf/test/unit_test.hpp>

#include <fstream>
#include <sstream>

#include "config/config_loader.hpp"

// The README's configuration reference is the schema's own table, so it cannot drift.

CAF_TEST(the readme holds the configuration reference generated from the schema) {
  std::ifstream in{EMBEDRT_SOURCE_DIR "/README.md"};
  std::stringstream ss;
  ss << in.rdbuf();
  CAF_CHECK(ss.str().find(embedrt::describe_keys_markdown()) != std::string::npos);
}
