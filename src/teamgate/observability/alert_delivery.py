"""Alert deliveries people read: Slack Block Kit, plain JSON with a schema, and email.

An alert is one payload (a dict that :data:`ALERT_SCHEMA` describes: ``event``,
``text``, ``ts``, ``scope``, ``team`` and, per event, ``period`` and the figures as
exact decimal strings). Each channel turns it into what its readers need:

- :class:`WebhookChannel`: a Slack incoming webhook (host ``hooks.slack.com``) gets a
  Block Kit message (:func:`slack_body`); any other URL gets the payload as JSON.
- :class:`EmailChannel`: one plain-text email per alert through an SMTP server
  (``alerts.email``, the ``email`` extra: aiosmtplib), to ``to`` and the team's
  ``contacts``.

A channel's ``send`` raises :class:`DeliveryFailed` with a reason that is safe to log
(an exception type or a status code: never the webhook URL or the SMTP password);
:class:`~teamgate.observability.alerts.AlertManager` retries it with backoff off the request path.

>>> is_slack("https://hooks.slack.com/services/T0/B0/x"), is_slack("https://example.com/h")
(True, False)
>>> title({"event": "budget_forecast", "scope": "team:chatbot", "runs_out_on": "2026-11-20"})
'Budget forecast: team chatbot runs out on 2026-11-20'
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from email.message import EmailMessage
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
import orjson

from teamgate.config.schema import EmailSettings
from teamgate.pricing.money import format_usd, usd_to_pico

HttpPost = Callable[[str, bytes], Awaitable[int]]
"""``await post(url, json_body) -> HTTP status``; raising counts as a failed attempt."""

SLACK_HOSTS = ("hooks.slack.com",)

_MONEY = {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{12}$"}
_DATE = {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
_TIME = {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$"}
_NULLABLE_STRING = {"type": ["string", "null"]}
_BUDGET_EVENTS = ("budget_threshold", "budget_exhausted", "budget_forecast")


def _when(event: str, required: list[str]) -> dict[str, Any]:
    return {"if": {"properties": {"event": {"const": event}}}, "then": {"required": required}}


ALERT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "teamgate alert (plain JSON webhook body)",
    "type": "object",
    "required": ["event", "kind", "text", "ts"],
    "properties": {
        "event": {"type": "string"},
        "kind": {"type": "string", "description": "the same as event (older receivers)"},
        "text": {"type": "string", "description": "one Slack-compatible line"},
        "ts": {"type": "number", "description": "unix seconds"},
        "scope": {
            "type": ["string", "null"],
            "description": "org, team:T, env:T/E or key:NAME",
        },
        "team": _NULLABLE_STRING,
        "period": {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}$"},
        "threshold": {"type": "string", "pattern": r"^(0(\.[0-9]+)?|1)$"},
        "spent_usd": _MONEY,
        "budget_usd": _MONEY,
        "worst_case_usd": _MONEY,
        "projected_usd": _MONEY,
        "resets_at": _TIME,
        "runs_out_on": _DATE,
        "previous_runs_out_on": {"anyOf": [_DATE, {"type": "null"}]},
        "reason": {"type": "string"},
        "until": {"anyOf": [_TIME, {"type": "null"}]},
        "actor": {"type": "string"},
        "expired": {"type": "boolean"},
    },
    "allOf": [
        _when("budget_threshold", ["scope", "team", "period", "threshold", "spent_usd",
                                   "budget_usd"]),
        _when("budget_exhausted", ["scope", "team", "period", "spent_usd", "budget_usd",
                                   "worst_case_usd", "resets_at"]),
        _when("budget_forecast", ["scope", "team", "period", "spent_usd", "budget_usd",
                                  "projected_usd", "runs_out_on", "previous_runs_out_on"]),
        _when("paused", ["scope", "team", "reason", "until", "actor"]),
        _when("resumed", ["scope", "team", "reason", "until", "actor", "expired"]),
    ],
}  # fmt: skip
"""The JSON Schema (draft 2020-12) of every plain JSON webhook body."""


class DeliveryFailed(Exception):
    """One failed attempt; ``str()`` is safe to log (no URL, no password)."""


class Channel(Protocol):
    name: str

    async def send(self, payload: Mapping[str, Any]) -> None: ...

    async def close(self) -> None: ...


def is_slack(url: str) -> bool:
    """A Slack incoming webhook: it gets Block Kit, not the raw JSON."""
    return (urlsplit(url).hostname or "").lower() in SLACK_HOSTS


def _who(scope: str | None) -> str:
    if not scope:
        return "teamgate"
    if scope == "org":
        return "the organization"
    kind, _, name = scope.partition(":")
    return f"{ {'env': 'environment'}.get(kind, kind) } {name}"


def title(p: Mapping[str, Any]) -> str:
    """A short headline: the Slack header and the email subject."""
    event, who = str(p.get("event", "")), _who(p.get("scope"))
    if event == "budget_threshold":
        share = format((Decimal(str(p["threshold"])) * 100).normalize(), "f")
        return f"Budget {share}% used: {who}"
    if event == "budget_exhausted":
        return f"Budget exhausted: {who} is cut off"
    if event == "budget_forecast":
        return f"Budget forecast: {who} runs out on {p.get('runs_out_on')}"
    if event in ("paused", "resumed"):
        return f"{event.capitalize()}: {who}"
    return f"teamgate alert: {event}"


def _money(text: Any) -> str:
    return format_usd(usd_to_pico(Decimal(str(text))))


# payload field -> (label, how to show it); in this order
_FIELDS: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("spent_usd", "Spent", _money),
    ("budget_usd", "Budget", _money),
    ("threshold", "Threshold", lambda t: format((Decimal(str(t)) * 100).normalize(), "f") + "%"),
    ("worst_case_usd", "Request that did not fit", _money),
    ("resets_at", "Resets at", str),
    ("runs_out_on", "Runs out on", str),
    ("previous_runs_out_on", "Previously projected", str),
    ("projected_usd", "Projected month end", _money),
    ("reason", "Reason", str),
    ("until", "Until", str),
    ("actor", "By", str),
    ("period", "Period", str),
)


def figures(p: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) lines for people: money as ``$1,234.57``, thresholds in percent."""
    return [(label, show(p[key])) for key, label, show in _FIELDS if p.get(key) is not None]


