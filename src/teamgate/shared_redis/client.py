"""Shared state for several gateway instances: Redis-backed limits and budgets, wake-ups.

Built by the :class:`~teamgate.runtime.Gateway` when ``redis.url`` is set:

- rate limits: :class:`~teamgate.shared_redis.limits.RedisCounters` behind
  :class:`~teamgate.shared_redis.limits_failover.FailoverCounters`;
- budgets: :class:`~teamgate.shared_redis.budget.RedisBudgetCounters` behind
  :class:`~teamgate.shared_redis.budget_failover.FailoverBudgetCounters`;
- one script call on each side of a request (admission with reservation, settle with
  the corrections): :class:`~teamgate.shared_redis.gate.CombinedGate`;
- budget wake-ups: settles and releases publish on ``<prefix>budget:changed``;
  a listener here wakes this instance's waiting requests, and while any wait
  it also wakes them every ``recheck_s`` (in case a message was missed).

Key revocations need nothing here: the key cache polls the shared store's
``client_keys_version()`` every second, which with PostgreSQL (or one SQLite
file shared by the workers of one machine) is the same for every instance.

>>> # shared = SharedState(settings.redis); limiter = Limiter(settings, shared.counters)
>>> # budget_counters = shared.budget_counters(store, timezone); await shared.start(book.wake)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from teamgate.background.tasks import stop_task
from teamgate.config.schema import RedisSettings
from teamgate.shared_redis.batching import REDIS_UNAVAILABLE, ScriptBatcher
from teamgate.shared_redis.budget import RedisBudgetCounters
from teamgate.shared_redis.budget_failover import FailoverBudgetCounters
from teamgate.shared_redis.gate import CombinedGate
from teamgate.shared_redis.limits import RedisCounters
from teamgate.shared_redis.limits_failover import FailoverCounters

log = logging.getLogger("teamgate.shared")


def redis_client(url: str, *, max_connections: int = 64, timeout_s: float = 2.0) -> Redis:
    """A client that fails fast (no retries, short timeouts) and reconnects on the next call."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout_s,
        socket_timeout=timeout_s,
        socket_connect_timeout=min(timeout_s, 1.0),
        retry=Retry(NoBackoff(), 0),
    )
    return Redis(connection_pool=pool)


class SharedState:
    """The Redis client and the shared backends of one gateway instance."""

    def __init__(self, settings: RedisSettings, *, recheck_s: float = 0.25) -> None:
        if not settings.url:
            raise ValueError("SharedState needs redis.url")
        self.settings = settings
        self.client = redis_client(settings.url)
        self._recheck_s = recheck_s
        self.batcher = ScriptBatcher(self.client, dedicated=True)
        self.counters = FailoverCounters(
            RedisCounters(
                self.client, settings.key_prefix, lease_s=settings.lease_s, batcher=self.batcher
            ),
            mode=settings.failure_mode,
            instances=settings.instances,
        )
        self.budget: FailoverBudgetCounters | None = None
        self.gate: CombinedGate | None = None  # once the budget counters exist
        self._task: asyncio.Task[None] | None = None

    def budget_counters(self, spend_source: Any, timezone: str) -> FailoverBudgetCounters:
        primary = RedisBudgetCounters(
            self.client,
            self.settings.key_prefix,
            spend_source=spend_source,
            timezone=timezone,
            lease_s=self.settings.lease_s,
            batcher=self.batcher,
        )
        self.budget = FailoverBudgetCounters(
            primary, mode=self.settings.failure_mode, instances=self.settings.instances
        )
        self.gate = CombinedGate(self.counters, self.budget, self.batcher)
        return self.budget

    async def start(self, wake: Callable[[], None], waiting: Callable[[], int]) -> None:
        """Start the lease renewals and the wake-up listener (``wake`` wakes budget waiters)."""
        await self.counters.start()
        if self.budget is not None:
            await self.budget.start()
            channel = self.budget.primary.channel
            self._task = asyncio.create_task(
                self._listen(channel, wake, waiting), name="teamgate-budget-wakeups"
            )

    async def close(self) -> None:
        await stop_task(self._task)
        await self.counters.close()
        if self.budget is not None:
            await self.budget.close()
        await self.batcher.aclose()
        await self.client.aclose()
        await self.client.connection_pool.aclose()

    async def _listen(
        self, channel: str, wake: Callable[[], None], waiting: Callable[[], int]
    ) -> None:
        while True:
            pubsub = self.client.pubsub()
            try:
                await pubsub.subscribe(channel)
                while True:
                    message = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=self._recheck_s
                    )
                    if message is not None or waiting():
                        wake()
            except REDIS_UNAVAILABLE as exc:
                log.debug("budget wake-up channel lost (%s); resubscribing", exc)
                if waiting():
                    wake()
                await asyncio.sleep(self._recheck_s)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
