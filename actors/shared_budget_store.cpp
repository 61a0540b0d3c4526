#include "actors/shared_budget_store.hpp"

#include <algorithm>
#include <cstdlib>
#include <random>

#include "src/shared/budget_script.hpp"

namespace embedrt {

std::optional<shared_budget_args>
make_shared_budget_args(const rate_limiter_config& cfg,
                        const std::string& embeddings_url, const std::string& api_key) {
  if (cfg.shared_store.empty())
    return std::nullopt;
  shared_budget_args result;
  std::string problem;
  if (!shared::parse_redis_url(cfg.shared_store, &result.store.endpoint, problem))
    return std::nullopt;
  if (const char* pw = std::getenv(cfg.shared_password_env.c_str()))
    result.store.password = pw;
  auto name = cfg.shared_name.empty()
                ? shared::default_budget_name(embeddings_url, api_key)
                : cfg.shared_name;
  result.store.key = shared::budget_key(name);
  result.store.call_timeout = std::chrono::milliseconds{cfg.shared_call_timeout_ms};
  result.store.requests_per_minute = cfg.requests_per_minute;
  result.store.tokens_per_minute = cfg.tokens_per_minute;
  result.store.burst_seconds = cfg.burst_seconds;
  auto& l = result.lease;
  l.requests_per_minute = cfg.requests_per_minute;
  l.tokens_per_minute = cfg.tokens_per_minute;
  l.horizon = std::chrono::milliseconds{cfg.shared_lease_horizon_ms};
  l.ttl = std::chrono::milliseconds{cfg.shared_lease_ttl_ms};
  l.call_timeout = std::chrono::milliseconds{cfg.shared_call_timeout_ms};
  result.seed = std::random_device{}();
  return result;
}

rate_limiter_config fallback_share(const rate_limiter_config& cfg) {
  auto result = cfg;
  double share = cfg.shared_fallback_percent > 0
                   ? cfg.shared_fallback_percent / 100.0
                   : 1.0 / std::max<uint32_t>(cfg.shared_expected_replicas, 1);
  auto scale = [share](uint64_t per_minute) -> uint64_t {
    if (per_minute == 0)
      return 0;
    return std::max<uint64_t>(1, static_cast<uint64_t>(per_minute * share));
  };
  result.requests_per_minute = static_cast<uint32_t>(scale(cfg.requests_per_minute));
  result.tokens_per_minute = scale(cfg.tokens_per_minute);
  return result;
}

caf::behavior shared_budget_store(caf::stateful_actor<shared_budget_store_state>* self,
                                  shared_store_settings settings) {
  self->state.client = std::make_unique<shared::redis_client>(settings.endpoint,
                                                              settings.password);
  settings.password.clear();
  return {
    [=](shared_budget_ask& ask) {
      shared_budget_grant result;
      result.seq = ask.seq;
      std::vector<std::string> args{
        std::to_string(settings.requests_per_minute),
        std::to_string(settings.tokens_per_minute),
        std::to_string(settings.burst_seconds),
        std::to_string(ask.want_requests),
        std::to_string(ask.want_tokens),
        std::to_string(ask.return_requests),
        std::to_string(ask.return_tokens),
        std::to_string(ask.usage_tokens),
        std::to_string(ask.pause_ms),
        std::to_string(ask.remaining_requests),
        std::to_string(ask.reset_requests_ms),
        std::to_string(ask.remaining_tokens),
        std::to_string(ask.reset_tokens_ms),
      };
      std::vector<int64_t> reply;
      if (!self->state.client->eval(shared::budget_script, settings.key, args,
                                    settings.call_timeout, reply, result.error)) {
        return result;
      }
      if (reply.size() != 4) {
        result.error = "budget script: unexpected reply";
        return result;
      }
      result.ok = true;
      result.requests = reply[0];
      result.tokens = reply[1];
      result.pause_ms = reply[2];
      result.retry_us = reply[3];
      return result;
    },
  };
}

} // namespace embedrt
