#define CAF_SUITE cli.embed_job
#include "src/cli/embed_job.hpp"

#include <caf/test/unit_test.hpp>

#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include <nlohmann/json.hpp>

#include "src/cli/cli.hpp"
#include "src/openai/embeddings_codec.hpp"
#include "tools/mock/mock_server.hpp"

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

CAF_TEST(a hostile line costs only that line) {
  // 200,000 nested arrays as the id, an id above 2^64, a line over max_line_bytes.
  std::string deep(200000, '[');
  deep += std::string(200000, ']');
  std::string big = "123456789012345678901234567890";
  write_input(R"({"id":"a","text":"first"})"
              "\n"
              R"({"id":)"
              + deep + R"(,"text":"deep"})"
              + "\n"
                R"({"id":)"
              + big + R"(,"text":"big"})" + "\n" + R"({"id":"long","text":")"
              + std::string(5000, 'x') + "\"}\n" + R"({"id":"z","text":"last"})"
              + "\n");
  CAF_CHECK_EQUAL(run({"--embedrt.input.max_line_bytes=4096"}), 1);
  std::ifstream in{dir + "/output.jsonl"};
  std::vector<std::string> raw;
  for (std::string line; std::getline(in, line);)
    raw.push_back(line);
  CAF_REQUIRE_EQUAL(raw.size(), 5u);
  auto lines = read_output();
  CAF_CHECK(lines[0].contains("embedding"));
  CAF_CHECK_EQUAL(lines[1]["line"], 2);
  CAF_CHECK_EQUAL(lines[1]["error"]["code"], "invalid_line");
  // The big id is echoed digit for digit (not 1.2345678901234568e+29).
  CAF_CHECK_EQUAL(raw[2].substr(0, 6 + big.size()), "{\"id\":" + big);
  CAF_CHECK(lines[2]["embedding"].get<std::vector<float>>()
            == mock::mock_vector("big", 8));
  CAF_CHECK_EQUAL(lines[3]["line"], 4);
  CAF_CHECK_EQUAL(lines[3]["error"]["code"], "invalid_line");
  CAF_CHECK(lines[3]["error"]["message"].get<std::string>().find("max_line_bytes")
            != std::string::npos);
  CAF_CHECK_EQUAL(lines[4]["id"], "z");
  CAF_CHECK(lines[4].contains("embedding"));
}

CAF_TEST(jsonl base64 and npy hold the same vectors as jsonl) {
  std::string input;
  for (int i = 0; i < 50; ++i)
    input += R"({"id":)" + std::to_string(i) + R"(,"text":"v)" + std::to_string(i)
             + "\"}\n";
  input += "broken\n";
  write_input(input);
  CAF_CHECK_EQUAL(run({"--output-format", "jsonl-base64"}), 1);
  auto lines = read_output();
  CAF_REQUIRE_EQUAL(lines.size(), 51u);
  for (int i = 0; i < 50; ++i) {
    std::vector<float> v;
    CAF_REQUIRE(embedrt::openai::base64_decode_floats(
      lines[i]["embedding"].get<std::string>(), v));
    CAF_CHECK(v == mock::mock_vector("v" + std::to_string(i), 8));
  }
  CAF_CHECK_EQUAL(run({"--output-format=npy", "--output", dir + "/m.npy"}), 1);
  std::ifstream npy{dir + "/m.npy", std::ios::binary};
  std::string bytes{std::istreambuf_iterator<char>{npy}, {}};
  CAF_REQUIRE_EQUAL(bytes.size(), 128u + 51u * 8u * 4u);
  CAF_CHECK(bytes.find("'shape': (51, 8)") != std::string::npos);
  for (int i = 0; i < 51; ++i) {
    std::vector<float> row(8);
    std::memcpy(row.data(), bytes.data() + 128 + i * 32, 32);
    CAF_CHECK(row
              == (i < 50 ? mock::mock_vector("v" + std::to_string(i), 8)
                         : std::vector<float>(8, 0.0f)));
  }
  std::ifstream side{dir + "/m.npy.jsonl"};
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(side, line);)
    rows.push_back(nlohmann::json::parse(line));
  CAF_REQUIRE_EQUAL(rows.size(), 51u);
  CAF_CHECK_EQUAL(rows[7]["id"], 7);
  CAF_CHECK_EQUAL(rows[7]["status"], "ok");
  CAF_CHECK_EQUAL(rows[50]["error"]["code"], "invalid_json");
  CAF_CHECK(!std::ifstream{dir + "/m.npy.partial"});
}

