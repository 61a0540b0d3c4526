#define CAF_SUITE cli.output_format
#include <caf/test/unit_test.hpp>

#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/cli/output_format.hpp"
#include "src/openai/embeddings_codec.hpp"

// The main job's output formats: every float reads back bit-exact, base64 is the
// API's float32 layout, the npy header is valid and rewritable.

using namespace embedrt::cli;

namespace {

std::vector<float> random_vector(std::mt19937& rng, size_t n) {
  std::vector<float> v(n);
  std::uniform_int_distribution<uint32_t> bits;
  for (auto& x : v) {
    // Any finite float, subnormals included.
    do {
      auto b = bits(rng);
      std::memcpy(&x, &b, sizeof(x));
    } while (!std::isfinite(x));
  }
  return v;
}

} // namespace

CAF_TEST(jsonl floats read back bit exact) {
  std::mt19937 rng{42};
  for (int round = 0; round < 200; ++round) {
    auto v = random_vector(rng, 64);
    auto r = format_vector(output_format::jsonl, line_key("\"x\"", 1), 1, v);
    CAF_REQUIRE(r.ok());
    CAF_REQUIRE_EQUAL(r.main.back(), '\n');
    auto doc = nlohmann::json::parse(r.main);
    CAF_CHECK_EQUAL(doc["id"], "x");
    auto& arr = doc["embedding"];
    CAF_REQUIRE_EQUAL(arr.size(), v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      // Parse as text with strtof: the shortest form must round-trip to float.
      auto text = arr[i].dump();
      auto back = std::strtof(text.c_str(), nullptr);
      CAF_REQUIRE_EQUAL(std::memcmp(&back, &v[i], sizeof(float)), 0);
    }
  }
}

CAF_TEST(jsonl base64 is the float32 bytes the api sends) {
  std::mt19937 rng{7};
  auto v = random_vector(rng, 1536);
  auto r = format_vector(output_format::jsonl_base64, line_key({}, 3), 3, v);
  auto doc = nlohmann::json::parse(r.main);
  CAF_CHECK_EQUAL(doc["line"], 3);
  std::vector<float> back;
  CAF_REQUIRE(
    embedrt::openai::base64_decode_floats(doc["embedding"].get<std::string>(), back));
  CAF_REQUIRE_EQUAL(back.size(), v.size());
  CAF_CHECK_EQUAL(std::memcmp(back.data(), v.data(), v.size() * sizeof(float)), 0);
}

CAF_TEST(npy rows are raw float32 and the sidecar names id and status) {
  std::vector<float> v{1.5f, -2.0f};
  auto r = format_vector(output_format::npy, line_key("[1]", 5), 5, v);
  CAF_CHECK_EQUAL(r.main.size(), 8u);
  CAF_CHECK_EQUAL(std::memcmp(r.main.data(), v.data(), 8), 0);
  CAF_CHECK_EQUAL(r.side, "{\"id\":[1],\"row\":4,\"status\":\"ok\"}\n");
  auto e = format_error(output_format::npy, line_key({}, 6), 6, "invalid_line", "m\"");
  CAF_CHECK(e.main.empty());
  CAF_CHECK_EQUAL(e.code, "invalid_line");
  auto doc = nlohmann::json::parse(e.side);
  CAF_CHECK_EQUAL(doc["row"], 5);
  CAF_CHECK_EQUAL(doc["status"], "error");
  CAF_CHECK_EQUAL(doc["error"]["message"], "m\"");
}

CAF_TEST(the npy header has a fixed size and reads back) {
  for (auto [rows, dim] : {std::pair<uint64_t, uint64_t>{0, 0},
                           {50000, 1536},
                           {std::numeric_limits<uint64_t>::max(), 65536}}) {
    auto h = npy_header(rows, dim);
    CAF_CHECK_EQUAL(h.size(), npy_header_bytes);
    CAF_CHECK_EQUAL(h.back(), '\n');
    CAF_CHECK_EQUAL(static_cast<unsigned char>(h[8]) + 256 * h[9],
                    static_cast<int>(npy_header_bytes - 10));
    uint64_t r = 1;
    uint64_t d = 1;
    CAF_CHECK(parse_npy_header(h, r, d));
    CAF_CHECK_EQUAL(r, rows);
    CAF_CHECK_EQUAL(d, dim);
  }
}

CAF_TEST(error lines are valid json with the raw id) {
  auto e = format_error(output_format::jsonl, line_key("12345678901234567890123", 1), 1,
                        "upstream_rejected", "bad \x01 input \xFF");
  CAF_CHECK_EQUAL(e.main.substr(0, 30), "{\"id\":12345678901234567890123,");
  CAF_CHECK(nlohmann::json::accept(e.main));
}

CAF_TEST(resume redoes transient errors and with retry_failed every error) {
  for (auto code : {"shutting_down", "deadline_exceeded", "upstream_unavailable",
                    "rate_limited", "circuit_open", "overloaded", "worker_failed"}) {
    CAF_CHECK(needs_redo(code, false));
    CAF_CHECK(needs_redo(code, true));
  }
  for (auto code :
       {"invalid_json", "invalid_line", "invalid_input", "upstream_rejected"}) {
    CAF_CHECK(!needs_redo(code, false));
    CAF_CHECK(needs_redo(code, true));
  }
  CAF_CHECK(!needs_redo("", true));
  CAF_CHECK(parse_output_format("jsonl-base64") == output_format::jsonl_base64);
  CAF_CHECK(!parse_output_format("csv"));
}
