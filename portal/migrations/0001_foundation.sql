-- Deleted tickets give their pages back with PRAGMA incremental_vacuum.
PRAGMA auto_vacuum = INCREMENTAL;

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    email           TEXT NOT NULL COLLATE NOCASE UNIQUE,
    name            TEXT NOT NULL,
    surname         TEXT NOT NULL DEFAULT '',
    role            TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'client')),
    password_hash   TEXT NOT NULL,
    active          INTEGER NOT NULL DEFAULT 1,
    session_version INTEGER NOT NULL DEFAULT 1,
    lang            TEXT NOT NULL DEFAULT '',
    notify          TEXT NOT NULL DEFAULT '{}',
    created_at      INTEGER NOT NULL,
    last_login_at   INTEGER
);

CREATE TABLE tokens (
    hash       BLOB PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('login', 'personal')),
    name       TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    expires_at INTEGER
) WITHOUT ROWID;
CREATE INDEX tokens_user ON tokens(user_id);
