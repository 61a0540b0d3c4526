#define CAF_SUITE cli.input_line
#include <caf/test/unit_test.hpp>

#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "src/cli/input_line.hpp"
#include "src/cli/json_scan.hpp"
#include "src/cli/output_format.hpp"

// The per-line parser of the main job: exact raw ids, bounded depth and size, no
// recursion, and the same idea of "valid JSON" as a full parser.

using namespace embedrt::cli;

namespace {

input_line parse(const std::string& line, line_limits limits = {}) {
  return parse_input_line(line, limits);
}

} // namespace

CAF_TEST(the id is the raw json text of the value whatever its type) {
  auto cases = {
    std::pair<std::string, std::string>{R"({"id": "a\u00e9b", "text": "x"})",
                                        R"("a\u00e9b")"},
    {R"({"id":123456789012345678901234567890,"text":"x"})",
     "123456789012345678901234567890"},
    {R"({"id": -1.50e+300 , "text":"x"})", "-1.50e+300"},
    {R"({"text":"x","id":[1, {"k": [null, true]}]})", R"([1, {"k": [null, true]}])"},
    {R"({"id":{},"text":"x"})", "{}"},
    {R"({"id":[],"text":"x"})", "[]"},
    {R"({"id":false,"text":"x"})", "false"},
    {R"({"id":null,"text":"x"})", "null"},
  };
  for (auto& [line, id] : cases) {
    auto r = parse(line);
    CAF_CHECK(r.verdict == line_verdict::ok);
    CAF_CHECK_EQUAL(std::string{r.id_raw}, id);
    CAF_CHECK_EQUAL(r.text, "x");
  }
}

CAF_TEST(an integer id above 2 to the 64 is echoed digit for digit) {
  std::string big = "18446744073709551616123456789";
  auto line = R"({"id":)" + big + R"(,"text":"t"})";
  auto r = parse(line); // id_raw points into `line`
  CAF_CHECK(r.verdict == line_verdict::ok);
  CAF_CHECK_EQUAL(std::string{r.id_raw}, big);
  CAF_CHECK_EQUAL(line_key(r.id_raw, 7), "\"id\":" + big);
}

CAF_TEST(escapes and surrogate pairs in the text become utf8) {
  auto r = parse(R"({"text":"a\"b\\c\/d\n\t\u00e9\ud83d\ude00"})");
  CAF_REQUIRE(r.verdict == line_verdict::ok);
  CAF_CHECK_EQUAL(r.text, "a\"b\\c/d\n\t\xC3\xA9\xF0\x9F\x98\x80");
  CAF_CHECK(r.id_raw.empty());
}

CAF_TEST(an id of 200000 nested arrays is invalid_line without a crash) {
  std::string deep(200000, '[');
  deep += std::string(200000, ']');
  auto r = parse(R"({"id":)" + deep + R"(,"text":"x"})");
  CAF_CHECK(r.verdict == line_verdict::invalid_line);
  CAF_CHECK(r.id_raw.empty());
  CAF_CHECK(r.message.find("nested deeper than 64") != std::string::npos);
  // Unbalanced, and as the text: the same verdict, never a stack overflow.
  CAF_CHECK(parse(std::string(1000000, '[')).verdict == line_verdict::invalid_line);
  auto line2 = R"({"id":"keep","text":)" + deep + "}";
  auto r2 = parse(line2);
  CAF_CHECK(r2.verdict == line_verdict::invalid_line);
  CAF_CHECK_EQUAL(std::string{r2.id_raw}, R"("keep")");
}

CAF_TEST(the depth limit counts the line object as level one) {
  line_limits l;
  l.max_depth = 3;
  CAF_CHECK(parse(R"({"id":[[1]],"text":"x"})", l).verdict == line_verdict::ok);
  CAF_CHECK(parse(R"({"id":[[[1]]],"text":"x"})", l).verdict
            == line_verdict::invalid_line);
}

