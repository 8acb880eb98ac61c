-- teamgate schema version 1: client keys, usage ledger, alert state.
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('keys_version', 0);

CREATE TABLE client_keys (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    team TEXT NOT NULL,
    environment TEXT NOT NULL,
    purpose TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION,
    revoked_at DOUBLE PRECISION,
    last_used_at DOUBLE PRECISION,
    CONSTRAINT client_keys_hash_unique UNIQUE (key_hash)
);
CREATE UNIQUE INDEX client_keys_live_name ON client_keys (name) WHERE revoked_at IS NULL;

CREATE TABLE usage (
    id BIGSERIAL PRIMARY KEY,
    ts DOUBLE PRECISION NOT NULL,
    request_id TEXT NOT NULL,
    groq_id TEXT NOT NULL,
    team TEXT NOT NULL,
    environment TEXT NOT NULL,
    purpose TEXT NOT NULL,
    client_key TEXT NOT NULL,
    upstream_key TEXT NOT NULL,
    model_requested TEXT NOT NULL,
    model_served TEXT NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cached_tokens BIGINT NOT NULL,
    cost_pusd BIGINT NOT NULL,
    status INTEGER NOT NULL,
    latency_ms DOUBLE PRECISION NOT NULL,
    streamed BOOLEAN NOT NULL,
    usage_source TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    refusal TEXT NOT NULL
);
CREATE INDEX usage_ts ON usage (ts) INCLUDE (team, cost_pusd);  -- covers spend_by_team
CREATE INDEX usage_team_ts ON usage (team, ts);

CREATE TABLE alerts_fired (
    scope TEXT NOT NULL,
    period TEXT NOT NULL,
    threshold TEXT NOT NULL,
    fired_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (scope, period, threshold)
);
