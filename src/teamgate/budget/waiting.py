"""Waiting for budget: the requests whose worst case fits only once reservations close.

Waiting, exactly: when the worst case fits beside the settled spend but not beside
the open reservations (``WAIT``), :meth:`BudgetBook.reserve
<teamgate.budget.book.BudgetBook.reserve>` waits for any settle, release or
reconfiguration in this process (an event, no polling: :class:`Changes`) and tries
again. After ``max_wait_s`` it tries one last time; if the answer is still ``WAIT`` it
raises :class:`~teamgate.http.errors.BudgetExceeded` with ``x-should-retry: true`` (the
budget may pay for it later; :func:`teamgate.budget.refusals.wait_timeout`). A
``REFUSED`` answer raises at once with ``x-should-retry: false``. If ``client_gone`` is
set while waiting, :class:`ReservationAbandoned` is raised.

>>> import asyncio
>>> async def demo() -> tuple[bool, int]:
...     changes = Changes()
...     changed = changes.event           # taken before trying
...     asyncio.get_running_loop().call_soon(changes.signal)
...     await changes.wait(changed, 5.0, None)
...     return changed.is_set(), changes.waiters
>>> asyncio.run(demo())
(True, 0)
"""

from __future__ import annotations

import asyncio
import contextlib


class ReservationAbandoned(Exception):
    """The client went away while its request waited for budget; nothing is reserved."""


class Changes:
    """Something that may let a waiting reservation fit happened: every waiter retries.

    One event per generation: :meth:`signal` sets the current one (waking everyone who
    took it) and starts a fresh one for later waiters. ``waiters`` counts the requests
    waiting right now.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.waiters = 0

    @property
    def event(self) -> asyncio.Event:
        """The current generation's event: take it before trying, wait on it after."""
        return self._event

    def signal(self) -> None:
        """Wake every waiter (they retry); later waiters get a fresh event."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait(
        self, changed: asyncio.Event, within_s: float, client_gone: asyncio.Event | None
    ) -> None:
        """Return when ``changed`` is set or ``within_s`` passed; raise
        :class:`ReservationAbandoned` if ``client_gone`` was set meanwhile."""
        self.waiters += 1
        try:
            if client_gone is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), within_s)
                return
            waits = {
                asyncio.ensure_future(changed.wait()),
                asyncio.ensure_future(client_gone.wait()),
            }
            try:
                await asyncio.wait(waits, timeout=within_s, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in waits:
                    task.cancel()
            if client_gone.is_set():
                raise ReservationAbandoned("the client went away while waiting for budget")
        finally:
            self.waiters -= 1
