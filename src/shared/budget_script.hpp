// The shared budget in Redis: one Lua script (run with EVALSHA, atomic in Redis) keeps
// the requests and tokens buckets of all processes, with the same semantics as the
// local limiter (src/policy/token_bucket.*, rate_limit_policy.*):
// * capacity = rate * burst_seconds (requests: at least 1); buckets start full; lazy
//   refill, with Redis `TIME` as the one clock of all processes;
// * a token lease larger than the capacity is granted from a full bucket and leaves it
//   in debt (huge requests are slow, never starved);
// * returned lease and negative usage are put back (capped at the capacity); positive
//   usage is charged (may leave debt): reserve-then-reconcile;
// * `x-ratelimit-remaining-*` caps a bucket and `reset-*` holds its refill until then;
// * a 429 pause (capped at 10 min) holds every grant of every process.
// The key expires after 2 min without calls plus any pause: by then the buckets would
// be full again, so an expired key means exactly what a fresh one does.
//
// KEYS[1]: the budget's hash. ARGV: rpm, tpm, burst_seconds, want_requests,
// want_tokens, return_requests, return_tokens, usage_tokens, pause_ms,
// remaining_requests, reset_requests_ms, remaining_tokens, reset_tokens_ms.
// Returns {granted_requests, granted_tokens, pause_ms_left, retry_us}.
#pragma once

namespace embedrt::shared {

inline constexpr const char* budget_script = R"lua(
pcall(function() redis.replicate_commands() end)
local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local a = {}
for i = 1, 13 do a[i] = tonumber(ARGV[i]) or 0 end
local rpm, tpm, burst = a[1], a[2], math.max(a[3], 1)
local s = redis.call('HMGET', key, 'rl', 'rt', 'rh', 'tl', 'tt', 'th', 'pu')
local function load(per_min, floor1, l, last, hold)
  local b = {rate = per_min / 60000000, unlimited = per_min <= 0}
  b.cap = per_min / 60 * burst
  if floor1 and b.cap < 1 then b.cap = 1 end
  if b.cap <= 0 then b.cap = per_min / 60 end
  b.level = tonumber(l) or b.cap
  b.last = tonumber(last) or now
  b.hold = tonumber(hold) or 0
  if not b.unlimited and now > b.last then
    local start = math.max(b.last, b.hold)
    if now > start and b.level < b.cap then
      b.level = math.min(b.cap, b.level + b.rate * (now - start))
    end
    b.last = now
  end
  return b
end
local r = load(rpm, true, s[1], s[2], s[3])
local k = load(tpm, false, s[4], s[5], s[6])
local pu = tonumber(s[7]) or 0
local function put_back(b, n) if n > 0 then b.level = math.min(b.cap, b.level + n) end end
put_back(r, a[6])
put_back(k, a[7])
if a[8] > 0 then k.level = k.level - a[8] else put_back(k, -a[8]) end
local function limit(b, remaining, reset_ms)
  if b.unlimited or remaining < 0 then return end
  b.level = math.min(b.level, remaining)
  if reset_ms >= 0 then b.hold = math.max(b.hold, now + reset_ms * 1000) end
end
limit(r, a[10], a[11])
limit(k, a[12], a[13])
if a[9] > 0 then pu = math.max(pu, now + math.min(a[9], 600000) * 1000) end
local gr, gt, retry = 0, 0, 0
local function wait_for(b, n)
  local need = math.min(n, b.cap)
  if b.level >= need then return 0 end
  return (math.max(now, b.hold) - now) + (need - b.level) / b.rate
end
if pu <= now then
  if r.unlimited then gr = math.max(0, a[4])
  elseif a[4] > 0 then gr = math.max(0, math.min(a[4], math.floor(r.level))) end
  if k.unlimited then gt = math.max(0, a[5])
  elseif a[5] > 0 then
    if a[5] > k.cap and k.level >= k.cap then gt = a[5]
    else gt = math.max(0, math.min(a[5], math.floor(k.level))) end
  end
  -- Requests and tokens go together: a lease of one without the other is useless
  -- when both are limited and wanted.
  if a[4] > 0 and a[5] > 0 and (gr == 0 or gt == 0) then gr, gt = 0, 0 end
  if not r.unlimited then r.level = r.level - gr end
  if not k.unlimited then k.level = k.level - gt end
  if gr < a[4] and not r.unlimited then retry = math.max(retry, wait_for(r, 1)) end
  if gt < a[5] and not k.unlimited then retry = math.max(retry, wait_for(k, a[5] - gt)) end
else
  retry = pu - now
end
local f = '%.17g'
redis.call('HSET', key, 'rl', string.format(f, r.level), 'rt', string.format(f, r.last),
  'rh', string.format(f, r.hold), 'tl', string.format(f, k.level),
  'tt', string.format(f, k.last), 'th', string.format(f, k.hold),
  'pu', string.format(f, pu))
local ttl = 120000 + math.max(0, math.ceil((pu - now) / 1000))
redis.call('PEXPIRE', key, ttl)
return {gr, gt, math.max(0, math.ceil((pu - now) / 1000)), math.ceil(retry)}
)lua";

} // namespace embedrt::shared
