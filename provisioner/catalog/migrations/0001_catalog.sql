CREATE TABLE tariffs (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    price_per_operator INTEGER NOT NULL,          -- minor units per operator per month
    max_operators      INTEGER NOT NULL,          -- 0 = as many as paid for
    disk_mb            INTEGER NOT NULL,
    db_mb              INTEGER NOT NULL,
    designer           INTEGER NOT NULL DEFAULT 0,
    timing             INTEGER NOT NULL DEFAULT 0,
    api_tokens         INTEGER NOT NULL DEFAULT 0,
    custom_domain      INTEGER NOT NULL DEFAULT 0,
    own_smtp           INTEGER NOT NULL DEFAULT 0,
    position           INTEGER NOT NULL DEFAULT 0,
    archived           INTEGER NOT NULL DEFAULT 0
);

INSERT INTO tariffs (id, name, price_per_operator, max_operators, disk_mb, db_mb, designer, timing, api_tokens, custom_domain, own_smtp, position) VALUES
    ('free',       'Free',         0,      1, 500,    100,   0, 0, 0, 0, 0, 0),
    ('start',      'Start',        85000,  0, 5000,   1000,  1, 0, 1, 0, 1, 1),
    ('business',   'Business',     129000, 0, 20000,  4000,  1, 1, 1, 1, 1, 2),
    ('enterprise', 'Enterprise',   199000, 0, 100000, 16000, 1, 1, 1, 1, 1, 3);

CREATE TABLE portals (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    slug        TEXT NOT NULL,
    company     TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'suspended', 'readonly', 'deleted')),
    tariff_id   TEXT NOT NULL REFERENCES tariffs(id),
    operators   INTEGER NOT NULL DEFAULT 1,
    db_mb       INTEGER,                          -- ops override of the tariff's quota
    disk_mb     INTEGER,
    admin_email TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    deleted_at  INTEGER,
    trash_path  TEXT
);
CREATE UNIQUE INDEX portals_live_slug ON portals(slug) WHERE state <> 'deleted';

CREATE TABLE domains (
    host      TEXT PRIMARY KEY COLLATE NOCASE,
    portal_id INTEGER NOT NULL REFERENCES portals(id) ON DELETE CASCADE
);
