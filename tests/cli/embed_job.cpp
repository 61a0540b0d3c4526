#define CAF_SUITE cli.embed_job
#include "src/cli/embed_job.hpp"

#include <caf/test/unit_test.hpp>

#include <unistd.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "src/cli/cli.hpp"
#include "src/mock/mock_server.hpp"

// The CLI contract: one output line per input line, in order; bad lines get an error
// line and the run goes on; exit 0 / 1 / 2.

using namespace embedrt;

namespace {

struct cli_fixture {
  mock::mock_server server{options()};
  std::string dir;

  static mock::mock_options options() {
    mock::mock_options opts;
    opts.dimension = 8;
    return opts;
  }

  cli_fixture() {
    server.start();
    char tmpl[] = "/tmp/embedrt-cli-test-XXXXXX";
    dir = ::mkdtemp(tmpl);
  }

  ~cli_fixture() { std::system(("rm -rf " + dir).c_str()); }

  std::string write_input(const std::string& content) {
    auto path = dir + "/input.jsonl";
    std::ofstream{path} << content;
    return path;
  }

  std::vector<nlohmann::json> read_output() {
    std::ifstream in{dir + "/output.jsonl"};
    std::vector<nlohmann::json> lines;
    std::string line;
    while (std::getline(in, line))
      lines.push_back(nlohmann::json::parse(line));
    return lines;
  }

