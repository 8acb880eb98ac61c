"""What people receive: a Slack Block Kit message, the plain JSON (valid against the
documented schema) and an email from a local SMTP server (aiosmtpd); a failing webhook
or SMTP server is retried with backoff and never holds anything up."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import warnings
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import jsonschema
import orjson
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from teamgate.auth.pauses import alert_fields, paused_text
from teamgate.config.schema import AlertSettings, EmailSettings, Settings
from teamgate.ledger.pause_records import Pause
from teamgate.observability.alert_delivery import ALERT_SCHEMA, slack_body
from teamgate.observability.alerts import AlertManager
from teamgate.secrets import SecretResolver
from tests.support.alert_fakes import FakeAlertStore, RecordingPoster, make_settings
from tests.support.ports import free_port
from tests.unit.observability.test_alerts import USD

SLACK = "https://hooks.slack.com/services/T000/B000/very-secret-token"
SMTP_PASSWORD = "smtp-pass-0123456789"


class Mailbox:
    """An aiosmtpd handler that keeps every message; ``refuse`` DATA answers first."""

    def __init__(self, refuse: int = 0) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.refuse = refuse
        self.attempts = 0
        self.logins: list[tuple[bytes, bytes]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.attempts += 1
            if self.refuse:
                self.refuse -= 1
                return "451 4.3.0 try again later"
            msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.messages.append((list(envelope.rcpt_tos), msg))  # type: ignore[arg-type]
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == SMTP_PASSWORD.encode())


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    with warnings.catch_warnings():  # AUTH without TLS: a local test server only
        warnings.simplefilter("ignore")
        controller = Controller(
            box,
            hostname="127.0.0.1",
            port=port,
            authenticator=box.authenticate,
            auth_require_tls=False,
        )
        controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def email_settings(port: int, **overrides: Any) -> Settings:
    mail = EmailSettings(
        host="127.0.0.1",
        from_address="teamgate@example.com",
        port=port,
        tls="none",
        username="teamgate",
        password="env:SMTP_PASSWORD",
        to=("ops@example.com",),
        contacts={"chatbot": ("lead@example.com", "ops@example.com")},
        timeout_s=5.0,
    )
    mail = replace(mail, **overrides)
    base = make_settings(webhook=None)
    return replace(base, alerts=AlertSettings(webhook_url=None, email=mail))


def manager(settings: Settings, **kwargs: Any) -> AlertManager:
    return AlertManager(
        settings,
        FakeAlertStore(),
        secrets=SecretResolver({"SMTP_PASSWORD": SMTP_PASSWORD}),
        **kwargs,
    )


async def test_slack_webhook_gets_block_kit() -> None:
    poster = RecordingPoster()
    alerts = AlertManager(make_settings(webhook=SLACK), FakeAlertStore(), http_post=poster)
    await alerts.check("team:chatbot", "2026-11", 161 * USD, 200 * USD)
    pause = Pause("team:chatbot", "runaway <!channel> job", None, 0.0, "cli:ops@h")
    alerts.notify("paused", paused_text(pause), alert_fields(pause, "cli:ops@h"))
    await alerts.flush()
    assert {url for url, _ in poster.calls} == {SLACK}
    first, last = (
        next(body for _, body in poster.calls if body["text"].startswith(start))
        for start in ("teamgate: team `chatbot` has used 50%", "teamgate: team `chatbot` is paused")
    )
    assert first["text"].startswith("teamgate: team `chatbot` has used 50%")  # the fallback
    blocks = first["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section", "section", "context"]
    assert blocks[0]["text"] == {"type": "plain_text", "text": "Budget 50% used: team chatbot"}
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in blocks[2]["fields"]}
    assert fields["*Spent*"] == "$161.00" and fields["*Budget*"] == "$200.00"
    assert fields["*Threshold*"] == "50%" and fields["*Period*"] == "2026-11"
    assert "`team:chatbot`" in blocks[3]["elements"][0]["text"]
    assert "event" not in first  # Slack gets Block Kit, not the JSON
    # a reason cannot ping the channel: Slack's control characters are escaped
    assert "<!channel>" not in orjson.dumps(last["blocks"]).decode()
    assert "&lt;!channel&gt;" in last["blocks"][1]["text"]["text"]
    await alerts.close()


async def test_plain_json_follows_the_schema() -> None:
    poster = RecordingPoster()
    alerts = AlertManager(make_settings(), FakeAlertStore(), http_post=poster, clock=lambda: 7.5)
    await alerts.check("team:chatbot", "2026-11", 161 * USD + 1, 200 * USD)
    alerts.exhausted_nowait(
        "org", "2026-11", 999 * USD, 1000 * USD, 2 * USD, 1796083200.0, "2026-12-01 00:00 UTC"
    )
    pause = Pause("env:chatbot/staging", "load test", 1796083200.0, 0.0, "admin")
    alerts.notify("paused", paused_text(pause), alert_fields(pause, "admin"))
    alerts.notify("resumed", "resumed", alert_fields(pause, "admin", expired=False))
    await alerts.flush()
    events = [p["event"] for p in poster.payloads]
    assert sorted(events) == ["budget_exhausted", "budget_threshold", "budget_threshold",
                              "paused", "resumed"]  # fmt: skip
    for payload in poster.payloads:
        jsonschema.validate(payload, ALERT_SCHEMA)
        assert payload["kind"] == payload["event"] and payload["ts"] == 7.5
    threshold = next(p for p in poster.payloads if p["event"] == "budget_threshold")
    assert threshold["threshold"] == "0.5"  # exact: a string, not a float
    assert threshold["spent_usd"] == "161.000000000001"  # exact to the picodollar
    exhausted = next(p for p in poster.payloads if p["event"] == "budget_exhausted")
    assert (exhausted["scope"], exhausted["team"]) == ("org", None)
    with pytest.raises(jsonschema.ValidationError):  # the schema is not a rubber stamp
        jsonschema.validate({**threshold, "spent_usd": 161.0}, ALERT_SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({k: v for k, v in exhausted.items() if k != "resets_at"}, ALERT_SCHEMA)
    await alerts.close()


async def test_email_through_a_local_smtp_server(smtp: tuple[Mailbox, int]) -> None:
    box, port = smtp
    alerts = manager(email_settings(port))
    await alerts.check("team:chatbot", "2026-11", 161 * USD, 200 * USD)  # 50 %
    alerts.exhausted_nowait(
        "org", "2026-11", 999 * USD, 1000 * USD, 2 * USD, 1796083200.0, "2026-12-01 00:00 UTC"
    )
    await alerts.flush()
    assert len(box.messages) == 3  # 50 %, 80 %, the org's cut-off
    assert set(box.logins) == {(b"teamgate", SMTP_PASSWORD.encode())}  # the reference, read
    by_subject = {msg["Subject"]: (rcpt, msg) for rcpt, msg in box.messages}
    rcpt, msg = by_subject["[teamgate] Budget 50% used: team chatbot"]
    assert sorted(rcpt) == ["lead@example.com", "ops@example.com"]  # `to` and the contacts
    assert msg["From"] == "teamgate@example.com"
    body = msg.get_content()
    assert "teamgate: team `chatbot` has used 50% of its monthly budget" in body
    assert "Spent: $161.00" in body and "Budget: $200.00" in body
    payload = orjson.loads(body.rsplit("\n", 2)[-2])
    assert payload["spent_usd"] == "161.000000000000"
    jsonschema.validate(payload, ALERT_SCHEMA)
    rcpt, msg = by_subject["[teamgate] Budget exhausted: the organization is cut off"]
    assert rcpt == ["ops@example.com"]  # an org alert: no team's contacts
    assert "Request that did not fit: $2.00" in msg.get_content()
    await alerts.close()


async def test_failing_smtp_is_retried_with_backoff(
    smtp: tuple[Mailbox, int], caplog: pytest.LogCaptureFixture
) -> None:
    box, port = smtp
    box.refuse = 2
    alerts = manager(email_settings(port), retry_base_s=0.001)
    await alerts.check("team:chatbot", "2026-11", 100 * USD, 200 * USD)
    await alerts.flush()
    assert box.attempts == 3 and len(box.messages) == 1
    retries = [r.getMessage() for r in caplog.records if "alert email" in r.getMessage()]
    assert retries == [
        "alert email failed (SMTP 451), attempt 1 of 6; retrying in 0.001 s",
        "alert email failed (SMTP 451), attempt 2 of 6; retrying in 0.002 s",
    ]
    assert SMTP_PASSWORD not in caplog.text
    await alerts.close()


async def test_a_down_smtp_server_and_a_hanging_webhook_hold_nothing_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each channel has its own queue: the webhook is delivered while the email retries,
    and the budget book's hook returns at once whatever the channels do."""
    release = asyncio.Event()
    posted = asyncio.Event()
    calls: list[dict[str, Any]] = []

    async def slow_post(url: str, body: bytes) -> int:
        calls.append(orjson.loads(body))
        posted.set()
        if len(calls) == 1:
            await release.wait()
        return 200

    closed_port = free_port()  # nothing listens there: every SMTP attempt fails
    settings = email_settings(closed_port, password=None, username=None)
    settings = replace(settings, alerts=replace(settings.alerts, webhook_url=SLACK))
    alerts = AlertManager(
        settings, FakeAlertStore(), http_post=slow_post, retry_attempts=3, retry_base_s=0.001
    )
    for spent in (100, 170, 195):  # three thresholds, the first post hangs
        alerts.check_nowait("team:chatbot", "2026-11", spent * USD, 200 * USD)
    await posted.wait()
    await asyncio.sleep(0)  # the email worker runs beside the hung webhook
    for _ in range(200):
        if "alert email failed 3 times" in caplog.text:
            break
        await asyncio.sleep(0.01)
    assert caplog.text.count("alert email failed 3 times (SMTPConnectError); giving up") >= 1
    assert len(calls) == 1  # the webhook is still hanging on its first post
    release.set()
    await alerts.flush()
    assert len(calls) == 3
    await alerts.close()


