ALTER TABLE portals ADD COLUMN paid_through INTEGER;          -- last day (unix day number) that was charged
ALTER TABLE portals ADD COLUMN readonly_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE portals ADD COLUMN admin_db_mb INTEGER;           -- the admin's own lower database limit
ALTER TABLE portals ADD COLUMN expired_at INTEGER;

-- The ledger is append-only; a portal's balance is the sum of its amounts.
CREATE TABLE ledger (
    id            INTEGER PRIMARY KEY,
    portal_id     INTEGER NOT NULL REFERENCES portals(id),
    kind          TEXT NOT NULL CHECK (kind IN ('payment', 'bonus', 'charge', 'tariff', 'operators', 'adjustment', 'expiry')),
    amount        INTEGER NOT NULL,
    balance_after INTEGER NOT NULL,
    day           INTEGER,            -- the day a charge is for
    actor         TEXT NOT NULL,
    note          TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL
);
CREATE INDEX ledger_portal ON ledger(portal_id, id);
CREATE UNIQUE INDEX ledger_one_charge_a_day ON ledger(portal_id, day) WHERE kind = 'charge';

CREATE TABLE invoices (
    id         INTEGER PRIMARY KEY,
    number     TEXT NOT NULL UNIQUE,
    portal_id  INTEGER NOT NULL REFERENCES portals(id),
    amount     INTEGER NOT NULL,
    promo      TEXT NOT NULL DEFAULT '',
    payer      TEXT NOT NULL,
    state      TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'paid', 'cancelled')),
    created_at INTEGER NOT NULL,
    paid_at    INTEGER
);
CREATE INDEX invoices_portal ON invoices(portal_id, id);

CREATE TABLE promo_codes (
    code       TEXT PRIMARY KEY COLLATE NOCASE,
    percent    INTEGER NOT NULL,
    valid_from INTEGER NOT NULL,
    valid_to   INTEGER NOT NULL
);

-- Usage as the last sweep measured it.
CREATE TABLE usage (
    portal_id   INTEGER PRIMARY KEY REFERENCES portals(id),
    db_bytes    INTEGER NOT NULL,
    disk_bytes  INTEGER NOT NULL,
    measured_at INTEGER NOT NULL,
    level       INTEGER NOT NULL DEFAULT 0   -- 0 fine, 80 warned, 100 over
);

-- Mail the control plane owes a portal's admins (warnings, reminders), once each.
CREATE TABLE notices (
    portal_id INTEGER NOT NULL REFERENCES portals(id),
    key       TEXT NOT NULL,
    sent_at   INTEGER NOT NULL,
    PRIMARY KEY (portal_id, key)
) WITHOUT ROWID;

CREATE TABLE job_runs (
    id          INTEGER PRIMARY KEY,
    job         TEXT NOT NULL,
    as_of       INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    outcome     TEXT NOT NULL DEFAULT 'running',
    counts      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX job_runs_job ON job_runs(job, id);
