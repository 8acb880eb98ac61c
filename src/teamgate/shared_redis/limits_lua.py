"""The Lua scripts of :class:`~teamgate.shared_redis.limits.RedisCounters` (GCRA as in :mod:`gcra`).

Every script takes the time from Redis (``TIME``), so all instances share one
clock. Floats go back to Python as ``%.17g`` strings (Lua numbers would be
truncated to integers in the reply).
"""

from __future__ import annotations

_PRELUDE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local EPS = 0.000001
local function f(x) return string.format('%.17g', x) end
local function tat_of(key)
  local v = redis.call('GET', key)
  if v then return tonumber(v) end
  return now
end
local function peek(tat, limit, period)
  local interval = period / limit
  local used = math.max(tat - now, 0)
  local remaining = math.floor((period - used + EPS) / interval)
  return math.max(0, math.min(limit, remaining)), used
end
local function store(key, tat)
  local ms = math.ceil((tat - now) * 1000) + 1000
  redis.call('SET', key, f(tat), 'PX', ms)
end
"""

# KEYS: the TAT keys. ARGV: limit, period, cost per key.
# Reply: {allowed 0|1, retry_after, {blocking 0-based indices}, blocked_remaining, {tats}, now}
ACQUIRE = (
    _PRELUDE
    + """
local n = #KEYS
local results = {}
local blocking = {}
local retry = 0
for i = 1, n do
  local limit = tonumber(ARGV[3 * i - 2])
  local period = tonumber(ARGV[3 * i - 1])
  local cost = tonumber(ARGV[3 * i])
  local tat = tat_of(KEYS[i])
  local base = math.max(tat, now)
  local interval = period / limit
  local ok, wait, new_tat
  if cost > limit then
    ok, wait, new_tat = false, math.huge, base
  else
    new_tat = base + cost * interval
    local excess = new_tat - now - period
    if excess <= EPS then ok, wait = true, 0 else ok, wait, new_tat = false, excess, base end
  end
  local remaining = peek(base, limit, period)
  results[i] = {ok, new_tat, tat, remaining}
  if not ok then
    blocking[#blocking + 1] = i - 1
    if wait > retry then retry = wait end
  end
end
local tats = {}
if #blocking == 0 then
  for i = 1, n do
    store(KEYS[i], results[i][2])
    tats[i] = f(results[i][2])
  end
  return {1, '0', {}, 0, tats, f(now)}
end
for i = 1, n do tats[i] = f(results[i][3]) end
return {0, f(retry), blocking, results[blocking[1] + 1][4], tats, f(now)}
"""
)

# KEYS[1]: the TAT key. ARGV: limit, period, amount. Reply: the new TAT.
REFUND = (
    _PRELUDE
    + """
local limit, period, amount = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local v = redis.call('GET', KEYS[1])
if not v then return f(now) end
local tat = tonumber(v)
if amount <= 0 or tat <= now then return f(tat) end
local new_tat = math.max(tat - amount * period / limit, now)
store(KEYS[1], new_tat)
return f(new_tat)
"""
)

# KEYS[1]: the TAT key. ARGV: limit, period. Reply: {remaining, reset_after}.
PEEK = (
    _PRELUDE
    + """
local remaining, used = peek(tat_of(KEYS[1]), tonumber(ARGV[1]), tonumber(ARGV[2]))
return {remaining, f(used)}
"""
)

# KEYS[1]: the slot holders (sorted set, score = lease expiry). ARGV: limit, holder, lease_s.
# Expired holders (a dead instance's) are dropped first. Reply: 1 taken, 0 full.
TAKE_SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local lease = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + lease, ARGV[2])
redis.call('PEXPIRE', KEYS[1], math.ceil(lease * 1000) + 1000)
return 1
"""

# KEYS: slot sets; ARGV[1]: lease_s, then one holder per key. Renews the holders still there.
RENEW_SLOTS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local lease = tonumber(ARGV[1])
local renewed = 0
for i = 1, #KEYS do
  renewed = renewed + redis.call('ZADD', KEYS[i], 'XX', 'CH', now + lease, ARGV[i + 1])
  redis.call('PEXPIRE', KEYS[i], math.ceil(lease * 1000) + 1000)
end
return renewed
"""
