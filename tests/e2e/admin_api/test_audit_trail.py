"""Every state-changing admin operation and CLI command leaves exactly one audit row,
visible in ``/admin/audit``, ``teamgate audit --json`` and the dashboard, with no secret
in any field. Read-only operations leave none."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from teamgate.admin.openapi import openapi_document
from teamgate.app import create_app
from teamgate.auth.keys import new_client_key
from teamgate.cli import build_parser, main
from teamgate.config.loader import load_settings
from teamgate.http.serving import ServerThread
from teamgate.ledger.audit_records import AuditEntry
from teamgate.ledger.pause_records import Pause
from teamgate.ledger.sqlite.store import SQLiteStore
from teamgate.simulator import Simulator
from tests.conftest import BASE_CONFIG, UPSTREAM_SECRETS, merge
from tests.support.admin_gateway import ADMIN_KEY
from tests.support.cli_commands import cli_commands

WEBHOOK_TOKEN = "whsec_audit_token_91ab"
NEW_UPSTREAM = "gsk_test_chatbot_prod_audit_7788"
ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}


@dataclass
class Setup:
    url: str
    config: Path
    db: Path
    secrets: set[str] = field(default_factory=set)

    def entries(self) -> list[AuditEntry]:
        async def go() -> list[AuditEntry]:
            store = SQLiteStore(str(self.db))
            await store.open()
            try:
                return await store.audit_entries(limit=1000)
            finally:
                await store.close()

        return asyncio.run(go())

    def pause(self, scope: str) -> None:
        async def go() -> None:
            store = SQLiteStore(str(self.db))
            await store.open()
            try:
                await store.set_pause(Pause(scope, "to lift", None, time.time(), "test"))
            finally:
                await store.close()

        asyncio.run(go())

    def add_key(self, name: str) -> None:
        team, env, purpose = name.split("-", 2)

        async def go() -> None:
            store = SQLiteStore(str(self.db))
            await store.open()
            try:
                record, secret = new_client_key(team, env, purpose)
                await store.add_client_key(record)
                self.secrets.add(secret)
            finally:
                await store.close()

        asyncio.run(go())


def _write_config(folder: Path, upstream: str, budget: int = 200) -> Path:
    data = merge(
        BASE_CONFIG,
        {
            "upstream": {"base_url": upstream},
            "storage": {"url": f"sqlite:///{folder / 'ledger.db'}"},
            "alerts": {"webhook_url": f"https://hooks.example.com/{WEBHOOK_TOKEN}"},
            "teams": {"chatbot": {"monthly_budget_usd": budget}},
        },
    )
    config = folder / "teamgate.yaml"
    config.write_text(yaml.safe_dump(data))
    return config


@pytest.fixture
def setup(simulator: Simulator, tmp_path: Path) -> Iterator[Setup]:
    config = _write_config(tmp_path, simulator.url)  # type: ignore[attr-defined]
    env = {**UPSTREAM_SECRETS, "TEAMGATE_ADMIN_KEY": ADMIN_KEY}
    app = create_app(load_settings(config, env), env=env, config_path=config)
    with ServerThread(app) as url:
        yield Setup(
            url,
            config,
            tmp_path / "ledger.db",
            {ADMIN_KEY, WEBHOOK_TOKEN, *UPSTREAM_SECRETS.values(), NEW_UPSTREAM},
        )


# --- the admin API ---------------------------------------------------------------------


def _create(s: Setup) -> httpx.Response:
    body = {"team": "chatbot", "environment": "prod", "purpose": "audited"}
    return httpx.post(s.url + "/admin/keys", headers=ADMIN, json=body)


def _revoke(s: Setup) -> httpx.Response:
    s.add_key("chatbot-prod-old")
    return httpx.post(s.url + "/admin/keys/chatbot-prod-old/revoke", headers=ADMIN)


def _rotate(s: Setup) -> httpx.Response:
    s.add_key("chatbot-prod-rot")
    return httpx.post(
        s.url + "/admin/keys/chatbot-prod-rot/rotate", headers=ADMIN, json={"grace": "1h"}
    )


def _pause(s: Setup) -> httpx.Response:
    body = {"scope": "team:chatbot", "reason": "runaway job", "until": "2h"}
    return httpx.post(s.url + "/admin/pauses", headers=ADMIN, json=body)


def _resume(s: Setup) -> httpx.Response:
    s.pause("env:chatbot/prod")  # in the store: the pause's own row is not this case's
    return httpx.post(
        s.url + "/admin/pauses/resume", headers=ADMIN, json={"scope": "env:chatbot/prod"}
    )


def _reload(s: Setup) -> httpx.Response:
    upstream = yaml.safe_load(s.config.read_text())["upstream"]["base_url"]
    _write_config(s.config.parent, upstream, budget=250)
    headers = {**ADMIN, "x-teamgate-actor": "cli:ops@laptop"}
    return httpx.post(s.url + "/admin/reload", headers=headers)


# operationId -> (the call, the action, the target, a check of before/after)
ADMIN_OPERATIONS: dict[str, tuple[Callable[[Setup], httpx.Response], str, str, Any]] = {
    "createKey": (_create, "keys.create", "chatbot-prod-audited", {"team": "chatbot"}),
    "revokeKey": (_revoke, "keys.revoke", "chatbot-prod-old", {"state": "revoked"}),
    "rotateKey": (_rotate, "keys.rotate", "chatbot-prod-rot", {"state": "active"}),
    "pauseScope": (_pause, "pause", "team:chatbot", {"reason": "runaway job"}),
    "resumeScope": (_resume, "resume", "env:chatbot/prod", {}),
    "reload": (
        _reload,
        "config.reload",
        "teamgate.yaml",
        {"teams.chatbot.monthly_budget_usd": "250"},
    ),
}


def _state_changing(doc: dict[str, Any]) -> dict[str, str]:
    return {
        op["operationId"]: method.upper()
        for ops in doc["paths"].values()
        for method, op in ops.items()
        if method.upper() in ("POST", "PUT", "PATCH", "DELETE")
    }


def _read_only(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (op["operationId"], path)
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if method == "get" and "{" not in path
    ]


def test_every_state_changing_operation_has_a_case() -> None:
    assert set(_state_changing(openapi_document())) == set(ADMIN_OPERATIONS)
    assert "getAudit" in {op for op, _ in _read_only(openapi_document())}


def _no_secret(entry: AuditEntry, secrets: set[str]) -> None:
    text = json.dumps(entry.as_json())
    for secret in secrets:
        assert secret not in text, f"a secret ({secret[:6]}…) is in the audit row {entry}"


@pytest.mark.parametrize("operation", sorted(ADMIN_OPERATIONS))
def test_each_admin_operation_leaves_one_row(
    setup: Setup, operation: str, capsys: pytest.CaptureFixture[str]
) -> None:
    call, action, target, after = ADMIN_OPERATIONS[operation]
    before = len(setup.entries())
    resp = call(setup)
    assert resp.status_code in (200, 201), resp.text
    for value in json.dumps(resp.json()).split('"'):  # secrets the answer handed out
        if value.startswith("tg_") and len(value) > 20:
            setup.secrets.add(value)
    rows = setup.entries()
    assert len(rows) == before + 1, rows
    row = rows[0]
    assert row.action == action and row.target.endswith(target)
    assert row.actor.startswith("admin-key:") and row.source == "127.0.0.1"
    assert after.items() <= json.loads(row.after).items(), row.after
    if operation == "reload":
        assert json.loads(row.before) == {"teams.chatbot.monthly_budget_usd": "200"}
        assert row.actor.endswith("(cli:ops@laptop)")
    _no_secret(row, setup.secrets)
    # The same row in the API, the CLI and what the dashboard reads.
    page = httpx.get(setup.url + "/admin/audit", headers=ADMIN).json()
    assert page["entries"][0] == row.as_json()
    capsys.readouterr()
    assert main(["audit", "--config", str(setup.config), "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert json.loads(lines[0]) == row.as_json()
    assert len(lines) == len(rows)


@pytest.mark.parametrize(("operation", "path"), _read_only(openapi_document()))
def test_read_only_operations_leave_no_row(setup: Setup, operation: str, path: str) -> None:
    before = len(setup.entries())
    resp = httpx.get(setup.url + path, headers=ADMIN)
    assert resp.status_code == 200, (operation, resp.text)
    assert len(setup.entries()) == before


def test_refused_operations_leave_no_row(setup: Setup) -> None:
    assert httpx.post(setup.url + "/admin/keys/nobody/revoke", headers=ADMIN).status_code == 404
    bad = {"x-admin-key": "wrong" * 8}
    assert httpx.post(setup.url + "/admin/keys", headers=bad, json={}).status_code == 401
    assert setup.entries() == []


def test_dashboard_sign_in_and_out_and_the_audit_panel(setup: Setup) -> None:
    with httpx.Client(base_url=setup.url) as client:
        _sign_in_and_out(setup, client)


def _sign_in_and_out(setup: Setup, client: httpx.Client) -> None:
    csrf = client.get("/dashboard/login").cookies["tg_login_csrf"]
    resp = client.post("/dashboard/login", data={"csrf": csrf, "key": ADMIN_KEY})
    assert resp.status_code == 303
    session = client.cookies["tg_session"]
    setup.secrets.add(session)
    page = client.get("/dashboard")
    assert "id=audit" in page.text and "/dashboard/static/audit.js" in page.text
    assert client.get("/dashboard/static/audit.js").status_code == 200
    shown = client.get("/admin/audit").json()["entries"]  # what the panel reads
    assert [e["action"] for e in shown] == ["dashboard.sign_in"]
    assert shown[0]["actor"].startswith("admin-key:")
    assert shown[0]["after"]["role"] == "admin"
    panel_csrf = page.text.split('name=csrf value="', 1)[1].split('"', 1)[0]
    assert client.post("/dashboard/logout", data={"csrf": panel_csrf}).status_code == 303
    rows = setup.entries()
    assert [r.action for r in rows] == ["dashboard.sign_out", "dashboard.sign_in"]
    assert rows[0].actor == rows[1].actor
    assert rows[0].as_json()["after"]["session"] == rows[1].as_json()["after"]["session"]
    for row in rows:
        _no_secret(row, setup.secrets)
    # A failed sign-in is not an action (the gate counts it); nothing is written.
    csrf = client.get("/dashboard/login").cookies["tg_login_csrf"]
    assert client.post("/dashboard/login", data={"csrf": csrf, "key": "no"}).status_code == 401
    assert len(setup.entries()) == 2


def test_audit_paging_and_since(setup: Setup) -> None:
    for i in range(5):
        setup.add_key(f"chatbot-prod-p{i}")
        httpx.post(setup.url + f"/admin/keys/chatbot-prod-p{i}/revoke", headers=ADMIN)
    first = httpx.get(setup.url + "/admin/audit?limit=2", headers=ADMIN).json()
    assert [e["target"] for e in first["entries"]] == ["chatbot-prod-p4", "chatbot-prod-p3"]
    second = httpx.get(
        setup.url + f"/admin/audit?limit=2&before={first['next_before']}", headers=ADMIN
    ).json()
    assert [e["target"] for e in second["entries"]] == ["chatbot-prod-p2", "chatbot-prod-p1"]
    future = httpx.get(setup.url + f"/admin/audit?since={time.time() + 60}", headers=ADMIN)
    assert future.json() == {"entries": [], "next_before": None}
    assert len(httpx.get(setup.url + "/admin/audit?since=1h", headers=ADMIN).json()["entries"]) == 5
    bad = httpx.get(setup.url + "/admin/audit?limit=0", headers=ADMIN)
    assert bad.status_code == 400


# --- the CLI ---------------------------------------------------------------------------

STATE_CHANGING_CLI = {
    "teamgate keys create",
    "teamgate keys revoke",
    "teamgate keys rotate",
    "teamgate upstream rotate",
    "teamgate upstream retire",
    "teamgate reload",
    "teamgate migrate",
    "teamgate pause",
    "teamgate resume",
}
READ_ONLY_CLI = {
    "teamgate serve",
    "teamgate simulator",
    "teamgate demo",
    "teamgate check",
    "teamgate keys list",
    "teamgate upstream status",
    "teamgate report weekly",
    "teamgate report monthly",
    "teamgate report export",
    "teamgate pricing",
    "teamgate schema",
    "teamgate usage",
    "teamgate audit",
}


def test_every_cli_command_is_classified() -> None:
    commands = set(cli_commands(build_parser()))
    leaves = {c for c in commands if not any(o.startswith(c + " ") for o in commands)}
    assert leaves == STATE_CHANGING_CLI | READ_ONLY_CLI


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "30"])


def _cli_case(command: str, s: Setup) -> tuple[list[str], str, str]:
    """(argv, action, target) for one state-changing command, after its preparation."""
    c = ["--config", str(s.config)]
    if command == "teamgate keys create":
        argv = ["keys", "create", *c, "--team", "chatbot", "--env", "prod", "--purpose", "cli"]
        return argv, "keys.create", "chatbot-prod-cli"
    if command == "teamgate keys revoke":
        s.add_key("chatbot-prod-gone")
        return ["keys", "revoke", *c, "chatbot-prod-gone"], "keys.revoke", "chatbot-prod-gone"
    if command == "teamgate keys rotate":
        s.add_key("chatbot-prod-next")
        return ["keys", "rotate", *c, "chatbot-prod-next"], "keys.rotate", "chatbot-prod-next"
    if command == "teamgate upstream rotate":
        argv = ["upstream", "rotate", *c, "--project", "chatbot-prod"]
        argv += ["--name", "chatbot-prod-2026-05", "--secret", "env:GROQ_KEY_AUDIT_NEW"]
        return argv, "upstream.rotate", "chatbot-prod-2026-05"
    if command == "teamgate upstream retire":
        argv = ["upstream", "retire", *c, "--name", "chatbot-staging-2026-04", "--force"]
        return argv, "upstream.retire", "chatbot-staging-2026-04"
    if command == "teamgate reload":
        return ["reload", *c, "--pid", "PID"], "config.reload", "teamgate.yaml"
    if command == "teamgate pause":
        argv = ["pause", *c, "chatbot/staging", "--reason", "load test", "--until", "2h"]
        return argv, "pause", "env:chatbot/staging"
    if command == "teamgate resume":
        assert main(["pause", *c, "--key", "chatbot-prod-x", "--reason", "r"]) == 2  # no key
        s.add_key("chatbot-prod-paused")
        assert main(["pause", *c, "--key", "chatbot-prod-paused", "--reason", "leak"]) == 0
        return ["resume", *c, "--key", "chatbot-prod-paused"], "resume", "key:chatbot-prod-paused"
    assert command == "teamgate migrate"
    return ["migrate", *c], "schema.migrate", "ledger.db"


@pytest.mark.parametrize("command", sorted(STATE_CHANGING_CLI))
def test_each_state_changing_cli_command_leaves_one_row(
    setup: Setup,
    command: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in {**UPSTREAM_SECRETS, "GROQ_KEY_AUDIT_NEW": NEW_UPSTREAM}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TEAMGATE_ADMIN_KEY", ADMIN_KEY)
    argv, action, target = _cli_case(command, setup)
    sleeper = _sleeper() if "PID" in argv else None
    if sleeper is not None:
        argv[argv.index("PID")] = str(sleeper.pid)
    before = len(setup.entries())
    try:
        assert main(argv) == 0, capsys.readouterr()
    finally:
        if sleeper is not None:
            sleeper.kill()
            sleeper.wait()
    out = capsys.readouterr().out
    setup.secrets.update(w.strip('",{}:') for w in out.split() if "tg_" in w)  # issued keys
    rows = setup.entries()
    assert len(rows) == before + 1, rows
    row = rows[0]
    assert row.action == action and row.target.endswith(target), row
    assert row.actor.startswith("cli:") and "@" in row.actor and row.source == "cli"
    _no_secret(row, setup.secrets)
    assert main(["audit", "--config", str(setup.config), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[0]) == row.as_json()
    assert main(["audit", "--config", str(setup.config), "--since", "1h"]) == 0
    table = capsys.readouterr().out
    assert action in table and "cli:" in table