CAF_TEST(resume keeps answered lines and redoes transient errors) {
  std::string input;
  for (int i = 0; i < 6; ++i)
    input += R"({"id":)" + std::to_string(i) + R"(,"text":"r)" + std::to_string(i)
             + "\"}\n";
  write_input(input);
  CAF_REQUIRE_EQUAL(run({}), 0);
  std::ifstream clean_in{dir + "/output.jsonl"};
  std::string clean{std::istreambuf_iterator<char>{clean_in}, {}};
  // An interrupted job: line 1 answered, line 2 shut down, line 3 torn.
  auto nl1 = clean.find('\n');
  auto nl2 = clean.find('\n', nl1 + 1);
  std::ofstream{dir + "/output.jsonl.partial"}
    << clean.substr(0, nl1 + 1)
    << R"({"id":1,"error":{"code":"shutting_down","message":"x"}})"
    << "\n"
    << clean.substr(nl2 + 1, 20);
  std::remove((dir + "/output.jsonl").c_str());
  auto before = server.stats(false).total.inputs;
  CAF_CHECK_EQUAL(run({"--resume"}), 0);
  std::ifstream resumed_in{dir + "/output.jsonl"};
  std::string resumed{std::istreambuf_iterator<char>{resumed_in}, {}};
  CAF_CHECK(resumed == clean);
  // Line 0 was kept: only five texts went upstream.
  CAF_CHECK_EQUAL(server.stats(false).total.inputs - before, 5u);
  // A partial file of another input is refused.
  std::ofstream{dir + "/output.jsonl.partial"} << R"({"id":"other","embedding":[1]})"
                                               << "\n";
  std::string err;
  CAF_CHECK_EQUAL(run({"--resume"}, &err), 2);
  CAF_CHECK(err.find("does not belong to this input") != std::string::npos);
}

CAF_TEST(resume keeps permanent errors unless retry_failed) {
  std::string error;
  CAF_REQUIRE(server.load_script_json(
    R"([{"faults":[{"kind":"status","status":400,"match":"REJECT"}]}])", error));
  write_input(R"({"id":1,"text":"fine"})"
              "\n"
              R"({"id":2,"text":"REJECT me"})"
              "\n");
  CAF_CHECK_EQUAL(run({"--embedrt.batching.enabled=false"}), 1);
  auto first = read_output();
  CAF_REQUIRE_EQUAL(first.size(), 2u);
  CAF_CHECK_EQUAL(first[1]["error"]["code"], "upstream_rejected");
  // The upstream is fixed; --resume on the finished file keeps the permanent error
  // and sends nothing.
  CAF_REQUIRE(server.load_script_json("[{}]", error));
  auto before = server.stats(false).total.inputs;
  CAF_CHECK_EQUAL(run({"--resume"}), 1);
  CAF_CHECK_EQUAL(server.stats(false).total.inputs, before);
  auto kept = read_output();
  CAF_REQUIRE_EQUAL(kept.size(), 2u);
  CAF_CHECK_EQUAL(kept[1]["error"]["code"], "upstream_rejected");
  // --retry-failed embeds it again, and only it (the dimension is given: a lone
  // vector of an unknown model would otherwise be re-sent for confirmation).
  CAF_CHECK_EQUAL(
    run({"--resume", "--retry-failed", "--embedrt.endpoint.dimensions=8"}), 0);
  CAF_CHECK_EQUAL(server.stats(false).total.inputs, before + 1);
  auto lines = read_output();
  CAF_REQUIRE_EQUAL(lines.size(), 2u);
  CAF_CHECK(lines[1]["embedding"].get<std::vector<float>>()
            == mock::mock_vector("REJECT me", 8));
}

CAF_TEST_FIXTURE_SCOPE_END()
