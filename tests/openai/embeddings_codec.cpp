#define CAF_SUITE openai.embeddings_codec
#include <caf/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/openai/embeddings_codec.hpp"

using namespace embedrt;
using namespace embedrt::openai;
using namespace std::string_literals;

namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

/// simdjson's padding, which the transport reserves behind every body.
constexpr size_t padding = 64;

constexpr auto b64 = encoding_format::base64;
constexpr auto flt = encoding_format::float_array;

std::string padded(std::string body) {
  body.reserve(body.size() + padding);
  return body;
}

std::string name(response_defect x) {
  return to_string(x);
}

/// A deterministic vector whose values differ per `seed` (sign, magnitude, fraction).
std::vector<float> make_vector(size_t dim, int seed) {
  std::vector<float> result(dim);
  for (size_t i = 0; i < dim; ++i)
    result[i] = static_cast<float>(seed + 1) * 0.01f
                - static_cast<float>(i) * 0.000731f * (i % 2 == 0 ? 1.0f : -1.0f);
  return result;
}

std::string to_base64(const std::vector<float>& xs) {
  return base64_encode(xs.data(), xs.size() * sizeof(float));
}

/// One `data` item in OpenAI's key order (object, index, embedding).
ordered_json item(int64_t index, ordered_json embedding) {
  return ordered_json{
    {"object", "embedding"}, {"index", index}, {"embedding", std::move(embedding)}};
}

ordered_json float_array(const std::vector<float>& xs) {
  auto result = ordered_json::array();
  for (auto x : xs)
    result.push_back(x); // float -> double is exact; dump() round-trips doubles
  return result;
}

/// A complete response in OpenAI's shape, padded like the transport's bodies.
std::string response(ordered_json data) {
  ordered_json doc{{"object", "list"},
                   {"data", std::move(data)},
                   {"model", "text-embedding-3-small"},
                   {"usage", {{"prompt_tokens", 8}, {"total_tokens", 9}}}};
  return padded(doc.dump());
}

/// A response holding `vectors[order[k]]` at position k, each with its own index.
std::string response_for(const std::vector<std::vector<float>>& vectors,
                         const std::vector<size_t>& order, encoding_format enc) {
  auto data = ordered_json::array();
  for (auto i : order)
    data.push_back(item(static_cast<int64_t>(i), enc == b64
                                                   ? ordered_json(to_base64(vectors[i]))
                                                   : float_array(vectors[i])));
  return response(std::move(data));
}

std::vector<size_t> identity(size_t n) {
  std::vector<size_t> result(n);
  for (size_t i = 0; i < n; ++i)
    result[i] = i;
  return result;
}

std::vector<size_t> shuffled(size_t n, unsigned seed) {
  auto result = identity(n);
  std::mt19937 rng{seed};
  std::shuffle(result.begin(), result.end(), rng);
  return result;
}

bool bit_equal(const std::vector<float>& x, const std::vector<float>& y) {
  return x.size() == y.size()
         && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

/// The request as parsed back by an independent parser (throws on invalid JSON,
/// which fails the test).
json parse_request(const std::string& body) {
  return json::parse(body);
}

std::string one_item_for_test(const std::string& embedding, const std::string& index) {
  return R"({"data":[{"index":)" + index + R"(,"embedding":)" + embedding + "}]}";
}

std::string encode_one(const std::string& text, std::string_view model = "m") {
  return encode_request(model, {&text}, 0, b64);
}

} // namespace

// -- names ----------------------------------------------------------------------------

CAF_TEST(every defect has a name) {
  CAF_CHECK_EQUAL(name(response_defect::none), "none");
  CAF_CHECK_EQUAL(name(response_defect::malformed_json), "malformed_json");
  CAF_CHECK_EQUAL(name(response_defect::wrong_count), "wrong_count");
  CAF_CHECK_EQUAL(name(response_defect::bad_index), "bad_index");
  CAF_CHECK_EQUAL(name(response_defect::wrong_type), "wrong_type");
  CAF_CHECK_EQUAL(name(response_defect::bad_base64), "bad_base64");
  CAF_CHECK_EQUAL(name(response_defect::wrong_dimension), "wrong_dimension");
  CAF_CHECK_EQUAL(name(response_defect::non_finite), "non_finite");
  CAF_CHECK_EQUAL(name(static_cast<response_defect>(200)), "unknown");
}

// -- encode_request ---------------------------------------------------------------

CAF_TEST(a request names model input and encoding and omits dimensions when zero) {
  std::string text = "hello";
  CAF_CHECK_EQUAL(encode_request("text-embedding-3-small", {&text}, 0, b64),
                  R"({"model":"text-embedding-3-small","input":["hello"],)"
                  R"("encoding_format":"base64"})");
}

CAF_TEST(a request carries dimensions when positive and keeps the input order) {
  std::string a = "first";
  std::string b = "second";
  std::string c = "";
  CAF_CHECK_EQUAL(encode_request("m", {&a, &b, &c}, 256, flt),
                  R"({"model":"m","input":["first","second",""],)"
                  R"("encoding_format":"float","dimensions":256})");
  CAF_CHECK_EQUAL(encode_request("m", {}, 4294967295u, b64),
                  R"({"model":"m","input":[],"encoding_format":"base64",)"
                  R"("dimensions":4294967295})");
}

CAF_TEST(text is escaped as json requires) {
  struct row {
    std::string text;
    std::string literal; // expected JSON string literal without the quotes
  };
  std::vector<row> rows{
    {"plain", "plain"},
    {"say \"hi\"", R"(say \"hi\")"},
    {R"(C:\path\)", R"(C:\\path\\)"},
    {"a/b", "a/b"}, // '/' may stay as is
    {"l1\nl2\r\n\tx\b\f", R"(l1\nl2\r\n\tx\b\f)"},
    {"\x01\x1f\x7f", "\\u0001\\u001f\x7f"}, // DEL is not a control char in JSON
    {"nul\0inside"s, R"(nul\u0000inside)"},
    {"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80",
     "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"},
    {"\xE4\xB8\xAD\xE6\x96\x87", "\xE4\xB8\xAD\xE6\x96\x87"},
    // Invalid UTF-8 becomes U+FFFD per bad byte, so the body stays valid JSON.
    {"bad \xFF byte", "bad \xEF\xBF\xBD byte"},
    {"\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD"},                 // overlong '/'
    {"\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, // UTF-16 surrogate
    {"cut \xE2\x82", "cut \xEF\xBF\xBD\xEF\xBF\xBD"},         // truncated sequence
    {"\xF4\x90\x80\x80",
     "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, // > U+10FFFF
  };
  for (auto& r : rows) {
    auto body = encode_one(r.text);
    auto expected = R"({"model":"m","input":[")" + r.literal
                    + R"("],"encoding_format":"base64"})";
    CAF_CHECK_EQUAL(body, expected);
  }
}

