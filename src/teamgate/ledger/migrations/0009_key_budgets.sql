-- teamgate schema version 9: a client key's own monthly budget (picodollars; NULL: none),
-- set by `teamgate keys create --budget` or POST /admin/keys `budget_usd`.
ALTER TABLE client_keys ADD COLUMN budget_pusd BIGINT;
