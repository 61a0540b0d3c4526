#define CAF_SUITE openai.base64
#include <caf/test/unit_test.hpp>

#include <cmath>
#include <cstring>
#include <limits>

#include "src/openai/embeddings_codec.hpp"

using namespace embedrt::openai;

CAF_TEST(encoding follows rfc 4648 test vectors) {
  CAF_CHECK_EQUAL(base64_encode("", 0), "");
  CAF_CHECK_EQUAL(base64_encode("f", 1), "Zg==");
  CAF_CHECK_EQUAL(base64_encode("fo", 2), "Zm8=");
  CAF_CHECK_EQUAL(base64_encode("foo", 3), "Zm9v");
  CAF_CHECK_EQUAL(base64_encode("foob", 4), "Zm9vYg==");
  CAF_CHECK_EQUAL(base64_encode("fooba", 5), "Zm9vYmE=");
  CAF_CHECK_EQUAL(base64_encode("foobar", 6), "Zm9vYmFy");
}

CAF_TEST(floats survive an encode decode round trip bit for bit) {
  for (size_t n : {0u, 1u, 2u, 3u, 7u, 1536u}) {
    std::vector<float> in(n);
    for (size_t i = 0; i < n; ++i)
      in[i] = static_cast<float>(i) * -0.37f + 1e-30f;
    auto text = base64_encode(in.data(), in.size() * sizeof(float));
    std::vector<float> out;
    CAF_CHECK(base64_decode_floats(text, out));
    CAF_CHECK(out == in);
  }
}

CAF_TEST(a known float decodes to its value) {
  // 1.0f is 0x3F800000, little-endian bytes 00 00 80 3F.
  std::vector<float> out;
  CAF_REQUIRE(base64_decode_floats("AACAPw==", out));
  CAF_REQUIRE_EQUAL(out.size(), 1u);
  CAF_CHECK_EQUAL(out[0], 1.0f);
}

CAF_TEST(malformed base64 is refused) {
  std::vector<float> out;
  CAF_CHECK(!base64_decode_floats("AACAPw=", out));  // length not a multiple of 4
  CAF_CHECK(!base64_decode_floats("AAC*Pw==", out)); // character outside the alphabet
  CAF_CHECK(!base64_decode_floats("Zm8=", out));     // 2 bytes: not a whole float
  CAF_CHECK(!base64_decode_floats("A=CAPw==", out)); // padding in the middle
}

CAF_TEST(a bad character anywhere in a long text is refused) {
  std::vector<float> in(1536, 0.25f);
  auto good = base64_encode(in.data(), in.size() * sizeof(float));
  std::vector<float> out;
  CAF_REQUIRE(base64_decode_floats(good, out));
  for (size_t at :
       {size_t{0}, size_t{1}, good.size() / 2, good.size() - 5, good.size() - 1}) {
    for (char bad : {'=', '*', '\n', '-', '_'}) {
      auto text = good;
      text[at] = bad;
      CAF_CHECK(!base64_decode_floats(text, out));
    }
  }
}

CAF_TEST(appending encodes after what the string already holds) {
  std::string out = "x:";
  base64_append(out, "foobar", 6);
  base64_append(out, "f", 1);
  CAF_CHECK_EQUAL(out, "x:Zm9vYmFyZg==");
}

CAF_TEST(every byte value survives a round trip) {
  std::vector<uint8_t> bytes(4 * 300);
  for (size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = static_cast<uint8_t>(i * 131 + 7);
  auto text = base64_encode(bytes.data(), bytes.size());
  std::vector<float> out;
  CAF_REQUIRE(base64_decode_floats(text, out));
  CAF_REQUIRE_EQUAL(out.size() * sizeof(float), bytes.size());
  CAF_CHECK_EQUAL(std::memcmp(out.data(), bytes.data(), bytes.size()), 0);
}
