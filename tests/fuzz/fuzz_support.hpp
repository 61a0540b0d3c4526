// Helpers shared by the libFuzzer harnesses in tests/fuzz/. Header only: every .cpp
// directly in tests/fuzz/ is one fuzz target (see tests/fuzz/CMakeLists.txt).
//
// A harness states properties with EMBEDRT_FUZZ_CHECK, not assert(): the replay
// build is Release (NDEBUG), and a property that is not checked there cannot fail.
#pragma once

// Issue 10 tightens what error texts promise (at most 512 bytes, no control bytes, the
// configured key redacted wherever it appears); that work brings
// src/openai/error_text.hpp. Until it is there, the harnesses check only what the code
// promises today; with it (or with -DEMBEDRT_FUZZ_STRICT=1) they also check the new
// contract.
#if __has_include("src/openai/error_text.hpp")
#  define EMBEDRT_FUZZ_HAS_ERROR_TEXT 1
#else
#  define EMBEDRT_FUZZ_HAS_ERROR_TEXT 0
#endif
#ifndef EMBEDRT_FUZZ_STRICT
#  define EMBEDRT_FUZZ_STRICT EMBEDRT_FUZZ_HAS_ERROR_TEXT
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace embedrt::fuzz {

/// Reports a violated property and aborts: libFuzzer keeps the input as a crash file,
/// and the corpus replay test (ctest fuzz.<target>) fails.
[[noreturn]] inline void fail(const char* file, int line, const char* what) {
  std::fprintf(stderr, "%s:%d: fuzz property violated: %s\n", file, line, what);
  std::fflush(stderr);
  std::abort();
}

/// Reads a fuzz input front to back: small parameters from its first bytes, then text.
/// Past the end every read yields zero or an empty view, so every input is usable.
class input_reader {
public:
  input_reader(const uint8_t* data, size_t size)
    : text_(reinterpret_cast<const char*>(data), size) {}

  /// The next byte, or 0 at the end.
  uint8_t byte() noexcept {
    if (text_.empty())
      return 0;
    auto x = static_cast<uint8_t>(text_.front());
    text_.remove_prefix(1);
    return x;
  }

  /// Up to `n` bytes.
  std::string_view take(size_t n) noexcept {
    auto x = text_.substr(0, std::min(n, text_.size()));
    text_.remove_prefix(x.size());
    return x;
  }

  /// The bytes before the next `separator` (which is consumed), or all that is left.
  std::string_view until(char separator) noexcept {
    auto pos = text_.find(separator);
    auto x = text_.substr(0, pos);
    text_.remove_prefix(pos == std::string_view::npos ? text_.size() : pos + 1);
    return x;
  }

  /// Everything not read yet.
  std::string_view rest() noexcept {
    auto x = text_;
    text_ = {};
    return x;
  }

private:
  std::string_view text_;
};

/// No byte below 0x20 and no DEL: the text cannot forge a log line or a terminal
/// escape.
inline bool has_control_bytes(std::string_view text) noexcept {
  return std::any_of(text.begin(), text.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7F;
  });
}

/// Well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF).
inline bool is_utf8(std::string_view text) noexcept {
  auto p = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  size_t i = 0;
  auto cont = [&](size_t k, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return k < n && p[k] >= lo && p[k] <= hi;
  };
  while (i < n) {
    auto c = p[i];
    if (c < 0x80) {
      i += 1;
    } else if (c >= 0xC2 && c <= 0xDF && cont(i + 1)) {
      i += 2;
    } else if (c >= 0xE0 && c <= 0xEF
               && cont(i + 1, c == 0xE0 ? 0xA0 : 0x80, c == 0xED ? 0x9F : 0xBF)
               && cont(i + 2)) {
      i += 3;
    } else if (c >= 0xF0 && c <= 0xF4
               && cont(i + 1, c == 0xF0 ? 0x90 : 0x80, c == 0xF4 ? 0x8F : 0xBF)
               && cont(i + 2) && cont(i + 3)) {
      i += 4;
    } else {
      return false;
    }
  }
  return true;
}

} // namespace embedrt::fuzz

#define EMBEDRT_FUZZ_CHECK(condition)                                                  \
  ((condition) ? static_cast<void>(0)                                                  \
               : ::embedrt::fuzz::fail(__FILE__, __LINE__, #condition))
