-- teamgate schema version 6: pause switches (a team, an environment or a client key
-- stopped by an operator, with a reason and an optional end). Changes bump keys_version.
CREATE TABLE pauses (
    scope TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    until DOUBLE PRECISION,
    paused_at DOUBLE PRECISION NOT NULL,
    actor TEXT NOT NULL
);
