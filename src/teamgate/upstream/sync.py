"""The background task that keeps a gateway's upstream keys current.

Every ``poll_s`` (1 s) it asks the store for ``upstream_state_version()`` and,
when it changed, applies the new key states (a rotation from the CLI or
another gateway reaches this one within about a second); every
``secrets_interval_s`` (``secrets.refresh_interval_s``, 60 s) it re-reads every
secret; and it writes the per-key request counts to the store. :meth:`reload`
does all of it now (``teamgate reload``, SIGHUP).

>>> # sync = UpstreamSync(ring, store, secrets_interval_s=60); await sync.start()
>>> # ...; await sync.reload(); ...; await sync.close()
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from teamgate.background.tasks import stop_task
from teamgate.ledger.store import Store
from teamgate.observability.fault_log import FaultLog
from teamgate.upstream.keyring import KeyRing, SecretProblem

log = logging.getLogger("teamgate.upstream")


class UpstreamSync:
    """Polls the store and the secret sources for one :class:`KeyRing`."""

    def __init__(
        self,
        ring: KeyRing,
        store: Store,
        *,
        poll_s: float = 1.0,
        secrets_interval_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ring = ring
        self._store = store
        self._poll_s = poll_s
        self._interval_s = secrets_interval_s
        self._clock = clock
        self._version: int | None = None
        self._next_reread = 0.0
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        # A store outage: one warning, at most one more every fault.repeat_s, one "recovered".
        self.fault = FaultLog(log, "upstream key sync: store")

    async def start(self) -> None:
        """Apply the stored states (an unreadable secret is a ConfigError), then poll."""
        async with self._lock:
            self._version = await self._store.upstream_state_version()
            await self.ring.apply(await self._store.upstream_key_states(), strict=True)
            self._next_reread = self._clock() + self._interval_s
        self._task = asyncio.create_task(self._loop(), name="teamgate-upstream-sync")

    async def close(self) -> None:
        await stop_task(self._task)
        self._task = None
        try:
            await self.flush()
        except Exception as exc:
            log.error("could not write upstream key usage at shutdown: %s", type(exc).__name__)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._poll_s)
            try:
                await self.tick()
            except Exception as exc:  # the store may be briefly unavailable; keep serving
                self.fault.failed(exc)
            else:
                self.fault.ok()

    async def tick(self) -> list[SecretProblem]:
        """One round: follow state changes, re-read secrets when due, write usage."""
        problems: list[SecretProblem] = []
        async with self._lock:
            version = await self._store.upstream_state_version()
            reread = self._clock() >= self._next_reread
            if version != self._version or reread:
                states = None
                if version != self._version:
                    states = await self._store.upstream_key_states()
                    self._version = version
                if reread:
                    self._next_reread = self._clock() + self._interval_s
                problems = await self.ring.apply(states, reread=reread)
        await self.flush()
        return problems

    async def reload(self) -> list[SecretProblem]:
        """Re-read the stored states and every secret now."""
        async with self._lock:
            self._version = await self._store.upstream_state_version()
            states = await self._store.upstream_key_states()
            self._next_reread = self._clock() + self._interval_s
            return await self.ring.apply(states, reread=True)

    async def flush(self) -> None:
        """Write the request counts gathered since the last flush."""
        batch = self.ring.tally.drain()
        if not batch:
            return
        try:
            await self._store.record_upstream_usage(batch)
        except BaseException:
            self.ring.tally.restore(batch)
            raise
