"""Redis :class:`~teamgate.budget.counters.BudgetCounters`: budgets shared by every instance.

Reserve, settle and release are each one Lua script, atomic over the team and
org scopes (:mod:`teamgate.shared_redis.budget_lua`); concurrent calls share one
pipeline (:mod:`teamgate.shared_redis.batching`). Open reservations are leased:
each has an id in a sorted set scored by its lease expiry, renewed every
``lease_s / 3`` while the request runs; a SIGKILLed instance's reservations are
released by the next reserve after at most ``lease_s``, and a late settle of a
reaped reservation never releases it twice.

Month-to-date spend: the ledger is the truth. The month's counters (every key,
environment and team, and the org) are loaded from ``store.usage_summary`` once,
by one instance (a lock), and a marker key says they were; after a Redis restart
the marker is gone and the next reserve loads them again. The marker holds a
*generation*; a settle adds to the counter only under the generation its
reservation was made in, so spend the ledger load holds already is never
counted twice. (A request reserved before the load and settled after it is in
the ledger but not in the counter: the counter can undercount by the requests
in flight across a Redis data loss.)

A settle or release that cannot reach Redis is kept and replayed in order
(it never raises: the request has been answered already). Settles and
releases ``PUBLISH`` on ``<prefix>budget:changed`` so waiting requests on other
instances retry at once, but only while some request waits (a reserve that
answers ``wait`` sets ``<prefix>budget:changed:waiters`` for 5 s): otherwise
every settle would wake every instance's listener for nothing.

Usage::

    counters = RedisBudgetCounters(client, "teamgate:", spend_source=store, timezone="UTC")
    await counters.start()
    book = BudgetBook(settings, counters)
    await book.load(store)     # loads the month into Redis unless already loaded
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from teamgate.budget import SpendSource
from teamgate.budget.counters import (
    BudgetScope,
    ReservationHandle,
    ReserveOutcome,
    ReserveResult,
    RoundTripBudgetCounters,
    ScopeTotals,
)
from teamgate.budget.period import period_named
from teamgate.budget.scopes import SPEND_DIMENSIONS, counter_key, settled_by_scope
from teamgate.http.errors import StateUnavailable
from teamgate.shared_redis import budget_lua as redis_lua
from teamgate.shared_redis.backend import RedisBackend, reply_text
from teamgate.shared_redis.batching import REDIS_UNAVAILABLE, ScriptBatcher

log = logging.getLogger("teamgate.budget")

_OUTCOMES = {
    b"ok": ReserveOutcome.OK,
    b"refused": ReserveOutcome.REFUSED,
    b"wait": ReserveOutcome.WAIT,
}


def _period_of(scope_key: str) -> str:
    return scope_key.rsplit(":", 1)[1]


class RedisBudgetCounters(RedisBackend, RoundTripBudgetCounters):
    """Budget counters in Redis with leased reservations, each month loaded once from
    ``spend_source`` (the ledger), and settles kept for replay while Redis is away. See
    the module docstring."""

    def __init__(
        self,
        client: Redis,
        prefix: str = "teamgate:",
        *,
        spend_source: SpendSource | None = None,
        timezone: str = "UTC",
        lease_s: float = 30.0,
        rebuild_delay_s: float = 0.3,
        load_timeout_s: float = 10.0,
        replay_interval_s: float = 0.2,
        batcher: ScriptBatcher | None = None,
    ) -> None:
        super().__init__(
            client, prefix + "budget:", "teamgate-budget-leases", lease_s=lease_s, batcher=batcher
        )
        self._spend = spend_source
        self._tz = timezone
        self._rebuild_delay = rebuild_delay_s
        self._load_timeout = load_timeout_s
        self._replay_interval = replay_interval_s
        self._open: set[str] = set()  # ids of the reservations this instance holds open
        self._pending: list[tuple[tuple[str, ...], str, int, str]] = []  # settles to replay
        self._known: dict[str, ScopeTotals] = {}
        self.generation = ""  # the last marker generation seen
        self.channel = self._prefix + "changed"
        self.waiters_flag = self.channel + ":waiters"
        self._publish = (self.channel, self.waiters_flag)
        self._reserve = self._batcher.script(redis_lua.RESERVE)
        self._settle = self._batcher.script(redis_lua.SETTLE)
        self._renew = self._batcher.script(redis_lua.RENEW)
        self._load = self._batcher.script(redis_lua.LOAD)

    # --- keys ------------------------------------------------------------------------
    def _keys(self, scopes: Sequence[BudgetScope]) -> list[str]:
        period = _period_of(scopes[0].key)
        return [
            self._prefix + "loaded:" + period,
            self._prefix + "leases",
            self._prefix + "res",
            *(self._prefix + s.key for s in scopes),
        ]

    # --- lifecycle ---------------------------------------------------------------
    async def close(self) -> None:
        await super().close()
        with contextlib.suppress(*REDIS_UNAVAILABLE):
            await self.replay()

    async def _background(self) -> None:
        """Renew this instance's leases and replay the settles Redis missed."""
        loop = asyncio.get_running_loop()
        next_renew = loop.time() + self.lease_s / 3
        while True:
            wait = self._replay_interval if self._pending else 0.5
            await asyncio.sleep(min(wait, self.lease_s / 3))
            try:
                if self._pending:
                    await self.replay()
                if loop.time() >= next_renew:
                    next_renew = loop.time() + self.lease_s / 3
                    await self.renew()
            except REDIS_UNAVAILABLE as exc:
                log.debug("budget counters: Redis unavailable (%s); will retry", exc)

    async def renew(self) -> int:
        """Extend the leases of every reservation this instance holds open."""
        if not self._open:
            return 0
        return int(
            await self._renew(keys=[self._prefix + "leases"], args=[self.lease_s, *self._open])
        )

    async def replay(self) -> None:
        """Apply, in order, the settles and releases Redis could not take when they happened."""
        while self._pending:
            keys, rid, actual, gen = self._pending[0]
            await self._settle(keys=list(keys), args=[rid, actual, gen, *self._publish])
            self._pending.pop(0)

    @property
    def pending(self) -> int:
        """Settles and releases waiting for Redis to come back."""
        return len(self._pending)

    # --- the protocol ----------------------------------------------------------------
    async def reserve(self, scopes: Sequence[BudgetScope], amount: int) -> ReserveResult:
        if amount < 0:
            raise ValueError("a reservation cannot be negative")
        keys = self._keys(scopes)
        rid = uuid.uuid4().hex
        budgets = ["" if s.budget_pico is None else str(s.budget_pico) for s in scopes]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._load_timeout
        while True:
            reply = await self._reserve(
                keys=keys, args=[amount, rid, self.lease_s, *budgets, self.waiters_flag]
            )
            if reply[0] != b"unloaded":
                break
            if loop.time() > deadline:
                raise StateUnavailable("The budget counters are being rebuilt; retry shortly.")
            await self.ensure_loaded(_period_of(scopes[0].key))
        outcome, index, gen = _OUTCOMES[reply[0]], int(reply[1]), reply_text(reply[2])
        self.generation = gen
        totals = self._totals_from(scopes, reply[3:])
        if outcome is ReserveOutcome.OK:
            self._open.add(rid)
            handle = ReservationHandle(scopes, amount, self, rid, gen)
            return ReserveResult(outcome, totals=totals, handle=handle)
        scope = scopes[index - 1]
        settled, reserved = totals[scope.key]
        return ReserveResult(outcome, scope.key, settled, reserved, scope.budget_pico, totals)

    async def settle(self, handle: ReservationHandle, actual: int) -> dict[str, ScopeTotals]:
        if actual < 0:
            raise ValueError("a cost cannot be negative")
        return await self._close_reservation(handle, actual)

    async def release(self, handle: ReservationHandle) -> dict[str, ScopeTotals]:
        return await self._close_reservation(handle, 0)

    def _closing(self, handle: ReservationHandle) -> tuple[str, str]:
        """The reservation id and generation to close ``handle`` under, no longer renewed
        from now on (``""`` and the current generation for a handle that holds nothing)."""
        if handle.holder is None:
            return "", self.generation
        if handle.holder is not self:
            raise ValueError("this reservation is held by another budget backend")
        self._open.discard(handle.rid)
        return handle.rid, handle.generation

    async def _close_reservation(
        self, handle: ReservationHandle, actual: int
    ) -> dict[str, ScopeTotals]:
        scopes = handle.scopes
        keys = tuple(self._keys(scopes))
        rid, gen = self._closing(handle)
        if self._pending:  # keep the order: this one goes behind those waiting
            self._pending.append((keys, rid, actual, gen))
            return self._known_totals(scopes)
        try:
            reply = await self._settle(keys=list(keys), args=[rid, actual, gen, *self._publish])
        except REDIS_UNAVAILABLE as exc:
            log.warning("budget settle kept for replay, Redis unavailable: %s", exc)
            self._pending.append((keys, rid, actual, gen))
            return self._known_totals(scopes)
        return self._totals_from(scopes, reply)

    # --- the steps of the combined scripts (:mod:`teamgate.shared_redis.gate`) -----------
    def reserve_parts(
        self, scopes: Sequence[BudgetScope], amount: int
    ) -> tuple[list[str], list[Any], str]:
        """The keys and arguments of a reservation of ``amount`` (as :meth:`reserve` sends,
        without the waiters flag) and its new reservation id."""
        if amount < 0:
            raise ValueError("a reservation cannot be negative")
        rid = uuid.uuid4().hex
        budgets = ["" if s.budget_pico is None else str(s.budget_pico) for s in scopes]
        return self._keys(scopes), [amount, rid, self.lease_s, *budgets], rid

    def note_reserved(
        self,
        scopes: Sequence[BudgetScope],
        amount: int,
        rid: str,
        generation: str,
        flat: Sequence[Any],
    ) -> tuple[ReservationHandle, dict[str, ScopeTotals]]:
        """Note a reservation another script made (leased and renewed from now on): its
        handle, and the scopes' totals from the script's flat reply."""
        self.generation = generation
        self._open.add(rid)
        handle = ReservationHandle(scopes, amount, self, rid, generation)
        return handle, self._totals_from(scopes, flat)

    def settle_parts(
        self, handle: ReservationHandle, actual: int
    ) -> tuple[tuple[str, ...], list[Any]] | None:
        """The keys and arguments of settling a reservation (``actual`` 0: releasing it) in
        another script, the reservation now counted as closed here; None when earlier
        settles wait for replay (this one must go behind them: use :meth:`settle`)."""
        if actual < 0:
            raise ValueError("a cost cannot be negative")
        if self._pending:
            return None
        rid, gen = self._closing(handle)
        return tuple(self._keys(handle.scopes)), [rid, actual, gen, *self._publish]

    def keep_for_replay(self, keys: tuple[str, ...], args: Sequence[Any]) -> None:
        """A settle from :meth:`settle_parts` that could not reach Redis: kept and replayed
        in order, like one of :meth:`settle`."""
        rid, actual, gen = args[0], args[1], args[2]
        log.warning("budget settle kept for replay, Redis unavailable")
        self._pending.append((keys, str(rid), int(actual), str(gen)))

    def totals_from(
        self, scopes: Sequence[BudgetScope], flat: Sequence[Any]
    ) -> dict[str, ScopeTotals]:
        """The scopes' totals from a script's flat reply (settled, reserved per scope)."""
        return self._totals_from(scopes, flat)

    async def charge(self, scopes: Sequence[BudgetScope], actual: int, generation: str) -> None:
        """Add spend settled elsewhere (fail-open memory) under ``generation``; kept if Redis
        is away and replayed, like a settle."""
        keys = tuple(self._keys(scopes))
        if self._pending:
            self._pending.append((keys, "", actual, generation))
            return
        try:
            await self._settle(keys=list(keys), args=["", actual, generation, *self._publish])
        except REDIS_UNAVAILABLE:
            self._pending.append((keys, "", actual, generation))

    async def totals(self, scope_key: str) -> ScopeTotals:
        settled, reserved = await self._client.hmget(
            self._prefix + scope_key, "settled", "reserved"
        )
        totals = ScopeTotals(int(settled or 0), int(reserved or 0))
        self._known[scope_key] = totals
        return totals

    async def load_settled(self, scope_key: str, settled: int) -> None:
        """Load the scope's month from the ledger unless Redis has it (the value is ignored:
        the whole month is loaded from ``spend_source`` at once, by one instance)."""
        await self.ensure_loaded(_period_of(scope_key))

    # --- loading a month from the ledger ---------------------------------------------------
    async def ensure_loaded(self, period_key: str) -> bool:
        """Make sure the month's counters are loaded; True if this call loaded them."""
        marker = self._prefix + "loaded:" + period_key
        if await self._client.exists(marker):
            return False
        if self._spend is None:
            raise RuntimeError("RedisBudgetCounters needs spend_source to load a month")
        lock = self._prefix + "loading:" + period_key
        token = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._load_timeout
        while not await self._client.set(lock, token, nx=True, px=int(self._load_timeout * 1000)):
            if await self._client.exists(marker):
                return False
            if loop.time() > deadline:
                raise StateUnavailable("The budget counters are being rebuilt; retry shortly.")
            await asyncio.sleep(0.05)
        try:
            if await self._client.exists(marker):
                return False
            # Let requests that settled while the marker was missing reach the ledger.
            await asyncio.sleep(self._rebuild_delay)
            period = period_named(period_key, self._tz)
            groups = await self._spend.usage_summary(
                period.start_ts, period.end_ts, SPEND_DIMENSIONS
            )
            keys, values = [marker], []
            for scope, settled in settled_by_scope(groups).items():
                keys.append(self._prefix + counter_key(scope, period_key))
                values.append(str(settled))
            loaded = bool(await self._load(keys=keys, args=[uuid.uuid4().hex, *values]))
            if loaded:
                log.info("budget counters for %s loaded from the ledger", period_key)
            return loaded
        finally:
            if await self._client.get(lock) == token.encode():
                await self._client.delete(lock)

    # --- totals ------------------------------------------------------------------------
    def _totals_from(
        self, scopes: Sequence[BudgetScope], flat: Sequence[Any]
    ) -> dict[str, ScopeTotals]:
        out = {
            s.key: ScopeTotals(int(flat[2 * i]), int(flat[2 * i + 1])) for i, s in enumerate(scopes)
        }
        self._known.update(out)
        return out

    def _known_totals(self, scopes: Sequence[BudgetScope]) -> dict[str, ScopeTotals]:
        return {s.key: self._known.get(s.key, ScopeTotals(0, 0)) for s in scopes}

    def known_totals(self, scope_key: str) -> ScopeTotals:
        """The last totals Redis reported for a scope (no I/O; for fail-open headroom)."""
        return self._known.get(scope_key, ScopeTotals(0, 0))
