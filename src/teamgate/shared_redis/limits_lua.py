"""The Lua scripts of :class:`~teamgate.shared_redis.limits.RedisCounters` (GCRA as in :mod:`gcra`).

Every script takes the time from Redis (``TIME``), so all instances share one
clock. Floats go back to Python as ``%.17g`` strings (Lua numbers would be
truncated to integers in the reply).
"""

from __future__ import annotations

PRELUDE = """
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

# The GCRA steps as functions over a slice of KEYS and ARGV (offsets ``k`` and ``a``), so
# the combined scripts (:mod:`teamgate.shared_redis.gate_lua`) run the same code.
GCRA = """
-- Decide the checks KEYS[k+1..k+n], ARGV[a+1..a+3n] (limit, period, cost per key) without
-- writing: every check's {ok, new tat, tat, remaining}, the blocking 0-based indices, the wait.
local function gcra_decide(k, a, n)
  local results, blocking, retry = {}, {}, 0
  for i = 1, n do
    local limit = tonumber(ARGV[a + 3 * i - 2])
    local period = tonumber(ARGV[a + 3 * i - 1])
    local cost = tonumber(ARGV[a + 3 * i])
    local tat = tat_of(KEYS[k + i])
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
  return results, blocking, retry
end
-- Store the new TATs decided by gcra_decide; the TATs as strings.
local function gcra_commit(k, n, results)
  local tats = {}
  for i = 1, n do
    store(KEYS[k + i], results[i][2])
    tats[i] = f(results[i][2])
  end
  return tats
end
-- Give back amount units of key (never below empty); the new TAT as a string.
local function gcra_refund(key, limit, period, amount)
  local v = redis.call('GET', key)
  if not v then return f(now) end
  local tat = tonumber(v)
  if amount <= 0 or tat <= now then return f(tat) end
  local new_tat = math.max(tat - amount * period / limit, now)
  store(key, new_tat)
  return f(new_tat)
end
"""

# Concurrency slots: a sorted set of holders scored by lease expiry; expired holders (a dead
# instance's) are dropped before counting.
SLOTS = """
local function slot_free(key, limit)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  return redis.call('ZCARD', key) < limit
end
local function slot_take(key, holder, lease)
  redis.call('ZADD', key, now + lease, holder)
  redis.call('PEXPIRE', key, math.ceil(lease * 1000) + 1000)
end
"""

# KEYS: the TAT keys. ARGV: limit, period, cost per key.
# Reply: {allowed 0|1, retry_after, {blocking 0-based indices}, blocked_remaining, {tats}, now}
ACQUIRE = (
    PRELUDE
    + GCRA
    + """
local n = #KEYS
local results, blocking, retry = gcra_decide(0, 0, n)
if #blocking == 0 then return {1, '0', {}, 0, gcra_commit(0, n, results), f(now)} end
local tats = {}
for i = 1, n do tats[i] = f(results[i][3]) end
return {0, f(retry), blocking, results[blocking[1] + 1][4], tats, f(now)}
"""
)

# KEYS[1]: the TAT key. ARGV: limit, period, amount. Reply: the new TAT.
REFUND = (
    PRELUDE
    + GCRA
    + """
return gcra_refund(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
"""
)

# KEYS[1]: the TAT key. ARGV: limit, period. Reply: {remaining, reset_after}.
PEEK = (
    PRELUDE
    + """
local remaining, used = peek(tat_of(KEYS[1]), tonumber(ARGV[1]), tonumber(ARGV[2]))
return {remaining, f(used)}
"""
)

# KEYS[1]: the slot holders (sorted set, score = lease expiry). ARGV: limit, holder, lease_s.
# Expired holders (a dead instance's) are dropped first. Reply: 1 taken, 0 full.
TAKE_SLOT = (
    PRELUDE
    + SLOTS
    + """
if not slot_free(KEYS[1], tonumber(ARGV[1])) then return 0 end
slot_take(KEYS[1], ARGV[2], tonumber(ARGV[3]))
return 1
"""
)

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
