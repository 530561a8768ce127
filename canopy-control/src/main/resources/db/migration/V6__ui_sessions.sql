-- Browser sessions of the dashboard: a pasted bearer token exchanged for an HttpOnly cookie. Only the SHA-256
-- of the session id is kept; the session acts with its token's scopes and ends when the token is revoked.
CREATE TABLE ui_sessions (
    sha256      TEXT PRIMARY KEY,
    token_id    TEXT NOT NULL REFERENCES tokens (id),
    csrf        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
