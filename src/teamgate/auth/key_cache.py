"""Client-key authentication with a cache that follows the store.

The cache maps key hashes to :class:`ClientKey` records. A background task
polls ``store.client_keys_version()`` every ``refresh_s`` (1 s by default) and
reloads when it changed, so a key revoked by the CLI, the admin API or
another gateway instance is refused within about a second, without a restart.
Pause switches (:mod:`teamgate.auth.pauses`) ride on the same number.
Expiry is checked on every lookup against the clock.

>>> # cache = KeyCache(store); await cache.start(); cache.authenticate("Bearer tg_...")
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Callable

from teamgate.auth.keys import ADMIN_PREFIX, PREFIX, credential_role, hash_secret
from teamgate.auth.pauses import PauseSet
from teamgate.background.tasks import stop_task
from teamgate.http.errors import InvalidApiKey
from teamgate.ledger.pause_records import Pause
from teamgate.ledger.records import ClientKey
from teamgate.ledger.store import Store
from teamgate.observability.fault_log import FaultLog

log = logging.getLogger("teamgate.auth")


class KeyCache:
    def __init__(
        self,
        store: Store,
        *,
        refresh_s: float = 1.0,
        clock: Callable[[], float] = time.time,
        fault_repeat_s: float = 30.0,
    ) -> None:
        self._store = store
        # A store outage: one warning, at most one more every fault_repeat_s, one "recovered".
        self._fault = FaultLog(log, "key cache: store", repeat_s=fault_repeat_s)
        self._refresh_s = refresh_s
        self._clock = clock
        self._by_hash: dict[str, ClientKey] = {}
        self._pauses = PauseSet()
        self._pause_list: list[Pause] = []
        self._version: int | None = None
        self._last_used: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._poll(), name="teamgate-key-cache")

    async def close(self) -> None:
        await stop_task(self._task)
        self._task = None
        await self._flush_last_used()

    async def refresh(self, *, force: bool = False) -> None:
        version = await self._store.client_keys_version()
        if force or version != self._version:
            keys = await self._store.list_client_keys()
            pauses = await self._store.list_pauses()
            self._by_hash = {k.key_hash: k for k in keys}
            if self._version is not None and pauses != self._pause_list:
                log.info("pause switches now: %s", ", ".join(p.scope for p in pauses) or "none")
            self._pauses, self._pause_list = PauseSet(pauses), pauses
            self._version = version

    def paused(self, key: ClientKey) -> Pause | None:
        """The operator's pause that stops ``key`` now (pauses follow the store like keys)."""
        if not self._pauses:
            return None
        return self._pauses.find(key, self._clock())

    def authenticate(self, authorization: bytes | str | None) -> ClientKey:
        """The live key for an ``Authorization`` header value, else :class:`InvalidApiKey`."""
        if not authorization:
            raise InvalidApiKey()
        if isinstance(authorization, bytes):
            try:
                authorization = authorization.decode("latin-1")
            except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes any byte
                raise InvalidApiKey() from None
        scheme, _, secret = authorization.partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret.startswith(PREFIX):
            raise InvalidApiKey()
        digest = hash_secret(secret)
        key = self._by_hash.get(digest)
        # The dict lookup is by hash of the secret; compare again in constant time
        # so that no timing difference depends on how much of the secret matched.
        if key is None or not hmac.compare_digest(key.key_hash, digest):
            raise InvalidApiKey()
        now = self._clock()
        if not key.usable(now):
            raise InvalidApiKey()
        self._last_used[key.name] = now
        return key

    def credential(self, presented: bytes | str | None) -> ClientKey | None:
        """The live ``tga_`` credential (team admin, viewer) presented as ``Bearer tga_…``
        or bare, else None. Client keys (``tg_``) are never credentials here."""
        if not presented:
            return None
        text = presented.decode("latin-1") if isinstance(presented, bytes) else presented
        if text[:7].lower() == "bearer ":
            text = text[7:]
        secret = text.strip()
        if not secret.startswith(ADMIN_PREFIX):
            return None
        digest = hash_secret(secret)
        key = self._by_hash.get(digest)
        if key is None or not hmac.compare_digest(key.key_hash, digest):
            return None
        now = self._clock()
        if credential_role(key) is None or not key.usable(now):
            return None
        self._last_used[key.name] = now
        return key

    def team_of(self, authorization: bytes | str | None) -> str | None:
        """The team of a live key, else None (for the access log; never raises)."""
        try:
            return self.authenticate(authorization).team
        except InvalidApiKey:
            return None

    def __len__(self) -> int:
        return len(self._by_hash)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_s)
            try:
                await self.refresh()
                await self._flush_last_used()
            except Exception as exc:  # the store may be briefly unavailable; keep serving
                self._fault.failed(exc)
            else:
                self._fault.ok()

    async def _flush_last_used(self) -> None:
        if self._last_used:
            batch, self._last_used = self._last_used, {}
            await self._store.touch_client_keys(batch)
