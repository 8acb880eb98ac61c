"""What ``teamgate upstream status | rotate | retire`` do, as functions of a store and a clock.

The CLI (:mod:`teamgate.cli.upstream`) only parses arguments and prints; the
work is here, so tests can drive it with their own clock.

>>> ago(61.0)
'1 minute ago'
>>> ago(3 * 86400 + 5)
'3 days ago'
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import aiohttp

from teamgate.config.schema import Settings
from teamgate.config.teams import KEY_NAME_PATTERN
from teamgate.ledger.store import Store
from teamgate.ledger.upstream_records import UpstreamKeyState, UpstreamKeyUsage
from teamgate.secrets import SecretResolver, SecretUnavailable, secret_fingerprint
from teamgate.text.display import when as display_when
from teamgate.upstream.plan import PlannedKey, plan_keys

MODELS_PATH = "/openai/v1/models"


class OperationRefused(Exception):
    """The operation was not done; the message says why (never a secret)."""


@dataclass(frozen=True, slots=True)
class KeyStatus:
    """One row of ``teamgate upstream status``."""

    project: str
    name: str
    state: str
    fingerprint: str
    secret_ref: str
    declared: bool
    requests: int
    requests_24h: int
    failures: int
    first_used_at: float | None
    last_used_at: float | None


def when(ts: float | None) -> str:
    """``2026-11-29T23:48Z`` (:func:`teamgate.text.display.when`), or ``never``."""
    return "never" if ts is None else display_when(ts)


def ago(seconds: float) -> str:
    """A rough "how long ago" for people: ``1 minute ago``, ``5 hours ago``."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "seconds ago"


async def key_status(
    settings: Settings,
    store: Store,
    now: float,
    resolver: SecretResolver | None = None,
    known_fingerprints: Mapping[str, str] | None = None,
) -> list[KeyStatus]:
    """Every upstream key by project, in preference order, with its proof of idleness.

    The one source of upstream key figures: the CLI, the admin API and the dashboard
    all show these (counts from the store, not from one process's memory). The
    fingerprint comes from the store; for a key never used, from
    ``known_fingerprints`` (a running gateway's keys), else from reading its secret
    with ``resolver`` when given (an unreadable one shows ``?``).
    """
    plan = plan_keys(settings, await store.upstream_key_states())
    usage = {u.name: u for u in await store.upstream_key_usage(now)}
    rows = []
    for project in sorted(plan):
        for key in plan[project]:
            used = usage.get(key.name)
            rows.append(
                KeyStatus(
                    project=project,
                    name=key.name,
                    state=key.state,
                    fingerprint=_fingerprint(key, used, resolver, known_fingerprints or {}),
                    secret_ref=key.secret_ref,
                    declared=key.declared,
                    requests=used.requests if used else 0,
                    requests_24h=used.requests_24h if used else 0,
                    failures=used.failures if used else 0,
                    first_used_at=used.first_used_at if used else None,
                    last_used_at=used.last_used_at if used else None,
                )
            )
    return rows


def _fingerprint(
    key: PlannedKey,
    used: UpstreamKeyUsage | None,
    resolver: SecretResolver | None,
    known: Mapping[str, str],
) -> str:
    if used is not None and used.fingerprint:
        return used.fingerprint
    if key.fingerprint:
        return key.fingerprint
    if known.get(key.name):
        return known[key.name]
    if resolver is None:
        return "?"
    try:
        return secret_fingerprint(resolver.resolve(key.secret_ref))
    except SecretUnavailable:
        return "?"


KeyCheck = Callable[[str, str], Awaitable[None]]
"""``await check(base_url, secret)``: raises :class:`OperationRefused` if Groq refuses the key."""


async def check_key_with_groq(base_url: str, secret: str, timeout_s: float = 15.0) -> None:
    """``GET {base_url}/openai/v1/models`` with ``secret``; 200 or :class:`OperationRefused`."""
    url = base_url.rstrip("/") + MODELS_PATH
    headers = {"authorization": f"Bearer {secret}"}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session,
            session.get(url, headers=headers) as response,
        ):
            await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise OperationRefused(
            f"could not reach Groq to check the new key ({type(exc).__name__}); nothing changed"
        ) from None
    if status == 401:
        raise OperationRefused("Groq rejected the new key (401 invalid_api_key); nothing changed")
    if status != 200:
        raise OperationRefused(
            f"Groq answered HTTP {status} when checking the new key; nothing changed"
        )


