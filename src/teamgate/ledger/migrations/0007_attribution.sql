-- teamgate schema version 7: attribution. Every ledger record carries the end user
-- (the body's `user` or x-teamgate-user) and the canonical feature tags of
-- x-teamgate-tags ("feature=search,tenant=acme", keys sorted); '' for none. Older
-- rows get '' (no end user, no tags). Adding a column with a constant default
-- does not rewrite the table (PostgreSQL 11+).
ALTER TABLE usage ADD COLUMN end_user TEXT NOT NULL DEFAULT '';
ALTER TABLE usage ADD COLUMN tags TEXT NOT NULL DEFAULT '';
