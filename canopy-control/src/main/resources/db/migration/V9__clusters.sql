-- The clusters the control plane manages: what was asked for (spec, bundle), by whom and when, and the state last
-- seen. The processes themselves are the host's (the provider's records hold their pids); this is the service's
-- record, which outlives a deleted cluster (deleted_at) for the audit trail.
CREATE TABLE clusters (
    name        TEXT PRIMARY KEY,
    spec        JSONB NOT NULL,
    state       TEXT NOT NULL,
    master_url  TEXT,
    bundle      TEXT,
    created_by  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    deleted_at  TIMESTAMPTZ
);
