"""The counter protocol every rate-limit backend implements (memory and Redis).

A backend stores one float per rate key (the GCRA theoretical arrival time,
see :mod:`teamgate.limits.gcra`) and one integer per concurrency key. Each
method is one atomic step: :meth:`Counters.acquire` checks *all* its checks
and commits them only if every one passes (all-or-nothing). In Redis that is
one Lua script over ``KEYS = [c.key for c in checks]`` with
``ARGV = now, then (limit, period, cost) per check``: read every TAT, run
:func:`~teamgate.limits.gcra.gcra_check` for each, and ``SET ... PX`` all new
TATs (expiring at the TAT, after which the key is "full" anyway) only if all
passed. Keys are plain strings such as ``team:chatbot:rpm``,
``team:chatbot:model:llama-3.1-8b-instant:tpm``, ``org:rpm`` and
``org:model:M:tpm``; a Redis backend may prefix them but uses them as they are.

Concurrency slots are given back by handle: :meth:`Counters.try_take_slot` answers a
:class:`SlotHandle` (None: the key is full), and :meth:`~Counters.release_slot` takes it
back. The handle carries the key, the backend that holds the slot and its own id there,
so two slots of the same key are never mistaken for each other (one taken in memory
while Redis was away, one in Redis).

>>> import asyncio
>>> from teamgate.limits.memory import MemoryCounters
>>> c = MemoryCounters()
>>> slot = asyncio.run(c.try_take_slot("team:chatbot:concurrency", 1))
>>> slot, asyncio.run(c.try_take_slot("team:chatbot:concurrency", 1))
(SlotHandle(key='team:chatbot:concurrency'), None)
>>> asyncio.run(c.release_slot(slot)); c.slots_taken("team:chatbot:concurrency")
0

>>> check = RateCheck("team:chatbot:rpm", limit=60, period=60.0, cost=1)
>>> check.key
'team:chatbot:rpm'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from teamgate.limits.fast_admit import FastPlan


@dataclass(frozen=True, slots=True)
class RateCheck:
    """One limit to check: ``cost`` units against ``limit`` per ``period`` seconds."""

    key: str
    limit: int
    period: float
    cost: int


class SlotHandle:
    """One concurrency slot taken, as the backend that took it knows it: what
    ``release_slot`` needs, so no caller rebuilds it. Opaque to callers (pass it back as it
    is); only the backends read its fields. Two handles are the same slot only if they are
    the same object.

    ``holder`` is the backend that holds it; ``sid`` is its id there (its member in the
    Redis set of the key's holders; empty where the backend has none).
    """

    __slots__ = ("holder", "key", "sid")

    def __init__(self, key: str, holder: object, sid: str = "") -> None:
        self.key = key
        self.holder = holder
        self.sid = sid

    def __repr__(self) -> str:
        return f"SlotHandle(key={self.key!r})"


def check_holder(handle: SlotHandle, backend: object) -> None:
    """A ValueError unless ``backend`` holds ``handle`` (releasing it there would free
    another backend's slot)."""
    if handle.holder is not backend:
        raise ValueError("this concurrency slot is held by another limits backend")


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of :meth:`Counters.acquire`.

    - ``allowed``: every check passed and all were committed.
    - ``retry_after``: 0 when allowed; else the exact wait after which every
      blocking check passes (the max over them; ``inf`` if one can never pass).
    - ``blocking``: indices (into the checks) of every check that refused.
    - ``blocked_remaining``: units left on the first blocking check before this
      request (so ``used = limit - blocked_remaining``); 0 when allowed.
    - ``tats``: every check's TAT after the decision (committed or unchanged),
      for callers that want to compute headers without another round trip.
    """

    allowed: bool
    retry_after: float
    blocking: tuple[int, ...]
    blocked_remaining: int
    tats: tuple[float, ...]


@runtime_checkable
class Counters(Protocol):
    """Atomic rate counters and concurrency slots, shared by every gateway instance.

    Fast paths are part of the protocol: every backend implements the ``*_now``
    methods, answering synchronously when it can (the memory backend) and with
    None / False when the answer needs a round trip (Redis); the limiter then
    awaits the coroutine instead. ``suspends`` says whether the coroutines may
    yield to the loop (then the limiter shields a try against cancellation).

    Usage::

        decision = await counters.acquire([RateCheck("org:rpm", 30, 60.0, 1)], now)
        if decision.allowed:
            ...
        await counters.refund("team:a:tpm", 10000, 60.0, amount=1900, now=now)
    """

    @property
    def suspends(self) -> bool:
        """True when a call may yield to the event loop (a round trip)."""
        ...

    async def acquire(self, checks: Sequence[RateCheck], now: float) -> Decision:
        """Check every check; commit all of them iff all pass."""
        ...

    def try_admit_now(
        self, fast: FastPlan, tokens: int, now: float, slots: list[SlotHandle]
    ) -> list[float] | None:
        """Take every slot and charge every check of ``fast`` now, synchronously: the new
        TATs, the slots' handles appended to ``slots``. None, having taken nothing, when
        one would refuse or the backend cannot answer without a round trip."""
        ...

    def refund_now(
        self, key: str, limit: int, period: float, amount: int, now: float
    ) -> float | None:
        """:meth:`refund` synchronously (the new TAT), or None: await :meth:`refund`."""
        ...

    def peek_now(self, key: str, limit: int, period: float, now: float) -> tuple[int, float] | None:
        """:meth:`peek` synchronously, or None (no synchronous answer)."""
        ...

    def release_slot_now(self, slot: SlotHandle) -> bool:
        """:meth:`release_slot` synchronously: True when done, False: await it."""
        ...

    async def refund(self, key: str, limit: int, period: float, amount: int, now: float) -> float:
        """Give back ``amount`` units of ``key`` (never below empty); the new TAT."""
        ...

    async def peek(self, key: str, limit: int, period: float, now: float) -> tuple[int, float]:
        """``(remaining, reset_after_s)`` of ``key`` without changing it."""
        ...

    async def try_take_slot(self, key: str, limit: int) -> SlotHandle | None:
        """Take one concurrency slot of ``key`` if fewer than ``limit`` are taken: its
        handle, to release; None when full."""
        ...

    async def release_slot(self, slot: SlotHandle) -> None:
        """Give back the slot ``slot`` holds (never below zero)."""
        ...


class RoundTripCounters:
    """The fast-path half of :class:`Counters` for a backend with no synchronous
    answers (Redis and its failover wrapper): every ``*_now`` declines, so the caller
    awaits the round trip."""

    suspends = True

    def try_admit_now(
        self, fast: FastPlan, tokens: int, now: float, slots: list[SlotHandle]
    ) -> list[float] | None:
        return None

    def refund_now(
        self, key: str, limit: int, period: float, amount: int, now: float
    ) -> float | None:
        return None

    def peek_now(self, key: str, limit: int, period: float, now: float) -> tuple[int, float] | None:
        return None

    def release_slot_now(self, slot: SlotHandle) -> bool:
        return False
