// Fuzz target: openai::decode_response, the 2xx body check, in both encodings.
//
// Input: byte 0 picks the encoding (bit 0) and what fills the spare capacity (bits
// 1-3), byte 1 the expected count (0-8), byte 2 the expected dimension (0-16), the rest
// is the body.
//
// The body is decoded twice: once without spare capacity (decode_response copies it
// into a padded buffer) and once in place with 64+ bytes of spare capacity filled with
// hostile bytes (what a recycled transport buffer may hold). Properties:
// - both calls agree exactly (defect, reason, vectors bit for bit, usage, model): the
//   bytes past the end never change the verdict;
// - the body is left unchanged;
// - a success has `count` non-empty vectors of one length (the expected one when
//   given), all finite; a failure leaves no half-filled result and says why.
// - strict (issue 10): the reason is at most 512 bytes and has no control bytes.
#include <cmath>
#include <cstring>
#include <string>

#include "src/openai/embeddings_codec.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using embedrt::encoding_format;
using namespace embedrt::openai;

namespace {

constexpr size_t padding = 64;

bool same_vectors(const decoded_response& a, const decoded_response& b) {
  if (a.embeddings.size() != b.embeddings.size())
    return false;
  for (size_t i = 0; i < a.embeddings.size(); ++i) {
    auto& x = a.embeddings[i];
    auto& y = b.embeddings[i];
    if (x.size() != y.size()
        || (!x.empty()
            && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) != 0))
      return false;
  }
  return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  embedrt::fuzz::input_reader in{data, size};
  auto flags = in.byte();
  auto encoding = (flags & 1) != 0 ? encoding_format::float_array
                                   : encoding_format::base64;
  static constexpr char fillers[] = {'\0', ' ', '"', '1', '}', ']', '\\', '\xFF'};
  auto filler = fillers[(flags >> 1) & 7];
  size_t count = in.byte() % 9;
  uint32_t dimension = in.byte() % 17;
  auto body_view = in.rest();

  // Without spare capacity: libstdc++ allocates exactly what is asked for (or 15 bytes
  // inline), so decode_response takes its copying path.
  std::string plain{body_view};
  if (plain.capacity() - plain.size() >= padding)
    plain.shrink_to_fit();
  decoded_response a;
  auto sa = decode_response(plain, count, dimension, encoding, a);

  // With spare capacity holding hostile bytes: parsed in place.
  std::string spare;
  spare.reserve(body_view.size() + padding + 8);
  spare.assign(spare.capacity(), filler);
  spare.assign(body_view.data(), body_view.size());
  EMBEDRT_FUZZ_CHECK(spare.capacity() - spare.size() >= padding);
  decoded_response b;
  b.model = "stale";
  b.embeddings.resize(3);
  auto sb = decode_response(spare, count, dimension, encoding, b);

  EMBEDRT_FUZZ_CHECK(plain == body_view);
  EMBEDRT_FUZZ_CHECK(spare == body_view);
  EMBEDRT_FUZZ_CHECK(sa.defect == sb.defect);
  EMBEDRT_FUZZ_CHECK(sa.reason == sb.reason);
  EMBEDRT_FUZZ_CHECK(same_vectors(a, b));
  EMBEDRT_FUZZ_CHECK(a.prompt_tokens == b.prompt_tokens);
  EMBEDRT_FUZZ_CHECK(a.total_tokens == b.total_tokens);
  EMBEDRT_FUZZ_CHECK(a.model == b.model);

  EMBEDRT_FUZZ_CHECK(std::string_view{to_string(sa.defect)} != "unknown");
  if (sa.ok()) {
    EMBEDRT_FUZZ_CHECK(sa.reason.empty());
    EMBEDRT_FUZZ_CHECK(a.embeddings.size() == count);
    EMBEDRT_FUZZ_CHECK(a.item_faults.empty() || a.item_faults.size() == count);
    for (size_t i = 0; i < a.embeddings.size(); ++i) {
      auto& vec = a.embeddings[i];
      // A refused item (per-item outcome) is empty and says why; a good one is not.
      bool refused = !a.item_faults.empty() && !a.item_faults[i].empty();
      EMBEDRT_FUZZ_CHECK(refused == vec.empty());
      EMBEDRT_FUZZ_CHECK(dimension == 0 || refused || vec.size() == dimension);
      for (auto x : vec)
        EMBEDRT_FUZZ_CHECK(std::isfinite(x));
    }
  } else {
    EMBEDRT_FUZZ_CHECK(!sa.reason.empty());
    EMBEDRT_FUZZ_CHECK(a.embeddings.empty());
    EMBEDRT_FUZZ_CHECK(a.prompt_tokens == 0 && a.total_tokens == 0);
    EMBEDRT_FUZZ_CHECK(a.model.empty());
#if EMBEDRT_FUZZ_STRICT
    EMBEDRT_FUZZ_CHECK(sa.reason.size() <= 512);
    EMBEDRT_FUZZ_CHECK(!embedrt::fuzz::has_control_bytes(sa.reason));
#endif
  }
  return 0;
}