@dataclass(frozen=True, slots=True)
class Rotation:
    project: str
    name: str
    fingerprint: str
    draining: tuple[str, ...]


async def rotate(
    settings: Settings,
    store: Store,
    *,
    project: str,
    name: str,
    secret_ref: str,
    resolver: SecretResolver,
    check: KeyCheck = check_key_with_groq,
    now: float | None = None,
) -> Rotation:
    """Check the new key with Groq, then make it the project's preferred active key.

    The project's active keys become ``draining`` (still used if the new key
    fails), in one store transaction; running gateways apply it within ~1 s.
    """
    at = time.time() if now is None else now
    plan = plan_keys(settings, await store.upstream_key_states())
    if project not in plan:
        raise OperationRefused(
            f"no project named {project!r}; projects: {', '.join(sorted(plan)) or '-'}"
        )
    if not KEY_NAME_PATTERN.match(name):
        raise OperationRefused(
            f"{name!r} is not a key name (letters, digits, '.', '_', '-', from a letter or digit)"
        )
    for keys in plan.values():
        for key in keys:
            if key.name == name:
                raise OperationRefused(
                    f"an upstream key named {name!r} exists (project {key.project})"
                )
    try:
        secret = await resolver.resolve_async(secret_ref)
    except SecretUnavailable as exc:
        raise OperationRefused(f"cannot read the new key: {exc}") from None
    await check(settings.upstream.base_url, secret)
    fingerprint = secret_fingerprint(secret)
    rows = [UpstreamKeyState(name, project, "active", secret_ref, 0, at, fingerprint)]
    draining = []
    for order, key in enumerate(plan[project], start=1):
        state = "draining" if key.state == "active" else key.state
        if key.state == "active":
            draining.append(key.name)
        rows.append(
            UpstreamKeyState(key.name, project, state, key.secret_ref, order, at, key.fingerprint)
        )
    await store.set_upstream_key_states(rows)
    return Rotation(project, name, fingerprint, tuple(draining))


@dataclass(frozen=True, slots=True)
class Retirement:
    project: str
    name: str
    fingerprint: str
    last_used_at: float | None
    requests: int
    forced: bool


async def retire(
    settings: Settings,
    store: Store,
    *,
    name: str,
    quiet_period_s: float = 86400.0,
    force: bool = False,
    now: float | None = None,
) -> Retirement:
    """Set a key to ``retired`` once it has been idle for the quiet period.

    Refuses (:class:`OperationRefused`, saying when the key was last used and
    when it will have been idle long enough) unless ``force``; also refuses to
    retire a project's last usable key unless ``force``.
    """
    at = time.time() if now is None else now
    plan = plan_keys(settings, await store.upstream_key_states())
    found = [(p, k) for p, keys in plan.items() for k in keys if k.name == name]
    if not found:
        names = sorted(k.name for keys in plan.values() for k in keys)
        raise OperationRefused(f"no upstream key named {name!r}; keys: {', '.join(names)}")
    project, key = found[0]
    if key.state == "retired":
        raise OperationRefused(f"{name} is already retired")
    used = {u.name: u for u in await store.upstream_key_usage(at)}.get(name)
    last = used.last_used_at if used else None
    if not force and last is not None and at - last < quiet_period_s:
        raise OperationRefused(
            f"{name} served a request {ago(at - last)} ({when(last)}); it has to be idle for "
            f"{_span(quiet_period_s)} before it is retired, which is at "
            f"{when(last + quiet_period_s)}. Use --force to retire it now."
        )
    others = [k for k in plan[project] if k.name != name and k.state != "retired"]
    if not force and not others:
        raise OperationRefused(
            f"{name} is the last usable key of project {project}; retiring it would leave "
            "the project's teams without Groq access. Rotate first, or use --force."
        )
    fingerprint = (used.fingerprint if used else "") or key.fingerprint or "?"
    await store.set_upstream_key_states(
        [UpstreamKeyState(name, project, "retired", key.secret_ref, key.order, at, fingerprint)]
    )
    return Retirement(project, name, fingerprint, last, used.requests if used else 0, force)


def _span(seconds: float) -> str:
    """``24h``, ``7d``, ``90m``: the quiet period as the operator would write it."""
    if seconds >= 2 * 86400 and seconds % 86400 == 0:
        return f"{int(seconds // 86400)}d"
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
