"""Pause switches: stop a team, one environment of it, or one client key, now.

A pause lives in the store (:class:`~teamgate.ledger.pause_records.Pause`); setting or
clearing one bumps ``keys_version``, the number every gateway's key cache polls each
second (the mechanism that makes a revoked key fail), so every running instance sees
it within about a second, and it survives restarts. A paused request is answered 403
``scope_paused`` (:class:`ScopePaused`) and recorded in the ledger as a refusal with
that code.

Targets are spelled ``TEAM``, ``TEAM/ENV`` or ``--key NAME``; scopes are
``team:TEAM``, ``env:TEAM/ENV`` and ``key:NAME``.

>>> scope_of("chatbot"), scope_of("chatbot/staging"), scope_of(None, key="chatbot-prod-web")
('team:chatbot', 'env:chatbot/staging', 'key:chatbot-prod-web')
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import orjson

from teamgate.config.schema import Settings
from teamgate.http.errors import PermissionDenied
from teamgate.ledger.pause_records import Pause
from teamgate.ledger.records import ClientKey
from teamgate.ledger.store import Store
from teamgate.text.display import iso_time

MAX_REASON = 500


class ScopePaused(PermissionDenied):
    """403: an operator paused the key's team, environment or the key itself.

    The Groq-shaped body adds ``reason``, ``scope`` and ``paused_until`` (ISO 8601 or
    null) beside ``message``, ``type`` and ``code``.

    >>> err = ScopePaused(Pause("team:chatbot", "runaway job", None, 0.0, "cli:ops@h"))
    >>> err.status, err.code, orjson.loads(err.body())["error"]["reason"]
    (403, 'scope_paused', 'runaway job')
    """

    code = "scope_paused"

    def __init__(self, pause: Pause) -> None:
        until = iso_time(pause.until)
        end = f"until {until}" if until else "until an operator resumes it"
        super().__init__(
            f"{describe_scope(pause.scope).capitalize()} is paused by an operator "
            f"({end}): {pause.reason}",
            headers={"x-should-retry": "false"},
        )
        self.pause = pause

    def body(self) -> bytes:
        return orjson.dumps(
            {
                "error": {
                    "message": self.message,
                    "type": self.type,
                    "code": self.code,
                    "scope": self.pause.scope,
                    "reason": self.pause.reason,
                    "paused_until": iso_time(self.pause.until),
                }
            }
        )


def scope_of(target: str | None, *, key: str | None = None) -> str:
    """The scope of ``TEAM``, ``TEAM/ENV`` or a key name."""
    if key is not None:
        return f"key:{key}"
    assert target is not None
    return f"env:{target}" if "/" in target else f"team:{target}"


def describe_scope(scope: str) -> str:
    """``team `chatbot```, ``environment `chatbot/staging```, ``key `k```, for messages."""
    kind, _, name = scope.partition(":")
    word = {"team": "team", "env": "environment", "key": "key"}.get(kind, kind)
    return f"{word} `{name}`"


def pause_json(p: Pause, now: float | None = None) -> dict[str, Any]:
    """One pause as the admin API, ``teamgate usage --json`` and the dashboard show it."""
    kind, _, name = p.scope.partition(":")
    return {
        "scope": p.scope,
        "kind": {"env": "environment"}.get(kind, kind),
        "name": name,
        "reason": p.reason,
        "paused_at": iso_time(p.paused_at),
        "until": iso_time(p.until),
        "active": p.active(time.time() if now is None else now),
        "actor": p.actor,
    }


class PauseSet:
    """The pauses in force, looked up per request (three dict lookups).

    >>> from teamgate.ledger.records import ClientKey
    >>> ps = PauseSet([Pause("env:chatbot/prod", "r", 100.0, 0.0, "a")])
    >>> k = ClientKey("chatbot-prod-web", "h", "f", "chatbot", "prod", "web", 0.0)
    >>> ps.find(k, 50.0).scope, ps.find(k, 100.0)
    ('env:chatbot/prod', None)
    """

    __slots__ = ("_by_scope",)

    def __init__(self, pauses: Iterable[Pause] = ()) -> None:
        self._by_scope = {p.scope: p for p in pauses}

    def __bool__(self) -> bool:
        return bool(self._by_scope)

    def find(self, key: ClientKey, now: float) -> Pause | None:
        """The pause that stops ``key`` now (its own, its environment's, its team's)."""
        by_scope = self._by_scope
        for scope in (
            f"key:{key.name}",
            f"env:{key.team}/{key.environment}",
            f"team:{key.team}",
        ):
            pause = by_scope.get(scope)
            if pause is not None and pause.active(now):
                return pause
        return None


async def check_target(store: Store, settings: Settings, scope: str) -> str | None:
    """Why ``scope`` cannot be paused (an unknown team, environment or live key), or None."""
    kind, _, name = scope.partition(":")
    if kind == "key":
        key = await store.get_client_key(name)
        if key is None or key.revoked_at is not None:
            return f"no live key named `{name}`"
        return None
    team, _, env = name.partition("/")
    if team not in settings.teams:
        return f"unknown team `{team}`; teams: {', '.join(sorted(settings.teams))}"
    if kind == "env" and env not in settings.teams[team].environments:
        envs = ", ".join(sorted(settings.teams[team].environments))
        return f"team `{team}` has no environment `{env}`; environments: {envs}"
    return None


def team_of_scope(scope: str, key: ClientKey | None = None) -> str | None:
    """The team a scope belongs to (a key's needs the key)."""
    kind, _, name = scope.partition(":")
    if kind == "key":
        return None if key is None else key.team
    return name.partition("/")[0]


def make_pause(scope: str, reason: str, until_s: float | None, actor: str, now: float) -> Pause:
    """A pause from now, ``until_s`` seconds long (None: until resumed)."""
    reason = reason.strip()
    if not reason:
        raise ValueError("a pause needs a reason")
    if len(reason) > MAX_REASON:
        raise ValueError(f"the reason is longer than {MAX_REASON} characters")
    return Pause(scope, reason, None if until_s is None else now + until_s, now, actor)


def paused_text(p: Pause) -> str:
    until = iso_time(p.until)
    end = f" until {until}" if until else ""
    return f"teamgate: {describe_scope(p.scope)} is paused{end} by {p.actor}: {p.reason}"


def resumed_text(p: Pause, actor: str) -> str:
    return f"teamgate: {describe_scope(p.scope)} is resumed by {actor} (paused for: {p.reason})"


def alert_fields(p: Pause, actor: str, *, expired: bool | None = None) -> dict[str, Any]:
    """The webhook fields of a ``paused`` / ``resumed`` alert (no secret: names only);
    a ``resumed`` alert says whether the pause ended by its ``until`` (``expired``)."""
    view = pause_json(p)
    fields = {
        "scope": p.scope,
        "team": team_of_scope(p.scope),
        "reason": p.reason,
        "until": view["until"],
        "actor": actor,
    }
    if expired is not None:
        fields["expired"] = expired
    return fields


def expired_text(p: Pause) -> str:
    return (
        f"teamgate: {describe_scope(p.scope)} is resumed: its pause ended at "
        f"{iso_time(p.until)} (paused by {p.actor} for: {p.reason})"
    )


NotifyOnce = Callable[..., Awaitable[bool]]
"""``AlertManager.notify_once(kind, text, fields, once=(scope, period, mark)) -> sent``."""

EXPIRY_LOOKBACK_S = 86_400.0
"""A pause that ended longer ago than this (e.g. while every gateway was down) is not
announced any more."""


class PauseExpiry:
    """Sends one ``resumed`` alert when a pause ends by its ``until`` (``--until 2h``),
    whichever gateway sees it first (the store records it: once across instances and
    restarts). Run :meth:`check_once` from a background task every few seconds.

    >>> # watch = PauseExpiry(store, alerts.notify_once)
    >>> # Periodic("teamgate-pause-expiry", watch.check_once, 5.0).start()
    """

    def __init__(
        self,
        store: Store,
        notify_once: NotifyOnce,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._notify_once = notify_once
        self._clock = clock

    async def check_once(self) -> int:
        """One look at the stored pauses; the number of ``resumed`` alerts sent."""
        now = self._clock()
        sent = 0
        for p in await self._store.list_pauses():
            if p.until is None or p.until > now or now - p.until > EXPIRY_LOOKBACK_S:
                continue
            once = (p.scope, f"pause@{p.paused_at!r}", "resumed")
            fields = alert_fields(p, "expiry", expired=True)
            if await self._notify_once("resumed", expired_text(p), fields, once=once):
                sent += 1
        return sent
