-- teamgate schema version 4: grouped usage sums for reports, the admin API and the dashboard.
-- The ts index now carries every column a summary reads, so `usage_summary` and
-- `count_usage` over a time range are index-only scans (no heap reads once autovacuum
-- has marked the pages all-visible); it still covers spend_by_team (team, cost_pusd).
-- Note: CREATE INDEX blocks ledger writes while it runs (seconds per million rows).
DROP INDEX usage_ts;
CREATE INDEX usage_ts_report ON usage (ts) INCLUDE (
    team, environment, purpose, client_key, model_served, model_requested,
    refusal, status, prompt_tokens, completion_tokens, cached_tokens, cost_pusd
);