  int run(std::vector<std::string> extra, std::string* err_text = nullptr) {
    std::vector<std::string> args{"embed",
                                  "--input",
                                  dir + "/input.jsonl",
                                  "--output",
                                  dir + "/output.jsonl",
                                  "--base-url",
                                  server.base_url(),
                                  "--no-progress",
                                  "--embedrt.endpoint.api_key_env=EMBEDRT_NO_KEY"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::ostringstream out;
    std::ostringstream err;
    auto rc = cli::main(args, out, err);
    if (err_text != nullptr)
      *err_text = err.str();
    return rc;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(embed_job_tests, cli_fixture)

CAF_TEST(every good line is embedded in input order and the exit code is 0) {
  std::string input;
  for (int i = 0; i < 300; ++i)
    input += R"({"id":"d)" + std::to_string(i) + R"(","text":"text )"
             + std::to_string(i) + "\"}\n";
  write_input(input);
  std::string err;
  CAF_CHECK_EQUAL(run({}, &err), 0);
  auto lines = read_output();
  CAF_REQUIRE_EQUAL(lines.size(), 300u);
  for (int i = 0; i < 300; ++i) {
    CAF_CHECK_EQUAL(lines[i]["id"], "d" + std::to_string(i));
    auto v = lines[i]["embedding"].get<std::vector<float>>();
    CAF_CHECK(v == mock::mock_vector("text " + std::to_string(i), 8));
  }
  CAF_CHECK(err.find("embedded:           300") != std::string::npos);
  CAF_CHECK(err.find("vectors/s:") != std::string::npos);
}

CAF_TEST(bad lines get an error line each and the run goes on with exit code 1) {
  write_input(R"({"id": 1, "text": "first"}
not json at all
{"id": "no-text"}
{"text": 42}
{"id": [1,2], "text": ""}
{"text": "no id"}

{"id": 7, "text": "last"}
)");
  CAF_CHECK_EQUAL(run({}), 1);
  auto lines = read_output();
  CAF_REQUIRE_EQUAL(lines.size(), 8u);
  CAF_CHECK_EQUAL(lines[0]["id"], 1);
  CAF_CHECK(lines[0].contains("embedding"));
  CAF_CHECK_EQUAL(lines[1]["line"], 2);
  CAF_CHECK_EQUAL(lines[1]["error"]["code"], "invalid_json");
  CAF_CHECK_EQUAL(lines[2]["id"], "no-text");
  CAF_CHECK_EQUAL(lines[2]["error"]["code"], "invalid_line");
  CAF_CHECK_EQUAL(lines[3]["line"], 4);
  CAF_CHECK_EQUAL(lines[3]["error"]["code"], "invalid_line");
  CAF_CHECK_EQUAL(lines[4]["id"], nlohmann::json::parse("[1,2]"));
  CAF_CHECK_EQUAL(lines[4]["error"]["code"], "invalid_input");
  CAF_CHECK_EQUAL(lines[4]["error"]["message"], "input 0 is empty");
  CAF_CHECK_EQUAL(lines[5]["line"], 6);
  CAF_CHECK(lines[5].contains("embedding"));
  CAF_CHECK_EQUAL(lines[6]["line"], 7);
  CAF_CHECK_EQUAL(lines[6]["error"]["code"], "invalid_json");
  CAF_CHECK_EQUAL(lines[7]["id"], 7);
  CAF_CHECK(lines[7]["embedding"].get<std::vector<float>>()
            == mock::mock_vector("last", 8));
}

CAF_TEST(a shuffled index upstream still yields each line its own vector) {
  std::string error;
  CAF_REQUIRE(
    server.load_script_json(R"([{"faults":[{"kind":"shuffle_index"}]}])", error));
  std::string input;
  for (int i = 0; i < 100; ++i)
    input += R"({"id":)" + std::to_string(i) + R"(,"text":"s)" + std::to_string(i)
             + "\"}\n";
  write_input(input);
  CAF_CHECK_EQUAL(run({}), 0);
  auto lines = read_output();
  CAF_REQUIRE_EQUAL(lines.size(), 100u);
  for (int i = 0; i < 100; ++i)
    CAF_CHECK(lines[i]["embedding"].get<std::vector<float>>()
              == mock::mock_vector("s" + std::to_string(i), 8));
  CAF_CHECK(server.stats(false).total.faults["shuffle_index"] >= 1u);
}

CAF_TEST(usage and config errors exit 2 and send nothing) {
  write_input(R"({"text":"x"})"
              "\n");
  std::string err;
  CAF_CHECK_EQUAL(run({"--embedrt.retry.max_attempts=0"}, &err), 2);
  CAF_CHECK(err.find("embedrt.retry.max_attempts") != std::string::npos);
  CAF_CHECK_EQUAL(run({"--embedrt.no_such.key=1"}), 2);
  CAF_CHECK_EQUAL(run({"stray-argument"}), 2);
  std::ostringstream out;
  std::ostringstream err2;
  CAF_CHECK_EQUAL(cli::main({"embed", "--input", dir + "/input.jsonl"}, out, err2), 2);
  CAF_CHECK_EQUAL(cli::main({"frobnicate"}, out, err2), 2);
  CAF_CHECK_EQUAL(cli::main({"embed", "--input", dir + "/missing.jsonl", "--output",
                             dir + "/o.jsonl", "--no-progress"},
                            out, err2),
                  2);
  CAF_CHECK_EQUAL(server.stats(false).total.requests, 0u);
}

CAF_TEST(the key is never sent over plain http to a host that is not loopback) {
  write_input(R"({"text":"x"})"
              "\n");
  ::setenv("EMBEDRT_CLI_TEST_KEY", "sk-cli-test-secret-123456", 1);
  std::vector<std::string> args{"embed",
                                "--input",
                                dir + "/input.jsonl",
                                "--output",
                                dir + "/output.jsonl",
                                "--no-progress",
                                "--base-url",
                                "http://example.com/v1",
                                "--embedrt.endpoint.api_key_env=EMBEDRT_CLI_TEST_KEY"};
  std::ostringstream out;
  std::ostringstream err;
  CAF_CHECK_EQUAL(cli::main(args, out, err), 2);
  CAF_CHECK(err.str().find("embedrt.endpoint.base_url") != std::string::npos);
  CAF_CHECK(err.str().find("sk-cli-test") == std::string::npos);
  std::ostringstream dump;
  CAF_CHECK_EQUAL(
    cli::main({"config", "dump", "--embedrt.endpoint.api_key_env=EMBEDRT_CLI_TEST_KEY"},
              dump, err),
    0);
  CAF_CHECK(dump.str().find("EMBEDRT_CLI_TEST_KEY") != std::string::npos);
  CAF_CHECK(dump.str().find("sk-cli-test") == std::string::npos);
  ::unsetenv("EMBEDRT_CLI_TEST_KEY");
}

CAF_TEST_FIXTURE_SCOPE_END()
