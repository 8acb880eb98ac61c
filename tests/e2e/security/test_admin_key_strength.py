"""``teamgate serve`` refuses to start with a weak admin key: one clear line, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from teamgate.admin.key_strength import admin_key_problem
from teamgate.cli import main
from tests.conftest import BASE_CONFIG, UPSTREAM_SECRETS, merge
from tests.support.serve_process import ADMIN_KEY, SRC

WEAK = [
    "short",
    "adm_test_9f8e7d6c5b4a3928170",  # 28 characters
    "changeme",
    "changeme-changeme-changeme-changeme",
    "your-admin-key-your-admin-key-000",
    "TEAMGATE_ADMIN_KEY_TEAMGATE_ADMIN_KEY",
    "x" * 64,
    "abababababababababababababababababab",
]


def _config(tmp_path: Path) -> Path:
    data = merge(BASE_CONFIG, {"storage": {"url": f"sqlite:///{tmp_path / 'l.db'}"}})
    config = tmp_path / "teamgate.yaml"
    config.write_text(yaml.safe_dump(data))
    return config


@pytest.mark.parametrize("key", WEAK)
def test_a_weak_admin_key_stops_start_up(
    key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TEAMGATE_ADMIN_KEY", key)
    # --workers 2 without Redis also exits 2, with another message, should the key pass:
    # this test never starts a server.
    assert main(["serve", "--config", str(_config(tmp_path)), "--workers", "2"]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("teamgate serve: the admin key in $TEAMGATE_ADMIN_KEY ")
    assert "secrets.token_urlsafe" in lines[0]
    assert key not in err or len(key) < 8  # the key itself is never echoed
    assert not (tmp_path / "l.db").exists()  # nothing was started


def test_a_weak_key_in_a_custom_variable_is_named(tmp_path: Path) -> None:
    data = merge(BASE_CONFIG, {"admin": {"key_env": "OPS_ADMIN"}})
    config = tmp_path / "teamgate.yaml"
    config.write_text(yaml.safe_dump(data))
    out = subprocess.run(
        [sys.executable, "-m", "teamgate", "serve", "--config", str(config), "--workers", "2"],
        env={"PYTHONPATH": SRC, "OPS_ADMIN": "admin123", **UPSTREAM_SECRETS, "PATH": "/usr/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "$OPS_ADMIN is 8 characters long; it must have at least 32" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    "key",
    [
        ADMIN_KEY,  # the suite's own serve key
        "adm_test_9f8e7d6c5b4a39281706_Qx7Lm2",
        "adm_reload_3Vq8Zt1Lk6Wm9Xc2Hn5Bd7Fj",
        "Zr7Qk2mX9vLw4Tn8Bp1Hc6Yd3Fg5Js0A",
    ],
)
def test_strong_keys_pass(key: str) -> None:
    assert admin_key_problem(key) is None
