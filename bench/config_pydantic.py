"""The ``teams`` section of teamgate's config as pydantic v2 models: a prototype for
bench/kept_by_hand.py's comparison (docs/architecture.md, "Configuration validation").

Written the way pydantic is meant to be used: annotated types and ``Field`` constraints,
``extra="forbid"``, strict integers (``True`` and ``2.5`` are not counts), money as a lax
``Decimal`` (YAML gives ``200``, ``0.1`` or ``"20.10"``) with ``ge=0`` and
``decimal_places=12``, model validators for what types cannot say. Not covered (as in
teamgate's ``read_teams`` they need the model catalog): allowed models priced, per-model
limits inside the allowlist.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, TypeAdapter, ValidationError
from pydantic import model_validator as _model_validator

Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_]*$")]
KeyName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
Positive = Annotated[StrictInt, Field(ge=1)]
Money = Annotated[Decimal, Field(ge=0, decimal_places=12, allow_inf_nan=False)]
Fraction = Annotated[float, Field(gt=0, le=1)]
SCHEMES = ("env:", "file:", "aws-sm:", "gcp-sm:")
FROZEN = ConfigDict(extra="forbid", frozen=True)


class Limits(BaseModel):
    model_config = FROZEN
    rpm: Positive | None = None
    tpm: Positive | None = None
    rpd: Positive | None = None
    tpd: Positive | None = None
    concurrency: Positive | None = None
    max_queue_wait_s: Annotated[float, Field(ge=0)] = 30.0
    ash: Positive | None = None
    asd: Positive | None = None


class UpstreamKey(BaseModel):
    model_config = FROZEN
    name: KeyName
    secret: str
    state: Literal["active", "draining", "retired"] = "active"

    @_model_validator(mode="after")
    def _scheme(self) -> UpstreamKey:
        if not self.secret.startswith(SCHEMES):
            raise ValueError("secret must start with env:, file:, aws-sm: or gcp-sm:")
        return self


class Environment(BaseModel):
    model_config = FROZEN
    upstream_keys: Annotated[list[UpstreamKey], Field(min_length=1)]
    project: str | None = None
    monthly_budget_usd: Money | None = None


class Team(BaseModel):
    model_config = FROZEN
    allowed_models: Annotated[list[str], Field(min_length=1)]
    max_tokens_per_request: Positive
    environments: Annotated[dict[Name, Environment], Field(min_length=1)]
    monthly_budget_usd: Money | None = None
    limits: Limits = Limits()
    models: dict[str, Limits] = {}
    on_limit: Literal["queue", "reject"] = "queue"
    alert_thresholds: list[Fraction] | None = None

    @_model_validator(mode="after")
    def _sub_budgets(self) -> Team:
        team = self.monthly_budget_usd
        for name, env in self.environments.items():
            sub = env.monthly_budget_usd
            if team is not None and sub is not None and sub > team:
                raise ValueError(
                    f"environments.{name}.monthly_budget_usd must be at most the team's "
                    f"monthly_budget_usd ({team})"
                )
        return self


TEAMS: TypeAdapter[dict[str, Team]] = TypeAdapter(Annotated[dict[Name, Team], Field(min_length=1)])


def validate(raw: Any) -> dict[str, Team]:
    """The teams, or ``ValidationError`` listing every problem pydantic found."""
    teams = TEAMS.validate_python(raw)
    seen: set[str] = set()
    for team in teams.values():
        for env in team.environments.values():
            for key in env.upstream_keys:
                if key.name in seen:
                    raise ValueError(f"upstream key name {key.name!r} used twice")
                seen.add(key.name)
    return teams


def _path(loc: tuple[int | str, ...]) -> str:
    out = "teams"
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            pass  # the key itself was bad: the path up to it names it
        else:
            out += f".{part}"
    return out


def problems(raw: Any) -> list[str]:
    """Each problem as ``path: message, got <input>`` from ``ValidationError.errors()``."""
    try:
        validate(raw)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            shown = repr(error["input"])
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            got = "" if error["type"] == "missing" else f", got {shown}"
            lines.append(f"{_path(error['loc'])}: {error['msg']}{got}")
        return lines
    except ValueError as exc:
        return [f"teams: {exc}"]
    return []


def json_schema() -> dict[str, Any]:
    return TEAMS.json_schema()
