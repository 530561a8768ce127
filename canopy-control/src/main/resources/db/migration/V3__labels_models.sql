-- Labels from annotation tools: a tile id or a geometry (GeoJSON, lon/lat), a class, who and when.
CREATE TABLE labels (
    id           BIGSERIAL PRIMARY KEY,
    team         TEXT NOT NULL,
    survey       TEXT NOT NULL REFERENCES surveys (name),
    tile_id      TEXT,
    geometry     JSONB,
    class        TEXT NOT NULL,
    annotator    TEXT NOT NULL,
    labelled_at  TIMESTAMPTZ NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    CHECK ((tile_id IS NULL) <> (geometry IS NULL))
);
CREATE INDEX labels_by_survey ON labels (survey, labelled_at);

-- Approval of registered model versions; the registry holds the artifacts and the stage pointers.
CREATE TABLE model_approvals (
    name        TEXT NOT NULL,
    version     INT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    metrics     JSONB NOT NULL DEFAULT '{}'::jsonb,
    job_id      TEXT,
    reason      TEXT,
    decided_by  TEXT,
    decided_at  TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (name, version)
);

-- Every stage move, in order: roll back moves a stage to the version it held before.
CREATE TABLE stage_history (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL,
    stage       TEXT NOT NULL,
    version     INT NOT NULL,
    previous    INT,
    action      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX stage_history_by_model ON stage_history (name, stage, id);