CAF_TEST(special characters are escaped at every offset of a long text) {
  // The encoder scans 8 bytes at a time; put the special byte at each position of
  // the first words and the tail.
  for (auto special : {"\"", "\\", "\n", "\x01", "\xC3\xA9", "\xFF"}) {
    for (size_t offset = 0; offset < 19; ++offset) {
      auto text = std::string(offset, 'a') + special + std::string(19 - offset, 'b');
      auto body = encode_one(text);
      auto parsed = parse_request(body);
      auto expected = std::string{special} == "\xFF"
                        ? std::string(offset, 'a') + "\xEF\xBF\xBD"
                            + std::string(19 - offset, 'b')
                        : text;
      CAF_CHECK_EQUAL(parsed["input"][0].get<std::string>(), expected);
    }
  }
}

CAF_TEST(every ascii byte and unicode text survive a round trip through a json parser) {
  std::string all_ascii;
  for (int c = 0; c < 0x80; ++c)
    all_ascii += static_cast<char>(c);
  std::vector<std::string> texts{
    all_ascii, "\xE2\x80\xA8 line separator \xE2\x80\xA9",
    "\xEF\xBB\xBF BOM, \xF0\x90\x80\x80 and \xF4\x8F\xBF\xBF",
    std::string(100000, 'x') + "\"end\"", ""};
  std::vector<const std::string*> inputs;
  for (auto& t : texts)
    inputs.push_back(&t);
  std::string model = "org/model \"v2\"\n";
  auto parsed = parse_request(encode_request(model, inputs, 3, flt));
  CAF_CHECK_EQUAL(parsed["model"].get<std::string>(), model);
  CAF_REQUIRE_EQUAL(parsed["input"].size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i)
    CAF_CHECK(parsed["input"][i].get<std::string>() == texts[i]);
  CAF_CHECK_EQUAL(parsed["encoding_format"].get<std::string>(), "float");
  CAF_CHECK_EQUAL(parsed["dimensions"].get<int>(), 3);
  CAF_CHECK_EQUAL(parsed.size(), 4u);
}

CAF_TEST(random bytes always give a valid json body) {
  std::mt19937 rng{42};
  std::uniform_int_distribution<int> byte{0, 255};
  std::uniform_int_distribution<size_t> length{0, 64};
  for (int round = 0; round < 500; ++round) {
    std::string text(length(rng), '\0');
    for (auto& c : text)
      c = static_cast<char>(byte(rng));
    auto body = encode_one(text);
    auto parsed = json::parse(body, nullptr, false); // strict: also checks UTF-8
    CAF_REQUIRE(!parsed.is_discarded());
    CAF_CHECK(parsed["input"][0].is_string());
  }
}

// -- decode_response: valid bodies ----------------------------------------------------

CAF_TEST(a float body decodes with usage and model) {
  auto body = padded(R"({
    "object": "list",
    "data": [
      {"object": "embedding", "index": 0, "embedding": [0.5, -1.25, 3e-3]},
      {"object": "embedding", "index": 1, "embedding": [0, -0.0, 1E2]}
    ],
    "model": "text-embedding-3-small",
    "usage": {"prompt_tokens": 5, "total_tokens": 7}
  })");
  decoded_response out;
  auto status = decode_response(body, 2, 3, flt, out);
  CAF_REQUIRE(status.ok());
  CAF_CHECK_EQUAL(status.reason, "");
  CAF_REQUIRE_EQUAL(out.embeddings.size(), 2u);
  CAF_CHECK(out.embeddings[0] == (std::vector<float>{0.5f, -1.25f, 3e-3f}));
  CAF_CHECK(out.embeddings[1] == (std::vector<float>{0.0f, -0.0f, 100.0f}));
  CAF_CHECK(std::signbit(out.embeddings[1][1]));
  CAF_CHECK_EQUAL(out.prompt_tokens, 5u);
  CAF_CHECK_EQUAL(out.total_tokens, 7u);
  CAF_CHECK_EQUAL(out.model, "text-embedding-3-small");
}

CAF_TEST(float values keep float32 precision) {
  std::vector<float> xs{0.1f,
                        -0.0071609155f,
                        std::numeric_limits<float>::max(),
                        std::numeric_limits<float>::lowest(),
                        std::numeric_limits<float>::min(),
                        std::numeric_limits<float>::denorm_min(),
                        1e-45f};
  auto body = response_for({xs}, {0}, flt);
  decoded_response out;
  CAF_REQUIRE(decode_response(body, 1, 0, flt, out).ok());
  CAF_CHECK(bit_equal(out.embeddings[0], xs));
}

CAF_TEST(a base64 body decodes bit for bit) {
  std::vector<float> xs{1.0f, -0.0f, 0.33333334f, -2.5e-38f,
                        std::numeric_limits<float>::denorm_min()};
  auto body
    = padded(R"({"object":"list","data":[{"object":"embedding","index":0,)"
             R"("embedding":")"
             + to_base64(xs)
             + R"("}],"model":"m","usage":{"prompt_tokens":1,"total_tokens":1}})");
  decoded_response out;
  auto status = decode_response(body, 1, 5, b64, out);
  CAF_REQUIRE(status.ok());
  CAF_CHECK(bit_equal(out.embeddings[0], xs));
  CAF_CHECK_EQUAL(out.model, "m");
  CAF_CHECK_EQUAL(out.prompt_tokens, 1u);
}

