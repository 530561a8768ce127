-- The control plane's state: surveys, jobs (a durable queue), idempotency keys, an outbox of events
-- written in the same transaction as the change they announce, webhook subscriptions and deliveries.

-- A survey: a manifest under a name. team NULL: shared with every team (surveys found under the Canopy home).
CREATE TABLE surveys (
    name          TEXT PRIMARY KEY,
    seq           BIGSERIAL UNIQUE,
    team          TEXT,
    root_uri      TEXT NOT NULL,
    tiles         BIGINT NOT NULL,
    classes       JSONB NOT NULL,
    extent        JSONB NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    created_by    TEXT NOT NULL
);

-- Jobs: the queue and the record. seq orders the queue and the cursors.
CREATE TABLE jobs (
    id                TEXT PRIMARY KEY,
    seq               BIGSERIAL UNIQUE,
    kind              TEXT NOT NULL CHECK (kind IN ('prediction', 'retrain')),
    team              TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    model             TEXT,
    request           JSONB NOT NULL,
    folder            TEXT NOT NULL,
    progress          JSONB,
    result            JSONB,
    error             TEXT,
    cancel_requested  BOOLEAN NOT NULL DEFAULT false,
    attempts          INT NOT NULL DEFAULT 0,
    pid               BIGINT,
    host              TEXT,
    lease_owner       TEXT,
    lease_until       TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL,
    started_at        TIMESTAMPTZ,
    finished_at       TIMESTAMPTZ,
    created_by        TEXT NOT NULL
);
CREATE INDEX jobs_by_status ON jobs (status, seq);
CREATE INDEX jobs_by_team ON jobs (team, seq);

-- Idempotency-Key per team: the same key with the same body answers the same job.
CREATE TABLE idempotency_keys (
    team          TEXT NOT NULL,
    key           TEXT NOT NULL,
    body_sha256   TEXT NOT NULL,
    job_id        TEXT NOT NULL REFERENCES jobs (id),
    created_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (team, key)
);

-- Webhook subscriptions. The secret must be kept in the clear: the server signs with it.
CREATE TABLE webhook_subscriptions (
    id               TEXT PRIMARY KEY,
    seq              BIGSERIAL UNIQUE,
    team             TEXT NOT NULL,
    url              TEXT NOT NULL,
    event_types      TEXT[] NOT NULL,
    secret           TEXT NOT NULL,
    enabled          BOOLEAN NOT NULL DEFAULT true,
    disabled_reason  TEXT,
    created_at       TIMESTAMPTZ NOT NULL
);

-- Events, written in the transaction that made the change; the dispatcher fans them out to deliveries.
CREATE TABLE outbox (
    seq           BIGSERIAL PRIMARY KEY,
    event_id      TEXT NOT NULL UNIQUE,
    type          TEXT NOT NULL,
    team          TEXT NOT NULL,
    job_id        TEXT,
    payload       JSONB NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    fanned_out    BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE NOT fanned_out;

-- One delivery per (event, target); the same webhook-id on every attempt.
CREATE TABLE deliveries (
    id               TEXT PRIMARY KEY,
    seq              BIGSERIAL UNIQUE,
    event_id         TEXT NOT NULL REFERENCES outbox (event_id),
    team             TEXT NOT NULL,
    target           TEXT NOT NULL,               -- a subscription id, or 'callback'
    subscription_id  TEXT REFERENCES webhook_subscriptions (id),
    url              TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'disabled')),
    attempts         INT NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    first_attempt_at TIMESTAMPTZ,
    last_status      INT,
    last_error       TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    delivered_at     TIMESTAMPTZ,
    UNIQUE (event_id, target)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';

CREATE TABLE delivery_attempts (
    id            BIGSERIAL PRIMARY KEY,
    delivery_id   TEXT NOT NULL REFERENCES deliveries (id),
    at            TIMESTAMPTZ NOT NULL,
    status_code   INT,
    error         TEXT,
    millis        INT NOT NULL
);
CREATE INDEX delivery_attempts_by_delivery ON delivery_attempts (delivery_id, id);

-- A prediction's callback: its URL and the secret it is signed with (shown to the caller once, in the 202).
CREATE TABLE job_callbacks (
    job_id   TEXT PRIMARY KEY REFERENCES jobs (id),
    url      TEXT NOT NULL,
    secret   TEXT NOT NULL
);