def _mrkdwn(text: str) -> str:
    """Slack's three control characters escaped: a reason cannot ping ``<!channel>``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(p: Mapping[str, Any]) -> dict[str, Any]:
    """The Block Kit message of an alert (``text`` stays as the notification fallback)."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title(p)[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _mrkdwn(str(p["text"]))}},
    ]
    fields = [
        {"type": "mrkdwn", "text": f"*{label}*\n{_mrkdwn(value)}"} for label, value in figures(p)
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields[:10]})  # Slack's limit
    context = f"event `{p['event']}`"
    if p.get("scope"):
        context += f" · scope `{_mrkdwn(str(p['scope']))}`"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": str(p["text"]), "blocks": blocks}


class AiohttpPoster:
    """The default :data:`HttpPost`: one aiohttp session, opened on first use."""

    def __init__(self, timeout_s: float = 10.0) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def __call__(self, url: str, body: bytes) -> int:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        headers = {"content-type": "application/json"}
        async with self._session.post(url, data=body, headers=headers) as response:
            await response.read()
            return response.status

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class WebhookChannel:
    """POSTs each alert to ``url``: Block Kit for Slack, the plain JSON otherwise."""

    name = "webhook"

    def __init__(self, url: Callable[[], str | None], post: HttpPost | None = None) -> None:
        self._url = url
        self._own = AiohttpPoster() if post is None else None
        self._post: HttpPost = post or self._own  # type: ignore[assignment]

    async def send(self, payload: Mapping[str, Any]) -> None:
        url = self._url()
        if url is None:
            return
        body = slack_body(payload) if is_slack(url) else payload
        try:
            status = await self._post(url, orjson.dumps(body))
        except Exception as exc:  # the URL may be in the message: the type only
            raise DeliveryFailed(type(exc).__name__) from None
        if not 200 <= status < 300:
            raise DeliveryFailed(f"HTTP {status}")

    async def close(self) -> None:
        if self._own is not None:
            await self._own.close()


def recipients(settings: EmailSettings, team: str | None) -> list[str]:
    """``to`` and, for a team's alert, that team's ``contacts`` (each address once)."""
    found = [*settings.to, *(settings.contacts.get(team, ()) if team else ())]
    return list(dict.fromkeys(found))


def email_message(settings: EmailSettings, payload: Mapping[str, Any]) -> EmailMessage | None:
    """The plain-text email of one alert; None when nobody is to receive it."""
    to = recipients(settings, payload.get("team"))
    if not to:
        return None
    msg = EmailMessage()
    msg["Subject"] = f"[teamgate] {title(payload)}"
    msg["From"] = settings.from_address
    msg["To"] = ", ".join(to)
    lines = [str(payload["text"]), ""]
    lines += [f"{label}: {value}" for label, value in figures(payload)]
    lines += ["", "The alert as JSON (the webhook's schema):", orjson.dumps(payload).decode()]
    msg.set_content("\n".join(lines) + "\n")
    return msg


class EmailChannel:
    """Sends each alert as an email through ``alerts.email``'s SMTP server (aiosmtplib)."""

    name = "email"

    def __init__(
        self,
        settings: Callable[[], EmailSettings | None],
        password: Callable[[str], str],
    ) -> None:
        self._settings = settings
        self._password = password  # resolves the secret reference at send time

    async def send(self, payload: Mapping[str, Any]) -> None:
        s = self._settings()
        if s is None:
            return
        msg = email_message(s, payload)
        if msg is None:
            return
        import aiosmtplib  # the `email` extra (checked when the config is loaded)

        try:
            password = None
            if s.password is not None:
                password = await asyncio.to_thread(self._password, s.password)
            await aiosmtplib.send(
                msg,
                hostname=s.host,
                port=s.port,
                use_tls=s.tls == "tls",
                start_tls=s.tls == "starttls",
                username=s.username,
                password=password,
                timeout=s.timeout_s,
            )
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryFailed(f"SMTP {exc.code}") from None
        except Exception as exc:
            raise DeliveryFailed(type(exc).__name__) from None

    async def close(self) -> None:
        return None