CAF_TEST(base64 with json escapes is unescaped before decoding) {
  // Some servers write '/' as "\/" (PHP's json_encode does); any character may be
  // written as a \u escape.
  auto xs = make_vector(64, 5);
  auto text = to_base64(xs);
  CAF_REQUIRE(text.find('/') != std::string::npos);
  CAF_REQUIRE(text.find('+') != std::string::npos);
  std::string escaped;
  for (auto c : text)
    escaped += c == '/' ? "\\/"s : c == '+' ? "\\u002b"s : std::string(1, c);
  auto body = padded(R"({"data":[{"index":0,"embedding":")" + escaped + R"("}]})");
  decoded_response out;
  auto status = decode_response(body, 1, 64, b64, out);
  CAF_CHECK_EQUAL(status.reason, "");
  CAF_REQUIRE(status.ok());
  CAF_CHECK(bit_equal(out.embeddings[0], xs));
}

CAF_TEST(vectors are placed by index and not by arrival order) {
  for (auto enc : {b64, flt}) {
    std::vector<std::vector<float>> vectors;
    for (int i = 0; i < 5; ++i)
      vectors.push_back(make_vector(4, i));
    auto body = response_for(vectors, {3, 0, 4, 1, 2}, enc);
    decoded_response out;
    auto status = decode_response(body, 5, 4, enc, out);
    CAF_REQUIRE(status.ok());
    CAF_REQUIRE_EQUAL(out.embeddings.size(), 5u);
    for (size_t i = 0; i < 5; ++i)
      CAF_CHECK(bit_equal(out.embeddings[i], vectors[i]));
  }
}

CAF_TEST(the embedding may come before the index and keys may be in any order) {
  auto body = padded(R"({"usage":{"total_tokens":3,"prompt_tokens":2},"model":"x",)"
                     R"("data":[{"embedding":[2,2],"index":1,"extra":{"a":[1,{}]}},)"
                     R"({"embedding":[1,1],"object":"embedding","ind\u0065x":0}],)"
                     R"("object":"list","id":null})");
  decoded_response out;
  auto status = decode_response(body, 2, 0, flt, out);
  CAF_REQUIRE(status.ok());
  CAF_CHECK(out.embeddings[0] == (std::vector<float>{1, 1}));
  CAF_CHECK(out.embeddings[1] == (std::vector<float>{2, 2}));
  CAF_CHECK_EQUAL(out.prompt_tokens, 2u);
  CAF_CHECK_EQUAL(out.total_tokens, 3u);
  CAF_CHECK_EQUAL(out.model, "x");
}

CAF_TEST(usage and model are optional) {
  struct row {
    std::string extra;
    uint64_t prompt;
    uint64_t total;
    std::string model;
  };
  std::vector<row> rows{
    {"", 0, 0, ""},
    {R"(,"usage":null,"model":null)", 0, 0, ""},
    {R"(,"usage":{"prompt_tokens":4})", 4, 0, ""},
    {R"(,"usage":{"prompt_tokens":-1,"total_tokens":2.5},"model":7)", 0, 0, ""},
    {R"(,"usage":{"prompt_tokens":"3","total_tokens":null},"model":"")", 0, 0, ""},
    {R"(,"usage":{"total_tokens":18446744073709551615},"model":"m\u00e9\n")", 0,
     18446744073709551615u, "m\xC3\xA9\n"},
  };
  for (auto& r : rows) {
    auto body = padded(R"({"data":[{"index":0,"embedding":[1]}])" + r.extra + "}");
    decoded_response out;
    auto status = decode_response(body, 1, 1, flt, out);
    CAF_CHECK_EQUAL(r.extra + ": " + status.reason, r.extra + ": ");
    CAF_CHECK_EQUAL(out.prompt_tokens, r.prompt);
    CAF_CHECK_EQUAL(out.total_tokens, r.total);
    CAF_CHECK_EQUAL(out.model, r.model);
  }
}

CAF_TEST(expected dimension zero accepts any length that all vectors share) {
  std::vector<std::vector<float>> vectors{make_vector(7, 1), make_vector(7, 2)};
  for (auto enc : {b64, flt}) {
    decoded_response out;
    auto status = decode_response(response_for(vectors, {1, 0}, enc), 2, 0, enc, out);
    CAF_REQUIRE(status.ok());
    CAF_CHECK(bit_equal(out.embeddings[0], vectors[0]));
    CAF_CHECK(bit_equal(out.embeddings[1], vectors[1]));
  }
}

CAF_TEST(a body without spare capacity is copied and decodes the same) {
  std::vector<std::vector<float>> vectors{make_vector(16, 1), make_vector(16, 2)};
  for (auto enc : {b64, flt}) {
    auto roomy = response_for(vectors, {1, 0}, enc);
    std::string tight{roomy.data(), roomy.size()}; // libstdc++: capacity == size
    CAF_REQUIRE(tight.capacity() < tight.size() + padding);
    decoded_response a;
    decoded_response b;
    CAF_REQUIRE(decode_response(roomy, 2, 16, enc, a).ok());
    CAF_REQUIRE(decode_response(tight, 2, 16, enc, b).ok());
    CAF_CHECK(a.embeddings == b.embeddings);
    CAF_CHECK(bit_equal(b.embeddings[1], vectors[1]));
  }
  // Short bodies live in the small-string buffer (capacity 15).
  decoded_response out;
  std::string small = R"({"data":[]})";
  CAF_CHECK(decode_response(small, 0, 0, flt, out).ok());
}

CAF_TEST(decoding leaves the body unchanged) {
  auto body = response_for({make_vector(32, 3)}, {0}, b64);
  auto before = body;
  decoded_response out;
  CAF_REQUIRE(decode_response(body, 1, 32, b64, out).ok());
  CAF_CHECK_EQUAL(body, before);
}

CAF_TEST(a pretty printed body decodes) {
  ordered_json doc{{"object", "list"},
                   {"data",
                    {item(1, float_array({3, 4})), item(0, float_array({1, 2}))}}};
  auto body = padded(doc.dump(4) + "\n\n");
  decoded_response out;
  CAF_REQUIRE(decode_response(body, 2, 2, flt, out).ok());
  CAF_CHECK(out.embeddings[0] == (std::vector<float>{1, 2}));
  CAF_CHECK(out.embeddings[1] == (std::vector<float>{3, 4}));
}

