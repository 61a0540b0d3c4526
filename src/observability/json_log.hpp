// Structured event log: one JSON object per line ({"ts":..,"level":..,"event":..,
// ...fields}) to stderr or a file, from `embedrt.log`. Every line passes through the
// secret redaction (API-key-shaped text, Bearer tokens and the configured key itself)
// right before it is written, whatever its fields say.
//
// Written by one thread at a time in practice (the event observer actor; the config
// line at start before it); each line is one fwrite on an unbuffered stream.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <embedrt/observability.hpp>
#include <embedrt/runtime_config.hpp>

namespace embedrt::observability {

enum class log_level : uint8_t { debug = 0, info, warn, error, off };

const char* to_string(log_level x);

/// Parses "debug", "info", "warn", "error" or "off".
bool parse_log_level(std::string_view x, log_level& out);

/// The level an event is logged at.
log_level level_of(event_kind kind);

class json_log {
public:
  using fields = std::vector<std::pair<std::string, std::string>>;

  /// Appends to `path` (empty: stderr). `secret`: the API key, never written. A file
  /// that cannot be opened falls back to stderr (with a line saying so).
  json_log(log_level level, const std::string& path, std::string secret);
  ~json_log();

  json_log(const json_log&) = delete;
  json_log& operator=(const json_log&) = delete;

  bool enabled(log_level level) const noexcept {
    return level >= level_ && level_ != log_level::off;
  }

  void write(log_level level, std::string_view event, const fields& f);

  /// A runtime event as {"event":"breaker_transitioned","source":..,"detail":..}.
  void event(const runtime_event& ev);

  /// Every config key with its value ("config" event, level info); values that may
  /// hold credentials (URLs) have their userinfo replaced.
  void config(const runtime_config& cfg);

  /// The line `write` would produce, without writing it (tests).
  std::string format(log_level level, std::string_view event, const fields& f) const;

private:
  log_level level_;
  std::string secret_;
  std::FILE* out_ = nullptr;
  bool owns_ = false;
};

} // namespace embedrt::observability
