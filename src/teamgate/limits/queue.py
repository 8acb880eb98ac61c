"""Waiting rooms: a FIFO queue per team, and the org's round-robin ring of teams.

Only the *head* of a team's queue tries to get in; the others wait on their own
``turn`` event, so the team's requests are admitted strictly in arrival order.
The head sleeps until its exact retry-after or until :meth:`TeamQueue.notify`
(a slot released, tokens refunded, limits reconfigured) wakes it, whichever is
first: there is no polling.

With ``org.fair_share``, a team whose head is blocked by an org limit joins the
:class:`FairRing`. While the ring is not empty only the team at its front may
try for org capacity; after one admission it goes to the back, so waiting
teams get org capacity in turn.

>>> q = TeamQueue()
>>> first, second = q.join(), q.join()
>>> first.turn.is_set(), second.turn.is_set()
(True, False)
>>> q.leave(first)
>>> second.turn.is_set()
True
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from teamgate.limits.refusal import Refusal


class Waiter:
    """One queued request; ``turn`` is set when it is the head of its team's queue."""

    __slots__ = ("turn",)

    def __init__(self) -> None:
        self.turn = asyncio.Event()


class TeamQueue:
    """The FIFO of one team's waiting requests, and the event that wakes its head."""

    def __init__(self) -> None:
        self._waiters: deque[Waiter] = deque()
        self.changed = asyncio.Event()
        self.last_refusal: Refusal | None = None  # the head's latest, for those timing out behind

    def __len__(self) -> int:
        return len(self._waiters)

    def join(self) -> Waiter:
        """Append a waiter; it has its turn at once if the queue was empty."""
        waiter = Waiter()
        self._waiters.append(waiter)
        if len(self._waiters) == 1:
            waiter.turn.set()
        return waiter

    def leave(self, waiter: Waiter) -> None:
        """Remove a waiter (admitted, timed out, gone or cancelled); idempotent."""
        if self._waiters and self._waiters[0] is waiter:
            self._waiters.popleft()
            if self._waiters:
                self._waiters[0].turn.set()
            return
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)

    def notify(self) -> None:
        """Wake the head: something it may be waiting for has changed."""
        self.changed.set()
        self.changed = asyncio.Event()


class FairRing:
    """Teams waiting for org capacity, served round-robin.

    >>> ring = FairRing()
    >>> ring.join("greedy"); ring.join("quiet")
    >>> ring.is_front("greedy"), ring.turn("quiet").is_set()
    (True, False)
    >>> ring.leave("greedy")
    >>> ring.turn("quiet").is_set()
    True
    """

    def __init__(self) -> None:
        self._teams: deque[str] = deque()
        self._turns: dict[str, asyncio.Event] = {}

    def __len__(self) -> int:
        return len(self._teams)

    def __contains__(self, team: object) -> bool:
        return team in self._turns

    def join(self, team: str) -> None:
        """Queue ``team`` at the back (no-op if it is already in the ring)."""
        if team in self._turns:
            return
        self._teams.append(team)
        self._turns[team] = asyncio.Event()
        if len(self._teams) == 1:
            self._turns[team].set()

    def is_front(self, team: str) -> bool:
        return bool(self._teams) and self._teams[0] == team

    def turn(self, team: str) -> asyncio.Event:
        """The event set when ``team`` reaches the front (the team must be in the ring)."""
        return self._turns[team]

    def leave(self, team: str) -> None:
        """Remove ``team``; the next team, if any, gets its turn. Idempotent."""
        if team not in self._turns:
            return
        del self._turns[team]
        self._teams.remove(team)
        if self._teams:
            self._turns[self._teams[0]].set()