CAF_TEST(a huge body of 2048 inputs with 8 dimensions decodes in both encodings) {
  std::vector<std::vector<float>> vectors;
  for (int i = 0; i < 2048; ++i)
    vectors.push_back(make_vector(8, i));
  for (auto enc : {b64, flt}) {
    auto body = response_for(vectors, shuffled(2048, 7), enc);
    decoded_response out;
    auto status = decode_response(body, 2048, 8, enc, out);
    CAF_REQUIRE(status.ok());
    CAF_REQUIRE_EQUAL(out.embeddings.size(), 2048u);
    size_t mismatches = 0;
    for (size_t i = 0; i < 2048; ++i)
      if (!bit_equal(out.embeddings[i], vectors[i]))
        ++mismatches;
    CAF_CHECK_EQUAL(mismatches, 0u);
  }
}

CAF_TEST(bodies over one mebibyte decode too) {
  // Larger bodies use a parser of their own instead of the thread's reused one.
  std::vector<std::vector<float>> vectors{make_vector(70000, 1), make_vector(70000, 2),
                                          make_vector(70000, 3)};
  auto body = response_for(vectors, {2, 0, 1}, b64);
  CAF_REQUIRE(body.size() > (size_t{1} << 20));
  decoded_response out;
  CAF_REQUIRE(decode_response(body, 3, 70000, b64, out).ok());
  for (size_t i = 0; i < 3; ++i)
    CAF_CHECK(bit_equal(out.embeddings[i], vectors[i]));
  // And the reused parser still works afterwards.
  CAF_CHECK(decode_response(response_for({{1.0f}}, {0}, flt), 1, 1, flt, out).ok());
  CAF_CHECK(out.embeddings == (std::vector<std::vector<float>>{{1.0f}}));
}

CAF_TEST(threads decode concurrently with their own parsers) {
  // The caller is an actor that may run on any scheduler thread.
  std::vector<std::vector<float>> small{make_vector(8, 1), make_vector(8, 2)};
  std::vector<std::vector<float>> large;
  for (int i = 0; i < 64; ++i)
    large.push_back(make_vector(256, i));
  auto small_body = response_for(small, {1, 0}, flt);
  auto large_body = response_for(large, shuffled(64, 3), b64);
  auto bad_body = padded(one_item_for_test("[1,2]", "5"));
  size_t failures[3] = {0, 0, 0};
  auto work = [&](size_t slot, int variant) {
    decoded_response out;
    for (int round = 0; round < 300; ++round) {
      switch ((round + variant) % 3) {
        case 0:
          if (!decode_response(small_body, 2, 8, flt, out).ok()
              || out.embeddings != small)
            ++failures[slot];
          break;
        case 1:
          if (!decode_response(large_body, 64, 256, b64, out).ok()
              || out.embeddings != large)
            ++failures[slot];
          break;
        default:
          if (decode_response(bad_body, 1, 2, flt, out).defect
              != response_defect::bad_index)
            ++failures[slot];
      }
    }
  };
  std::thread t1{work, 0, 0};
  std::thread t2{work, 1, 1};
  work(2, 2);
  t1.join();
  t2.join();
  CAF_CHECK_EQUAL(failures[0], 0u);
  CAF_CHECK_EQUAL(failures[1], 0u);
  CAF_CHECK_EQUAL(failures[2], 0u);
}

CAF_TEST(the output is reset on every call) {
  decoded_response out;
  out.embeddings = {{9, 9}, {9, 9}, {9, 9}};
  out.prompt_tokens = 99;
  out.total_tokens = 99;
  out.model = "stale";
  auto good = padded(R"({"data":[{"index":0,"embedding":[1,2]}]})");
  CAF_REQUIRE(decode_response(good, 1, 2, flt, out).ok());
  CAF_CHECK(out.embeddings == (std::vector<std::vector<float>>{{1, 2}}));
  CAF_CHECK_EQUAL(out.prompt_tokens, 0u);
  CAF_CHECK_EQUAL(out.total_tokens, 0u);
  CAF_CHECK_EQUAL(out.model, "");
  // A failure leaves nothing half-filled behind, even when the first item was fine.
  auto bad = padded(R"({"model":"m","usage":{"prompt_tokens":3},"data":[)"
                    R"({"index":0,"embedding":[1,2]},{"index":0,"embedding":[1]}]})");
  CAF_CHECK(!decode_response(bad, 2, 2, flt, out).ok());
  CAF_CHECK(out.embeddings.empty());
  CAF_CHECK_EQUAL(out.prompt_tokens, 0u);
  CAF_CHECK_EQUAL(out.model, "");
}

// -- decode_response: defects ---------------------------------------------------------

namespace {

struct defect_row {
  std::string body;
  size_t count;
  uint32_t dimension;
  encoding_format encoding;
  response_defect defect;
  std::string reason;
  bool reason_is_prefix = false;
};

std::string one_item(const std::string& embedding, const std::string& index = "0") {
  return R"({"data":[{"object":"embedding","index":)" + index + R"(,"embedding":)"
         + embedding + "}]}";
}

std::string quoted(const std::string& text) {
  return '"' + text + '"';
}

std::string b64_of(std::vector<float> xs) {
  return quoted(to_base64(xs));
}

bool is_item_defect(response_defect x) {
  return x == response_defect::wrong_type || x == response_defect::bad_base64
         || x == response_defect::wrong_dimension || x == response_defect::non_finite;
}

void check_rows(const std::vector<defect_row>& rows) {
  for (auto& r : rows) {
    auto body = padded(r.body);
    decoded_response out;
    auto status = decode_response(body, r.count, r.dimension, r.encoding, out);
    if (is_item_defect(r.defect)) {
      // A defect of one item refuses that item only: the response is usable, the
      // item's vector is empty and its fault names the defect.
      CAF_CHECK(status.ok());
      std::string fault;
      size_t faulty = 0;
      for (size_t i = 0; i < out.item_faults.size(); ++i)
        if (!out.item_faults[i].empty()) {
          if (faulty++ == 0)
            fault = out.item_faults[i];
          CAF_CHECK(out.embeddings[i].empty());
        }
      CAF_CHECK_EQUAL(faulty, 1u);
      auto actual = r.body + " -> "
                    + (r.reason_is_prefix
                         ? fault.substr(0, name(r.defect).size() + 2 + r.reason.size())
                         : fault);
      auto expected = r.body + " -> " + name(r.defect) + ": " + r.reason;
      CAF_CHECK_EQUAL(actual, expected);
      continue;
    }
    // Prefix every value with the body so a failure names its row.
    auto actual = r.body + " -> " + name(status.defect) + ": "
                  + (r.reason_is_prefix ? status.reason.substr(0, r.reason.size())
                                        : status.reason);
    auto expected = r.body + " -> " + name(r.defect) + ": " + r.reason;
    CAF_CHECK_EQUAL(actual, expected);
    CAF_CHECK(!status.ok());
    CAF_CHECK(out.embeddings.empty());
  }
}

constexpr auto malformed = response_defect::malformed_json;

} // namespace

