"""Stand-ins for an AlertManager's collaborators: a store that remembers fired thresholds,
a webhook poster that records what it was sent, and settings with a budget to alert on."""

from __future__ import annotations

from decimal import Decimal

import orjson

from teamgate.config.schema import AlertSettings, OrgConfig, Settings, TeamConfig

HOOK = "https://hooks.example.com/services/T000/B000/very-secret-token"


class FakeAlertStore:
    """mark_alert_fired as the real stores do it: True only the first time."""

    def __init__(self) -> None:
        self.fired: set[tuple[str, str, str]] = set()
        self.fail_next = 0

    async def mark_alert_fired(self, scope: str, period: str, threshold: str) -> bool:
        if self.fail_next:
            self.fail_next -= 1
            raise OSError("database is locked")
        key = (scope, period, threshold)
        if key in self.fired:
            return False
        self.fired.add(key)
        return True

    async def alerts_fired(self, scope: str, period: str) -> list[str]:
        return sorted(t for s, p, t in self.fired if (s, p) == (scope, period))


class RecordingPoster:
    def __init__(self, statuses: list[int | Exception] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.calls: list[tuple[str, dict[str, object]]] = []

    async def __call__(self, url: str, body: bytes) -> int:
        self.calls.append((url, orjson.loads(body)))
        outcome = self.statuses.pop(0) if self.statuses else 200
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    @property
    def payloads(self) -> list[dict[str, object]]:
        return [payload for _, payload in self.calls]


def make_settings(
    webhook: str | None = HOOK,
    team_thresholds: tuple[Decimal, ...] | None = None,
    org_thresholds: tuple[Decimal, ...] | None = None,
) -> Settings:
    team = TeamConfig(
        "chatbot",
        ("m",),
        100,
        monthly_budget_usd=Decimal("200"),
        alert_thresholds=team_thresholds,
    )
    return Settings(
        teams={"chatbot": team},
        alerts=AlertSettings(webhook_url=webhook),
        org=OrgConfig(monthly_budget_usd=Decimal("1000"), alert_thresholds=org_thresholds),
    )
