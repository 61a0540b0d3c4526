#include "src/observability/json_log.hpp"

#include <chrono>
#include <ctime>

#include <nlohmann/json.hpp>

#include "config/schema.hpp"
#include "config/url.hpp"
#include "src/openai/error_text.hpp"

namespace embedrt::observability {

const char* to_string(log_level x) {
  static constexpr const char* names[] = {"debug", "info", "warn", "error", "off"};
  return names[static_cast<size_t>(x) < 5 ? static_cast<size_t>(x) : 4];
}

bool parse_log_level(std::string_view x, log_level& out) {
  for (auto l : {log_level::debug, log_level::info, log_level::warn, log_level::error,
                 log_level::off})
    if (x == to_string(l)) {
      out = l;
      return true;
    }
  return false;
}

log_level level_of(event_kind kind) {
  switch (kind) {
    case event_kind::worker_failed:
    case event_kind::pool_restarted:
    case event_kind::shared_budget_fallback:
    case event_kind::retry_budget_exhausted:
    case event_kind::grants_paused:
    case event_kind::breaker_transitioned: return log_level::warn;
    case event_kind::runtime_unavailable: return log_level::error;
    default: return log_level::info;
  }
}

json_log::json_log(log_level level, const std::string& path, std::string secret)
  : level_(level), secret_(std::move(secret)) {
  if (level_ == log_level::off)
    return;
  if (!path.empty()) {
    out_ = std::fopen(path.c_str(), "a");
    owns_ = out_ != nullptr;
  }
  if (!out_)
    out_ = stderr;
  std::setvbuf(out_, nullptr, _IONBF, 0);
  if (!path.empty() && !owns_)
    write(log_level::error, "log_file_unusable",
          {{"detail", "cannot open the log file; logging to stderr"}});
}

json_log::~json_log() {
  if (owns_)
    std::fclose(out_);
}

std::string json_log::format(log_level level, std::string_view event,
                             const fields& f) const {
  nlohmann::ordered_json j;
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms
    = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch())
        .count()
      % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[96];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms));
  j["ts"] = ts;
  j["level"] = to_string(level);
  j["event"] = std::string{event};
  for (auto& [k, v] : f)
    j[k] = v;
  // Invalid UTF-8 from a field is replaced, never thrown.
  auto line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return openai::redact_secrets(line, secret_);
}

void json_log::write(log_level level, std::string_view event, const fields& f) {
  if (!enabled(level))
    return;
  auto line = format(level, event, f);
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), out_);
}

void json_log::event(const runtime_event& ev) {
  auto level = level_of(ev.kind);
  if (!enabled(level))
    return;
  write(level, to_string(ev.kind), {{"source", ev.source}, {"detail", ev.detail}});
}

void json_log::config(const runtime_config& cfg) {
  if (!enabled(log_level::info))
    return;
  fields f;
  for (auto& key : schema::keys()) {
    std::string value;
    if (auto text = std::get_if<schema::string_rule>(&key.rule))
      value = url::redact_userinfo(text->ref(const_cast<runtime_config&>(cfg)));
    else
      value = schema::value_text(key, cfg);
    f.emplace_back(key.key(), std::move(value));
  }
  write(log_level::info, "config", f);
}

} // namespace embedrt::observability
