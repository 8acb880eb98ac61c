"""The ``teams`` section of teamgate's config as msgspec Structs: a prototype for
bench/kept_by_hand.py's comparison (docs/architecture.md, "Configuration validation").

Written the way msgspec is meant to be used: types and ``Meta`` constraints, unknown
fields forbidden, ``__post_init__`` for what types cannot say (money >= 0 — msgspec has
no numeric constraints on ``Decimal`` —, a sub-budget within its team's, a key's secret
scheme). Not covered (as in teamgate's ``read_teams`` they need the model catalog):
allowed models priced, per-model limits inside the allowlist; key names unique across
teams is checked by :func:`validate`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec

Name = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_]*$")]
KeyName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
Positive = Annotated[int, msgspec.Meta(ge=1)]
Fraction = Annotated[float, msgspec.Meta(gt=0, le=1)]
SCHEMES = ("env:", "file:", "aws-sm:", "gcp-sm:")


def _money(value: Decimal | None) -> None:
    if value is not None and value < 0:
        raise ValueError(f"must be an amount in USD >= 0, got {value}")


class Limits(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    rpm: Positive | None = None
    tpm: Positive | None = None
    rpd: Positive | None = None
    tpd: Positive | None = None
    concurrency: Positive | None = None
    max_queue_wait_s: Annotated[float, msgspec.Meta(ge=0)] = 30.0
    ash: Positive | None = None
    asd: Positive | None = None


class UpstreamKey(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: KeyName
    secret: str
    state: Literal["active", "draining", "retired"] = "active"

    def __post_init__(self) -> None:
        if not self.secret.startswith(SCHEMES):
            raise ValueError("must start with env:, file:, aws-sm: or gcp-sm:")


class Environment(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    upstream_keys: Annotated[list[UpstreamKey], msgspec.Meta(min_length=1)]
    project: str | None = None
    monthly_budget_usd: Decimal | None = None

    def __post_init__(self) -> None:
        _money(self.monthly_budget_usd)


class Team(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    allowed_models: Annotated[list[str], msgspec.Meta(min_length=1)]
    max_tokens_per_request: Positive
    environments: Annotated[dict[Name, Environment], msgspec.Meta(min_length=1)]
    monthly_budget_usd: Decimal | None = None
    limits: Limits = Limits()
    models: dict[str, Limits] = {}
    on_limit: Literal["queue", "reject"] = "queue"
    alert_thresholds: list[Fraction] | None = None

    def __post_init__(self) -> None:
        _money(self.monthly_budget_usd)
        team = self.monthly_budget_usd
        for env in self.environments.values():
            sub = env.monthly_budget_usd
            if team is not None and sub is not None and sub > team:
                raise ValueError(
                    f"an environment's monthly_budget_usd must be at most the team's ({team})"
                )


Teams = Annotated[dict[Name, Team], msgspec.Meta(min_length=1)]


def validate(raw: Any) -> dict[str, Team]:
    """The teams, or ``msgspec.ValidationError`` (the first problem only)."""
    teams: dict[str, Team] = msgspec.convert(raw, Teams)
    seen: set[str] = set()
    for team in teams.values():
        for env in team.environments.values():
            for key in env.upstream_keys:
                if key.name in seen:
                    raise msgspec.ValidationError(f"upstream key name {key.name!r} used twice")
                seen.add(key.name)
    return teams


def problems(raw: Any) -> list[str]:
    """Each problem as ``path: message`` (msgspec's ``- at `$.a.b``` turned into a prefix)."""
    try:
        validate(raw)
    except msgspec.ValidationError as exc:
        text = str(exc)
        message, _, where = text.rpartition(" - at `")
        if not message:
            return [text]
        where = where.rstrip("`")
        if where.startswith("key` in `"):  # a mapping's key: msgspec does not name which
            where = where.removeprefix("key` in `") + ".<key>"
        path = where.removeprefix("$").removeprefix(".")
        return [f"teams.{path}: {message}" if path else f"teams: {message}"]
    return []


def json_schema() -> dict[str, Any]:
    return msgspec.json.schema(Teams)
