"""The Lua scripts of :class:`~teamgate.shared_redis.budget.RedisBudgetCounters`.

Money is int64 picodollars, beyond the 2^53 that Lua's doubles hold exactly,
so comparisons use two limbs of base 10^9 parsed from the decimal strings
Redis stores (``HINCRBY`` itself is exact int64 arithmetic in Redis).

Layout (``P`` = the prefix):

- ``P budget:{scope}``: hash ``settled``, ``reserved`` (a scope is ``team:T:2026-11``);
- ``P budget:loaded:{period}``: marker, set once the month's settled spend was
  loaded from the ledger (missing after a Redis restart); its value is a random
  *generation*: a settle adds to ``settled`` only under the generation its
  reservation was made in, so spend the ledger load already holds is never
  added twice;
- ``P budget:leases``: sorted set of open reservation ids, score = lease expiry;
- ``P budget:res``: hash reservation id -> ``amount|scope hash key|...``;
- ``P budget:changed:waiters``: exists (5 s) after a reserve answered ``wait``; settles
  and releases ``PUBLISH`` on ``P budget:changed`` only while it exists (a waiting
  request retries at least every recheck interval, which renews it).

Reservations whose lease expired (their instance died) are reaped, i.e.
released, at the start of every reserve. Settling or releasing a reservation
that was reaped already does not release it twice.
"""

from __future__ import annotations

_CLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

# Exact money, reservations and totals; needs ``now`` (from _CLOCK, or the limits' prelude).
# The steps are functions over a slice of KEYS and ARGV (offsets ``k`` and ``a``) so the
# combined scripts (:mod:`teamgate.shared_redis.gate_lua`) run the same code: at KEYS[k+1]
# the marker, k+2 the leases, k+3 the reservation info, then the scope hashes up to #KEYS.
MONEY = """
local B = 1000000000
local function big(s)
  s = tostring(s or '0')
  if #s <= 9 then return {0, tonumber(s)} end
  return {tonumber(string.sub(s, 1, -10)), tonumber(string.sub(s, -9))}
end
local function add(a, b)
  local lo, hi = a[2] + b[2], a[1] + b[1]
  if lo >= B then lo, hi = lo - B, hi + 1 end
  return {hi, lo}
end
local function gt(a, b)
  if a[1] ~= b[1] then return a[1] > b[1] end
  return a[2] > b[2]
end
local function unreserve(key, amount)
  if redis.call('HINCRBY', key, 'reserved', '-' .. amount) < 0 then
    redis.call('HSET', key, 'reserved', '0')
  end
end
local function drop(leases, info, id)
  if redis.call('ZREM', leases, id) == 0 then return false end
  local data = redis.call('HGET', info, id)
  redis.call('HDEL', info, id)
  if not data then return false end
  local amount = nil
  for part in string.gmatch(data, '[^|]+') do
    if amount == nil then amount = part else unreserve(part, amount) end
  end
  return true
end
local function reap(leases, info)
  local expired = redis.call('ZRANGEBYSCORE', leases, '-inf', now, 'LIMIT', 0, 100)
  for _, id in ipairs(expired) do drop(leases, info, id) end
  return #expired
end
local function totals(first)
  local out = {}
  for i = first, #KEYS do
    local v = redis.call('HMGET', KEYS[i], 'settled', 'reserved')
    out[#out + 1] = v[1] or '0'
    out[#out + 1] = v[2] or '0'
  end
  return out
end
-- Whether amount (ARGV[a+1]) fits the n scopes' budgets (ARGV[a+3+i], '' = unlimited):
-- nil, or {'refused' | 'wait', the deciding scope's 1-based index}. Writes nothing.
local function budget_decide(k, a, n)
  local amount = big(ARGV[a + 1])
  for pass = 1, 2 do
    for i = 1, n do
      local budget = ARGV[a + 3 + i]
      if budget ~= '' then
        local v = redis.call('HMGET', KEYS[k + 3 + i], 'settled', 'reserved')
        local used = big(v[1])
        if pass == 2 then used = add(used, big(v[2])) end
        if gt(add(used, amount), big(budget)) then
          if pass == 1 then return {'refused', i} end
          return {'wait', i}
        end
      end
    end
  end
  return nil
end
-- Reserve amount (ARGV[a+1]) in the n scopes under id ARGV[a+2], leased for ARGV[a+3] s.
local function budget_commit(k, a, n)
  local info = ARGV[a + 1]
  for i = 1, n do
    redis.call('HINCRBY', KEYS[k + 3 + i], 'reserved', ARGV[a + 1])
    info = info .. '|' .. KEYS[k + 3 + i]
  end
  redis.call('ZADD', KEYS[k + 2], now + tonumber(ARGV[a + 3]), ARGV[a + 2])
  redis.call('HSET', KEYS[k + 3], ARGV[a + 2], info)
end
-- Close reservation ARGV[a+1] ('' none) and add ARGV[a+2] to settled under generation
-- ARGV[a+3]; PUBLISH on channel ARGV[a+4] (while the waiters flag ARGV[a+5] exists, if given).
local function budget_settle(k, a)
  if ARGV[a + 1] ~= '' then drop(KEYS[k + 2], KEYS[k + 3], ARGV[a + 1]) end
  local gen = redis.call('GET', KEYS[k + 1])
  if ARGV[a + 2] ~= '0' and gen and (ARGV[a + 3] == '' or ARGV[a + 3] == gen) then
    for i = k + 4, #KEYS do redis.call('HINCRBY', KEYS[i], 'settled', ARGV[a + 2]) end
  end
  local channel, flag = ARGV[a + 4], ARGV[a + 5]
  if channel and channel ~= '' and (not flag or redis.call('EXISTS', flag) == 1) then
    redis.call('PUBLISH', channel, '1')
  end
end
"""