CAF_TEST(bodies that are not the expected json are malformed) {
  auto invalid = "the body is not valid JSON: "s;
  check_rows({
    {"", 1, 0, flt, malformed, "the body is empty"},
    {"   \n", 1, 0, flt, malformed, "the body is empty"},
    {"<html>502 Bad Gateway</html>", 1, 0, flt, malformed,
     "the body is not a JSON object"},
    {"{\"data\":", 1, 0, flt, malformed, invalid, true},
    {"[1,2]", 1, 0, flt, malformed, "the body is not a JSON object"},
    {"\"data\"", 1, 0, flt, malformed, "the body is not a JSON object"},
    {"null", 1, 0, flt, malformed, "the body is not a JSON object"},
    {"{}", 1, 0, flt, malformed, "the body has no data array"},
    {R"({"object":"list","model":"m"})", 1, 0, flt, malformed,
     "the body has no data array"},
    {R"({"data":{}})", 1, 0, flt, malformed, "data is not an array"},
    {R"({"data":null})", 1, 0, flt, malformed, "data is not an array"},
    {R"({"data":[],"data":[]})", 0, 0, flt, malformed, "the body has two data fields"},
    {R"({"data":[1]})", 1, 0, flt, malformed, "data[0] is not an object"},
    {R"({"data":[{"index":0,"embedding":[1]},[]]})", 2, 0, flt, malformed,
     "data[1] is not an object"},
    {R"({"data":[{"embedding":[1]}]})", 1, 0, flt, malformed, "data[0] has no index"},
    {R"({"data":[{"index":0}]})", 1, 0, flt, malformed, "data[0] has no embedding"},
    {one_item("[1]", R"("0")"), 1, 0, flt, malformed,
     "data[0].index is not an integer"},
    {one_item("[1]", "0.0"), 1, 0, flt, malformed, "data[0].index is not an integer"},
    {one_item("[1]", "null"), 1, 0, flt, malformed, "data[0].index is not an integer"},
    {R"({"data":[{"index":0,"index":0,"embedding":[1]}]})", 1, 0, flt, malformed,
     "data[0] has two index fields"},
    {R"({"data":[{"index":0,"embedding":[1],"embedding":[1]}]})", 1, 0, flt, malformed,
     "data[0] has two embedding fields"},
    {one_item(R"([1,"2"])"), 1, 0, flt, malformed,
     "data[0].embedding[1] is not a number"},
    {one_item("[null]"), 1, 0, flt, malformed, "data[0].embedding[0] is not a number"},
    {one_item("[1,[2]]"), 1, 0, flt, malformed, "data[0].embedding[1] is not a number"},
    {one_item("[1,-]"), 1, 0, flt, malformed, "data[0].embedding[1] is not a number"},
    {one_item("[1,01]"), 1, 0, flt, malformed, "data[0].embedding[1] is not a number"},
    {one_item("[1,2,]"), 1, 0, flt, malformed, "data[0].embedding[2] is not a number"},
    {one_item("[NaN]"), 1, 0, flt, malformed, "data[0].embedding[0] is not a number"},
    {one_item("[Infinity]"), 1, 0, flt, malformed,
     "data[0].embedding[0] is not a number"},
    {R"({"data":[{"index":0,"embedding":[1]}]} trailing)", 1, 0, flt, malformed,
     invalid, true},
    {R"({"data":[{"index":0,"embedding":[1]}]}})", 1, 0, flt, malformed,
     "the body has content after the JSON object"},
    {R"({"data":[{"index":0,"embedding":[1]}]}{})", 1, 0, flt, malformed,
     "the body has content after the JSON object"},
    {R"({"data":[{"index":0,"embedding":[1.5,2)", 1, 0, flt, malformed, invalid, true},
    {R"({"data":[{"index":0,"embedding":"AACAPw==)", 1, 0, b64, malformed, invalid,
     true},
    {"{\"data\":[{\"index\":0,\"embedding\":\"\xFF\xFF\"}]}", 1, 0, b64, malformed,
     invalid, true},
  });
}

CAF_TEST(broken json that on demand skips never leaves a vector empty) {
  // Found by fuzzing (tests/fuzz/decode_response.cpp): simdjson On-Demand counted two
  // items, read one, and the response passed with an empty second vector.
  for (auto padding_bytes : {size_t{0}, size_t{64}}) {
    std::string body = R"({"data":[{"index":0,"a":"b":[1]},"embedding":[2]}]})";
    body.reserve(body.size() + padding_bytes);
    decoded_response out;
    auto status = decode_response(body, 2, 0, flt, out);
    CAF_CHECK_EQUAL(name(status.defect), "malformed_json");
    CAF_CHECK_EQUAL(status.reason, "data has 2 items but only 1 could be read");
    CAF_CHECK(out.embeddings.empty());
  }
}

CAF_TEST(every strict prefix of a valid body is refused) {
  // A truncated body (connection lost mid-transfer) must never decode.
  std::vector<std::vector<float>> vectors{make_vector(3, 1), make_vector(3, 2)};
  for (auto enc : {b64, flt}) {
    auto full = response_for(vectors, {1, 0}, enc);
    decoded_response out;
    CAF_REQUIRE(decode_response(full, 2, 3, enc, out).ok());
    size_t accepted = 0;
    for (size_t n = 0; n < full.size(); ++n) {
      auto prefix = padded(full.substr(0, n));
      if (decode_response(prefix, 2, 3, enc, out).ok()) {
        CAF_MESSAGE("accepted prefix: " << prefix);
        ++accepted;
      }
    }
    CAF_CHECK_EQUAL(accepted, 0u);
  }
}

