"""Table-driven validation tests: one mutation of a valid config, one exact message."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from teamgate.config import secret_refs
from teamgate.config.errors import ConfigError
from teamgate.config.fields import InvalidConfig
from teamgate.config.loader import parse_settings

Mutation = Callable[[dict[str, Any]], None]
CHATBOT_KEY = ("teams", "chatbot", "environments", "prod", "upstream_keys", 0)


def _walk(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def put(*path: Any, value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        parent = _walk(data, path[:-1])
        parent[path[-1]] = value

    return mutate


def drop(*path: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        del _walk(data, path[:-1])[path[-1]]

    return mutate


def rename(*path: Any, to: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        parent = _walk(data, path[:-1])
        parent[to] = parent.pop(path[-1])

    return mutate


NAME_RULE = (
    "lowercase letters, digits and _, starting with a letter or digit "
    "(no '-': it separates {team}-{environment}-{purpose} in key names)"
)
SCHEMES = "must start with env:, file:, aws-sm: or gcp-sm: (the value is not shown)"

OIDC: dict[str, Any] = {
    "issuer": "https://login.example.com/oauth2/default",
    "client_id": "teamgate",
    "client_secret": "env:TEAMGATE_OIDC_SECRET",
    "redirect_url": "https://gw.example.com/dashboard/oidc/callback",
    "roles": {"platform": "admin", "chatbot-leads": "team-admin:chatbot", "finance": "viewer"},
}

CASES: list[tuple[str, Mutation, str]] = [
    # -- numbers, booleans, choices -------------------------------------------------
    (
        "negative rpm",
        put("teams", "chatbot", "limits", "rpm", value=-5),
        "teams.chatbot.limits.rpm: must be a positive integer, got -5",
    ),
    (
        "yes is not a number",
        put("teams", "chatbot", "limits", "tpm", value=True),
        "teams.chatbot.limits.tpm: must be a positive integer, got True",
    ),
    (
        "fractional concurrency",
        put("teams", "chatbot", "limits", "concurrency", value=2.5),
        "teams.chatbot.limits.concurrency: must be a positive integer, got 2.5",
    ),
    (
        "negative queue wait",
        put("teams", "chatbot", "limits", "max_queue_wait_s", value=-1),
        "teams.chatbot.limits.max_queue_wait_s: must be a number >= 0, got -1",
    ),
    (
        "timeout not a number",
        put("upstream", "timeout_s", value="abc"),
        "upstream.timeout_s: must be a positive number, got 'abc'",
    ),
    (
        "zero max tokens",
        put("teams", "chatbot", "max_tokens_per_request", value=0),
        "teams.chatbot.max_tokens_per_request: must be a positive integer, got 0",
    ),
    (
        "max tokens missing",
        drop("teams", "analytics", "max_tokens_per_request"),
        "teams.analytics.max_tokens_per_request: is required",
    ),
    (
        "on_limit choice",
        put("teams", "analytics", "on_limit", value="drop"),
        "teams.analytics.on_limit: must be one of queue, reject, got 'drop'",
    ),
    (
        "key_selection choice",
        put("upstream", "key_selection", value="random"),
        "upstream.key_selection: must be one of first, round_robin, got 'random'",
    ),
    (
        "redis failure_mode choice",
        put("redis", value={"failure_mode": "maybe"}),
        "redis.failure_mode: must be one of closed, open, got 'maybe'",
    ),
    (
        "key state choice",
        put(*CHATBOT_KEY, "state", value="old"),
        "teams.chatbot.environments.prod.upstream_keys[0].state: "
        "must be one of active, draining, retired, got 'old'",
    ),
    (
        "fair_share is a boolean",
        put("org", "fair_share", value="yes"),
        "org.fair_share: must be true or false, got 'yes'",
    ),
    (
        "port out of range",
        put("server", value={"port": 70000}),
        "server.port: must be a port number in 0..65535 (0: pick a free port), got 70000",
    ),
    (
        "admin port clashes",
        put("server", value={"port": 8080, "admin_port": 8080}),
        "server.admin_port: must differ from server.port (8080) on the same host; "
        "leave it out to serve the admin API on the proxy's port",
    ),
    (
        "admin key_env not a variable name",
        put("admin", "key_env", value="my key"),
        "admin.key_env: must be an environment variable name, got 'my key'",
    ),
    # -- unknown keys, shapes ---------------------------------------------------------
    (
        "typo with hint",
        rename("teams", "chatbot", "limits", to="limts"),
        "teams.chatbot.limts: unknown key (did you mean limits?)",
    ),
    (
        "unknown top-level key",
        put("zzz", value=1),
        "zzz: unknown key (known keys: server, upstream, storage, redis, admin, metrics, "
        "dashboard, alerts, secrets, org, pricing, aliases, audio, batches, logging, tracing, "
        "teams)",
    ),
    (
        "section not a mapping",
        put("server", value=[1]),
        "server: must be a mapping, got [1]",
    ),
    # -- money ------------------------------------------------------------------------
    (
        "negative budget",
        put("teams", "chatbot", "monthly_budget_usd", value=-1),
        "teams.chatbot.monthly_budget_usd: must be an amount in USD >= 0, got -1",
    ),
    (
        "boolean budget",
        put("org", "monthly_budget_usd", value=True),
        "org.monthly_budget_usd: must be an amount in USD >= 0, got True",
    ),
    (
        "budget not a number",
        put("org", "monthly_budget_usd", value="lots"),
        "org.monthly_budget_usd: must be an amount in USD >= 0, got 'lots'",
    ),
    (
        "environment sub-budget negative",
        put("teams", "chatbot", "environments", "staging", "monthly_budget_usd", value=-5),
        "teams.chatbot.environments.staging.monthly_budget_usd: "
        "must be an amount in USD >= 0, got -5",
    ),
    (
        "environment sub-budget above its team's",
        put("teams", "chatbot", "environments", "staging", "monthly_budget_usd", value=250),
        "teams.chatbot.environments.staging.monthly_budget_usd: "
        "must be at most the team's monthly_budget_usd (200), got 250",
    ),
    (
        "environment sub-budget typo",
        put("teams", "chatbot", "environments", "prod", "monthly_budget", value=20),
        "teams.chatbot.environments.prod.monthly_budget: unknown key "
        "(did you mean monthly_budget_usd?)",
    ),
    (
        "price with 7 decimals",
        put("pricing", value={"my-model": {"input": 1e-07, "output": 1}}),
        "pricing.my-model.input: must have at most 6 decimal places, got 1e-07",
    ),
    (
        "negative price, model name with a dot",
        put("pricing", value={"qwen/qwen3.6-27b": {"input": -1, "output": 1}}),
        "pricing.qwen/qwen3.6-27b.input: must be a price in USD per 1M tokens >= 0, got -1",
    ),
    (
        "price without output",
        put("pricing", value={"my-model": {"input": 1}}),
        "pricing.my-model.output: is required",
    ),
    (
        "price checked not a date",
        put("pricing", value={"my-model": {"input": 1, "output": 2, "checked": "2026-13-01"}}),
        "pricing.my-model.checked: must be a date YYYY-MM-DD, got '2026-13-01'",
    ),
    # -- names and structure ------------------------------------------------------------
    (
        "team name with hyphen",
        rename("teams", "chatbot", to="chat-bot"),
        f"teams.chat-bot: a team name must be {NAME_RULE}, got 'chat-bot'",
    ),
    (
        "environment name in capitals",
        rename("teams", "chatbot", "environments", "prod", to="Prod"),
        f"teams.chatbot.environments.Prod: an environment name must be {NAME_RULE}, got 'Prod'",
    ),
    ("no teams", put("teams", value={}), "teams: must define at least one team"),
    ("teams missing", drop("teams"), "teams: must define at least one team"),
    (
        "no environment",
        put("teams", "analytics", "environments", value={}),
        "teams.analytics.environments: must define at least one environment",
    ),
    (
        "environments missing",
        drop("teams", "analytics", "environments"),
        "teams.analytics.environments: is required",
    ),
    (
        "no upstream key",
        put("teams", "analytics", "environments", "prod", "upstream_keys", value=[]),
        "teams.analytics.environments.prod.upstream_keys: must list at least one upstream key",
    ),
    (
        "upstream key names unique across teams",
        put(
            "teams",
            "analytics",
            "environments",
            "prod",
            "upstream_keys",
            0,
            "name",
            value="chatbot-prod-2026-04",
        ),
        "teams.analytics.environments.prod.upstream_keys[0].name: 'chatbot-prod-2026-04' "
        "is already used by teams.chatbot.environments.prod.upstream_keys[0]; "
        "upstream key names must be unique",
    ),
    (
        "upstream key name with a space",
        put(*CHATBOT_KEY, "name", value="chatbot prod"),
        "teams.chatbot.environments.prod.upstream_keys[0].name: must be letters, digits, "
        "'.', '_' and '-', starting with a letter or digit, got 'chatbot prod'",
    ),
    (
        "upstream key without secret",
        drop(*CHATBOT_KEY, "secret"),
        "teams.chatbot.environments.prod.upstream_keys[0].secret: is required",
    ),
    # -- secret references ---------------------------------------------------------------
    (
        "a pasted Groq key is refused and not repeated",
        put(*CHATBOT_KEY, "secret", value="gsk_live_abcdefghijklmnop"),
        f"teams.chatbot.environments.prod.upstream_keys[0].secret: {SCHEMES}; this looks like "
        "a Groq key itself: put it in an environment variable and write env:NAME",
    ),
    (
        "unknown secret scheme",
        put(*CHATBOT_KEY, "secret", value="vault:kv/groq"),
        f"teams.chatbot.environments.prod.upstream_keys[0].secret: {SCHEMES}",
    ),
    (
        "env: without a name",
        put(*CHATBOT_KEY, "secret", value="env:"),
        "teams.chatbot.environments.prod.upstream_keys[0].secret: "
        "env: needs an environment variable name, e.g. env:GROQ_KEY_CHATBOT_PROD",
    ),
    (
        "file: without a path",
        put(*CHATBOT_KEY, "secret", value="file:"),
        "teams.chatbot.environments.prod.upstream_keys[0].secret: "
        "file: needs a path, e.g. file:/run/secrets/groq_key",
    ),
    (
        "aws-sm without boto3",
        put(*CHATBOT_KEY, "secret", value="aws-sm:teamgate/chatbot-prod#key"),
        "teams.chatbot.environments.prod.upstream_keys[0].secret: "
        "aws-sm: needs the AWS extra: pip install 'teamgate[aws]'",
    ),
    (
        "gcp-sm without the client",
        put(*CHATBOT_KEY, "secret", value="gcp-sm:projects/p/secrets/s"),
        "teams.chatbot.environments.prod.upstream_keys[0].secret: "
        "gcp-sm: needs the GCP extra: pip install 'teamgate[gcp]'",
    ),
    (
        "gcp-sm malformed",
        put(*CHATBOT_KEY, "secret", value="gcp-sm:my-secret"),
        "teams.chatbot.environments.prod.upstream_keys[0].secret: "
        "gcp-sm: needs projects/P/secrets/S or projects/P/secrets/S/versions/V",
    ),
    # -- models, aliases, prices -------------------------------------------------------------
    (
        "allowed model not a string",
        put("teams", "chatbot", "allowed_models", 1, value=5),
        "teams.chatbot.allowed_models[1]: must be a string, got 5",
    ),
    (
        "allowed model duplicated",
        put("teams", "chatbot", "allowed_models", 1, value="llama-3.3-70b-versatile"),
        "teams.chatbot.allowed_models[1]: duplicate of teams.chatbot.allowed_models[0]",
    ),
    (
        "empty allowlist",
        put("teams", "analytics", "allowed_models", value=[]),
        "teams.analytics.allowed_models: must list at least one model",
    ),
    (
        "unpriced model",
        put("teams", "research", "allowed_models", 2, value="x"),
        "teams.research.allowed_models[2]: model 'x' has no price; "
        "add it under pricing: or set pricing.default",
    ),
    (
        "alias of an unpriced model",
        lambda d: (
            put("aliases", "fast", value="mystery-model")(d),
            put("teams", "analytics", "allowed_models", value=["fast"])(d),
        ),
        "teams.analytics.allowed_models[0]: model 'fast' (alias of 'mystery-model') has no "
        "price; add it under pricing: or set pricing.default",
    ),
    (
        "alias of an alias",
        put("aliases", "quick", value="fast"),
        "aliases.quick: points at 'fast', which is itself an alias; point at a model directly",
    ),
    (
        "alias shadows a priced model",
        put("aliases", "llama-3.1-8b-instant", value="llama-3.3-70b-versatile"),
        "aliases.llama-3.1-8b-instant: alias shadows the priced model "
        "'llama-3.1-8b-instant'; choose another alias name",
    ),
    (
        "alias shadows a model priced in the config",
        lambda d: (
            put("pricing", value={"my-model": {"input": 1, "output": 1}})(d),
            put("aliases", "my-model", value="llama-3.1-8b-instant")(d),
        ),
        "aliases.my-model: alias shadows the priced model 'my-model'; choose another alias name",
    ),
    (
        "model limits outside the allowlist",
        put("teams", "analytics", "models", value={"llama-3.3-70b-versatile": {"rpm": 1}}),
        "teams.analytics.models.llama-3.3-70b-versatile: not in this team's allowed_models",
    ),
    (
        "model limits checked too",
        put("teams", "chatbot", "models", value={"llama-3.3-70b-versatile": {"tpm": 0}}),
        "teams.chatbot.models.llama-3.3-70b-versatile.tpm: must be a positive integer, got 0",
    ),
    (
        "org model limits for a model no team uses",
        put("org", "models", value={"qwen/qwen3-32b": {"rpm": 1}}),
        "org.models.qwen/qwen3-32b: no team may use this model",
    ),
    # -- URLs, storage, time --------------------------------------------------------------------
    (
        "base url not http",
        put("upstream", "base_url", value="ftp://x"),
        "upstream.base_url: must be an http(s) URL, got 'ftp://x'",
    ),
    (
        "base url with the API path",
        put("upstream", "base_url", value="https://api.groq.com/openai/v1"),
        "upstream.base_url: must be the API root without /openai/v1, "
        "got 'https://api.groq.com/openai/v1'",
    ),
    (
        "storage url scheme (password hidden)",
        put("storage", "url", value="mysql://tg:hunter2@db/tg"),
        "storage.url: must start with sqlite:///, sqlite://:memory:, postgresql://, "
        "postgres://, got 'mysql://tg:***@db/tg'",
    ),
    (
        "redis url scheme",
        put("redis", value={"url": "http://cache:6379"}),
        "redis.url: must be a redis:// or rediss:// URL or null, got 'http://cache:6379'",
    ),
    (
        "webhook url not shown",
        put("alerts", "webhook_url", value="hooks.slack.com/T0/SECRET"),
        "alerts.webhook_url: must be an http(s) URL (the value is not shown)",
    ),
    (
        "unknown timezone",
        put("org", "timezone", value="Mars/Olympus"),
        "org.timezone: must be an IANA time zone such as UTC or Europe/Paris, got 'Mars/Olympus'",
    ),
    # -- alert thresholds -------------------------------------------------------------------------
    (
        "thresholds not increasing",
        put("alerts", "thresholds", value=[0.5, 0.5]),
        "alerts.thresholds[1]: must be greater than the threshold before it (0.5), got 0.5",
    ),
    (
        "threshold as a percentage",
        put("alerts", "thresholds", value=[0.5, 80]),
        "alerts.thresholds[1]: must be a fraction in (0, 1], got 80 (write 80% as 0.8)",
    ),
    (
        "thresholds not a list",
        put("alerts", "thresholds", value=0.5),
        "alerts.thresholds: must be a list, got 0.5",
    ),
    (
        "teams as a list",
        put("teams", value=["chatbot"]),
        "teams: must be a mapping, got ['chatbot']",
    ),
    (
        "a number too big for a float",
        put("upstream", "timeout_s", value=10**400),
        "upstream.timeout_s: must be a positive number, got " + repr(10**400)[:57] + "...",
    ),
    # -- dashboard single sign-on (dashboard.oidc) -----------------------------------
    (
        "oidc issuer over plain http",
        put("dashboard", value={"oidc": {**OIDC, "issuer": "http://login.example.com"}}),
        "dashboard.oidc.issuer: must be an https:// URL (http:// only for localhost), "
        "got 'http://login.example.com'",
    ),
    (
        "oidc without a client id",
        put("dashboard", value={"oidc": {k: v for k, v in OIDC.items() if k != "client_id"}}),
        "dashboard.oidc.client_id: is required",
    ),
    (
        "oidc client secret pasted",
        put("dashboard", value={"oidc": {**OIDC, "client_secret": "s3cr3t-value"}}),
        "dashboard.oidc.client_secret: " + SCHEMES,
    ),
    (
        "oidc redirect not the callback",
        put("dashboard", value={"oidc": {**OIDC, "redirect_url": "https://gw.example.com/"}}),
        "dashboard.oidc.redirect_url: must be an http(s) URL ending in "
        "/dashboard/oidc/callback (as the browser reaches this gateway), "
        "got 'https://gw.example.com/'",
    ),
    (
        "oidc scopes without openid",
        put("dashboard", value={"oidc": {**OIDC, "scopes": ["email"]}}),
        "dashboard.oidc.scopes: must include openid, got ['email']",
    ),
    (
        "oidc role unknown",
        put("dashboard", value={"oidc": {**OIDC, "roles": {"finance": "boss"}}}),
        "dashboard.oidc.roles.finance: must be admin, viewer, viewer:TEAM or "
        "team-admin:TEAM, got 'boss'",
    ),
    (
        "oidc role names no team",
        put("dashboard", value={"oidc": {**OIDC, "roles": {"leads": "team-admin:chatbott"}}}),
        "dashboard.oidc.roles.leads: names no team 'chatbott' "
        "(teams: chatbot, analytics, research)",
    ),
    (
        "oidc roles empty",
        put("dashboard", value={"oidc": {**OIDC, "roles": {}}}),
        "dashboard.oidc.roles: must map at least one claim value to a role",
    ),
    (
        "oidc unknown key",
        put("dashboard", value={"oidc": {**OIDC, "client": "x"}}),
        "dashboard.oidc.client: unknown key (did you mean client_id?)",
    ),
    (
        "dashboard session ttl zero",
        put("dashboard", value={"session_ttl_s": 0}),
        "dashboard.session_ttl_s: must be a positive number, got 0",
    ),
    (
        "team threshold zero",
        put("teams", "chatbot", "alert_thresholds", value=[0]),
        "teams.chatbot.alert_thresholds[0]: must be a fraction in (0, 1], got 0",
    ),
]


@pytest.fixture(autouse=True)
def no_cloud_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    """The AWS and GCP clients count as not installed, whatever the venv holds."""
    monkeypatch.setattr(secret_refs, "module_available", lambda name: False)


def test_the_seed_config_is_valid(config: dict[str, Any]) -> None:
    settings = parse_settings(config)
    assert sorted(settings.teams) == ["analytics", "chatbot", "research"]


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [pytest.param(m, e, id=name) for name, m, e in CASES],
)
def test_one_problem_gives_one_exact_message(
    config: dict[str, Any], mutation: Mutation, expected: str
) -> None:
    mutation(config)
    with pytest.raises(ConfigError) as caught:
        parse_settings(config)
    assert str(caught.value) == expected
    path, _, problem = expected.partition(": ")
    assert (caught.value.path, caught.value.problem) == (path, problem)


def test_every_problem_is_listed_in_order(config: dict[str, Any]) -> None:
    config["teams"]["chatbot"]["limits"]["rpm"] = -5
    config["upstream"]["timeout_s"] = "abc"
    with pytest.raises(InvalidConfig) as caught:
        parse_settings(config, source="team.yaml")
    assert str(caught.value).splitlines() == [
        "teams.chatbot.limits.rpm: must be a positive integer, got -5",
        "upstream.timeout_s: must be a positive number, got 'abc'",
    ]
    assert caught.value.source == "team.yaml"
    assert caught.value.path == "teams.chatbot.limits.rpm"


def test_a_pasted_key_never_appears_in_the_message(config: dict[str, Any]) -> None:
    config["teams"]["chatbot"]["environments"]["prod"]["upstream_keys"][0]["secret"] = (
        "gsk_TOPSECRETVALUE"
    )
    with pytest.raises(ConfigError) as caught:
        parse_settings(config)
    assert "TOPSECRETVALUE" not in str(caught.value)


def test_cloud_references_pass_when_the_extra_is_installed(
    config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(secret_refs, "module_available", lambda name: True)
    keys = config["teams"]["chatbot"]["environments"]["prod"]["upstream_keys"]
    keys[0]["secret"] = "aws-sm:teamgate/chatbot-prod#key@AWSCURRENT"
    keys.append({"name": "chatbot-prod-2026-05", "secret": "gcp-sm:projects/p/secrets/s"})
    settings = parse_settings(config)
    refs = [k.secret for k in settings.teams["chatbot"].environments["prod"].upstream_keys]
    assert refs == ["aws-sm:teamgate/chatbot-prod#key@AWSCURRENT", "gcp-sm:projects/p/secrets/s"]


def test_pricing_default_allows_unpriced_models(config: dict[str, Any]) -> None:
    config["teams"]["research"]["allowed_models"].append("brand-new-model")
    config["pricing"] = {"default": {"input": "0.10", "output": 0.1}}
    settings = parse_settings(config)
    assert settings.pricing_default is not None
    assert settings.pricing_default.input == Decimal("0.10")
    assert settings.pricing_default.output == Decimal("0.1")
    assert settings.pricing == {}
    assert "brand-new-model" in settings.teams["research"].allowed_models


def test_an_environment_sub_budget_is_read_exactly(config: dict[str, Any]) -> None:
    config["teams"]["chatbot"]["environments"]["staging"]["monthly_budget_usd"] = "20.10"
    config["teams"]["analytics"].pop("monthly_budget_usd")  # no team budget: any sub-budget
    config["teams"]["analytics"]["environments"]["prod"]["monthly_budget_usd"] = 75
    settings = parse_settings(config)
    assert settings.teams["chatbot"].environments["staging"].monthly_budget_usd == Decimal("20.10")
    assert settings.teams["chatbot"].environments["prod"].monthly_budget_usd is None
    assert settings.teams["analytics"].environments["prod"].monthly_budget_usd == Decimal(75)


def test_money_stays_exact(config: dict[str, Any]) -> None:
    config["teams"]["chatbot"]["monthly_budget_usd"] = 0.1
    config["org"]["monthly_budget_usd"] = "1000.005"
    config["pricing"] = {"my-model": {"input": 0.59, "output": 0.000001, "checked": "2026-11-01"}}
    settings = parse_settings(config)
    budget = settings.teams["chatbot"].monthly_budget_usd
    assert isinstance(budget, Decimal)
    assert budget == Decimal("0.1")
    assert str(budget) == "0.1"
    assert settings.org.monthly_budget_usd == Decimal("1000.005")
    price = settings.pricing["my-model"]
    assert (price.input, price.output) == (Decimal("0.59"), Decimal("0.000001"))
    assert str(price.checked) == "2026-11-01"
    assert settings.alerts.thresholds == (Decimal("0.5"), Decimal("0.8"), Decimal("0.95"))


def test_model_limits_are_keyed_by_the_resolved_model(config: dict[str, Any]) -> None:
    config["teams"]["chatbot"]["models"] = {"fast": {"rpm": 10}}
    config["org"]["models"] = {"llama-3.3-70b-versatile": {"tpm": 1000}}
    settings = parse_settings(config)
    assert settings.teams["chatbot"].model_limits["llama-3.1-8b-instant"].rpm == 10
    assert settings.org.model_limits["llama-3.3-70b-versatile"].tpm == 1000


def test_defaults_fill_what_the_file_leaves_out(config: dict[str, Any]) -> None:
    settings = parse_settings(config)
    chatbot = settings.teams["chatbot"]
    assert chatbot.environments["prod"].project == "chatbot-prod"
    assert settings.teams["research"].environments["batch"].project == "batch-processor"
    assert chatbot.alert_thresholds is None
    assert settings.teams["analytics"].on_limit == "queue"
    assert settings.server.port == 8080
    assert settings.redis.url is None
    assert settings.org.timezone == "UTC"


def test_null_thresholds_mean_the_defaults_and_empty_means_none(config: dict[str, Any]) -> None:
    config["alerts"]["thresholds"] = None
    config["teams"]["chatbot"]["alert_thresholds"] = []
    config["org"]["alert_thresholds"] = [0.9]
    settings = parse_settings(config)
    assert settings.alerts.thresholds == (Decimal("0.5"), Decimal("0.8"), Decimal("0.95"))
    assert settings.teams["chatbot"].alert_thresholds == ()
    assert settings.org.alert_thresholds == (Decimal("0.9"),)


def test_a_typod_model_name_gets_did_you_mean() -> None:
    from teamgate.config.errors import ConfigError
    from teamgate.config.loader import parse_settings
    from tests.conftest import BASE_CONFIG, merge

    data = merge(
        BASE_CONFIG, {"teams": {"analytics": {"allowed_models": ["llama-3.1-8b-instnat"]}}}
    )
    with pytest.raises(ConfigError) as caught:
        parse_settings(data)
    assert (
        "teams.analytics.allowed_models[0]: unknown model 'llama-3.1-8b-instnat' "
        "(did you mean llama-3.1-8b-instant?)"
    ) in str(caught.value)
    far = merge(BASE_CONFIG, {"teams": {"analytics": {"allowed_models": ["gpt-4o"]}}})
    with pytest.raises(ConfigError, match="'gpt-4o' has no price"):
        parse_settings(far)


def test_a_full_oidc_section_is_read(config: dict[str, Any]) -> None:
    config["dashboard"] = {"session_ttl_s": 3600, "oidc": {**OIDC, "claim": "roles"}}
    settings = parse_settings(config)
    oidc = settings.dashboard.oidc
    assert oidc is not None and settings.dashboard.session_ttl_s == 3600
    assert (oidc.claim, oidc.username_claim, oidc.scopes) == (
        "roles",
        "email",
        ("openid", "email", "profile"),
    )
    assert oidc.roles["chatbot-leads"] == "team-admin:chatbot"
    assert oidc.client_secret == "env:TEAMGATE_OIDC_SECRET"
