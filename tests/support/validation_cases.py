"""The validation table: one mutation of a valid config, one exact message.

``TEAM_CASES`` are the ``teams`` section's cases (limits, budgets, names, environments,
upstream keys and their secret references, allowed models and aliases as a team uses them);
``SECTION_CASES`` every other section's (server, upstream, storage, redis, admin, org,
pricing, aliases, alerts, dashboard, the file's shape); ``CASES`` the whole table.
tests/unit/config/test_validation*.py run it against the loader, test_json_schema.py
against the JSON Schema, and bench/kept_by_hand.py scores the config prototypes on it.
"""

from __future__ import annotations

from tests.support.validation_table import (
    CHATBOT_KEY,
    NAME_RULE,
    OIDC,
    SCHEMES,
    Case,
    drop,
    put,
    rename,
)

TEAM_CASES: list[Case] = [
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
        "key state choice",
        put(*CHATBOT_KEY, "state", value="old"),
        "teams.chatbot.environments.prod.upstream_keys[0].state: "
        "must be one of active, draining, retired, got 'old'",
    ),
    # -- unknown keys, shapes ---------------------------------------------------------
    (
        "typo with hint",
        rename("teams", "chatbot", "limits", to="limts"),
        "teams.chatbot.limts: unknown key (did you mean limits?)",
    ),
    # -- money ------------------------------------------------------------------------
    (
        "negative budget",
        put("teams", "chatbot", "monthly_budget_usd", value=-1),
        "teams.chatbot.monthly_budget_usd: must be an amount in USD >= 0, got -1",
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
        "model limits outside the allowlist",
        put("teams", "analytics", "models", value={"llama-3.3-70b-versatile": {"rpm": 1}}),
        "teams.analytics.models.llama-3.3-70b-versatile: not in this team's allowed_models",
    ),
    (
        "model limits checked too",
        put("teams", "chatbot", "models", value={"llama-3.3-70b-versatile": {"tpm": 0}}),
        "teams.chatbot.models.llama-3.3-70b-versatile.tpm: must be a positive integer, got 0",
    ),
    # -- alert thresholds -------------------------------------------------------------------------
    (
        "teams as a list",
        put("teams", value=["chatbot"]),
        "teams: must be a mapping, got ['chatbot']",
    ),
    # -- dashboard single sign-on (dashboard.oidc) -----------------------------------
    (
        "team threshold zero",
        put("teams", "chatbot", "alert_thresholds", value=[0]),
        "teams.chatbot.alert_thresholds[0]: must be a fraction in (0, 1], got 0",
    ),
]

SECTION_CASES: list[Case] = [
    # -- numbers, booleans, choices -------------------------------------------------
    (
        "timeout not a number",
        put("upstream", "timeout_s", value="abc"),
        "upstream.timeout_s: must be a positive number, got 'abc'",
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
    # -- models, aliases, prices -------------------------------------------------------------
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
]

CASES: list[Case] = SECTION_CASES + TEAM_CASES  # the whole validation table
