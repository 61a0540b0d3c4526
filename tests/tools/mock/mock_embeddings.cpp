#define CAF_SUITE tools.mock.mock_embeddings
#include <caf/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "src/openai/embeddings_codec.hpp"
#include "tools/mock/mock_embeddings.hpp"

using namespace embedrt::mock;
using json = nlohmann::json;

namespace {

double norm(const std::vector<float>& v) {
  double sum = 0;
  for (auto x : v)
    sum += static_cast<double>(x) * static_cast<double>(x);
  return std::sqrt(sum);
}

embeddings_request make_request(std::vector<std::string> inputs, bool base64 = false) {
  embeddings_request req;
  req.model = "m";
  req.inputs = std::move(inputs);
  req.base64 = base64;
  return req;
}

std::vector<float> floats_of(const json& embedding) {
  std::vector<float> out;
  for (auto& x : embedding)
    out.push_back(static_cast<float>(x.get<double>()));
  return out;
}

} // namespace

CAF_TEST(the same text and dimension give the same unit vector) {
  auto a = mock_vector("hello", 1536);
  auto b = mock_vector("hello", 1536);
  CAF_CHECK_EQUAL(a.size(), 1536u);
  CAF_CHECK(a == b);
  CAF_CHECK_LESS(std::abs(norm(a) - 1.0), 1e-6);
  CAF_CHECK(mock_vector("hello!", 1536) != a);
  for (auto x : a)
    CAF_CHECK(std::isfinite(x) && x >= -1.0f && x <= 1.0f);
}

CAF_TEST(a shorter dimension is the renormalised prefix of a longer one) {
  auto full = mock_vector("prefix", 64);
  auto part = mock_vector("prefix", 8);
  CAF_REQUIRE_EQUAL(part.size(), 8u);
  CAF_CHECK_LESS(std::abs(norm(part) - 1.0), 1e-6);
  auto scale = static_cast<double>(part[0]) / static_cast<double>(full[0]);
  for (size_t i = 0; i < 8; ++i)
    CAF_CHECK_LESS(
      std::abs(static_cast<double>(part[i]) - scale * static_cast<double>(full[i])),
      1e-6);
  CAF_CHECK(mock_vector("x", 0).empty());
  CAF_CHECK_EQUAL(std::abs(mock_vector("x", 1).at(0)), 1.0f);
}

CAF_TEST(tokens are a quarter of the bytes rounded up) {
  CAF_CHECK_EQUAL(mock_tokens("a"), 1u);
  CAF_CHECK_EQUAL(mock_tokens("abcd"), 1u);
  CAF_CHECK_EQUAL(mock_tokens("abcde"), 2u);
  CAF_CHECK_EQUAL(mock_tokens(std::string(4096, 'x')), 1024u);
}

CAF_TEST(valid requests parse with OpenAI defaults) {
  embeddings_request req;
  std::string error;
  CAF_REQUIRE(parse_embeddings_request(R"({"model":"m","input":"one"})", req, error));
  CAF_CHECK_EQUAL(req.inputs, std::vector<std::string>{"one"});
  CAF_CHECK(!req.base64);
  CAF_CHECK_EQUAL(req.dimensions, 0u);
  CAF_REQUIRE(parse_embeddings_request(
    R"({"model":"m","input":["a","b"],"encoding_format":"base64","dimensions":7})", req,
    error));
  CAF_CHECK_EQUAL(req.inputs.size(), 2u);
  CAF_CHECK(req.base64);
  CAF_CHECK_EQUAL(req.dimensions, 7u);
}

