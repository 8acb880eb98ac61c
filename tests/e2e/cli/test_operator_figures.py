"""Figures an operator can trust: the right ledger, the right week, the right gateway."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from teamgate.config.loader import load_settings
from tests.e2e.cli.cli_inproc import teamgate, write_config
from tests.e2e.cli.test_serve_reload import SRC

READING_COMMANDS = [
    ("usage",),
    ("usage", "--json"),
    ("report", "weekly"),
    ("report", "monthly", "--json"),
    ("report", "export", "--from", "2026-11-01", "--to", "2026-12-01"),
    ("keys", "list"),
    ("keys", "revoke", "chatbot-prod-web"),
    ("keys", "rotate", "chatbot-prod-web"),
    ("upstream", "status"),
    ("upstream", "retire", "--name", "chatbot-prod-2026-04"),
]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TEAMGATE_CONFIG", "TEAMGATE_ADMIN_KEY", "GROQ_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("command", READING_COMMANDS, ids=" ".join)
def test_a_missing_ledger_is_an_error_not_zeros(
    command: tuple[str, ...],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(tmp_path / "etc")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, out, err = teamgate(capsys, *command, "--config", str(config))
    assert code == 2
    assert out == ""
    assert f"no ledger at {tmp_path / 'etc' / 'ledger.db'}" in err
    assert not (tmp_path / "etc" / "ledger.db").exists()
    assert list(elsewhere.iterdir()) == []  # nothing created where the command ran


def test_config_paths_are_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    patch = {
        "teams": {
            "analytics": {
                "environments": {
                    "prod": {"upstream_keys": [{"name": "a-1", "secret": "file:secrets/groq"}]}
                }
            }
        }
    }
    config = write_config(tmp_path / "etc", patch)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    made = teamgate(
        capsys, "keys", "create", "-c", str(config), "--team", "chatbot", "--env", "prod",
        "--purpose", "web",
    )  # fmt: skip
    assert made[0] == 0, made[2]
    assert (tmp_path / "etc" / "ledger.db").exists()
    assert list(elsewhere.iterdir()) == []
    code, out, _ = teamgate(capsys, "keys", "list", "-c", str(config), "--json")
    assert code == 0 and [k["name"] for k in orjson.loads(out)] == ["chatbot-prod-web"]
    settings = load_settings(config, {})
    (key,) = settings.teams["analytics"].environments["prod"].upstream_keys
    assert key.secret == f"file:{tmp_path / 'etc' / 'secrets' / 'groq'}"
    # A path set by a variable is the shell's: relative to the working folder.
    assert load_settings(config, {"TEAMGATE_STORAGE__URL": "sqlite:///x.db"}).storage.url == (
        "sqlite:///x.db"
    )


def test_report_weekly_says_its_dates_and_refuses_the_future(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    teamgate(capsys, "keys", "create", "-c", str(config), "--team", "chatbot", "--env", "prod",
             "--purpose", "web")  # fmt: skip
    code, out, _ = teamgate(capsys, "report", "weekly", "-c", str(config))
    assert code == 0
    title = out.splitlines()[0]
    assert title.startswith("Weekly report 20") and " to 20" in title and "(UTC)" in title
    code, out, err = teamgate(capsys, "report", "weekly", "-c", str(config), "--week", "2999-W01")
    assert code == 2 and out == ""
    assert "2999-W01 has not started yet" in err
    code, out, err = teamgate(capsys, "report", "monthly", "-c", str(config), "--month", "2999-01")
    assert code == 2 and "has not started yet" in err


def test_report_weekly_help_says_the_default_week(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        teamgate(capsys, "report", "weekly", "--help")
    text = " ".join(capsys.readouterr().out.split())
    assert "Without --week: the last complete week" in text


def test_send_without_a_webhook_builds_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    teamgate(capsys, "keys", "create", "-c", str(config), "--team", "chatbot", "--env", "prod",
             "--purpose", "web")  # fmt: skip
    code, out, err = teamgate(capsys, "report", "weekly", "-c", str(config), "--send")
    assert code == 2
    assert out == ""  # the report was not printed before failing
    assert "--send needs alerts.webhook_url" in err


def test_keys_help_lists_every_action(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        teamgate(capsys, "--help")
    line = next(x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("keys"))
    for action in ("create", "list", "revoke", "rotate"):
        assert action in line


def test_a_rotated_key_shows_in_grace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(write_config(tmp_path))
    teamgate(capsys, "keys", "create", "-c", config, "--team", "chatbot", "--env", "prod",
             "--purpose", "web")  # fmt: skip
    code, out, _ = teamgate(capsys, "keys", "rotate", "chatbot-prod-web", "-c", config, "--json")
    assert code == 0
    old_name = orjson.loads(out)["old_name"]
    code, out, _ = teamgate(capsys, "keys", "list", "-c", config)
    states = {line.split()[0]: line.split()[-1] for line in out.splitlines()[2:]}
    assert states == {"chatbot-prod-web": "active", old_name: "in-grace"}


def _ledger_with_records(tmp_path: Path, extra: int = 0) -> Path:
    from teamgate.ledger.sqlite.store import SQLiteStore
    from tests.support.priced_records import record

    config = write_config(tmp_path)

    async def fill() -> None:
        store = SQLiteStore(str(tmp_path / "ledger.db"))
        await store.open()
        recs = [
            record(1_795_000_000.25, "chatbot", "llama-3.1-8b-instant", 100, 20, streamed=True),
            record(1_795_000_100.0, "research", "llama-3.1-8b-instant", 10, 0,
                   refusal="team_budget"),
        ]  # fmt: skip
        recs += [
            record(1_795_001_000.0 + i, "chatbot", "llama-3.1-8b-instant", 5, 5,
                   request_id=f"x{i}")
            for i in range(extra)
        ]  # fmt: skip
        await store.append_usage(recs)
        await store.close()

    import asyncio

    asyncio.run(fill())
    return config


def test_export_csv_has_iso_times_booleans_and_dollars(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _ledger_with_records(tmp_path)
    code, out, _ = teamgate(
        capsys, "report", "export", "-c", str(config), "--from", "2026-11-01", "--to", "2026-12-01"
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["ts"] for r in rows] == ["2026-11-18T11:06:40.250Z", "2026-11-18T11:08:20.000Z"]
    assert [r["streamed"] for r in rows] == ["true", "false"]
    assert rows[0]["cost_pusd"] == str(100 * 50_000 + 20 * 80_000)
    assert rows[0]["cost_usd"] == "0.000006600000"
    assert rows[1]["refusal"] == "team_budget"


def test_export_into_a_closed_pipe_stops_quietly(tmp_path: Path) -> None:
    config = _ledger_with_records(tmp_path, extra=30_000)
    env = {**os.environ, "PYTHONPATH": SRC}
    shell = (
        f"{sys.executable} -m teamgate report export -c {config} --from 2026-11-01 "
        "--to 2026-12-01 | head -c 1 >/dev/null; echo status=${PIPESTATUS[0]}"
    )
    # 30,000 rows: the reader leaves long before the writer is done.
    result = subprocess.run(
        ["bash", "-c", shell], env=env, capture_output=True, text=True, timeout=60
    )
    assert "Traceback" not in result.stderr
    assert "BrokenPipeError" not in result.stderr
    assert result.stdout.strip() == "status=141"