CAF_TEST(a wrong number of embeddings is wrong_count) {
  auto d = [](int n) {
    std::string data;
    for (int i = 0; i < n; ++i)
      data += (i > 0 ? "," : "") + R"({"index":)"s + std::to_string(i)
              + R"(,"embedding":[1]})";
    return R"({"data":[)" + data + "]}";
  };
  constexpr auto wrong_count = response_defect::wrong_count;
  check_rows({
    {d(2), 3, 0, flt, wrong_count, "2 embeddings for 3 inputs"},
    {d(1), 2, 0, flt, wrong_count, "1 embedding for 2 inputs"},
    {d(0), 1, 0, flt, wrong_count, "0 embeddings for 1 input"},
    {d(3), 2, 0, flt, wrong_count, "3 embeddings for 2 inputs"},
    // Counted before the items are read: a bad item does not hide the count.
    {R"({"data":[{"index":7,"embedding":"!"}]})", 2, 0, b64, wrong_count,
     "1 embedding for 2 inputs"},
  });
}

CAF_TEST(an index out of range or seen twice is bad_index) {
  constexpr auto bad_index = response_defect::bad_index;
  auto two = [](const char* i, const char* j) {
    return R"({"data":[{"index":)"s + i + R"(,"embedding":[1]},{"index":)" + j
           + R"(,"embedding":[2]}]})";
  };
  check_rows({
    {two("0", "2"), 2, 0, flt, bad_index, "data[1] has index 2, outside [0, 2)"},
    {two("-1", "0"), 2, 0, flt, bad_index, "data[0] has index -1, outside [0, 2)"},
    {two("1", "1"), 2, 0, flt, bad_index, "index 1 appears twice"},
    {two("0", "0"), 2, 0, flt, bad_index, "index 0 appears twice"},
    {two("0", "99999999999999999999"), 2, 0, flt, bad_index,
     "data[1] has index 99999999999999999999, outside [0, 2)"},
    {two("0", "18446744073709551615"), 2, 0, flt, bad_index,
     "data[1] has index 18446744073709551615, outside [0, 2)"},
    {two("0", "-9223372036854775809"), 2, 0, flt, bad_index,
     "data[1] has index -9223372036854775809, outside [0, 2)"},
    {two("0", "4294967296"), 2, 0, flt, bad_index,
     "data[1] has index 4294967296, outside [0, 2)"},
    // A duplicate is reported even when its vector would also be wrong.
    {R"({"data":[{"index":0,"embedding":[1]},{"index":0,"embedding":[]}]})", 2, 0, flt,
     bad_index, "index 0 appears twice"},
  });
}

CAF_TEST(an embedding of the other encoding is decoded and counted) {
  // Several compatible servers answer float arrays whatever was asked (openai-python
  // accepts that); both forms carry exact float32 values.
  std::vector<float> xs{0.1f, -0.25f, 3.5e-7f};
  std::string floats = "[";
  for (size_t i = 0; i < xs.size(); ++i) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.9g", static_cast<double>(xs[i]));
    floats += (i > 0 ? "," : "") + std::string{buf};
  }
  floats += "]";
  for (auto [text, enc] : {std::pair{floats, b64}, std::pair{b64_of(xs), flt}}) {
    auto body = padded(R"({"data":[{"index":0,"embedding":)" + text
                       + R"(},{"index":1,"embedding":)" + text + "}]}");
    decoded_response out;
    CAF_REQUIRE(decode_response(body, 2, 3, enc, out).ok());
    CAF_CHECK_EQUAL(out.encoding_mismatches, 2u);
    CAF_CHECK(out.item_faults.empty());
    CAF_CHECK(bit_equal(out.embeddings[0], xs));
    CAF_CHECK(bit_equal(out.embeddings[1], xs));
  }
  decoded_response out;
  CAF_REQUIRE(decode_response(padded(one_item(floats)), 1, 3, flt, out).ok());
  CAF_CHECK_EQUAL(out.encoding_mismatches, 0u);
}

CAF_TEST(an embedding that is neither array nor string is wrong_type) {
  constexpr auto wrong_type = response_defect::wrong_type;
  check_rows({
    {one_item("null"), 1, 0, b64, wrong_type,
     "data[0].embedding is null, expected a base64 string"},
    {one_item("{}"), 1, 0, flt, wrong_type,
     "data[0].embedding is an object, expected an array of numbers"},
    {one_item("1.5"), 1, 0, flt, wrong_type,
     "data[0].embedding is a number, expected an array of numbers"},
    {one_item("true"), 1, 0, b64, wrong_type,
     "data[0].embedding is a boolean, expected a base64 string"},
  });
}

CAF_TEST(base64 that does not decode to float32 values is bad_base64) {
  constexpr auto bad_base64 = response_defect::bad_base64;
  auto prefix = "data[0].embedding is not base64 of float32 values: "s;
  check_rows({
    {one_item(quoted("AACAPw=")), 1, 0, b64, bad_base64,
     prefix + "its length 7 is not a multiple of 4"},
    {one_item(quoted("AAC*Pw==")), 1, 0, b64, bad_base64,
     prefix + "invalid character '*' at offset 3"},
    {one_item(quoted("A=CAPw==")), 1, 0, b64, bad_base64,
     prefix + "invalid character '=' at offset 1"},
    {one_item(quoted("AACA\\nPw==")), 1, 0, b64, bad_base64,
     prefix + "its length 9 is not a multiple of 4"},
    {one_item(quoted("AAC\\tAPw=")), 1, 0, b64, bad_base64,
     prefix + "invalid character 0x09 at offset 3"},
    {one_item(quoted("Zm8=")), 1, 0, b64, bad_base64,
     prefix + "it decodes to 2 bytes, not a whole number of float32 values"},
    {one_item(quoted("Zm9vYmE=")), 1, 0, b64, bad_base64,
     prefix + "it decodes to 5 bytes, not a whole number of float32 values"},
  });
}

