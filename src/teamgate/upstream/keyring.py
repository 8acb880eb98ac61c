"""Every upstream key of the gateway, with its secret, state and order, kept current.

:class:`KeyRing` resolves the config's keys when it is built (an unreadable
secret is a :class:`~teamgate.config.errors.ConfigError` naming the reference), then
follows the store's state changes and re-reads secrets through :meth:`apply`.
A changed secret value is put in place on the same :class:`UpstreamKey`
object: new requests read it at once, requests already sent keep the value
they sent. A secret that cannot be read keeps its last good value and raises
an alert (once, until it can be read again).

It is also the proxy's entry point for per-key accounting (:meth:`count`) and
for Groq rejecting a key (:meth:`reject`).

>>> # ring = KeyRing(settings, SecretResolver(os.environ)); ring.notify = alerts.notify
>>> # pool = ring.by_env[("chatbot", "prod")]; key = pool.choose(now)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from teamgate.config.errors import ConfigError
from teamgate.config.schema import Settings
from teamgate.ledger.upstream_records import UpstreamKeyState
from teamgate.secrets import SecretResolver, SecretUnavailable
from teamgate.upstream.plan import PlannedKey, plan_keys, project_environments
from teamgate.upstream.pool import ProjectKeys, UpstreamKey
from teamgate.upstream.usage import UsageTally

log = logging.getLogger("teamgate.upstream")

AlertSink = Callable[..., None]
"""``notify(kind, text, fields, level=...)``, as :meth:`AlertManager.notify`."""


@dataclass(frozen=True, slots=True)
class SecretProblem:
    """A secret that could not be read; ``message`` names the reference, never a value."""

    key: str
    ref: str
    message: str


class KeyRing:
    """The upstream keys of every project, and what happens to them.

    ``projects`` maps a Groq Project's name to its :class:`ProjectKeys`;
    ``by_env`` maps each ``(team, environment)`` to its project's pool (teams
    that name the same project share one pool).
    """

    def __init__(self, settings: Settings, resolver: SecretResolver) -> None:
        self.settings = settings
        self.resolver = resolver
        self.tally = UsageTally()
        self.notify: AlertSink | None = None
        self._keys: dict[str, UpstreamKey] = {}
        self._states: list[UpstreamKeyState] = []
        self._failing: dict[str, str] = {}
        selection = settings.upstream.key_selection
        environments = project_environments(settings)
        self.projects = {p: ProjectKeys(p, [], selection) for p in environments}
        self.by_env = {
            pair: self.projects[p] for p, pairs in environments.items() for pair in pairs
        }
        plan = plan_keys(settings, [])
        for planned in _flat(plan):
            try:
                secret = resolver.resolve(planned.secret_ref)
            except SecretUnavailable as exc:
                raise ConfigError(planned.config_path, str(exc)) from None
            self._keys[planned.name] = _new_key(planned, secret)
        self._arrange(plan)

    def reconfigure(self, settings: Settings) -> None:
        """Take new settings (a config reload): new projects get a pool, new keys are read
        at the next :meth:`apply`. Pools of projects that went away stay (requests may hold
        them); ``by_env`` is updated in place, so whoever holds it sees the change."""
        self.settings = settings
        selection = settings.upstream.key_selection
        for project, pairs in project_environments(settings).items():
            pool = self.projects.get(project)
            if pool is None:
                pool = self.projects[project] = ProjectKeys(project, [], selection)
            for pair in pairs:
                self.by_env[pair] = pool

    def key(self, name: str) -> UpstreamKey | None:
        return self._keys.get(name)

    def keys(self) -> list[UpstreamKey]:
        return list(self._keys.values())

    async def apply(
        self,
        states: Sequence[UpstreamKeyState] | None = None,
        *,
        reread: bool = False,
        strict: bool = False,
    ) -> list[SecretProblem]:
        """Follow new stored ``states`` (None: the last ones) and read secrets.

        Secrets of keys that are new or whose reference changed are read; with
        ``reread`` every non-retired key's secret is read again. With ``strict``
        (at start-up) an unreadable secret raises :class:`ConfigError`; else it
        is reported (alert) and the last good value is kept.
        """
        if states is not None:
            self._states = list(states)
        plan = plan_keys(self.settings, self._states)
        problems: list[SecretProblem] = []
        for planned in _flat(plan):
            key = self._keys.get(planned.name)
            if planned.state == "retired":  # never used: its secret need not be readable
                if key is None:
                    self._keys[planned.name] = _new_key(planned, "")
                continue
            current = key is not None and key.secret and key.secret_ref == planned.secret_ref
            if current and not reread:
                continue
            try:
                value = await self.resolver.resolve_async(planned.secret_ref)
            except SecretUnavailable as exc:
                if strict:
                    where = planned.config_path or f"upstream key {planned.name} (from the store)"
                    raise ConfigError(where, str(exc)) from None
                problems.append(SecretProblem(planned.name, planned.secret_ref, str(exc)))
                continue
            self._recovered(planned.name)
            if key is None:
                self._keys[planned.name] = _new_key(planned, value)
            else:
                if key.secret != value:
                    key.secret = value
                    key.failed_until = 0.0  # a new value deserves a try at once
                    log.info("upstream key %s: new secret value (%s)", key.name, key.fingerprint)
                key.secret_ref = planned.secret_ref
        self._arrange(plan)
        for problem in problems:
            self._failed_to_read(problem)
        return problems

    def _arrange(self, plan: dict[str, list[PlannedKey]]) -> None:
        for project, planned_keys in plan.items():
            keys = []
            for planned in planned_keys:
                key = self._keys.get(planned.name)
                if key is None or (not key.secret and planned.state != "retired"):
                    continue  # its secret has never been read: not usable yet
                key.state = planned.state
                key.project = project
                keys.append(key)
            self.projects[project].arrange(keys)

    def _failed_to_read(self, problem: SecretProblem) -> None:
        if self._failing.get(problem.key) == problem.message:
            return
        self._failing[problem.key] = problem.message
        has_value = bool(self._keys.get(problem.key) and self._keys[problem.key].secret)
        consequence = (
            "keeping the last good value" if has_value else "the key is not used until it can"
        )
        self._alert(
            "upstream_secret_unreadable",
            f"teamgate: cannot read the secret of upstream key `{problem.key}`; "
            f"{consequence}. {problem.message}",
            {"key": problem.key, "secret_ref": problem.ref},
        )

    def _recovered(self, name: str) -> None:
        if self._failing.pop(name, None) is not None:
            log.warning("upstream key %s: its secret can be read again", name)

    def _alert(self, kind: str, text: str, fields: dict[str, Any]) -> None:
        if self.notify is not None:
            self.notify(kind, text, fields, level=logging.ERROR)
        else:
            log.error(text)

    # --- the proxy's hooks -------------------------------------------------------------
    def count(self, key: UpstreamKey, at: float, *, failed: bool = False) -> None:
        """One request Groq answered with ``key`` (``failed``: it answered 401)."""
        self.tally.count(key.name, key.fingerprint, at, failed=failed)

    def reject(self, project: ProjectKeys, key: UpstreamKey, secret_sent: str, now: float) -> None:
        """Groq answered 401 to ``secret_sent``: set the key aside for the back-off and alert.

        If the key's secret changed since the request was sent, the new value
        is not blamed. The alert fires when the key goes from usable to failed,
        not for every request that was already on its way.
        """
        if key.secret != secret_sent:
            return
        first = key.failed_until <= now
        project.mark_failed(key, now, self.settings.upstream.failed_key_backoff_s)
        if first:
            self._alert(
                "upstream_key_rejected",
                f"teamgate: Groq rejected upstream key `{key.name}` ({key.fingerprint}) of "
                f"project `{project.project}` (401 invalid_api_key); traffic moved to the "
                "next usable key. It is tried again after "
                f"{self.settings.upstream.failed_key_backoff_s:g} s.",
                {"key": key.name, "fingerprint": key.fingerprint, "project": project.project},
            )


def _flat(plan: dict[str, list[PlannedKey]]) -> list[PlannedKey]:
    return [planned for keys in plan.values() for planned in keys]


def _new_key(planned: PlannedKey, secret: str) -> UpstreamKey:
    return UpstreamKey(
        planned.name,
        secret,
        planned.state,
        secret_ref=planned.secret_ref,
        project=planned.project,
    )