# KEYS: marker, leases, info, scope hashes...
# ARGV: amount, reservation id, lease_s, then one budget per scope ('' = unlimited),
# then (optional) the waiters flag key: set for 5 s on a 'wait' outcome, so settles publish.
# Reply: {'unloaded'} | {outcome, deciding scope index (1-based, 0 none), generation, totals...}
RESERVE = (
    _CLOCK
    + MONEY
    + """
reap(KEYS[2], KEYS[3])
local gen = redis.call('GET', KEYS[1])
if not gen then return {'unloaded'} end
local scopes = #KEYS - 3
local no = budget_decide(0, 0, scopes)
if no then
  if no[1] == 'wait' then
    local flag = ARGV[4 + scopes]
    if flag and flag ~= '' then redis.call('SET', flag, '1', 'PX', 5000) end
  end
  local out = {no[1], no[2], gen}
  for _, x in ipairs(totals(4)) do out[#out + 1] = x end
  return out
end
budget_commit(0, 0, scopes)
local out = {'ok', 0, gen}
for _, x in ipairs(totals(4)) do out[#out + 1] = x end
return out
"""
)

# KEYS: marker, leases, info, scope hashes...
# ARGV: reservation id ('' none), actual, generation ('' = whatever is loaded now),
# channel to PUBLISH the change on ('' none), (optional) the waiters flag key: when given,
# the PUBLISH happens only while it exists (some instance has a request waiting).
# Drops the reservation if still open; adds ``actual`` to settled only when the month's
# counter is the one loaded in ``generation``: a reservation made before a Redis data
# loss is settled by the ledger load instead, so nothing is counted twice.
# Reply: totals...
SETTLE = (
    _CLOCK
    + MONEY
    + """
budget_settle(0, 0)
return totals(4)
"""
)

# KEYS: leases. ARGV: lease_s, ids... Renews the reservations still open.
RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local renewed = 0
for i = 2, #ARGV do
  renewed = renewed + redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[1]), ARGV[i])
end
return renewed
"""

# KEYS: marker, scope hashes...  ARGV: generation, then settled per scope. Loads the month
# from the ledger: sets ``settled`` of every given scope and the marker (value: a new
# generation), unless the marker exists already. Reply: 1 loaded, 0 was loaded.
LOAD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 2, #KEYS do redis.call('HSET', KEYS[i], 'settled', ARGV[i]) end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""