CAF_TEST(vectors of the wrong or of differing lengths are wrong_dimension) {
  constexpr auto wrong_dimension = response_defect::wrong_dimension;
  auto two = [](const std::string& x, const std::string& y) {
    return R"({"data":[{"index":0,"embedding":)" + x + R"(},{"index":1,"embedding":)"
           + y + "}]}";
  };
  check_rows({
    {one_item("[1,2]"), 1, 3, flt, wrong_dimension,
     "vector 0 has 2 values, expected 3"},
    {one_item("[1]"), 1, 3, flt, wrong_dimension, "vector 0 has 1 value, expected 3"},
    {one_item("[1,2,3,4]"), 1, 3, flt, wrong_dimension,
     "vector 0 has 4 values, expected 3"},
    {one_item(b64_of(make_vector(768, 0))), 1, 1536, b64, wrong_dimension,
     "vector 0 has 768 values, expected 1536"},
    {two("[1,2]", "[1]"), 2, 1, flt, wrong_dimension,
     "vector 0 has 2 values, expected 1"},
    {one_item("[]"), 1, 0, flt, wrong_dimension, "vector 0 is empty"},
    {one_item(R"("")"), 1, 0, b64, wrong_dimension, "vector 0 is empty"},
    {two("[1]", "[]"), 2, 0, flt, wrong_dimension, "vector 1 is empty"},
  });
}

CAF_TEST(one bad item refuses that item and keeps the others) {
  auto nan = std::numeric_limits<float>::quiet_NaN();
  auto body = padded(R"({"data":[{"index":2,"embedding":)" + b64_of({1, 2}) + "},"
                     + R"({"index":0,"embedding":)" + b64_of({1, nan}) + "},"
                     + R"({"index":1,"embedding":)" + b64_of({3, 4}) + "},"
                     + R"({"index":3,"embedding":)" + b64_of({5}) + "}]}");
  decoded_response out;
  CAF_REQUIRE(decode_response(body, 4, 2, b64, out).ok());
  CAF_REQUIRE_EQUAL(out.item_faults.size(), 4u);
  CAF_CHECK_EQUAL(out.item_faults[0], "non_finite: vector 0 value 1 is NaN");
  CAF_CHECK_EQUAL(out.item_faults[1], "");
  CAF_CHECK_EQUAL(out.item_faults[2], "");
  CAF_CHECK_EQUAL(out.item_faults[3],
                  "wrong_dimension: vector 3 has 1 value, expected 2");
  CAF_CHECK(out.embeddings[0].empty());
  CAF_CHECK(out.embeddings[1] == (std::vector<float>{3, 4}));
  CAF_CHECK(out.embeddings[2] == (std::vector<float>{1, 2}));
  CAF_CHECK(out.embeddings[3].empty());
  // Without an expected dimension, lengths may differ: the dispatcher judges them.
  decoded_response any;
  auto mixed = padded(R"({"data":[{"index":0,"embedding":[1,2,3]},)"
                      R"({"index":1,"embedding":[1,2]}]})");
  CAF_REQUIRE(decode_response(mixed, 2, 0, flt, any).ok());
  CAF_CHECK(any.item_faults.empty());
  CAF_CHECK_EQUAL(any.embeddings[0].size(), 3u);
  CAF_CHECK_EQUAL(any.embeddings[1].size(), 2u);
}

CAF_TEST(nan and infinity are non_finite) {
  constexpr auto non_finite = response_defect::non_finite;
  auto nan = std::numeric_limits<float>::quiet_NaN();
  auto inf = std::numeric_limits<float>::infinity();
  check_rows({
    {one_item(b64_of({1, nan, 2})), 1, 3, b64, non_finite, "vector 0 value 1 is NaN"},
    {one_item(b64_of({1, 2, -nan})), 1, 3, b64, non_finite, "vector 0 value 2 is NaN"},
    {one_item(b64_of({inf})), 1, 1, b64, non_finite, "vector 0 value 0 is +infinity"},
    {one_item(b64_of({0, -inf})), 1, 2, b64, non_finite,
     "vector 0 value 1 is -infinity"},
    // JSON numbers beyond float32 (and beyond double) become infinities.
    {one_item("[1,3.5e38]"), 1, 2, flt, non_finite, "vector 0 value 1 is +infinity"},
    {one_item("[-1e39]"), 1, 1, flt, non_finite, "vector 0 value 0 is -infinity"},
    {one_item("[1e999,1]"), 1, 2, flt, non_finite, "vector 0 value 0 is +infinity"},
    {one_item("[1,-1E+400]"), 1, 2, flt, non_finite, "vector 0 value 1 is -infinity"},
    {R"({"data":[{"index":1,"embedding":[1]},{"index":0,"embedding":[1e999]}]})", 2, 1,
     flt, non_finite, "vector 0 value 0 is +infinity"},
  });
}

CAF_TEST(tiny json numbers underflow to zero and are fine) {
  auto body = padded(one_item("[1e-50,-1e-400]"));
  decoded_response out;
  auto status = decode_response(body, 1, 2, flt, out);
  CAF_REQUIRE(status.ok());
  CAF_CHECK_EQUAL(out.embeddings[0][0], 0.0f);
  CAF_CHECK_EQUAL(out.embeddings[0][1], 0.0f);
}

CAF_TEST(garbage never throws) {
  // Random mutations of a valid body: every call returns, none throws.
  auto valid = response_for({make_vector(4, 1), make_vector(4, 2)}, {1, 0}, flt);
  std::mt19937 rng{1234};
  std::uniform_int_distribution<size_t> pos{0, valid.size() - 1};
  std::uniform_int_distribution<int> byte{0, 255};
  size_t ok = 0;
  for (int round = 0; round < 2000; ++round) {
    auto body = valid;
    for (int k = 0; k < 1 + round % 4; ++k)
      body[pos(rng)] = static_cast<char>(byte(rng));
    decoded_response out;
    auto status = decode_response(body, 2, 4, flt, out);
    if (status.ok()) {
      ++ok;
      CAF_CHECK_EQUAL(out.embeddings.size(), 2u);
    } else {
      CAF_CHECK(!status.reason.empty());
      CAF_CHECK(out.embeddings.empty());
    }
    auto message = upstream_error_message(body);
    CAF_CHECK(message.size() <= 512);
  }
  CAF_MESSAGE(ok << " of 2000 mutated bodies were still valid");
}

// -- upstream_error_message and redact_secrets ----------------------------------

