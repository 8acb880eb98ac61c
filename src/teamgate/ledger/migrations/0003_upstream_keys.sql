-- teamgate schema version 3: upstream (Groq) key states and usage.
-- Secret references only (env:…, aws-sm:…), never a secret's value.
INSERT INTO meta (key, value) VALUES ('upstream_version', 0);

CREATE TABLE upstream_keys (
    name TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    state TEXT NOT NULL,
    secret_ref TEXT NOT NULL,
    preferred_order INTEGER NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    fingerprint TEXT NOT NULL
);

CREATE TABLE upstream_usage (
    name TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    requests BIGINT NOT NULL,
    failures BIGINT NOT NULL,
    first_used_at DOUBLE PRECISION,
    last_used_at DOUBLE PRECISION
);

-- Hourly buckets (hour = start of the UTC hour, unix seconds) for the last-24-hours
-- count; rows older than 48 hours are pruned on each flush.
CREATE TABLE upstream_usage_hourly (
    name TEXT NOT NULL,
    hour BIGINT NOT NULL,
    requests BIGINT NOT NULL,
    PRIMARY KEY (name, hour)
);
CREATE INDEX upstream_usage_hourly_hour ON upstream_usage_hourly (hour);