CAF_TEST(invalid requests are refused with a message) {
  std::string many = R"({"model":"m","input":[)";
  for (int i = 0; i < 2049; ++i)
    many += (i > 0 ? ",\"x\"" : "\"x\"");
  many += "]}";
  struct row {
    std::string body;
    std::string message_part;
  };
  std::vector<row> rows = {
    {"not json", "could not parse the JSON body"},
    {R"(["a"])", "could not parse the JSON body"},
    {R"({"input":"a"})", "model parameter"},
    {R"({"model":"m"})", "'input' is a required property"},
    {R"({"model":"m","input":""})", "cannot be an empty string"},
    {R"({"model":"m","input":[]})", "cannot be an empty array"},
    {R"({"model":"m","input":["a",3]})", "'input[1]' must be a string"},
    {R"({"model":"m","input":["a",""]})", "'input[1]' cannot be an empty string"},
    {R"({"model":"m","input":{"a":1}})", "string or an array of strings"},
    {many, "Too many inputs. The max number of inputs is 2048, got 2049."},
    {R"({"model":"m","input":"a","encoding_format":"int8"})", "'float' or 'base64'"},
    {R"({"model":"m","input":"a","dimensions":0})", "'dimensions' must be an integer"},
    {R"({"model":"m","input":"a","dimensions":"8"})",
     "'dimensions' must be an integer"},
  };
  for (auto& r : rows) {
    embeddings_request req;
    std::string error;
    CAF_CHECK(!parse_embeddings_request(r.body, req, error));
    if (error.find(r.message_part) == std::string::npos)
      CAF_ERROR("for " << r.body.substr(0, 60) << ": got \"" << error
                       << "\", expected it to contain \"" << r.message_part << "\"");
  }
}

CAF_TEST(float bodies are OpenAI shaped and decode to mock vectors) {
  auto req = make_request({"alpha", "beta gamma"});
  auto doc = json::parse(embeddings_body(req, 32, "text-embedding-3-small"));
  CAF_CHECK_EQUAL(doc["object"], "list");
  CAF_CHECK_EQUAL(doc["model"], "text-embedding-3-small");
  CAF_CHECK_EQUAL(doc["usage"]["prompt_tokens"], 2 + 3);
  CAF_CHECK_EQUAL(doc["usage"]["total_tokens"], 2 + 3);
  CAF_REQUIRE_EQUAL(doc["data"].size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    auto& item = doc["data"][i];
    CAF_CHECK_EQUAL(item["object"], "embedding");
    CAF_CHECK_EQUAL(item["index"], i);
    CAF_CHECK(floats_of(item["embedding"]) == mock_vector(req.inputs[i], 32));
  }
}

CAF_TEST(base64 bodies decode bit for bit to mock vectors) {
  auto req = make_request({"alpha"}, true);
  auto doc = json::parse(embeddings_body(req, 1536, "m"));
  std::vector<float> v;
  CAF_REQUIRE(embedrt::openai::base64_decode_floats(
    doc["data"][0]["embedding"].get<std::string>(), v));
  CAF_CHECK(v == mock_vector("alpha", 1536));
}

CAF_TEST(tweaks produce the promised defects) {
  auto req = make_request({"a", "b", "c", "d", "e"});
  body_tweaks t;
  t.shuffle = true;
  t.shuffle_seed = 42;
  auto doc = json::parse(embeddings_body(req, 8, "m", t));
  std::vector<size_t> order;
  for (auto& item : doc["data"]) {
    order.push_back(item["index"].get<size_t>());
    CAF_CHECK(floats_of(item["embedding"]) == mock_vector(req.inputs[order.back()], 8));
  }
  CAF_CHECK(!std::is_sorted(order.begin(), order.end()));
  CAF_CHECK_EQUAL(std::set<size_t>(order.begin(), order.end()).size(), 5u);

  t = {};
  t.drop_last = true;
  CAF_CHECK_EQUAL(json::parse(embeddings_body(req, 8, "m", t))["data"].size(), 4u);

  t = {};
  t.dimension_override = 3;
  CAF_CHECK_EQUAL(
    json::parse(embeddings_body(req, 8, "m", t))["data"][0]["embedding"].size(), 3u);

  t = {};
  t.wrong_type = true;
  CAF_CHECK(
    json::parse(embeddings_body(req, 8, "m", t))["data"][0]["embedding"].is_string());
  auto b64 = make_request({"a"}, true);
  CAF_CHECK(
    json::parse(embeddings_body(b64, 8, "m", t))["data"][0]["embedding"].is_array());

  t = {};
  t.nan = true;
  auto text = embeddings_body(req, 8, "m", t);
  CAF_CHECK_NOT_EQUAL(text.find(R"("embedding":[NaN,)"), std::string::npos);
  std::vector<float> v;
  auto b64doc = json::parse(embeddings_body(b64, 8, "m", t));
  CAF_REQUIRE(embedrt::openai::base64_decode_floats(
    b64doc["data"][0]["embedding"].get<std::string>(), v));
  CAF_CHECK(std::isnan(v[0]));
}

