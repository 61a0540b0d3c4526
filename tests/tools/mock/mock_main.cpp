#define CAF_SUITE tools.mock.mock_main
#include <caf/test/unit_test.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "tests/tools/mock/mock_test_client.hpp"

// Drives build/embedrt-mock the way ./scripts/run.sh and the scenario runner do: parse
// the one stdout line, talk to it, read the report it writes on exit.

namespace {

const std::string binary = EMBEDRT_BINARY_DIR "/embedrt-mock";

/// The test target depends on embedrt-mock, so a missing binary is a failure, never
/// a silent skip.
bool binary_exists() {
  struct stat st {};
  CAF_REQUIRE_EQUAL(::stat(binary.c_str(), &st), 0);
  return true;
}

int exit_code_of(const std::string& args) {
  auto rc = std::system((binary + " " + args + " >/dev/null 2>&1").c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string temp_path(const char* name) {
  return "/tmp/embedrt-mock-test-" + std::to_string(::getpid()) + "-" + name;
}

} // namespace

CAF_TEST(bad usage exits 2 and help exits 0) {
  if (!binary_exists())
    return;
  CAF_CHECK_EQUAL(exit_code_of("--help"), 0);
  CAF_CHECK_EQUAL(exit_code_of("--no-such-flag"), 2);
  CAF_CHECK_EQUAL(exit_code_of("--port"), 2);
  CAF_CHECK_EQUAL(exit_code_of("--dimension 0"), 2);
  CAF_CHECK_EQUAL(exit_code_of("--api-key-env EMBEDRT_MOCK_TEST_SURELY_UNSET"), 2);
  CAF_CHECK_EQUAL(exit_code_of("--script /nonexistent/script.json"), 2);
}

CAF_TEST(the executable announces its url serves and reports on exit) {
  if (!binary_exists())
    return;
  auto script = temp_path("script.json");
  auto report = temp_path("report.json");
  {
    std::ofstream out{script};
    out << R"([{"requests":1,"faults":[{"kind":"status","status":503}]},{}])";
  }
  auto cmd = binary + " --port 0 --dimension 8 --threads 1 --max-seconds 1 --script "
             + script + " --report " + report;
  FILE* child = ::popen(cmd.c_str(), "r");
  CAF_REQUIRE(child != nullptr);
  char line[256] = {};
  CAF_REQUIRE(std::fgets(line, sizeof(line), child) != nullptr);
  std::string text = line;
  const std::string prefix = "embedrt-mock listening on http://127.0.0.1:";
  CAF_REQUIRE_EQUAL(text.rfind(prefix, 0), 0u);
  auto port = static_cast<uint16_t>(std::stoi(text.substr(prefix.size())));
  CAF_CHECK_NOT_EQUAL(text.find("/v1\n"), std::string::npos);
  for (int expected : {503, 200}) {
    mock_test::raw_conn c{port};
    CAF_REQUIRE(c.connected());
    CAF_REQUIRE(c.send_all(mock_test::post_embeddings(R"({"model":"m","input":"x"})")));
    std::string buf;
    CAF_REQUIRE(c.read_until(buf, mock_test::has_complete_response, 2000)
                == mock_test::read_outcome::done);
    CAF_CHECK_EQUAL(mock_test::parse_response(buf).status, expected);
  }
  // --max-seconds 1 ends it; pclose waits.
  auto rc = ::pclose(child);
  CAF_CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
  std::ifstream in{report};
  std::stringstream buf;
  buf << in.rdbuf();
  auto doc = nlohmann::json::parse(buf.str(), nullptr, false);
  CAF_REQUIRE(!doc.is_discarded());
  CAF_CHECK_EQUAL(doc["total"]["requests"].get<int>(), 2);
  CAF_CHECK_EQUAL(doc["total"]["statuses"]["503"].get<int>(), 1);
  CAF_CHECK_EQUAL(doc["current_phase"].get<int>(), 1);
  CAF_CHECK_GREATER_OR_EQUAL(doc["uptime_us"].get<int64_t>(), 900000);
  std::remove(script.c_str());
  std::remove(report.c_str());
}
