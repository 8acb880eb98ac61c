"""Which upstream keys each Groq Project has, in which state and order.

The config file declares the keys; the store keeps state changes made since
(``upstream rotate`` / ``retire``) and the keys added by rotation. Both the
gateway and the CLI use :func:`plan_keys`, so they always agree.

Rules: a stored state wins over the config's; the stored ``preferred_order``
wins over the config's position (config keys without a stored row come after,
in file order, as ``1000 + index``); a key's secret reference comes from the
config when the config declares it, else from the store.

>>> from teamgate.config.loader import parse_settings
>>> s = parse_settings({"teams": {"ops": {"allowed_models": ["llama-3.1-8b-instant"],
...     "max_tokens_per_request": 64, "environments": {"prod": {"upstream_keys": [
...     {"name": "ops-1", "secret": "env:K1"}]}}}}})
>>> [(k.name, k.state, k.order) for k in plan_keys(s, [])["ops-prod"]]
[('ops-1', 'active', 1000)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from teamgate.config.schema import KeyState, Settings
from teamgate.ledger.upstream_records import UpstreamKeyState

CONFIG_ORDER_BASE = 1000


@dataclass(frozen=True, slots=True)
class PlannedKey:
    """One upstream key as it should be: state, order, secret reference, origin."""

    name: str
    project: str
    state: KeyState
    secret_ref: str
    order: int
    declared: bool  # in the config file (False: added by ``upstream rotate``)
    config_path: str = ""  # e.g. teams.chatbot.environments.prod.upstream_keys[0]
    fingerprint: str = ""  # as stored, when known


def project_environments(settings: Settings) -> dict[str, list[tuple[str, str]]]:
    """Project name -> the ``(team, environment)`` pairs that use it."""
    out: dict[str, list[tuple[str, str]]] = {}
    for team in settings.teams.values():
        for env_name, environment in team.environments.items():
            project = environment.project or f"{team.name}-{env_name}"
            out.setdefault(project, []).append((team.name, env_name))
    return out


def plan_keys(
    settings: Settings, states: Sequence[UpstreamKeyState]
) -> dict[str, list[PlannedKey]]:
    """Project name -> its keys, most preferred first (retired keys included)."""
    stored = {s.name: s for s in states}
    plans: dict[str, dict[str, PlannedKey]] = {}
    for team in settings.teams.values():
        for env_name, environment in team.environments.items():
            project = environment.project or f"{team.name}-{env_name}"
            keys = plans.setdefault(project, {})
            for i, ref in enumerate(environment.upstream_keys):
                row = stored.get(ref.name)
                keys[ref.name] = PlannedKey(
                    name=ref.name,
                    project=project,
                    state=cast(KeyState, row.state) if row else ref.state,
                    secret_ref=ref.secret,
                    order=row.preferred_order if row else CONFIG_ORDER_BASE + i,
                    declared=True,
                    config_path=(
                        f"teams.{team.name}.environments.{env_name}.upstream_keys[{i}].secret"
                    ),
                    fingerprint=row.fingerprint if row else "",
                )
    for row in states:
        added = plans.get(row.project)
        if added is None or row.name in added:
            continue  # a project no longer in the config, or a declared key
        added[row.name] = PlannedKey(
            name=row.name,
            project=row.project,
            state=cast(KeyState, row.state),
            secret_ref=row.secret_ref,
            order=row.preferred_order,
            declared=False,
            fingerprint=row.fingerprint,
        )
    return {
        project: sorted(keys.values(), key=lambda k: k.order) for project, keys in plans.items()
    }
