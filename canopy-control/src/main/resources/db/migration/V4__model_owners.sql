-- The team a model belongs to: the one whose retraining created it. Only that team (or an admin) may retrain it,
-- so that one team cannot replace the production model another team relies on.
CREATE TABLE model_owners (
    name        TEXT PRIMARY KEY,
    team        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