CAF_TEST(corrupt vectors hit each vector independently at the rate and spare the rest) {
  std::vector<std::string> texts;
  for (int i = 0; i < 2000; ++i)
    texts.push_back("text " + std::to_string(i));
  for (bool base64 : {false, true}) {
    auto req = make_request(texts, base64);
    body_tweaks t;
    t.corrupt_rate = 0.1;
    t.corrupt_seed = 99;
    auto body = embeddings_body(req, 8, "m", t);
    body.reserve(body.size() + 64);
    // The runtime's codec refuses exactly the corrupted items and keeps the others.
    embedrt::openai::decoded_response out;
    auto st = embedrt::openai::decode_response(
      body, texts.size(), 8,
      base64 ? embedrt::encoding_format::base64 : embedrt::encoding_format::float_array,
      out);
    CAF_REQUIRE(st.ok());
    size_t truncated = 0;
    size_t nan = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
      bool cut = false;
      bool hit = corrupts_vector(t, texts[i], cut);
      bool refused = !out.item_faults.empty() && !out.item_faults[i].empty();
      CAF_CHECK_EQUAL(hit, refused);
      if (!hit)
        CAF_CHECK(out.embeddings[i] == mock_vector(texts[i], 8));
      else
        ++(cut ? truncated : nan);
    }
    // 10% of 2000 = 200, half truncated and half NaN (binomial, seeded).
    CAF_MESSAGE("truncated " << truncated << " nan " << nan);
    CAF_CHECK(truncated + nan > 150 && truncated + nan < 250);
    CAF_CHECK(truncated > 60 && nan > 60);
  }
  // Only one kind when asked; rate 0 corrupts nothing.
  body_tweaks t;
  t.corrupt_rate = 1;
  t.corrupt_nan = false;
  bool cut = false;
  CAF_CHECK(corrupts_vector(t, "x", cut) && cut);
  t.corrupt_rate = 0;
  CAF_CHECK(!corrupts_vector(t, "x", cut));
}

CAF_TEST(always float answers floats to a base64 request) {
  auto req = make_request({"a", "b"}, true);
  body_tweaks t;
  t.always_float = true;
  auto doc = json::parse(embeddings_body(req, 8, "m", t));
  CAF_CHECK(floats_of(doc["data"][1]["embedding"]) == mock_vector("b", 8));
}

CAF_TEST(error bodies have the OpenAI shape and escape their text) {
  auto doc = json::parse(error_body("bad \"thing\"\n", "invalid_request_error"));
  CAF_CHECK_EQUAL(doc["error"]["message"], "bad \"thing\"\n");
  CAF_CHECK_EQUAL(doc["error"]["type"], "invalid_request_error");
  CAF_CHECK(doc["error"]["param"].is_null());
  CAF_CHECK(doc["error"]["code"].is_null());
  doc = json::parse(error_body("x", "requests", "rate_limit_exceeded"));
  CAF_CHECK_EQUAL(doc["error"]["code"], "rate_limit_exceeded");
}
