"""Installed without extras, teamgate serves on SQLite + memory; a config that needs a
missing extra fails with one line naming it (exit 2), never a traceback."""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import teamgate
from teamgate.config.loader import example_config_path

HELPER = Path(__file__).with_name("without_extras.py")
SRC = Path(teamgate.__file__).resolve().parents[1]

# The only modules that need an extra: the Redis and PostgreSQL backends and the OpenID
# Connect client, imported by the gateway only when redis.url / a postgresql://
# storage.url / dashboard.oidc is configured.
NEEDS_AN_EXTRA = {
    "teamgate.shared_redis.budget_failover": "redis",
    "teamgate.shared_redis.budget": "redis",
    "teamgate.shared_redis.limits_failover": "redis",
    "teamgate.shared_redis.limits": "redis",
    "teamgate.shared_redis.batching": "redis",
    "teamgate.shared_redis.backend": "redis",
    "teamgate.shared_redis.gate": "redis",
    "teamgate.shared_redis.client": "redis",
    "teamgate.ledger.postgres.store": "asyncpg",
    "teamgate.dashboard.oidc": "jwt",
}


def without_extras(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60):
    return subprocess.run(
        [sys.executable, str(HELPER), *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(SRC), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_every_other_module_imports_without_any_extra(tmp_path: Path) -> None:
    modules = sorted(
        m.name
        for m in pkgutil.walk_packages(teamgate.__path__, "teamgate.")
        if not m.name.endswith("__main__")
    )
    result = without_extras("import", *modules, cwd=tmp_path)
    failed = {}
    for line in result.stdout.splitlines():
        module, _, outcome = line.partition(": ")
        if outcome != "ok":
            failed[module] = outcome
    assert {m: o.rpartition("'")[0].rpartition("'")[2] for m, o in failed.items()} == NEEDS_AN_EXTRA
    assert len(result.stdout.splitlines()) == len(modules)


def _config(tmp_path: Path, replace: tuple[str, str] | None = None) -> Path:
    text = example_config_path().read_text()
    if replace is not None:
        assert replace[0] in text
        text = text.replace(replace[0], replace[1])
    path = tmp_path / "teamgate.yaml"
    path.write_text(text)
    return path


SQLITE_URL = 'url: "sqlite:///teamgate.db"'
OIDC_SECTION = """
dashboard:
  oidc:
    issuer: https://login.example.com
    client_id: teamgate
    redirect_url: https://gw.example.com/dashboard/oidc/callback
    roles: {platform: admin}
"""


@pytest.mark.parametrize(
    ("replace", "env", "line"),
    [
        pytest.param(
            (SQLITE_URL, 'url: "postgresql://tg:hunter2@db/tg"'),
            {},
            "storage.url is postgresql://… but asyncpg is not installed: "
            "pip install 'teamgate[postgres]'",
            id="postgres",
        ),
        pytest.param(
            None,
            {"TEAMGATE_REDIS__URL": "redis://:hunter2@cache:6379/0"},
            "redis.url is redis://… but redis is not installed: pip install 'teamgate[redis]'",
            id="redis",
        ),
        pytest.param(
            None,
            {"TEAMGATE_TRACING__OTLP_ENDPOINT": "http://collector:4318"},
            "tracing.otlp_endpoint is set but opentelemetry-sdk is not installed: "
            "pip install 'teamgate[otel]'",
            id="otel",
        ),
        pytest.param(
            ("\nteams:", OIDC_SECTION + "\nteams:"),
            {},
            "dashboard.oidc is set but pyjwt is not installed: pip install 'teamgate[oidc]'",
            id="oidc",
        ),
        pytest.param(
            ('"env:GROQ_KEY_ANALYTICS_PROD"', '"aws-sm:teamgate/analytics"'),
            {},
            "teams.analytics.environments.prod.upstream_keys[0].secret: "
            "aws-sm: needs the AWS extra: pip install 'teamgate[aws]'",
            id="aws",
        ),
        pytest.param(
            ('"env:GROQ_KEY_ANALYTICS_PROD"', '"gcp-sm:projects/p/secrets/s"'),
            {},
            "teams.analytics.environments.prod.upstream_keys[0].secret: "
            "gcp-sm: needs the GCP extra: pip install 'teamgate[gcp]'",
            id="gcp",
        ),
    ],
)
@pytest.mark.parametrize("command", [["check"], ["serve", "--port", "0"], ["keys", "list"]])
def test_a_missing_extra_is_one_line_and_exit_2(
    tmp_path: Path,
    replace: tuple[str, str] | None,
    env: dict[str, str],
    line: str,
    command: list[str],
) -> None:
    config = _config(tmp_path, replace)
    result = without_extras("cli", *command, "--config", str(config), cwd=tmp_path, env=env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [f"teamgate: config error: {line}"]
    assert "hunter2" not in result.stderr + result.stdout
