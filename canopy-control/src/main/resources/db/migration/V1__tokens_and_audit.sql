-- Bearer tokens: only their SHA-256 is kept; a token belongs to a team and has scopes.
CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,               -- first 12 hex digits of the hash: safe to show and log
    sha256      TEXT NOT NULL UNIQUE,
    team        TEXT NOT NULL,
    scopes      TEXT[] NOT NULL CHECK (cardinality(scopes) > 0),
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ,
    revoked_at  TIMESTAMPTZ,
    created_by  TEXT NOT NULL
);

-- Every token change, approval, promotion and roll back, in order.
CREATE TABLE audit_log (
    id       BIGSERIAL PRIMARY KEY,
    at       TIMESTAMPTZ NOT NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    subject  TEXT NOT NULL,
    detail   JSONB NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_subject ON audit_log (subject, id);
