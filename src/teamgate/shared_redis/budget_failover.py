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
    ReserveResult,
    RoundTripBudgetCounters,
    ScopeTotals,
)
from teamgate.shared_redis.batching import REDIS_UNAVAILABLE
from teamgate.shared_redis.budget import RedisBudgetCounters
from teamgate.shared_redis.failover import FailureMode

log = logging.getLogger("teamgate.budget")

UNAVAILABLE_MESSAGE = (
    "The gateway cannot reach its shared budget state (Redis) and is failing closed; retry shortly."
)


class FailoverBudgetCounters(RoundTripBudgetCounters):
    """Redis budget counters with a failure mode. See the module docstring."""

    def __init__(
        self, primary: RedisBudgetCounters, *, mode: str = "closed", instances: int = 1
    ) -> None:
        self.primary = primary
        self.mode = FailureMode(
            "budgets",
            logger=log,
            open_mode=mode == "open",
            instances=instances,
            message=UNAVAILABLE_MESSAGE,
        )
        self._memory = MemoryBudgetCounters()
        self._headroom: dict[str, int] = {}
        self._in_memory: dict[tuple[tuple[str, ...], int], list[str]] = {}  # -> generations

    @property
    def degraded(self) -> bool:
        return self.mode.degraded

    async def start(self) -> None:
        await self.primary.start()

    async def close(self) -> None:
        await self.primary.close()

    def _local_scopes(self, scopes: Sequence[BudgetScope]) -> list[BudgetScope]:
        out = []
        for scope in scopes:
            if scope.budget_pico is None:
                out.append(scope)
                continue
            if scope.key not in self._headroom:
                settled, reserved = self.primary.known_totals(scope.key)
                self._headroom[scope.key] = (
                    max(0, scope.budget_pico - settled - reserved) // self.mode.instances
                )
            out.append(BudgetScope(scope.key, self._headroom[scope.key]))
        return out

    async def reserve(self, scopes: Sequence[BudgetScope], amount: int) -> ReserveResult:
        try:
            result = await self.primary.reserve(scopes, amount)
        except REDIS_UNAVAILABLE as exc:
            self.mode.down(exc)  # raises when failing closed
            result = await self._memory.reserve(self._local_scopes(scopes), amount)
            if result.outcome.value == "ok":
                key = (tuple(s.key for s in scopes), amount)
                self._in_memory.setdefault(key, []).append(self.primary.generation)
            return result
        if self.mode.up() and not self._in_memory:  # an outage ended with nothing held
            self._memory, self._headroom = MemoryBudgetCounters(), {}
        return result

    def holds_in_memory(self, scopes: Sequence[BudgetScope], reserved: int) -> bool:
        """Whether a reservation like this one may be held in memory (made while failing
        open): then only :meth:`settle` / :meth:`release` know which to close."""
        return (tuple(s.key for s in scopes), reserved) in self._in_memory

    def _pop_local(self, scopes: Sequence[BudgetScope], reserved: int) -> str | None:
        key = (tuple(s.key for s in scopes), reserved)
        held = self._in_memory.get(key)
        if not held:
            return None
        generation = held.pop()
        if not held:
            del self._in_memory[key]
        return generation

    async def settle(
        self, scopes: Sequence[BudgetScope], reserved: int, actual: int
    ) -> dict[str, ScopeTotals]:
        generation = self._pop_local(scopes, reserved)
        if generation is None:
            return await self.primary.settle(scopes, reserved, actual)
        totals = await self._memory.settle(self._local_scopes(scopes), reserved, actual)
        await self.primary.charge(scopes, actual, generation)
        return totals

    async def release(self, scopes: Sequence[BudgetScope], reserved: int) -> dict[str, ScopeTotals]:
        if self._pop_local(scopes, reserved) is None:
            return await self.primary.release(scopes, reserved)
        return await self._memory.release(self._local_scopes(scopes), reserved)

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
