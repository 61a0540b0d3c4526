#define CAF_SUITE openai.error_text
#include <caf/test/unit_test.hpp>

#include <random>
#include <string>

#include "src/openai/error_text.hpp"

using namespace embedrt::openai;

namespace {

/// A key-shaped value built at run time (never a key-shaped literal in the repo).
std::string make_key(std::string_view prefix, size_t n, uint32_t seed) {
  static constexpr char alphabet[]
    = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::mt19937 rng{seed};
  std::string key{prefix};
  for (size_t i = 0; i < n; ++i)
    key += alphabet[rng() % (sizeof(alphabet) - 1)];
  return key;
}

bool has_control(std::string_view x) {
  for (unsigned char c : x)
    if (c < 0x20 || c == 0x7f)
      return true;
  return false;
}

} // namespace

CAF_TEST(echoed key headers and fields are redacted whatever the key looks like) {
  struct row {
    std::string text;
    std::string redacted;
  };
  std::vector<row> rows{
    {"Authorization: Basic dXNlcjpwYXNz", "Authorization: [redacted]"},
    {"authorization: Token abc123 rest", "authorization: [redacted] rest"},
    {R"({"Authorization":"Bearer abc.def"})", R"({"Authorization":"[redacted]"})"},
    {"api-key: 0123456789abcdef0123", "api-key: [redacted]"},
    {"X-Api-Key: gsk_live_abcdef", "X-Api-Key: [redacted]"},
    {R"({"api_key": "AIzaSyA-something_long"})", R"({"api_key": "[redacted]"})"},
    {"apikey=zzz999", "apikey=[redacted]"},
    {"api-keys are rotated", "api-keys are rotated"},
    {"authorization failed", "authorization failed"},
    {"missing api-key:", "missing api-key:"},
    // Found by fuzzing (tests/fuzz/corpus/error_text): scheme words in a row, a
    // scheme after the first token, an echoed header inside another's value.
    {"Bearer Bearer abcdefgh1234", "[redacted]"},
    {"Authorization: c Bearer abcdefgh1234", "Authorization: [redacted]"},
    {"Authorization: hr Authorization: abcdefgh1234",
     "Authorization: [redacted] Authorization: [redacted]"},
    {"authorization: Bearer Bearer abcdefgh1234 rest",
     "authorization: [redacted] rest"},
    {"Authorization: Authorization: abcdefgh1234 hr",
     "Authorization: Authorization: [redacted] hr"},
    {"Bearer Authorization: abcdefgh1234 (", "Bearer Authorization: [redacted] ("},
    {"rer api-key: Bearer abcdefgh1234 x", "rer api-key: [redacted] x"},
  };
  for (auto& r : rows) {
    CAF_CHECK_EQUAL(redact_secrets(r.text), r.redacted);
    CAF_CHECK_EQUAL(clean_upstream_text(r.text), r.redacted);
  }
}

CAF_TEST(the configured key is redacted wherever it appears) {
  for (uint32_t seed = 1; seed <= 50; ++seed) {
    // Other providers' keys: no sk- prefix, any place in a word.
    auto key = make_key(seed % 2 == 0 ? "gsk_" : "", 24 + seed % 16, seed);
    auto text = "invalid key x" + key + "y, also '" + key + "' and " + key;
    auto out = redact_secrets(text, key);
    CAF_CHECK_EQUAL(out.find(key), std::string::npos);
    CAF_CHECK_EQUAL(out, "invalid key x[redacted]y, also '[redacted]' and [redacted]");
    auto message = upstream_error_message(
      R"({"error":{"message":"Incorrect API key provided: )" + key + R"("}})", key);
    CAF_CHECK_EQUAL(message, "Incorrect API key provided: [redacted]");
  }
  // A short configured value would redact ordinary words: not searched for.
  CAF_CHECK_EQUAL(redact_secrets("the model", "model"), "the model");
  // A key hidden in an echoed header's name (fuzz finding): the name goes too.
  CAF_CHECK_EQUAL(redact_secrets("Authorization:hrt x", "uthoriza"), "[redacted] x");
}

CAF_TEST(the error message is found by a scan without a tree) {
  // Nested far beyond any tree parser's comfort, and the message after it.
  std::string deep = R"({"junk":)" + std::string(20, '[') + std::string(20, ']')
                     + R"(,"error":{"x":[1,2.5e3,-0,true,null,{"a":"b\"c"}],)"
                     + R"("message":"found it"}})";
  CAF_CHECK_EQUAL(upstream_error_message(deep), "found it");
  // Too deep: not trusted, the start of the body (512 bytes of brackets) is shown.
  std::string too_deep = R"({"junk":)" + std::string(300, '[') + std::string(300, ']')
                         + R"(,"error":{"message":"hidden"}})";
  CAF_CHECK_EQUAL(upstream_error_message(too_deep).find("hidden"), std::string::npos);
  // Escapes, surrogates and a lone surrogate.
  CAF_CHECK_EQUAL(upstream_error_message(R"({"error":"a\/b \ud83d\ude00 \ud800 z"})"),
                  "a/b \xF0\x9F\x98\x80 \xEF\xBF\xBD z");
  // The first string wins; error beats message beats detail.
  CAF_CHECK_EQUAL(upstream_error_message(R"({"detail":"d","message":"m"})"), "m");
  CAF_CHECK_EQUAL(upstream_error_message(R"({"detail":"d","error":{"message":"e"}})"),
                  "e");
  // Trailing garbage: not JSON.
  CAF_CHECK_EQUAL(upstream_error_message(R"({"error":"e"} x)"), R"({"error":"e"} x)");
}

CAF_TEST(only the first 64 KiB of an error body are read) {
  // The message comes first, the body then goes on for megabytes: it is kept.
  auto big = R"({"error":{"message":"slow down","pad":")" + std::string(4 << 20, 'x');
  CAF_CHECK_EQUAL(upstream_error_message(big), "slow down");
  // As the transport hands it over: cut at exactly 64 KiB.
  CAF_CHECK_EQUAL(upstream_error_message(big.substr(0, max_error_body_bytes)),
                  "slow down");
  // A message beyond 64 KiB is never seen: the start of the body is shown instead.
  auto late = R"({"pad":")" + std::string(max_error_body_bytes, 'y')
              + R"(","error":{"message":"too late"}})";
  auto out = upstream_error_message(late);
  CAF_CHECK_EQUAL(out.find("too late"), std::string::npos);
  CAF_CHECK_LESS_OR_EQUAL(out.size(), max_upstream_text_bytes);
}

CAF_TEST(cleaned text is short has no control bytes and no key) {
  std::mt19937 rng{7};
  auto key = make_key("", 32, 99);
  for (int round = 0; round < 500; ++round) {
    std::string text;
    auto n = rng() % 2000;
    for (size_t i = 0; i < n; ++i) {
      if (rng() % 200 == 0)
        text += key;
      else
        text += static_cast<char>(rng() % 256);
    }
    for (auto out :
         {clean_upstream_text(text, key), upstream_error_message(text, key)}) {
      CAF_CHECK_LESS_OR_EQUAL(out.size(), max_upstream_text_bytes);
      CAF_CHECK(!has_control(out));
      CAF_CHECK_EQUAL(out.find(key), std::string::npos);
    }
  }
  // A key cut by the 512-byte limit leaves no tail of it either.
  for (size_t start : {480u, 500u, 505u, 511u}) {
    auto out = clean_upstream_text(std::string(start, 'x') + key, key);
    CAF_CHECK_EQUAL(out.find(key.substr(0, 8)), std::string::npos);
  }
}
