-- teamgate schema version 10: exact 15-minute roll-ups of the usage ledger, as the SQLite
-- store keeps them (teamgate/ledger/rollup.py). One row per bucket (trunc(ts) / 900) and
-- (team, environment, purpose, client key, model served or requested, refusal, status),
-- holding integer sums. Each ledger batch adds its bucket sums in the transaction of its
-- COPY; summaries read whole buckets here and the partial end buckets from `usage`.
-- Back-filled from the rows already written. SHARE MODE holds ledger writes back until
-- this commits (teamgate of version 9 still running would write rows without their sums:
-- stop those gateways first; the gateways keep their records in memory meanwhile).
CREATE TABLE usage_rollup (
    bucket BIGINT NOT NULL,
    team TEXT NOT NULL,
    environment TEXT NOT NULL,
    purpose TEXT NOT NULL,
    client_key TEXT NOT NULL,
    model TEXT NOT NULL,
    refusal TEXT NOT NULL,
    status INTEGER NOT NULL,
    requests BIGINT NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cached_tokens BIGINT NOT NULL,
    cost_pusd BIGINT NOT NULL,
    PRIMARY KEY (bucket, team, environment, purpose, client_key, model, refusal, status)
);
LOCK TABLE usage IN SHARE MODE;
INSERT INTO usage_rollup
SELECT trunc(ts)::BIGINT / 900, team, environment, purpose, client_key,
    CASE WHEN model_served <> '' THEN model_served ELSE model_requested END, refusal, status,
    COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(cached_tokens), SUM(cost_pusd)
FROM usage GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