CAF_TEST(a line over max_line_bytes is invalid_line) {
  line_limits l;
  l.max_line_bytes = 64;
  auto r = parse(R"({"id":1,"text":")" + std::string(100, 'a') + "\"}", l);
  CAF_CHECK(r.verdict == line_verdict::invalid_line);
  CAF_CHECK_EQUAL(r.message,
                  "the line has 118 bytes, more than input.max_line_bytes (64)");
}

CAF_TEST(lines that are not objects with a string text are told apart) {
  CAF_CHECK(parse("").verdict == line_verdict::invalid_json);
  CAF_CHECK(parse("   ").verdict == line_verdict::invalid_json);
  CAF_CHECK(parse("not json").verdict == line_verdict::invalid_json);
  CAF_CHECK(parse(R"({"text":"x"} trailing)").verdict == line_verdict::invalid_json);
  CAF_CHECK(parse(R"({"text":"x",})").verdict == line_verdict::invalid_json);
  CAF_CHECK(parse(R"({"text":"\ud800"})").verdict == line_verdict::invalid_json);
  CAF_CHECK(parse("{\"text\":\"\xC3\"}").verdict == line_verdict::invalid_json);
  CAF_CHECK(parse("{\"text\":\"a\x01\"}").verdict == line_verdict::invalid_json);
  CAF_CHECK(parse(R"({"id":01,"text":"x"})").verdict == line_verdict::invalid_json);
  CAF_CHECK(parse("[1,2]").verdict == line_verdict::invalid_line);
  CAF_CHECK(parse("42").verdict == line_verdict::invalid_line);
  CAF_CHECK(parse(R"({"id":"no-text"})").verdict == line_verdict::invalid_line);
  CAF_CHECK(parse(R"({"text":42})").verdict == line_verdict::invalid_line);
  auto r = parse(R"({"id":[1,2],"text":""})");
  CAF_CHECK(r.verdict == line_verdict::ok);
  CAF_CHECK_EQUAL(r.text, "");
  // An escaped key is the same key; the last duplicate wins.
  auto d = parse(R"({"\u0074ext":"first","text":"second"})");
  CAF_CHECK_EQUAL(d.text, "second");
}

CAF_TEST(validity agrees with nlohmann json on random mutations of valid lines) {
  // Differential property over many seeded random lines: whatever the scanner calls
  // valid JSON, a full parser does too, and the other way round.
  const std::string seeds[] = {
    R"({"id": [1, -2.5e3, {"a": null}], "text": "h\u00e9llo \ud83d\ude00"})",
    R"({"text": "x", "id": {"k": [true, false, "s\"q"]}})",
    R"([0, 1.0, "\\", {}, []])",
    R"({"a":{"b":{"c":[[[[]]]]}},"text":"deep"})",
  };
  const std::string alphabet = "{}[]\",:\\u0123456789.eE+-truefalsnl \t\xC3\xA9\xFF";
  std::mt19937_64 rng{20261129};
  int disagreements = 0;
  for (int i = 0; i < 20000; ++i) {
    auto s = seeds[rng() % std::size(seeds)];
    auto edits = 1 + rng() % 4;
    for (size_t e = 0; e < edits && !s.empty(); ++e) {
      auto pos = rng() % s.size();
      switch (rng() % 3) {
        case 0: s[pos] = alphabet[rng() % alphabet.size()]; break;
        case 1: s.erase(pos, 1); break;
        default: s.insert(pos, 1, alphabet[rng() % alphabet.size()]);
      }
    }
    auto ours = scan_json_object(s, 1000, [](auto, auto, auto) {});
    bool valid = ours != scan_status::invalid_json;
    if (valid != nlohmann::json::accept(s)) {
      if (++disagreements < 5)
        CAF_MESSAGE("disagreement on: " << s);
    }
  }
  CAF_CHECK_EQUAL(disagreements, 0);
}

CAF_TEST(escaping for output always yields valid json) {
  std::string out = "\"";
  append_json_escaped(out, std::string{"a\"\\\n\x01\xC3\xA9\xFF", 8});
  out += "\"";
  CAF_CHECK(nlohmann::json::accept(out));
  CAF_CHECK_EQUAL(nlohmann::json::parse(out).get<std::string>(),
                  "a\"\\\n\x01\xC3\xA9\xEF\xBF\xBD");
}
