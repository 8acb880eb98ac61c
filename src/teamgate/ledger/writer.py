"""Batched, off-the-request-path writes of usage records.

The request path calls :meth:`LedgerWriter.append` (a list append, nothing
more). A background task writes what has accumulated every
``flush_interval_s`` in batches of at most ``max_batch`` records, each batch
one transaction. A failed write keeps its batch and retries it, with
exponential backoff, before anything newer: records are never dropped and
stay in order. On a hard kill at most the records of the last interval (plus
any batch the store was failing to take) are lost.

>>> async def serve(store: Store) -> None:  # doctest: +SKIP
...     writer = LedgerWriter(store, flush_interval_s=0.1)
...     writer.start()
...     writer.append(record)  # on each request
...     await writer.close()  # at graceful shutdown: everything is written
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from teamgate.ledger.records import UsageRecord
from teamgate.ledger.refused_model import RequestedModelLabel
from teamgate.ledger.store import Store

log = logging.getLogger("teamgate.ledger")


class LedgerNotFlushed(RuntimeError):
    """:meth:`LedgerWriter.close` gave up on a store that kept failing; records remain pending."""


class LedgerWriter:
    """Buffers usage records and writes them to a :class:`Store` in the background.

    Usage::

        writer = LedgerWriter(store, flush_interval_s=0.1)
        writer.start()            # in the app's lifespan, with a running loop
        writer.append(record)     # on the request path: O(1), never blocks
        await writer.flush()      # when a reader needs the store up to date
        await writer.close()      # at shutdown: writes everything left
    """

    def __init__(
        self,
        store: Store,
        flush_interval_s: float = 0.1,
        max_batch: int = 5000,
        *,
        retry_initial_s: float = 0.05,
        retry_max_s: float = 5.0,
        model_label: RequestedModelLabel | None = None,
    ) -> None:
        if flush_interval_s <= 0 or max_batch < 1:
            raise ValueError("flush_interval_s must be > 0 and max_batch >= 1")
        self._store = store
        self._interval = flush_interval_s
        self._max_batch = max_batch
        self._retry_initial = retry_initial_s
        self._retry_max = retry_max_s
        self._buffer: list[UsageRecord] = []
        self._unwritten: list[UsageRecord] = []  # taken from the buffer, not yet stored
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._failures = 0  # consecutive failed writes
        self.written = 0  # records stored since start (for metrics)
        # Unresolved requested models: kept only when known (refused_model.py).
        self._model_label = model_label or RequestedModelLabel(lambda _name: False)

    @property
    def pending(self) -> int:
        """Records appended but not yet stored."""
        return len(self._buffer) + len(self._unwritten)

    @property
    def failing(self) -> bool:
        """True while the store is refusing writes (the last attempt failed)."""
        return self._failures > 0

    def append(self, record: UsageRecord) -> None:
        """Queue one record; the background task stores it within one interval."""
        if not record.model_served and record.model_requested:
            record = self._model_label.apply(record)
        self._buffer.append(record)
        if len(self._buffer) >= self._max_batch:
            self._wake.set()

    def start(self) -> None:
        """Launch the background flush task (needs a running event loop)."""
        if self._task is None:
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="teamgate-ledger-writer"
            )

    async def _run(self) -> None:
        while not self._stopping:
            delay = self._interval
            if self._failures:
                delay = min(self._retry_max, self._retry_initial * 2 ** (self._failures - 1))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()
            if self._stopping:
                break
            with contextlib.suppress(Exception):  # logged in _write_pending; kept for retry
                await self.flush()

    async def flush(self) -> None:
        """Store everything appended so far, now. Raises the store's error if it fails
        (the records stay pending and are retried)."""
        async with self._lock:
            self._unwritten.extend(self._buffer)
            self._buffer = []
            while self._unwritten:
                batch = self._unwritten[: self._max_batch]
                try:
                    await self._store.append_usage(batch)
                except Exception as exc:
                    self._failures += 1
                    if self._failures == 1:
                        log.error(
                            "ledger write failed, %d records kept for retry: %s",
                            len(self._unwritten),
                            exc,
                        )
                    raise
                del self._unwritten[: len(batch)]
                self.written += len(batch)
                if self._failures:
                    log.warning("ledger write recovered after %d failed attempts", self._failures)
                    self._failures = 0

    def take_pending(self) -> list[UsageRecord]:
        """Remove and return every record not yet stored, oldest first (for a spill file
        after :meth:`close` gave up)."""
        taken = [*self._unwritten, *self._buffer]
        self._unwritten, self._buffer = [], []
        return taken

    async def close(self, timeout_s: float = 30.0) -> None:
        """Stop the background task and write everything left.

        Retries a failing store with backoff for up to ``timeout_s``; raises
        :class:`LedgerNotFlushed` (records still pending) if it never succeeds.
        """
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            task, self._task = self._task, None
            await task
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        attempt = 0
        while True:
            try:
                await self.flush()
                return
            except Exception as exc:
                attempt += 1
                delay = min(self._retry_max, self._retry_initial * 2 ** (attempt - 1))
                if loop.time() + delay > deadline:
                    raise LedgerNotFlushed(
                        f"{self.pending} usage records could not be written: {exc}"
                    ) from exc
                await asyncio.sleep(delay)
