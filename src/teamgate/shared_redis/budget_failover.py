"""What budgets do when Redis cannot be reached: fail closed (503) or open (1/N of headroom).

:class:`FailoverBudgetCounters` wraps
:class:`~teamgate.shared_redis.budget.RedisBudgetCounters`. When a reserve cannot
reach Redis:

- ``closed`` (the default): :class:`~teamgate.http.errors.StateUnavailable`;
  nothing is admitted, so no budget can be overshot.
- ``open``: this instance reserves in memory against its share of what was
  left when Redis was last seen: ``(budget - settled - reserved) // N`` per
  scope, so N instances together cannot overshoot that. Spend settled in
  memory is also charged to Redis once it is back (kept and replayed).

Settles and releases never fail: Redis's are kept and replayed in order.

>>> # counters = FailoverBudgetCounters(RedisBudgetCounters(client, spend_source=store))
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from teamgate.budget.counters import (
    BudgetScope,
    MemoryBudgetCounters,
    ReservationHandle,
    ReserveResult,
    RoundTripBudgetCounters,
    ScopeTotals,
)
from teamgate.shared_redis.batching import REDIS_UNAVAILABLE
from teamgate.shared_redis.budget import RedisBudgetCounters
from teamgate.shared_redis.failover import Failover

log = logging.getLogger("teamgate.budget")

UNAVAILABLE_MESSAGE = (
    "The gateway cannot reach its shared budget state (Redis) and is failing closed; retry shortly."
)


class FailoverBudgetCounters(Failover[RedisBudgetCounters], RoundTripBudgetCounters):
    """Redis budget counters with a failure mode. See the module docstring."""

    def __init__(
        self, primary: RedisBudgetCounters, *, mode: str = "closed", instances: int = 1
    ) -> None:
        super().__init__(
            primary, "budgets", log, UNAVAILABLE_MESSAGE, mode=mode, instances=instances
        )
        self._memory = MemoryBudgetCounters()
        self._headroom: dict[str, int] = {}
        self._in_memory: set[ReservationHandle] = set()  # open, made while failing open

    def _local_scopes(self, scopes: Sequence[BudgetScope]) -> list[BudgetScope]:
        out = []
        for scope in scopes:
            if scope.budget_pico is None:
                out.append(scope)
                continue
            if scope.key not in self._headroom:
                settled, reserved = self.primary.known_totals(scope.key)
                self._headroom[scope.key] = (
                    max(0, scope.budget_pico - settled - reserved) // self.instances
                )
            out.append(BudgetScope(scope.key, self._headroom[scope.key]))
        return out

    async def reserve(self, scopes: Sequence[BudgetScope], amount: int) -> ReserveResult:
        try:
            result = await self.primary.reserve(scopes, amount)
        except REDIS_UNAVAILABLE as exc:
            self.down(exc)  # raises when failing closed
            return self._reserve_in_memory(
                scopes, await self._memory.reserve(self._local_scopes(scopes), amount)
            )
        if self.up() and not self._in_memory:  # an outage ended with nothing held
            self._memory, self._headroom = MemoryBudgetCounters(), {}
        return result

    def _reserve_in_memory(
        self, scopes: Sequence[BudgetScope], result: ReserveResult
    ) -> ReserveResult:
        """A memory reservation's handle, which also carries the Redis generation it was
        made under (its spend is charged to Redis under that one)."""
        if result.handle is None:
            return result
        memory = result.handle
        handle = ReservationHandle(
            scopes, memory.amount, self._memory, generation=self.primary.generation
        )
        self._in_memory.add(handle)
        return ReserveResult(result.outcome, totals=result.totals, handle=handle)

    def holds_in_memory(self, handle: ReservationHandle) -> bool:
        """Whether this reservation is held in memory (made while failing open): then only
        :meth:`settle` / :meth:`release` can close it."""
        return handle in self._in_memory

    async def settle(self, handle: ReservationHandle, actual: int) -> dict[str, ScopeTotals]:
        if handle not in self._in_memory:
            return await self.primary.settle(handle, actual)
        self._in_memory.discard(handle)
        totals = await self._memory.settle(handle, actual)
        await self.primary.charge(handle.scopes, actual, handle.generation)
        return totals

    async def release(self, handle: ReservationHandle) -> dict[str, ScopeTotals]:
        if handle not in self._in_memory:
            return await self.primary.release(handle)
        self._in_memory.discard(handle)
        return await self._memory.release(handle)

    async def totals(self, scope_key: str) -> ScopeTotals:
        try:
            return await self.primary.totals(scope_key)
        except REDIS_UNAVAILABLE:
            return self.primary.known_totals(scope_key)

    async def load_settled(self, scope_key: str, settled: int) -> None:
        try:
            await self.primary.load_settled(scope_key, settled)
        except REDIS_UNAVAILABLE as exc:  # loaded by the first reserve once Redis is back
            log.error("could not load budget counters into Redis at start-up: %s", exc)
