-- Webhooks: endpoints an admin registers, and the deliveries queued for
-- them in the transaction of the change they tell of (an outbox, like
-- mail's), retried with back-off and kept as a log.
CREATE TABLE webhooks (
    id          INTEGER PRIMARY KEY,
    url         TEXT NOT NULL,
    events      TEXT NOT NULL,            -- comma-separated
    active      INTEGER NOT NULL DEFAULT 1,
    secret      TEXT NOT NULL,
    old_secret  TEXT NOT NULL DEFAULT '', -- still signed with until old_until
    old_until   INTEGER NOT NULL DEFAULT 0,
    failing_since INTEGER NOT NULL DEFAULT 0,
    paused_at   INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);
CREATE TABLE webhook_deliveries (
    id          INTEGER PRIMARY KEY,
    webhook_id  INTEGER NOT NULL REFERENCES webhooks (id),
    event       TEXT NOT NULL,
    event_id    TEXT NOT NULL,            -- the idempotency id receivers see
    payload     TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'pending', -- pending, delivered, failed (given up)
    attempts    INTEGER NOT NULL DEFAULT 0,
    tried_at    INTEGER NOT NULL DEFAULT 0, -- its first attempt: given up a day after
    next_at     INTEGER NOT NULL,
    status      INTEGER NOT NULL DEFAULT 0,
    response    TEXT NOT NULL DEFAULT '',
    error       TEXT NOT NULL DEFAULT '',
    duration_ms INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    done_at     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, id);
