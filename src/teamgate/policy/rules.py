"""Model routing controls: allowlists, aliases and the per-request token cap.

Pure functions over a :class:`TeamPolicy` compiled once per team at start-up
(and on reload). Nothing here does I/O.

>>> from teamgate.config.schema import TeamConfig
>>> team = TeamConfig(name="analytics", allowed_models=("llama-3.1-8b-instant",),
...                   max_tokens_per_request=512)
>>> policy = TeamPolicy.compile(team, {"fast": "llama-3.1-8b-instant"})
>>> policy.resolve_model("fast")
'llama-3.1-8b-instant'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from teamgate.config.schema import TeamConfig
from teamgate.http.errors import InvalidRequest, ModelNotAllowed


@dataclass(frozen=True, slots=True)
class TeamPolicy:
    team: str
    allowed: frozenset[str]
    allowed_in_order: tuple[str, ...]
    aliases: Mapping[str, str]  # only aliases whose target the team may use
    max_tokens: int

    @classmethod
    def compile(cls, team: TeamConfig, aliases: Mapping[str, str]) -> TeamPolicy:
        allowed = tuple(aliases.get(m, m) for m in team.allowed_models)
        allowed_set = frozenset(allowed)
        usable_aliases = {a: t for a, t in aliases.items() if t in allowed_set}
        return cls(
            team=team.name,
            allowed=allowed_set,
            allowed_in_order=tuple(dict.fromkeys(allowed)),
            aliases=usable_aliases,
            max_tokens=team.max_tokens_per_request,
        )

    def resolve_model(self, model: str) -> str:
        """The real model for a name or alias the team may use, else :class:`ModelNotAllowed`."""
        real = self.aliases.get(model, model)
        if real not in self.allowed:
            raise ModelNotAllowed(
                f"Team `{self.team}` is not allowed to use model `{model}`. "
                f"Allowed models: {', '.join(self.allowed_in_order)}."
            )
        return real

    def visible_models(self) -> list[str]:
        """What ``GET /models`` lists for this team: its models, then its aliases."""
        return [*self.allowed_in_order, *sorted(self.aliases)]


@dataclass(frozen=True, slots=True)
class ChatPlan:
    """What policy decided for one chat request."""

    model_requested: str
    model: str
    max_completion_tokens: int
    stream: bool
    cap_injected: bool  # the client set no cap; the team's cap must be added to the body
    model_rewritten: bool  # an alias was used; the body's model must be replaced


def _positive_int(body: Mapping[str, Any], field: str) -> int | None:
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(
            f"'{field}' : value must be an integer, got {type(value).__name__}",
            code="invalid_type",
        )
    if value < 1:
        raise InvalidRequest(f"'{field}' : must be at least 1, got {value}", code="invalid_value")
    return value


def plan_chat(policy: TeamPolicy, body: Mapping[str, Any]) -> ChatPlan:
    """Check one chat completion body against the team's policy.

    Raises :class:`InvalidRequest` (400) or :class:`ModelNotAllowed` (403).
    """
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' : property 'model' is missing or not a string")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' : property 'messages' must be a non-empty array")
    n = body.get("n")
    if n is not None and (isinstance(n, bool) or n != 1):
        raise InvalidRequest("'n' : number must be at most 1", code="invalid_value")
    stream = body.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequest("'stream' : value must be a boolean", code="invalid_type")
    real = policy.resolve_model(model)
    requested = _positive_int(body, "max_completion_tokens")
    deprecated = _positive_int(body, "max_tokens")
    for field, value in (("max_completion_tokens", requested), ("max_tokens", deprecated)):
        if value is not None and value > policy.max_tokens:
            raise InvalidRequest(
                f"'{field}' : {value} exceeds the limit of {policy.max_tokens} tokens per "
                f"request for team `{policy.team}`",
                code="max_tokens_exceeded",
            )
    caps = [v for v in (requested, deprecated) if v is not None]
    return ChatPlan(
        model_requested=model,
        model=real,
        max_completion_tokens=min(caps) if caps else policy.max_tokens,
        stream=bool(stream),
        cap_injected=not caps,
        model_rewritten=real != model,
    )
