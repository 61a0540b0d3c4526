// Text taken from an upstream into an error: the one place where it is bounded,
// cleaned and redacted. Pure functions, no I/O.
//
// Every string that reaches a caller from the upstream (an error body's message, a
// contract breach that quotes the body, a transport error) passes `clean_upstream_text`
// (or `upstream_error_message`, which uses it): at most `max_upstream_text_bytes`,
// valid UTF-8, no control characters, no secrets.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace embedrt::openai {

/// Longest upstream-derived text kept in an error, bytes.
constexpr size_t max_upstream_text_bytes = 512;

/// Most bytes of an error body that are read (the rest is never looked at).
constexpr size_t max_error_body_bytes = size_t{64} << 10;

/// The upstream's `error.message` from an error body (OpenAI's shape; also `{"error":
/// ".."}`, `{"message":..}`, `{"detail":..}`), found by a scan of the first
/// `max_error_body_bytes` without building a tree, then cleaned as by
/// `clean_upstream_text`. Falls back to the start of the body when it is not JSON of
/// that shape.
std::string upstream_error_message(std::string_view body);

/// As above, also redacting every occurrence of `api_key` (the configured key).
std::string upstream_error_message(std::string_view body, std::string_view api_key);

/// Replaces API-key-like substrings with "[redacted]": `sk-...` keys, `Bearer`
/// tokens, and the values of echoed `Authorization`, `api-key`, `x-api-key` and
/// `api_key` headers or fields.
std::string redact_secrets(std::string_view text);

/// As above, also redacting every occurrence of `api_key` (when it has at least 8
/// bytes; shorter values would redact ordinary words).
std::string redact_secrets(std::string_view text, std::string_view api_key);

/// Upstream-derived text as people should see it: secrets (and `api_key`) redacted,
/// control characters and runs of white space collapsed to one space (no log
/// injection), invalid UTF-8 replaced by U+FFFD, trimmed, and at most `max_bytes`
/// (never more than `max_upstream_text_bytes`) long, cut between characters.
std::string clean_upstream_text(std::string_view text, std::string_view api_key = {},
                                size_t max_bytes = max_upstream_text_bytes);

/// U+FFFD in UTF-8.
constexpr std::string_view utf8_replacement_character = "\xEF\xBF\xBD";

/// Length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms, no
/// surrogates, at most U+10FFFF) that starts at `p[0] >= 0x80`, or 0.
size_t utf8_sequence_length(const unsigned char* p, size_t available) noexcept;

} // namespace embedrt::openai
