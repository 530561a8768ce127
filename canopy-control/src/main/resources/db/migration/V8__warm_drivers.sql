-- Warm drivers: long-lived Spark applications on a cluster that claim that cluster's prediction jobs from the queue
-- (jobs whose request names the cluster). A row lives while its process heartbeats; the supervisor leaves a
-- cluster's jobs to its warm drivers while any of them is fresh, and runs cold drivers otherwise.
CREATE TABLE warm_drivers (
    id            TEXT PRIMARY KEY,
    cluster       TEXT NOT NULL,
    pid           BIGINT NOT NULL,
    host          TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('starting', 'idle', 'busy')),
    job_id        TEXT,
    jobs_run      INT NOT NULL DEFAULT 0,
    started_at    TIMESTAMPTZ NOT NULL,
    ready_at      TIMESTAMPTZ,
    heartbeat_at  TIMESTAMPTZ NOT NULL,
    idle_timeout_s INT NOT NULL
);
CREATE INDEX warm_drivers_by_cluster ON warm_drivers (cluster, heartbeat_at);
