"""The Lua scripts of :class:`~teamgate.shared_redis.gate.CombinedGate`: one call per side.

``ACQUIRE_AND_RESERVE`` runs, atomically, what admission and reservation run as
separate scripts, in the same order (:mod:`~teamgate.shared_redis.limits_lua`'s
``TAKE_SLOT`` and ``ACQUIRE``, then :mod:`~teamgate.shared_redis.budget_lua`'s
``RESERVE``): it decides every slot and every GCRA check first and writes them only
when all pass (a refusal takes nothing: the caller's limiter then refuses or
queues as before); then it reserves the budget if it fits. A budget that does not
fit (or counters not loaded) leaves the admission taken, exactly as the limiter's
admission stood before the separate reserve, and the caller reserves in its own
step, which refuses or waits as before.

``SETTLE_AND_CORRECT`` runs what the end of a request runs as separate calls:
the budget settle (or release), the TPM/TPD refunds and the slot releases.

Both use the same Lua functions as the separate scripts (one copy of each rule).
"""

from __future__ import annotations

from teamgate.shared_redis.budget_lua import MONEY
from teamgate.shared_redis.limits_lua import GCRA, PRELUDE, SLOTS

# KEYS: slot sets (ns), TAT keys (nr), then, when nb > 0: budget marker, leases, info and
# the nb scope hashes.
# ARGV: ns, nr, nb, slot lease_s, then (limit, holder) per slot, (limit, period, cost) per
# TAT key, then the budget's: amount, reservation id, lease_s, one budget per scope.
# Reply: {'slot', i} | {'rate', retry_after}: nothing taken;
#        {budget, {tats}, generation, totals...}: the slots and checks taken, and budget
#        'ok' (reserved; also without budget: nb 0), 'refused', 'wait' or 'unloaded' (not
#        reserved: the caller reserves in its own step, as it did after the limiter's).
ACQUIRE_AND_RESERVE = (
    PRELUDE
    + GCRA
    + SLOTS
    + MONEY
    + """
local ns, nr, nb = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local lease = tonumber(ARGV[4])
for i = 1, ns do
  if not slot_free(KEYS[i], tonumber(ARGV[3 + 2 * i])) then return {'slot', i} end
end
local ra = 4 + 2 * ns
local results, blocking, retry = gcra_decide(ns, ra, nr)
if #blocking > 0 then return {'rate', f(retry)} end
for i = 1, ns do slot_take(KEYS[i], ARGV[4 + 2 * i], lease) end
local tats = gcra_commit(ns, nr, results)
if nb == 0 then return {'ok', tats, ''} end
local k, ba = ns + nr, ra + 3 * nr
reap(KEYS[k + 2], KEYS[k + 3])
local gen = redis.call('GET', KEYS[k + 1])
if not gen then return {'unloaded', tats, ''} end
local no = budget_decide(k, ba, nb)
if no then return {no[1], tats, gen} end
budget_commit(k, ba, nb)
local out = {'ok', tats, gen}
for _, x in ipairs(totals(k + 4)) do out[#out + 1] = x end
return out
"""
)

# KEYS: TAT keys (nr), slot sets (ns), then, when nb > 0: budget marker, leases, info and
# the scope hashes.
# ARGV: nr, ns, nb, then (limit, period, amount) per TAT key, one holder per slot set, then
# the budget's: reservation id ('' none), actual, generation, channel, waiters flag.
# Reply: {{tats}, totals...}
SETTLE_AND_CORRECT = (
    PRELUDE
    + GCRA
    + MONEY
    + """
local nr, ns, nb = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tats = {}
for i = 1, nr do
  local limit, period = tonumber(ARGV[3 * i + 1]), tonumber(ARGV[3 * i + 2])
  tats[i] = gcra_refund(KEYS[i], limit, period, tonumber(ARGV[3 * i + 3]))
end
local ha = 3 + 3 * nr
for i = 1, ns do redis.call('ZREM', KEYS[nr + i], ARGV[ha + i]) end
local out = {tats}
if nb > 0 then
  local k = nr + ns
  budget_settle(k, ha + ns)
  for _, x in ipairs(totals(k + 4)) do out[#out + 1] = x end
end
return out
"""
)