CAF_TEST(the upstream error message is taken from the json body) {
  struct row {
    std::string body;
    std::string message;
  };
  std::vector<row> rows{
    {R"({"error":{"message":"Rate limit reached for requests","type":"requests",)"
     R"("param":null,"code":"rate_limit_exceeded"}})",
     "Rate limit reached for requests"},
    {R"({"error":{"message":"Incorrect API key provided: sk-proj-AbCdEf123456.)"
     R"( You can find your API key at https://platform.openai.com/account/api-keys.",)"
     R"("type":"invalid_request_error","code":"invalid_api_key"}})",
     "Incorrect API key provided: [redacted]. You can find your API key at "
     "https://platform.openai.com/account/api-keys."},
    {R"({"error":"model \"nomic\" not found, try pulling it first"})",
     R"(model "nomic" not found, try pulling it first)"},
    {R"({"detail":"Not Found"})", "Not Found"},
    {R"({"message":"Input validation error: inputs cannot be empty"})",
     "Input validation error: inputs cannot be empty"},
    {R"({"error":{"message":"multi\nline\tmessage\u001b[31m  spaced  "}})",
     "multi line message [31m spaced"},
    {R"({"error":{"message":"caf\u00e9 \ud83d\ude00"}})",
     "caf\xC3\xA9 \xF0\x9F\x98\x80"},
    // JSON without a message: the body itself is the most useful text.
    {R"({"error":{"code":503}})", R"({"error":{"code":503}})"},
    {R"({"error":{"message":""}})", R"({"error":{"message":""}})"},
    {R"(["overloaded"])", R"(["overloaded"])"},
    {R"("overloaded")", R"("overloaded")"},
  };
  for (auto& r : rows)
    CAF_CHECK_EQUAL(upstream_error_message(r.body), r.message);
}

CAF_TEST(a body that is not json gives its start) {
  CAF_CHECK_EQUAL(upstream_error_message(""), "");
  CAF_CHECK_EQUAL(upstream_error_message(" \r\n"), "");
  CAF_CHECK_EQUAL(upstream_error_message("upstream connect error or disconnect/reset"),
                  "upstream connect error or disconnect/reset");
  CAF_CHECK_EQUAL(
    upstream_error_message(
      "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n"
      "<body>\n<center><h1>502 Bad Gateway</h1></center>\n</body>"),
    "<html> <head><title>502 Bad Gateway</title></head> <body> <center><h1>502 Bad "
    "Gateway</h1></center> </body>");
  CAF_CHECK_EQUAL(upstream_error_message("Unauthorized: Bearer abc.def-ghi rejected"),
                  "Unauthorized: [redacted] rejected");
  CAF_CHECK_EQUAL(upstream_error_message("bad \xFF\xFE bytes"),
                  "bad \xEF\xBF\xBD\xEF\xBF\xBD bytes");
  CAF_CHECK_EQUAL(upstream_error_message(R"({"error":{"message":"cut)"),
                  R"({"error":{"message":"cut)");
}

CAF_TEST(the upstream error message is at most 512 bytes and cut between characters) {
  auto long_ascii = std::string(600, 'a');
  auto message
    = upstream_error_message(R"({"error":{"message":")" + long_ascii + "\"}}");
  CAF_CHECK_EQUAL(message, std::string(512, 'a'));
  // "€" is 3 bytes: 170 of them fill 510 bytes, a 171st would not fit.
  std::string euros;
  for (int i = 0; i < 200; ++i)
    euros += "\xE2\x82\xAC";
  std::string expected;
  for (int i = 0; i < 170; ++i)
    expected += "\xE2\x82\xAC";
  CAF_CHECK_EQUAL(upstream_error_message(R"({"error":{"message":")" + euros + "\"}}"),
                  expected);
  CAF_CHECK_EQUAL(upstream_error_message(euros), expected); // not JSON
  auto big_html = "<html>" + std::string(1 << 20, 'x');
  CAF_CHECK_EQUAL(upstream_error_message(big_html), big_html.substr(0, 512));
}

CAF_TEST(a secret across the 512 byte cut is still redacted) {
  for (size_t start : {495u, 500u, 505u, 509u, 511u}) {
    // Built at run time: an obviously fake key, never a key-shaped literal.
    auto body = std::string(start, 'x') + " sk-" + std::string(26, 'q');
    auto message = upstream_error_message(body);
    CAF_CHECK_LESS_OR_EQUAL(message.size(), 512u);
    CAF_CHECK_EQUAL(message.find("sk-"), std::string::npos);
    CAF_CHECK_EQUAL(message.find("qqq"), std::string::npos);
  }
}

CAF_TEST(secrets are redacted) {
  struct row {
    std::string text;
    std::string redacted;
  };
  std::vector<row> rows{
    {"", ""},
    {"nothing to hide", "nothing to hide"},
    {"sk-abcdefgh", "[redacted]"},
    {"key sk-abcdefg", "key sk-abcdefg"}, // 7 characters: too short to be a key
    {"key sk-abcdefgh.", "key [redacted]."},
    {"sk-proj-AbC_123-xyz and sk-ant-api03-Zz9_9 too", "[redacted] and [redacted] too"},
    {"(sk-12345678)", "([redacted])"},
    {"OPENAI_API_KEY=sk-12345678", "OPENAI_API_KEY=[redacted]"},
    {"'sk-12345678'", "'[redacted]'"},
    {"sk-proj-abc*****************wxyz", "[redacted]*****************wxyz"},
    {"task-12345678 and disk-abcdefghij", "task-12345678 and disk-abcdefghij"},
    {"SK-12345678", "SK-12345678"},
    {"Authorization: Bearer eyJhbGciOi.J9.x-y_z+/==", "Authorization: [redacted]"},
    {"bearer abc", "[redacted]"},
    {"BEARER\ttoken-abc123 next", "[redacted] next"},
    {"Bearer  two-spaces", "[redacted]"},
    {"Bearer", "Bearer"},
    {"Bearer ", "Bearer "},
    {"Bearer: none", "Bearer: none"},
    {"unbearer abcdef", "unbearer abcdef"},
    {"Bearers only", "Bearers only"},
    {"x Bearer sk-12345678 y", "x [redacted] y"},
    {"caf\xC3\xA9 sk-12345678 \xE2\x82\xAC", "caf\xC3\xA9 [redacted] \xE2\x82\xAC"},
  };
  for (auto& r : rows)
    CAF_CHECK_EQUAL(redact_secrets(r.text), r.redacted);
}
