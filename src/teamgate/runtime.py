"""The gateway's running state, built once from the settings and handed to handlers.

:class:`Gateway` owns every long-lived object (store, key cache, limiter,
budget book, ledger writer, upstream client and key pools). It is created and
opened in the app's lifespan and closed there; nothing lives in module globals,
so tests build as many gateways as they like.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from teamgate.alerts import AlertManager
from teamgate.auth import KeyCache
from teamgate.budget import BudgetBook, MemoryBudgetCounters
from teamgate.config.schema import Settings
from teamgate.errors import ConfigError
from teamgate.ledger import open_store
from teamgate.ledger.store import Store
from teamgate.ledger.writer import LedgerWriter
from teamgate.limits import Limiter, MemoryCounters
from teamgate.policy import TeamPolicy
from teamgate.pricing import PriceTable
from teamgate.request_ids import RequestIds
from teamgate.secrets import SecretUnavailable, resolve_secret
from teamgate.upstream.client import UpstreamClient
from teamgate.upstream.pool import ProjectKeys, UpstreamKey

log = logging.getLogger("teamgate")


def build_projects(
    settings: Settings, env: Mapping[str, str]
) -> dict[tuple[str, str], ProjectKeys]:
    """Resolve every upstream key's secret; a missing one is an error naming its reference."""
    projects: dict[tuple[str, str], ProjectKeys] = {}
    for team in settings.teams.values():
        for env_name, environment in team.environments.items():
            keys = []
            for i, ref in enumerate(environment.upstream_keys):
                try:
                    secret = resolve_secret(ref.secret, env)
                except SecretUnavailable as exc:
                    path = f"teams.{team.name}.environments.{env_name}.upstream_keys[{i}].secret"
                    raise ConfigError(path, str(exc)) from None
                keys.append(UpstreamKey(ref.name, secret, ref.state))
            project = environment.project or f"{team.name}-{env_name}"
            projects[(team.name, env_name)] = ProjectKeys(
                project, keys, settings.upstream.key_selection
            )
    return projects


@dataclass
class Gateway:
    settings: Settings
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    store: Store | None = None

    def __post_init__(self) -> None:
        s = self.settings
        self.policies = {name: TeamPolicy.compile(t, s.aliases) for name, t in s.teams.items()}
        self.prices = PriceTable.from_settings(s)
        self.projects = build_projects(s, self.env)
        self.limiter = Limiter(s, MemoryCounters())
        self.client = UpstreamClient(
            s.upstream.base_url,
            timeout_s=s.upstream.timeout_s,
            connect_timeout_s=s.upstream.connect_timeout_s,
            max_connections=s.upstream.max_connections,
        )
        self.started_at = time.time()
        self.request_ids = RequestIds()

    async def open(self) -> None:
        if self.store is None:
            self.store = open_store(self.settings.storage.url)
        await self.store.open()
        self.keys = KeyCache(self.store)
        await self.keys.start()
        self.ledger = LedgerWriter(
            self.store, flush_interval_s=self.settings.storage.flush_interval_ms / 1000
        )
        self.ledger.start()
        self.alerts = AlertManager(self.settings, self.store)
        self.budget = BudgetBook(
            self.settings, MemoryBudgetCounters(), on_settled=self.alerts.check_nowait
        )
        await self.budget.load(self.store)
        await self.client.open()

    async def close(self) -> None:
        await self.client.close()
        await self.keys.close()
        await self.ledger.close()
        await self.alerts.close()
        assert self.store is not None
        await self.store.close()
