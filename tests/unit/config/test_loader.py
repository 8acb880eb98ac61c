"""Loading files, TEAMGATE_* overrides, the packaged example and the summary."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from teamgate.config.errors import ConfigError
from teamgate.config.loader import (
    example_config_path,
    load_settings,
    render_summary,
)
from teamgate.config.schema import Limits


def write_config(tmp_path: Path, data: dict[str, Any], name: str = "teamgate.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


# -- the packaged example -------------------------------------------------------------------------


def test_the_example_reproduces_the_seed_organization() -> None:
    settings = load_settings(example_config_path(), env={})
    assert list(settings.teams) == ["chatbot", "analytics", "research"]
    chatbot, analytics, research = (settings.teams[n] for n in settings.teams)

    assert chatbot.allowed_models == ("llama-3.3-70b-versatile", "llama-3.1-8b-instant")
    assert analytics.allowed_models == ("llama-3.1-8b-instant",)
    assert research.allowed_models == (
        "llama-3.3-70b-versatile",
        "llama-3.1-8b-instant",
        "meta-llama/llama-4-scout-17b-16e-instruct",
    )
    assert [t.max_tokens_per_request for t in (chatbot, analytics, research)] == [2048, 512, 4096]
    budgets = [t.monthly_budget_usd for t in (chatbot, analytics, research)]
    assert budgets == [Decimal("200"), Decimal("50"), Decimal("500")]
    assert all(isinstance(b, Decimal) for b in budgets)
    assert chatbot.limits == Limits(rpm=60, concurrency=5)
    assert analytics.limits == Limits(rpm=30)
    assert research.limits == Limits(rpm=120)
    assert chatbot.on_limit == "queue"

    keys = {
        (team.name, env.name, env.project, key.name, key.secret, key.state)
        for team in settings.teams.values()
        for env in team.environments.values()
        for key in env.upstream_keys
    }
    assert keys == {
        ("chatbot", "prod", "chatbot-prod", "chatbot-prod-2026-04",
         "env:GROQ_KEY_CHATBOT_PROD", "active"),
        ("chatbot", "staging", "chatbot-staging", "chatbot-staging-2026-04",
         "env:GROQ_KEY_CHATBOT_STAGING", "active"),
        ("analytics", "prod", "analytics-prod", "analytics-prod-2026-04",
         "env:GROQ_KEY_ANALYTICS_PROD", "active"),
        ("research", "batch", "batch-processor", "batch-processor-2026-04",
         "env:GROQ_KEY_BATCH_PROCESSOR", "active"),
    }  # fmt: skip

    assert settings.org.monthly_budget_usd == Decimal("1000")
    assert settings.alerts.thresholds == (Decimal("0.5"), Decimal("0.8"), Decimal("0.95"))
    assert settings.alerts.webhook_url is None
    assert settings.storage.url == "sqlite:///teamgate.db"
    assert settings.upstream.base_url == "https://api.groq.com"
    assert settings.aliases == {"fast": "llama-3.1-8b-instant"}
    assert settings.pricing == {} and settings.pricing_default is None
    assert settings.source == str(example_config_path())


def test_the_example_is_packaged_next_to_the_code() -> None:
    path = example_config_path()
    assert path.name == "teamgate.example.yaml"
    assert path.parent.name == "teamgate" and (path.parent / "__init__.py").exists()


def test_settings_are_frozen() -> None:
    settings = load_settings(example_config_path(), env={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.server.port = 1  # type: ignore[misc]


# -- which file -----------------------------------------------------------------------------------


def test_no_path_uses_teamgate_config(tmp_path: Path, config: dict[str, Any]) -> None:
    config["server"] = {"port": 7001}
    path = write_config(tmp_path, config)
    settings = load_settings(None, env={"TEAMGATE_CONFIG": str(path)})
    assert settings.server.port == 7001
    assert settings.source == str(path)


def test_no_path_and_no_variable_loads_the_example() -> None:
    settings = load_settings(None, env={})
    assert settings.source == str(example_config_path())


def test_an_explicit_path_wins_over_teamgate_config(tmp_path: Path, config: dict[str, Any]) -> None:
    path = write_config(tmp_path, config)
    settings = load_settings(path, env={"TEAMGATE_CONFIG": str(tmp_path / "other.yaml")})
    assert settings.source == str(path)


# -- file problems --------------------------------------------------------------------------------


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_settings(missing, env={})
    assert str(caught.value) == f"{missing}: no such config file"


def test_bad_yaml_gives_the_position_but_not_the_text(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("teams:\n  chatbot: [gsk_SECRET\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    message = str(caught.value)
    assert message.startswith(f"{path}:3:1: not valid YAML: ")
    assert "gsk_SECRET" not in message


def test_a_key_written_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "twice.yaml"
    path.write_text("org: {}\nteams:\n  a: {}\n  a: {}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert str(caught.value) == f"{path}:4:3: not valid YAML: key 'a' appears twice in one mapping"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "the config file is empty; it needs at least teams:"),
        ("# only a comment\n", "the config file is empty; it needs at least teams:"),
        ("- a\n- b\n", "the config must be a mapping of sections (teams:, upstream:, ...)"),
    ],
)
def test_the_top_level_must_be_a_mapping(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "top.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert str(caught.value) == f"{path}: {problem}"


def test_yaml_money_is_exact(tmp_path: Path, config: dict[str, Any]) -> None:
    path = write_config(tmp_path, config)
    text = path.read_text(encoding="utf-8").replace(
        "monthly_budget_usd: 200", "monthly_budget_usd: 0.1"
    )
    path.write_text(text, encoding="utf-8")
    settings = load_settings(path, env={})
    assert settings.teams["chatbot"].monthly_budget_usd == Decimal("0.1")
    assert repr(settings.teams["chatbot"].monthly_budget_usd) == "Decimal('0.1')"


def test_an_unquoted_yaml_date_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "dated.yaml"
    text = (
        example_config_path()
        .read_text(encoding="utf-8")
        .replace(
            "pricing: {}", "pricing:\n  my-model: {input: 1.5, output: 2, checked: 2026-11-01}"
        )
    )
    path.write_text(text, encoding="utf-8")
    price = load_settings(path, env={}).pricing["my-model"]
    assert (price.input, price.output, str(price.checked)) == (
        Decimal("1.5"),
        Decimal("2"),
        "2026-11-01",
    )


# -- environment overrides ------------------------------------------------------------------------


def test_overrides_set_single_fields(tmp_path: Path, config: dict[str, Any]) -> None:
    path = write_config(tmp_path, config)
    env = {
        "TEAMGATE_UPSTREAM__BASE_URL": "http://127.0.0.1:9000",
        "TEAMGATE_STORAGE__URL": "sqlite:///x.db",
        "TEAMGATE_SERVER__PORT": "9001",
        "TEAMGATE_TEAMS__CHATBOT__MONTHLY_BUDGET_USD": "300",
        "TEAMGATE_ORG__MONTHLY_BUDGET_USD": "500",
        "TEAMGATE_ALERTS__THRESHOLDS": "[0.25, 0.9]",
        "TEAMGATE_TEAMS__ANALYTICS__ON_LIMIT": "reject",
        "TEAMGATE_ADMIN_KEY": "not-an-override",
        "TEAMGATE_CONFIG": "not/used/because/path/is/given.yaml",
        "UNRELATED__VAR": "1",
    }
    settings = load_settings(path, env=env)
    assert settings.upstream.base_url == "http://127.0.0.1:9000"
    assert settings.storage.url == "sqlite:///x.db"
    assert settings.server.port == 9001
    assert settings.teams["chatbot"].monthly_budget_usd == Decimal("300")
    assert settings.org.monthly_budget_usd == Decimal("500")
    assert settings.alerts.thresholds == (Decimal("0.25"), Decimal("0.9"))
    assert settings.teams["analytics"].on_limit == "reject"
    assert settings.admin.key_env == "TEAMGATE_ADMIN_KEY"


def test_override_names_are_case_insensitive_and_null_works(
    tmp_path: Path, config: dict[str, Any]
) -> None:
    path = write_config(tmp_path, config)
    env = {"teamgate_server__port": "9002", "TEAMGATE_Teams__Chatbot__Monthly_Budget_USD": "null"}
    settings = load_settings(path, env=env)
    assert settings.server.port == 9002
    assert settings.teams["chatbot"].monthly_budget_usd is None


def test_an_override_creates_missing_sections_and_fields(
    tmp_path: Path, config: dict[str, Any]
) -> None:
    del config["storage"]
    del config["teams"]["analytics"]["limits"]
    path = write_config(tmp_path, config)
    env = {
        "TEAMGATE_STORAGE__URL": "sqlite://:memory:",
        "TEAMGATE_TEAMS__ANALYTICS__LIMITS__TPM": "20000",
        "TEAMGATE_REDIS__URL": "redis://localhost:6379/0",
    }
    settings = load_settings(path, env=env)
    assert settings.storage.url == "sqlite://:memory:"
    assert settings.teams["analytics"].limits == Limits(tpm=20000)
    assert settings.redis.url == "redis://localhost:6379/0"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "TEAMGATE_SERVER__PORT",
            "abc",
            "server.port: must be a port number in 0..65535 (0: pick a free port), "
            "got 'abc' (from TEAMGATE_SERVER__PORT)",
        ),
        (
            "TEAMGATE_TEAMS__CHATBOT__LIMITS__RPM",
            "-5",
            "teams.chatbot.limits.rpm: must be a positive integer, got -5 "
            "(from TEAMGATE_TEAMS__CHATBOT__LIMITS__RPM)",
        ),
        (
            "TEAMGATE_ORG__MONTHLY_BUDGET_USD",
            "yes",
            "org.monthly_budget_usd: must be an amount in USD >= 0, got True "
            "(from TEAMGATE_ORG__MONTHLY_BUDGET_USD)",
        ),
        (
            "TEAMGATE_SERVER__PROT",
            "9000",
            "server.prot: unknown key (did you mean port?) (from TEAMGATE_SERVER__PROT)",
        ),
        (
            "TEAMGATE_TEAMS__CHATBOTT__MONTHLY_BUDGET_USD",
            "300",
            "teams.chatbott: is not in the config file, so "
            "TEAMGATE_TEAMS__CHATBOTT__MONTHLY_BUDGET_USD cannot change it (did you mean chatbot?)",
        ),
        (
            "TEAMGATE_UPSTREAM__BASE_URL__HOST",
            "x",
            "upstream.base_url: is not a mapping, so TEAMGATE_UPSTREAM__BASE_URL__HOST "
            "cannot set a key inside it",
        ),
        (
            "TEAMGATE_SERVER____PORT",
            "1",
            "TEAMGATE_SERVER____PORT: has an empty key between '__' separators",
        ),
    ],
)
def test_a_bad_override_names_the_path_and_the_variable(
    tmp_path: Path, config: dict[str, Any], variable: str, value: str, expected: str
) -> None:
    path = write_config(tmp_path, config)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={variable: value})
    assert str(caught.value) == expected


def test_os_environ_is_the_default(
    tmp_path: Path, config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path, config)
    monkeypatch.setenv("TEAMGATE_SERVER__PORT", "9003")
    assert load_settings(path).server.port == 9003


# -- the summary ----------------------------------------------------------------------------------


def test_the_summary_lists_each_team_and_no_secret(tmp_path: Path, config: dict[str, Any]) -> None:
    config["alerts"]["webhook_url"] = "https://hooks.slack.com/services/T0/B0/HOOKTOKEN"
    config["storage"]["url"] = "postgresql://teamgate:hunter2@db:5432/teamgate"
    config["redis"] = {"url": "rediss://:redispass@cache:6380/0"}
    path = write_config(tmp_path, config)
    secrets = {"GROQ_KEY_CHATBOT_PROD": "gsk_chatbotprodsecretvalue"}
    text = render_summary(load_settings(path, env=secrets))

    assert text.splitlines()[0] == (
        f"teamgate config OK: {path}: 3 teams, 4 environments, 4 upstream keys"
    )
    rows: dict[str, str] = {}
    for line in text.splitlines():
        if line.split():
            rows.setdefault(line.split()[0], line)
    assert "prod (1 key), staging (1 key)" in rows["chatbot"]
    assert "$200.00" in rows["chatbot"] and "2048" in rows["chatbot"]
    assert "$50.00" in rows["analytics"] and "512" in rows["analytics"]
    assert "$500.00" in rows["research"]
    assert "meta-llama/llama-4-scout-17b-16e-instruct" in rows["research"]
    assert "budget $1,000.00/month" in text
    assert "env:GROQ_KEY_CHATBOT_PROD" in text
    assert "postgresql://teamgate:***@db:5432/teamgate" in text
    for secret in ("gsk_chatbotprodsecretvalue", "HOOKTOKEN", "hunter2", "redispass"):
        assert secret not in text


def test_the_summary_columns_line_up() -> None:
    text = render_summary(load_settings(example_config_path(), env={}))
    lines = text.splitlines()
    header = lines[2]
    column = header.index("budget/month")
    team_rows = [line for line in lines[4:7]]
    assert [row.split()[0] for row in team_rows] == ["chatbot", "analytics", "research"]
    assert all(row[column] == "$" for row in team_rows)
