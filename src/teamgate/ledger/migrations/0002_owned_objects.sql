-- teamgate schema version 2: which team owns each Groq file and batch.
CREATE TABLE owned_objects (
    kind TEXT NOT NULL,
    object_id TEXT NOT NULL,
    team TEXT NOT NULL,
    environment TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    worst_case_pusd BIGINT NOT NULL,
    settled_at DOUBLE PRECISION,
    info TEXT NOT NULL,
    PRIMARY KEY (kind, object_id)
);
CREATE INDEX owned_objects_team ON owned_objects (kind, team, created_at);
