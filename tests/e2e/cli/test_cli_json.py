"""Every ``--json`` output matches the JSON Schema documented for it in docs/cli.md.

Also: one source for upstream key figures (CLI, admin API and dashboard agree,
from the store), and ``usage --url`` for a gateway that is not where the config says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import orjson
import pytest
import yaml

from teamgate.admin.routes import SCHEMAS
from teamgate.simulator import Simulator
from tests.conftest import BASE_CONFIG, UPSTREAM_SECRETS, merge
from tests.e2e.cli.cli_inproc import teamgate, write_config
from tests.support.admin_gateway import ADMIN_KEY, admin, chat, start_admin_gateway
from tests.support.cli_schemas import check, documented_schemas


def test_the_doc_has_every_schema() -> None:
    assert set(documented_schemas()) == {
        "usage", "key", "key-created", "key-rotated", "upstream-key", "pricing", "check",
        "upstream-rotated", "upstream-retired", "migrated",
    }  # fmt: skip


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TEAMGATE_CONFIG", "TEAMGATE_ADMIN_KEY", "GROQ_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in UPSTREAM_SECRETS.items():
        monkeypatch.setenv(name, value)


def test_offline_commands_match_their_schemas(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = str(write_config(tmp_path))

    def run(*argv: str) -> Any:
        code, out, err = teamgate(capsys, *argv, "-c", cfg, "--json")
        assert code == 0, err
        return orjson.loads(out)

    made = run("keys", "create", "--team", "chatbot", "--env", "prod", "--purpose", "web")
    check("key-created", made)
    run("keys", "create", "--team", "analytics", "--env", "prod", "--purpose", "cron")
    for key in run("keys", "list"):
        check("key", key)
    rotated = run("keys", "rotate", "chatbot-prod-web")
    check("key-rotated", rotated)
    listed = {k["name"]: k for k in run("keys", "list")}
    assert listed[rotated["old_name"]]["state"] == "in-grace"
    check("key", run("keys", "revoke", "analytics-prod-cron"))
    for row in run("upstream", "status"):
        check("upstream-key", row)
    usage = run("usage")
    check("usage", usage)
    zero = next(s for s in usage["scopes"] if s["scope"] == "org")
    assert zero["spent_usd"] == "0.000000000000" and zero["reserved_pusd"] is None
    assert "TEAMGATE_ADMIN_KEY" in usage["reservations_note"]
    check("pricing", run("pricing"))
    check("check", run("check"))
    check("migrated", run("migrate"))
    retired = teamgate(
        capsys,
        "upstream",
        "retire",
        "--name",
        "analytics-prod-2026-04",
        "--force",
        "-c",
        cfg,
        "--json",
    )
    assert retired[0] == 0, retired[2]
    check("upstream-retired", orjson.loads(retired[1]))
    report = run("report", "weekly")
    jsonschema_rs.validate({**SCHEMAS["Report"], "$defs": {}}, report)


def test_upstream_figures_agree_everywhere_and_usage_finds_the_gateway(
    simulator: Simulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for gw in start_admin_gateway(simulator, tmp_path):
        for _ in range(3):
            assert chat(gw, gw.key("chatbot", "prod")) == 200
        assert chat(gw, gw.key("analytics")) == 200
        # A config that points at the same ledger but at no gateway (port 9 is closed):
        config = tmp_path / "cli.yaml"
        config.write_text(
            yaml.safe_dump(
                merge(
                    BASE_CONFIG,
                    {"server": {"port": 9}, "storage": {"url": gw.settings.storage.url}},
                )
            )
        )
        monkeypatch.setenv("TEAMGATE_ADMIN_KEY", ADMIN_KEY)
        for name in UPSTREAM_SECRETS:  # this shell cannot read the Groq keys
            monkeypatch.delenv(name)
        with admin(gw) as client:
            api = client.get("/admin/upstream").json()["projects"]
            overview = client.get("/admin/overview").json()["upstream"]
        assert overview == api
        from_api = {k["name"]: k for p in api for k in p["keys"]}
        assert from_api["chatbot-prod-2026-04"]["requests"] == 3
        code, out, err = teamgate(
            capsys, "upstream", "status", "-c", str(config), "--json", "--url", gw.url
        )
        assert code == 0, err
        from_cli = {r["key"]: r for r in orjson.loads(out)}
        for name, row in from_cli.items():
            check("upstream-key", row)
            assert row["requests"] == from_api[name]["requests"]
            assert row["requests_24h"] == from_api[name]["requests_24h"]
            assert row["fingerprint"] == from_api[name]["fingerprint"]
            assert row["fingerprint"].startswith("gsk_…")  # never "?": the gateway knows it
        assert from_cli["chatbot-staging-2026-04"]["requests"] == 0  # never used
        # usage: without --url it says why reservations are unknown; with it, it knows.
        code, out, _ = teamgate(capsys, "usage", "-c", str(config))
        assert code == 0
        assert "reserved: - means not known: cannot reach the gateway at http://127.0.0.1:9" in out
        assert "pass --url" in out
        code, out, _ = teamgate(capsys, "usage", "-c", str(config), "--json", "--url", gw.url)
        usage = orjson.loads(out)
        check("usage", usage)
        assert usage["reservations_from"] == f"the gateway at {gw.url}"
        assert all(s["reserved_pusd"] == 0 for s in usage["scopes"])
        metrics = httpx.get(gw.url + "/metrics", headers={"x-admin-key": ADMIN_KEY})
        assert metrics.status_code == 200


def test_usage_lists_the_pauses_in_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = str(write_config(tmp_path))
    made = ("keys", "create", "--team", "chatbot", "--env", "staging", "--purpose", "web")
    assert teamgate(capsys, *made, "-c", cfg)[0] == 0  # the ledger exists from here on
    code, _, err = teamgate(
        capsys, "pause", "chatbot/staging", "--reason", "load test", "--until", "2h", "-c", cfg
    )
    assert code == 0, err
    code, out, err = teamgate(capsys, "usage", "-c", cfg, "--json")
    assert code == 0, err
    usage = orjson.loads(out)
    check("usage", usage)
    [pause] = usage["pauses"]
    assert (pause["scope"], pause["reason"], pause["active"]) == (
        "env:chatbot/staging",
        "load test",
        True,
    )
    code, out, _ = teamgate(capsys, "usage", "-c", cfg)
    assert "paused: environment `chatbot/staging` until 20" in out and "load test" in out
    assert teamgate(capsys, "resume", "chatbot/staging", "-c", cfg)[0] == 0
    code, out, _ = teamgate(capsys, "usage", "-c", cfg, "--json")
    assert orjson.loads(out)["pauses"] == []