def test_email_settings_are_checked() -> None:
    from teamgate.config.validate import parse_settings

    base: dict[str, Any] = {
        "teams": {
            "chatbot": {
                "allowed_models": ["llama-3.1-8b-instant"],
                "max_tokens_per_request": 100,
                "environments": {
                    "prod": {"upstream_keys": [{"name": "k", "secret": "env:GROQ_KEY"}]}
                },
            }
        }
    }
    good = parse_settings(
        {
            **base,
            "alerts": {
                "forecast_margin_days": 3,
                "email": {
                    "host": "smtp.example.com",
                    "port": 465,
                    "tls": "tls",
                    "from": "teamgate@example.com",
                    "password": "env:SMTP_PASSWORD",
                    "contacts": {"chatbot": ["lead@example.com"]},
                },
            },
        }
    )
    assert good.alerts.forecast_margin_days == 3
    assert good.alerts.email is not None and good.alerts.email.tls == "tls"
    assert good.alerts.email.contacts == {"chatbot": ("lead@example.com",)}
    with pytest.raises(Exception) as bad:
        parse_settings(
            {
                **base,
                "alerts": {
                    "forecast_margin_days": -1,
                    "email": {"host": "h", "from": "nobody", "contacts": {"ghost": []}},
                },
            }
        )
    text = str(bad.value)
    assert "alerts.forecast_margin_days: must be an integer >= 0, got -1" in text
    assert "alerts.email.from: must be an email address" in text
    assert "alerts.email.contacts.ghost: unknown team `ghost`" in text


def test_block_kit_of_a_forecast() -> None:
    payload = {
        "event": "budget_forecast",
        "text": "teamgate: at this pace team `chatbot` runs out …",
        "scope": "team:chatbot",
        "runs_out_on": "2026-11-20",
        "spent_usd": "50.000000000000",
        "budget_usd": "200.000000000000",
        "projected_usd": "300.000000000000",
        "previous_runs_out_on": None,
        "period": "2026-11",
    }
    blocks = slack_body(payload)["blocks"]
    assert blocks[0]["text"]["text"] == "Budget forecast: team chatbot runs out on 2026-11-20"
    labels = [f["text"].split("\n")[0] for f in blocks[2]["fields"]]
    assert labels == ["*Spent*", "*Budget*", "*Runs out on*", "*Projected month end*", "*Period*"]
    assert Decimal(payload["spent_usd"]) == 50
