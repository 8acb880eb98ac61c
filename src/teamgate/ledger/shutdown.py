"""The ledger's last act at a graceful stop, and its back-pressure on the request path.

:func:`close_ledger` writes everything pending; if the store keeps failing for
the whole grace period, it spills the records to a file
(:mod:`teamgate.ledger.spill`) and logs an ERROR naming it, so a stop never
loses records silently.

:func:`refuse_if_backlogged` is the disk-full policy on the request path:
while the store refuses writes, requests are still served and their records
wait in memory, up to ``storage.max_pending_records``; past that, requests
get 503 ``gateway_state_unavailable`` until the store takes writes
again (no request is served that could not be recorded). Every metered
endpoint applies it: :class:`~teamgate.lifecycle.MeteredRequest` checks it first.

>>> # await close_ledger(gateway.ledger, settings)  # in the lifespan shutdown
"""

from __future__ import annotations

import logging
import time

from teamgate.config.schema import Settings
from teamgate.http.errors import StateUnavailable
from teamgate.ledger.spill import spill_folder, write_spill
from teamgate.ledger.writer import LedgerNotFlushed, LedgerWriter

log = logging.getLogger("teamgate.ledger")


async def close_ledger(writer: LedgerWriter, settings: Settings) -> None:
    """Flush and stop ``writer``; spill what the store will not take within the grace period."""
    timeout = max(1.0, min(30.0, settings.server.grace_period_s))
    try:
        await writer.close(timeout_s=timeout)
    except LedgerNotFlushed as exc:
        records = writer.take_pending()
        folder = spill_folder(settings.storage.url)
        try:
            path = write_spill(folder, records, now=time.time())
        except OSError as spill_error:
            log.error(
                "LOST %d usage records: the store failed (%s) and the spill file in %s "
                "could not be written (%s)",
                len(records),
                exc,
                folder,
                spill_error,
            )
            return
        log.error(
            "the usage store failed at shutdown (%s); %d records written to %s "
            "(imported into the store at the next start)",
            exc,
            len(records),
            path,
        )


def refuse_if_backlogged(writer: LedgerWriter, max_pending: int) -> None:
    """Raise 503 while the store is failing and ``max_pending`` records wait in memory."""
    if writer.failing and writer.pending >= max_pending:
        raise StateUnavailable(
            "The gateway cannot record usage right now (its usage store is failing), "
            "so it is not taking requests. Please retry later."
        )
