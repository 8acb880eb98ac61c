"""Sub-budgets where people look: a key's own budget from the admin API and the CLI, and
every scope's budget and spend in the usage API, /admin/budget, /metrics and
``teamgate usage`` — each figure the ledger's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from teamgate.simulator import Simulator
from tests.conftest import BASE_CONFIG, merge
from tests.e2e.cli.cli_inproc import teamgate, write_config
from tests.support.admin_gateway import (
    ADMIN_KEY,
    admin,
    chat,
    flushed_records,
    start_admin_gateway,
)
from tests.support.cli_schemas import check

KEY = "chatbot-staging-job"
STAGING = {"teams": {"chatbot": {"environments": {"staging": {"monthly_budget_usd": "20"}}}}}


def metric(text: str, name: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels, value = line[len(name) :].rsplit(" ", 1)
            scope = labels.split('scope="', 1)[1].split('"', 1)[0]
            out[scope] = float(value)
    return out


def test_every_scope_is_shown_with_the_ledgers_figures(
    simulator: Simulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for gw in start_admin_gateway(simulator, tmp_path, STAGING):
        with admin(gw) as client:
            made = client.post(
                "/admin/keys",
                json={
                    "team": "chatbot",
                    "environment": "staging",
                    "purpose": "job",
                    "budget_usd": "0.5",
                },
            )
            assert made.status_code == 201, made.text
            assert made.json()["budget_usd"] == "0.500000000000"
            for bad, role in (("-1", "client"), ("0.0000000000001", "client"), ("1", "viewer")):
                body: dict[str, Any] = {"team": "chatbot", "purpose": "x", "budget_usd": bad}
                body |= {"environment": "staging"} if role == "client" else {"role": role}
                refused = client.post("/admin/keys", json=body)
                assert refused.status_code == 400, (bad, role)
                assert refused.json()["error"]["code"] == "invalid_field"
            listed = {k["name"]: k for k in client.get("/admin/keys").json()["keys"]}
            assert listed[KEY]["budget_usd"] == "0.500000000000"
            assert listed["chatbot-prod-test"]["budget_usd"] is None
        secret = made.json()["key"]
        for _ in range(2):
            assert chat(gw, secret) == 200
        assert chat(gw, gw.key("chatbot", "prod")) == 200
        records = flushed_records(gw)
        job = sum(r.cost_pusd for r in records if r.client_key == KEY)
        team = sum(r.cost_pusd for r in records if r.team == "chatbot")
        org = sum(r.cost_pusd for r in records)
        assert 0 < job < team

        # The usage API: every budget the key's requests are reserved against.
        usage = httpx.get(
            gw.url + "/teamgate/v1/usage", headers={"authorization": f"Bearer {secret}"}
        ).json()
        shown = {s["scope"]: s for s in usage["scopes"]}
        assert list(shown) == [f"key:{KEY}", "env:chatbot/staging", "team:chatbot", "org"]
        settled = {scope: int(float(s["settled_usd"]) * 10**12 + 0.5) for scope, s in shown.items()}
        assert settled == {
            f"key:{KEY}": job,
            "env:chatbot/staging": job,
            "team:chatbot": team,
            "org": org,
        }
        assert shown[f"key:{KEY}"]["monthly_budget_usd"] == "0.500000000000"
        assert shown["env:chatbot/staging"]["monthly_budget_usd"] == "20.000000000000"

        # /admin/budget and /metrics.
        with admin(gw) as client:
            rows = {r["scope"]: r for r in client.get("/admin/budget").json()["scopes"]}
        assert rows["env:chatbot/staging"]["settled_pusd"] == job
        assert rows[f"key:{KEY}"]["remaining_pusd"] == 5 * 10**11 - job
        assert "env:chatbot/prod" not in rows  # no sub-budget there
        page = httpx.get(gw.url + "/metrics", headers={"x-admin-key": ADMIN_KEY}).text
        spend = metric(page, "teamgate_sub_budget_spend_month_usd")
        assert spend == {"env:chatbot/staging": job / 10**12, f"key:{KEY}": job / 10**12}
        left = metric(page, "teamgate_sub_budget_remaining_usd")
        assert left[f"key:{KEY}"] == (5 * 10**11 - job) / 10**12

        # teamgate usage, beside the running gateway (its reservations: none open).
        config = tmp_path / "cli.yaml"
        config.write_text(
            yaml.safe_dump(
                merge(merge(BASE_CONFIG, STAGING), {"storage": {"url": gw.settings.storage.url}})
            )
        )
        monkeypatch.setenv("TEAMGATE_ADMIN_KEY", ADMIN_KEY)
        code, out, err = teamgate(capsys, "usage", "-c", str(config), "--json", "--url", gw.url)
        assert code == 0, err
        report = orjson.loads(out)
        check("usage", report)
        by_name = {(r["scope"], r["name"]): r for r in report["scopes"]}
        assert by_name[("environment", "chatbot/staging")]["spent_pusd"] == job
        assert by_name[("environment", "chatbot/staging")]["budget_usd"] == "20.000000000000"
        assert by_name[("key", KEY)]["spent_pusd"] == job
        assert by_name[("key", KEY)]["requests"] == 2
        assert by_name[("key", KEY)]["reserved_pusd"] == 0
        assert by_name[("team", "chatbot")]["spent_pusd"] == team
        code, out, _ = teamgate(capsys, "usage", "-c", str(config), "--url", gw.url)
        assert f"key {KEY}" in out and "environment chatbot/staging" in out


def test_keys_create_budget(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = str(write_config(tmp_path))
    base = ("keys", "create", "--team", "chatbot", "--env", "staging", "-c", cfg)
    assert teamgate(capsys, *base, "--purpose", "job", "--budget", "12.345")[0] == 0
    code, out, _ = teamgate(capsys, "keys", "list", "-c", cfg, "--json")
    assert code == 0
    [key] = orjson.loads(out)
    check("key", key)
    assert key["budget_usd"] == "12.345000000000"
    for bad in ("-1", "lots", "0.0000000000001"):
        code, _, err = teamgate(capsys, *base, "--purpose", "bad", "--budget", bad)
        assert code == 2
        assert err == (
            "teamgate: a budget is an amount in USD >= 0 with at most 12 decimals, "
            f"at most 1000000, got {bad!r}\n"
        )
    code, _, err = teamgate(
        capsys,
        "keys",
        "create",
        "--team",
        "chatbot",
        "--role",
        "viewer",
        "--purpose",
        "v",
        "--budget",
        "1",
        "-c",
        cfg,
    )
    assert code == 2 and "--budget is for client keys" in err
