"""The gateway's running state, built once from the settings and handed to handlers.

:class:`Gateway` owns every long-lived object (store, key cache, limiter,
budget book, ledger writer, upstream client and key pools). It is created and
opened in the app's lifespan and closed there; nothing lives in module globals,
so tests build as many gateways as they like.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from teamgate.auth.gate import AuthGate
from teamgate.auth.key_cache import KeyCache
from teamgate.auth.pauses import PauseExpiry
from teamgate.background.tasks import Periodic
from teamgate.budget import BudgetBook, BudgetCounters, MemoryBudgetCounters
from teamgate.budget.forecast import FORECAST_INTERVAL_S, ForecastWatch
from teamgate.config.errors import ConfigError
from teamgate.config.extras import import_for, scheme_of
from teamgate.config.loader import load_settings
from teamgate.config.schema import Settings
from teamgate.endpoints.state import EndpointState
from teamgate.http.request_ids import RequestIds
from teamgate.ledger import open_store
from teamgate.ledger.refused_model import RequestedModelLabel
from teamgate.ledger.shutdown import close_ledger
from teamgate.ledger.spill import import_spills, spill_folder
from teamgate.ledger.store import Store
from teamgate.ledger.writer import LedgerWriter
from teamgate.limits import Limiter, MemoryCounters
from teamgate.observability.alerts import AlertManager
from teamgate.observability.metrics import Metrics
from teamgate.observability.tracing import OFF as TRACING_OFF
from teamgate.observability.tracing import Tracing
from teamgate.policy.rules import TeamPolicy
from teamgate.pricing.prices import PriceTable
from teamgate.secrets import SecretResolver
from teamgate.upstream.client import UpstreamClient
from teamgate.upstream.keyring import KeyRing
from teamgate.upstream.sync import UpstreamSync

if TYPE_CHECKING:
    from teamgate.shared_redis.client import SharedState

log = logging.getLogger("teamgate")

PAUSE_EXPIRY_INTERVAL_S = 5.0
"""How often each gateway looks for pauses that ended by their ``until``."""


@dataclass
class Gateway:
    settings: Settings
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    store: Store | None = None
    config_path: Path | None = None  # where reload() reads the settings from

    def __post_init__(self) -> None:
        s = self.settings
        self.policies = {name: TeamPolicy.compile(t, s.aliases) for name, t in s.teams.items()}
        self.prices = PriceTable.from_settings(s)
        self.keyring = KeyRing(s, SecretResolver(self.env))
        self.projects = self.keyring.by_env
        self.shared: SharedState | None = None
        if s.redis.url:  # redis-py is an extra: imported only when configured
            shared = import_for(
                "teamgate.shared_redis.client", "redis", "redis.url", scheme_of(s.redis.url)
            )
            self.shared = shared.SharedState(s.redis)
        if self.shared is not None:
            self.limiter = Limiter(s, self.shared.counters, slot_recheck_s=0.2)
        else:
            self.limiter = Limiter(s, MemoryCounters())
        self.client = UpstreamClient(
            s.upstream.base_url,
            timeout_s=s.upstream.timeout_s,
            connect_timeout_s=s.upstream.connect_timeout_s,
            max_connections=s.upstream.max_connections,
        )
        self.endpoints = EndpointState()  # audio prices, open batch reservations
        self.metrics = Metrics()
        self.request_ids = RequestIds()
        self.tracing: Tracing = TRACING_OFF  # set by middleware.wrap_for_serving
        # One failure throttle for every listener of this process (proxy and admin).
        self.auth_gate = AuthGate.from_settings(s.server)

    async def open(self) -> None:
        if self.store is None:
            self.store = open_store(self.settings.storage.url)
        await self.store.open()
        repeat_s = self.settings.logging.fault_repeat_s
        self.keys = KeyCache(self.store, fault_repeat_s=repeat_s)
        await self.keys.start()
        self.ledger = LedgerWriter(
            self.store,
            flush_interval_s=self.settings.storage.flush_interval_ms / 1000,
            model_label=RequestedModelLabel(self.knows_model),
        )
        self.ledger.start()
        await import_spills(self.store, spill_folder(self.settings.storage.url))
        self.alerts = AlertManager(self.settings, self.store, secrets=SecretResolver(self.env))
        store = self.store
        self.alert_watches = [
            Periodic(
                "teamgate-forecast",
                ForecastWatch(
                    store,
                    lambda: self.settings,
                    self.alerts.forecast,
                    keys=store.list_client_keys,
                ).check_once,
                FORECAST_INTERVAL_S,
            ),
            Periodic(
                "teamgate-pause-expiry",
                PauseExpiry(store, self.alerts.notify_once).check_once,
                PAUSE_EXPIRY_INTERVAL_S,
            ),
        ]
        for watch in self.alert_watches:
            watch.start()
        counters: BudgetCounters = MemoryBudgetCounters()
        if self.shared is not None:
            counters = self.shared.budget_counters(self.store, self.settings.org.timezone)
        self.budget = BudgetBook(
            self.settings,
            counters,
            on_settled=self.alerts.check_nowait,
            on_refused=self.alerts.exhausted_nowait,
        )
        await self.budget.load(self.store)
        if self.shared is not None:
            book = self.budget
            await self.shared.start(book.wake, lambda: book.waiters)
        await self.open_upstream_keys()
        await self.client.open()

    def knows_model(self, name: str) -> bool:
        """A priced model or a configured alias (not text a client made up)."""
        return name in self.settings.aliases or self.prices.knows(name)

    def apply(self, settings: Settings) -> None:
        """Swap in new settings without dropping a request.

        Policies, prices, limits, budgets and alert thresholds change at once;
        counters, reservations and queued requests are kept. Upstream keys are
        declared at start-up (their secrets refresh on their own schedule).
        """
        policies = {
            name: TeamPolicy.compile(t, settings.aliases) for name, t in settings.teams.items()
        }
        prices = PriceTable.from_settings(settings)
        missing = set(self.policies) - set(policies)
        if missing:
            raise ConfigError("teams", f"reload cannot remove teams ({', '.join(sorted(missing))})")
        self.settings, self.policies, self.prices = settings, policies, prices
        self.limiter.reconfigure(settings)
        self.budget.reconfigure(settings)
        self.alerts.reconfigure(settings)

    async def reload(self) -> Settings:
        """Re-read the config file (``teamgate reload``, SIGHUP) and :meth:`apply` it."""
        if self.config_path is None:
            raise ConfigError("", "this gateway was not started from a config file")
        settings = load_settings(self.config_path, self.env)
        self.apply(settings)
        await self.reload_upstream_keys()
        log.warning("configuration reloaded from %s", self.config_path)
        return settings

    async def close(self) -> None:
        await self.client.close()
        await self.upstream_sync.close()
        await self.keys.close()
        await close_ledger(self.ledger, self.settings)
        for watch in self.alert_watches:
            await watch.close()
        await self.alerts.close()
        if self.shared is not None:
            await self.shared.close()
        assert self.store is not None
        await self.store.close()

    # --- upstream keys: state from the store, secrets re-read ------------------------------
    async def open_upstream_keys(self) -> None:
        assert self.store is not None
        self.keyring.notify = self.alerts.notify
        self.upstream_sync = UpstreamSync(
            self.keyring, self.store, secrets_interval_s=self.settings.secrets.refresh_interval_s
        )
        self.upstream_sync.fault.repeat_s = self.settings.logging.fault_repeat_s
        await self.upstream_sync.start()

    async def reload_upstream_keys(self) -> None:
        """Re-read every upstream secret and the stored key states now.

        ``Gateway.reload()`` (``teamgate reload``, SIGHUP) calls it after applying new
        settings: keys added to the config file are read and used from then on.
        """
        self.keyring.reconfigure(self.settings)
        await self.upstream_sync.reload()
