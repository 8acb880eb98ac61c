-- teamgate schema version 8: dashboard sessions shared by every instance. The session id
-- is never stored, only its SHA-256; signing out sets revoked_at; expired and revoked rows
-- are purged as new sessions are made.
CREATE TABLE dashboard_sessions (
    id_hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    teams TEXT NOT NULL,
    org BOOLEAN NOT NULL,
    via TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    revoked_at DOUBLE PRECISION
);
CREATE INDEX dashboard_sessions_expires ON dashboard_sessions (expires_at);
