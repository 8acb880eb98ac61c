"""Settle batches nobody asks about, and keep their reservations across restarts.

:class:`BatchPoller` runs in every gateway process (the app's lifespan starts it):

* **At start** (:meth:`BatchPoller.restore`, before the gateway serves): every
  open batch in the store (an owned ``batch`` not settled) that this process
  holds no reservation for is re-reserved with its stored worst case, with
  :meth:`~teamgate.budget.book.BudgetBook.hold` (never refused: Groq is already
  running it). So a restart neither forgets a batch's reservation nor, since
  settling is exactly-once in the store, charges it twice.
* **Every** ``batches.poll_interval_s`` (60 s by default; first poll at once):
  each open batch is fetched at Groq (``GET /openai/v1/batches/{id}`` with its
  Groq Project's upstream key) and settled if finished
  (:func:`~.batch_settlement.settle_if_finished`). Reservations this process
  holds for batches settled elsewhere (another instance) are released.

Several instances may poll the same store: the store's
``settle_owned_object`` lets exactly one write the ledger rows. With a shared
Redis budget, each instance that starts while a batch is open holds its own
re-reservation until the batch settles (conservative: it can refuse requests
early, never overspend).

>>> # poller = BatchPoller(gateway); await poller.start(); ...; await poller.close()
>>> # await poller.poll_once()   # tests: poll now, returns how many batches it settled
"""

from __future__ import annotations

import asyncio
import logging

from teamgate.background.tasks import stop_task
from teamgate.budget import Payer
from teamgate.endpoints.batch_settlement import (
    POLLER_SCOPE,
    batch_owner,
    release_local,
    settle_if_finished,
)
from teamgate.endpoints.ownership import json_object, store_of
from teamgate.endpoints.relay import open_for
from teamgate.ledger.owned import OwnedObject
from teamgate.runtime import Gateway

log = logging.getLogger("teamgate.batches")


class BatchPoller:
    """Polls a gateway's open batches; see the module docstring."""

    def __init__(self, gw: Gateway) -> None:
        self._gw = gw
        self._task: asyncio.Task[None] | None = None
        self.polls = 0  # completed polling rounds (for tests and metrics)
        self.first_round = asyncio.Event()  # set once the start-up round is done

    async def open_batches(self) -> list[OwnedObject]:
        """Every batch of a configured team that is not settled yet, oldest first per team."""
        store = store_of(self._gw)
        found: list[OwnedObject] = []
        for team in self._gw.settings.teams:
            found.extend(o for o in await store.list_owned_objects("batch", team) if not o.settled)
        return found

    async def restore(self) -> int:
        """Re-reserve the worst case of open batches this process holds nothing for."""
        held = self._gw.endpoints.batch_reservations
        restored = 0
        for obj in await self.open_batches():
            if obj.object_id in held:
                continue
            held[obj.object_id] = await self._gw.budget.hold(
                Payer(obj.team, obj.environment), obj.worst_case_pusd
            )
            restored += 1
        if restored:
            log.warning("re-reserved the worst case of %d open batch(es)", restored)
        return restored

    async def poll_once(self) -> int:
        """Fetch every open batch at Groq and settle the finished ones; how many it settled."""
        settled = 0
        open_ids = set()
        for obj in await self.open_batches():
            open_ids.add(obj.object_id)
            try:
                settled += await self._poll(obj)
            except Exception:
                log.exception("batch %s: polling failed; will retry", obj.object_id)
        for batch_id in list(self._gw.endpoints.batch_reservations):
            if batch_id not in open_ids:
                found = await store_of(self._gw).get_owned_object("batch", batch_id)
                if found is None or found.settled:
                    await release_local(self._gw, batch_id)
        self.polls += 1
        return settled

    async def _poll(self, obj: OwnedObject) -> bool:
        owner = batch_owner(obj, None)
        if (owner.team, owner.environment) not in self._gw.projects:
            return False
        path = f"/openai/v1/batches/{obj.object_id}"
        opened = await open_for(self._gw, owner, POLLER_SCOPE, None, path=path)
        resp = opened.resp
        try:
            data = await resp.read()
        finally:
            resp.release()
        batch = json_object(data) if resp.status == 200 else None
        if batch is None:
            log.warning("batch %s: Groq answered %d when polled", obj.object_id, resp.status)
            return False
        return await settle_if_finished(self._gw, POLLER_SCOPE, None, obj, batch)

    # --- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        """Restore reservations now, then poll in the background (first round at once)."""
        await self.restore()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="teamgate-batch-poller")

    async def _run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception:
                log.exception("batch polling round failed; will retry")
            self.first_round.set()
            await asyncio.sleep(self._gw.settings.batches.poll_interval_s)

    async def close(self) -> None:
        await stop_task(self._task)
        self._task = None
