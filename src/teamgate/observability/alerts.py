"""Threshold alerts: a log line and a webhook POST, once per threshold per budget period.

:meth:`AlertManager.check` (or its synchronous twin :meth:`~AlertManager.check_nowait`,
which fits :class:`~teamgate.budget.BudgetBook`'s ``on_settled`` hook) never waits
for anything: it works out which thresholds the spend has crossed, skips the ones
this process already handled, and queues the rest. A background task then records
each in the store (:meth:`mark_alert_fired` is true only the first time for
``(scope, period, threshold)``, so an alert fires once even across restarts), logs
it (``WARNING`` below 95 %, ``ERROR`` from 95 %, logger ``teamgate.observability.alerts``) and
queues the webhook POST. A second task posts with retries and exponential
backoff. :meth:`AlertManager.close` drains both queues within a timeout.

The webhook URL is a secret: it is never logged, and delivery failures are logged
by exception type or HTTP status only.

>>> # alerts = AlertManager(settings, store)
>>> # book = BudgetBook(settings, on_settled=alerts.check_nowait)
>>> # ...; await alerts.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Protocol

from teamgate.config.schema import Settings
from teamgate.observability.alert_delivery import (
    Channel,
    DeliveryFailed,
    EmailChannel,
    HttpPost,
    WebhookChannel,
)
from teamgate.pricing.money import exact_usd, format_usd
from teamgate.secrets import SecretResolver
from teamgate.text.display import iso_time, percent

__all__ = ["AlertManager", "HttpPost"]

ERROR_FROM = Decimal("0.95")


class AlertStateStore(Protocol):
    """The part of the ledger store that keeps alert state."""

    async def mark_alert_fired(self, scope: str, period: str, threshold: str) -> bool: ...

    async def alerts_fired(self, scope: str, period: str) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class _Crossing:
    scope: str
    period: str
    threshold: Decimal
    spent: int
    budget: int


@dataclass(frozen=True, slots=True)
class _Exhausted:
    """The first budget refusal of a period in a scope (a ``budget_exhausted`` alert)."""

    scope: str
    period: str
    spent: int
    budget: int
    worst_case: int
    resets_at: float
    reset_text: str


EXHAUSTED = "exhausted"
"""The ``threshold`` under which :meth:`mark_alert_fired` records a cut-off alert."""
FORECAST = "forecast:"
"""``forecast:2026-11-20``: a ``budget_forecast`` alert sent for that date."""
FORECAST_DAY = "forecast-sent-on:"
"""``forecast-sent-on:2026-11-06``: the day a forecast alert was sent (one a day)."""


def _threshold_text(threshold: Decimal) -> str:
    """``Decimal("0.80")`` -> ``"0.8"``: one spelling per threshold for the store."""
    return format(threshold.normalize(), "f")


def _percent_text(threshold: Decimal) -> str:
    return format((threshold * 100).normalize(), "f") + "%"


def _team_of(scope: str) -> str | None:
    """The team of ``team:T``, ``env:T/E`` and ``key:T-E-P`` (a team name has no ``-``)."""
    kind, _, rest = scope.partition(":")
    if kind == "env":
        return rest.split("/", 1)[0]
    if kind == "key":
        return rest.split("-", 1)[0]
    return rest if kind == "team" else None


def _subject(scope: str) -> str:
    """``team `chatbot```, ``environment `chatbot/staging```, ``key `…```, ``the organization``.

    >>> _subject("env:chatbot/staging"), _subject("org")
    ('environment `chatbot/staging`', 'the organization')
    """
    kind, _, rest = scope.partition(":")
    label = {"team": "team", "env": "environment", "key": "key"}.get(kind)
    return f"{label} `{rest}`" if label else "the organization"


def budget_alert_text(
    crossing_scope: str, threshold: Decimal, spent: int, budget: int, period: str
) -> str:
    """The Slack-compatible line for a budget threshold.

    >>> budget_alert_text("team:chatbot", Decimal("0.8"), 160 * 10**12, 200 * 10**12, "2026-11")
    'teamgate: team `chatbot` has used 80% of its monthly budget: $160.00 of $200.00 (2026-11).'
    """
    who = _subject(crossing_scope) + " has"
    return (
        f"teamgate: {who} used {_percent_text(threshold)} of its monthly budget: "
        f"{format_usd(spent)} of {format_usd(budget)} ({period})."
    )


def exhausted_alert_text(e: _Exhausted) -> str:
    """The Slack-compatible line for a cut-off.

    >>> print(exhausted_alert_text(_Exhausted("team:chatbot", "2026-11", 20 * 10**10,
    ...     24 * 10**10, 4 * 10**10, 1796083200.0, "2026-12-01 00:00 UTC")))
    teamgate: team `chatbot` is cut off: its monthly budget cannot cover a request's worst case of $0.04 ($0.20 spent of $0.24, 83.3% used, 2026-11); the budget resets on 2026-12-01 00:00 UTC.
    """  # noqa: E501
    who = _subject(e.scope) + " is"
    return (
        f"teamgate: {who} cut off: its monthly budget cannot cover a request's worst case of "
        f"{format_usd(e.worst_case)} ({format_usd(e.spent)} spent of {format_usd(e.budget)}, "
        f"{percent(e.spent, e.budget)} used, {e.period}); the budget resets on {e.reset_text}."
    )


def forecast_alert_text(
    scope: str, runs_out_on: date, spent: int, budget: int, projected: int, period: str
) -> str:
    """The Slack-compatible line for a forecast.

    >>> print(forecast_alert_text("team:chatbot", date(2026, 11, 20), 50 * 10**12,
    ...     200 * 10**12, 300 * 10**12, "2026-11"))
    teamgate: at this pace team `chatbot` runs out of its monthly budget on 2026-11-20: $50.00 spent of $200.00 (25.0% used, 2026-11), $300.00 projected by the end of the period.
    """  # noqa: E501
    team = _team_of(scope)
    who = f"team `{team}`" if scope.startswith("team:") else _scope_words(scope)
    return (
        f"teamgate: at this pace {who} runs out of its monthly budget on "
        f"{runs_out_on.isoformat()}: {format_usd(spent)} spent of {format_usd(budget)} "
        f"({percent(spent, budget)} used, {period}), {format_usd(projected)} projected by "
        "the end of the period."
    )


def _scope_words(scope: str) -> str:
    """``org`` -> ``the organization``, ``env:T/E`` -> ``environment `T/E```."""
    if scope == "org":
        return "the organization"
    kind, _, name = scope.partition(":")
    return f"{ {'env': 'environment'}.get(kind, kind) } `{name}`"


class AlertManager:
    """Budget threshold alerts and other operator notices, to the log and a webhook.

    >>> # alerts = AlertManager(settings, store)
    >>> # await alerts.check("team:chatbot", "2026-11", spent_pico, budget_pico)
    >>> # alerts.notify("upstream_key", "Groq rejected key `chatbot-prod-1`", {"key": "…"})
    >>> # await alerts.close()
    """

    def __init__(
        self,
        settings: Settings,
        store: AlertStateStore,
        *,
        http_post: HttpPost | None = None,
        secrets: SecretResolver | None = None,
        clock: Callable[[], float] | None = None,
        logger: logging.Logger | None = None,
        retry_attempts: int = 6,
        retry_base_s: float = 1.0,
        retry_max_s: float = 60.0,
        max_queued_posts: int = 1000,
    ) -> None:
        self._settings = settings
        self._store = store
        resolver = secrets or SecretResolver({})
        self._channels: list[Channel] = [
            WebhookChannel(lambda: self._settings.alerts.webhook_url, http_post),
            EmailChannel(lambda: self._settings.alerts.email, resolver.resolve),
        ]
        self._clock = clock or time.time
        self._log = logger or logging.getLogger("teamgate.alerts")
        self._attempts = max(1, retry_attempts)
        self._retry_base_s = retry_base_s
        self._retry_max_s = retry_max_s
        self._seen: set[tuple[str, str, str]] = set()
        # (scope, budget) -> the lowest threshold's amount in whole picodollars (rounded
        # up): a settle below it crosses nothing, checked with one int comparison.
        self._lowest: dict[tuple[str, int], int | None] = {}
        self._crossings: asyncio.Queue[_Crossing | _Exhausted] = asyncio.Queue()
        # one queue per channel: a hanging SMTP server never holds up the webhook
        self._posts: dict[str, asyncio.Queue[dict[str, Any]]] = {
            c.name: asyncio.Queue(maxsize=max_queued_posts) for c in self._channels
        }
        self._workers: list[asyncio.Task[None]] = []
        self._closed = False

    def reconfigure(self, settings: Settings) -> None:
        """New thresholds and webhook take effect for the next alert."""
        self._settings = settings
        self._lowest = {}

    def thresholds_for(self, scope: str) -> tuple[Decimal, ...]:
        """A team's own thresholds (for its environments and keys too), the org's for
        ``"org"``, else ``alerts.thresholds``."""
        s = self._settings
        team = _team_of(scope)
        own = s.org.alert_thresholds if scope == "org" else None
        if team is not None and team in s.teams:
            own = s.teams[team].alert_thresholds
        return tuple(sorted(own if own is not None else s.alerts.thresholds))

    # --- budget thresholds ---------------------------------------------------------
    async def check(self, scope: str, period: str, spent: int, budget: int) -> None:
        """Queue an alert for each threshold ``spent`` has crossed; returns at once."""
        self.check_nowait(scope, period, spent, budget)

    def check_nowait(self, scope: str, period: str, spent: int, budget: int) -> None:
        """:meth:`check` as a plain function, for ``BudgetBook(on_settled=...)``."""
        if budget <= 0 or self._closed:
            return
        lowest = self._lowest_threshold_pico(scope, budget)
        if lowest is not None and spent < lowest:
            self._ensure_workers()
            return
        for threshold in self.thresholds_for(scope):
            if Decimal(spent) < threshold * budget:
                break
            key = (scope, period, _threshold_text(threshold))
            if key in self._seen:
                continue
            self._seen.add(key)
            self._crossings.put_nowait(_Crossing(scope, period, threshold, spent, budget))
        self._ensure_workers()

    def _lowest_threshold_pico(self, scope: str, budget: int) -> int | None:
        """``ceil(lowest threshold * budget)``, cached: an integer ``spent`` is below the
        threshold exactly when it is below this (the Decimal product is exact)."""
        key = (scope, budget)
        try:
            return self._lowest[key]
        except KeyError:
            pass
        thresholds = self.thresholds_for(scope)
        lowest = math.ceil(thresholds[0] * budget) if thresholds else None
        if len(self._lowest) >= 10_000:
            self._lowest.clear()
        self._lowest[key] = lowest
        return lowest

    # --- cut-off -----------------------------------------------------------------------
    def exhausted_nowait(
        self,
        scope: str,
        period: str,
        spent: int,
        budget: int,
        worst_case: int,
        resets_at: float,
        reset_text: str,
    ) -> None:
        """A budget refused a request: queue one ``budget_exhausted`` alert per scope and
        period (across restarts and instances, through :meth:`mark_alert_fired`). For
        ``BudgetBook(on_refused=...)``; never waits."""
        if self._closed:
            return
        key = (scope, period, EXHAUSTED)
        if key in self._seen:
            return
        self._seen.add(key)
        self._crossings.put_nowait(
            _Exhausted(scope, period, spent, budget, worst_case, resets_at, reset_text)
        )
        self._ensure_workers()

    async def _fire_exhausted(self, e: _Exhausted) -> None:
        if not await self._store.mark_alert_fired(e.scope, e.period, EXHAUSTED):
            return
        text = exhausted_alert_text(e)
        self._log.error(text)
        self._enqueue_post(
            {
                "text": text,
                "kind": "budget_exhausted",
                "scope": e.scope,
                "team": _team_of(e.scope),
                "period": e.period,
                "spent_usd": exact_usd(e.spent),
                "budget_usd": exact_usd(e.budget),
                "worst_case_usd": exact_usd(e.worst_case),
                "resets_at": iso_time(e.resets_at),
                "ts": self._clock(),
            }
        )

    async def _handle_crossings(self) -> None:
        while True:
            crossing = await self._crossings.get()
            try:
                if isinstance(crossing, _Exhausted):
                    await self._fire_exhausted(crossing)
                else:
                    await self._fire(crossing)
            except Exception as exc:
                # Forget it so that the next check tries again.
                mark = (
                    EXHAUSTED
                    if isinstance(crossing, _Exhausted)
                    else _threshold_text(crossing.threshold)
                )
                self._seen.discard((crossing.scope, crossing.period, mark))
                self._log.error(
                    "could not record alert state for %s (%s): %s",
                    crossing.scope,
                    crossing.period,
                    type(exc).__name__,
                )
            finally:
                self._crossings.task_done()

    async def _fire(self, c: _Crossing) -> None:
        first = await self._store.mark_alert_fired(c.scope, c.period, _threshold_text(c.threshold))
        if not first:
            return
        text = budget_alert_text(c.scope, c.threshold, c.spent, c.budget, c.period)
        self._log.log(logging.ERROR if c.threshold >= ERROR_FROM else logging.WARNING, text)
        self._enqueue_post(
            {
                "text": text,
                "kind": "budget_threshold",
                "scope": c.scope,
                "team": _team_of(c.scope),
                "threshold": _threshold_text(c.threshold),
                "spent_usd": exact_usd(c.spent),
                "budget_usd": exact_usd(c.budget),
                "period": c.period,
                "ts": self._clock(),
            }
        )

    # --- forecast ----------------------------------------------------------------------
    async def forecast(
        self,
        scope: str,
        period: str,
        spent: int,
        budget: int,
        projected: int,
        runs_out_on: date,
        today: date,
    ) -> bool:
        """The run-rate projection says ``scope`` runs out on ``runs_out_on``, before its
        period ends: one ``budget_forecast`` alert, unless one was sent today or the date
        is not earlier than the last one sent by more than ``alerts.forecast_margin_days``;
        never past 95 % of the budget. State is in the store (every instance, restarts).
        True when this call sent it."""
        if budget <= 0 or spent * 100 >= 95 * budget or self._closed:
            return False
        margin = timedelta(days=self._settings.alerts.forecast_margin_days)
        sent = [
            date.fromisoformat(mark.removeprefix(FORECAST))
            for mark in await self._store.alerts_fired(scope, period)
            if mark.startswith(FORECAST)
        ]
        previous = min(sent) if sent else None
        if previous is not None and not runs_out_on < previous - margin:
            return False
        # at most one a day (the instance that marks the day sends), then the date itself
        if not await self._store.mark_alert_fired(scope, period, FORECAST_DAY + today.isoformat()):
            return False
        if not await self._store.mark_alert_fired(
            scope, period, FORECAST + runs_out_on.isoformat()
        ):
            return False
        text = forecast_alert_text(scope, runs_out_on, spent, budget, projected, period)
        self._log.warning(text)
        self._enqueue_post(
            {
                "text": text,
                "kind": "budget_forecast",
                "scope": scope,
                "team": _team_of(scope),
                "period": period,
                "spent_usd": exact_usd(spent),
                "budget_usd": exact_usd(budget),
                "projected_usd": exact_usd(projected),
                "runs_out_on": runs_out_on.isoformat(),
                "previous_runs_out_on": None if previous is None else previous.isoformat(),
                "ts": self._clock(),
            }
        )
        return True

    async def notify_once(
        self, kind: str, text: str, fields: dict[str, Any], *, once: tuple[str, str, str]
    ) -> bool:
        """:meth:`notify`, only the first time ``once`` (scope, period, mark) is recorded in
        the store, whichever instance asks first. True when this call sent it."""
        if self._closed or not await self._store.mark_alert_fired(*once):
            return False
        self.notify(kind, text, fields)
        return True

    # --- other notices -----------------------------------------------------------------
    def notify(
        self, kind: str, text: str, fields: dict[str, Any], *, level: int = logging.WARNING
    ) -> None:
        """Log ``text`` now and POST ``{"text", "kind", **fields}`` in the background.

        ``fields`` must hold no secrets (they go to the webhook as they are).
        """
        self._log.log(level, text)
        self._enqueue_post({**fields, "text": text, "kind": kind, "ts": self._clock()})

    # --- delivery: webhook (Slack or JSON) and email ---------------------------------------
    def _configured(self, channel: Channel) -> bool:
        alerts = self._settings.alerts
        return (alerts.webhook_url if channel.name == "webhook" else alerts.email) is not None

    def _enqueue_post(self, payload: dict[str, Any]) -> None:
        if self._closed:
            return
        payload = {"event": payload["kind"], **payload}
        for channel in self._channels:
            if not self._configured(channel):
                continue
            try:
                self._posts[channel.name].put_nowait(payload)
            except asyncio.QueueFull:
                self._log.error(
                    "alert %s queue is full; dropped: %s", channel.name, payload.get("text")
                )
        self._ensure_workers()

    async def _deliver_posts(self, channel: Channel) -> None:
        queue = self._posts[channel.name]
        while True:
            payload = await queue.get()
            try:
                await self._deliver(channel, payload)
            finally:
                queue.task_done()

    async def _deliver(self, channel: Channel, payload: dict[str, Any]) -> None:
        for attempt in range(1, self._attempts + 1):
            if not self._configured(channel):
                return
            try:
                await channel.send(payload)
                return
            except DeliveryFailed as exc:  # a reason safe to log: no URL, no password
                reason = str(exc)
            except Exception as exc:
                reason = type(exc).__name__
            if attempt == self._attempts:
                self._log.error(
                    "alert %s failed %d times (%s); giving up", channel.name, attempt, reason
                )
                return
            delay = min(self._retry_base_s * 2 ** (attempt - 1), self._retry_max_s)
            self._log.warning(
                "alert %s failed (%s), attempt %d of %d; retrying in %g s",
                channel.name,
                reason,
                attempt,
                self._attempts,
                delay,
            )
            await asyncio.sleep(delay)

    # --- lifecycle -----------------------------------------------------------------------
    def _ensure_workers(self) -> None:
        if self._workers or self._closed:
            return
        self._workers = [
            asyncio.create_task(self._handle_crossings(), name="teamgate-alerts"),
            *(
                asyncio.create_task(self._deliver_posts(c), name=f"teamgate-alert-{c.name}")
                for c in self._channels
            ),
        ]

    async def flush(self) -> None:
        """Wait until every alert queued so far is recorded, logged and delivered."""
        await self._crossings.join()
        for queue in self._posts.values():
            await queue.join()

    async def close(self, timeout_s: float = 5.0) -> None:
        """Deliver what is queued (up to ``timeout_s``), then stop; later alerts are ignored."""
        if self._workers:
            try:
                await asyncio.wait_for(self.flush(), timeout_s)
            except TimeoutError:
                self._log.warning(
                    "alerts not delivered at shutdown: %d pending, %d deliveries",
                    self._crossings.qsize(),
                    sum(q.qsize() for q in self._posts.values()),
                )
        self._closed = True
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers = []
        for channel in self._channels:
            await channel.close()
