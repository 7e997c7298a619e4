-- The vendor's ops team, separate from every portal's people.
CREATE TABLE ops_users (
    id         INTEGER PRIMARY KEY,
    email      TEXT NOT NULL COLLATE NOCASE UNIQUE,
    name       TEXT NOT NULL,
    hash       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Every ops action: who, what, when, from where.
CREATE TABLE audit (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    ip     TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);

ALTER TABLE usage ADD COLUMN tickets INTEGER;
