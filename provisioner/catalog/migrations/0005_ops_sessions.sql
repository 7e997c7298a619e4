-- Ops sessions live on the server: signing out or a new password ends them.
CREATE TABLE ops_sessions (
    id         BLOB PRIMARY KEY,                 -- SHA-256 of the secret in the cookie
    email      TEXT NOT NULL COLLATE NOCASE,
    created_at INTEGER NOT NULL,
    seen_at    INTEGER NOT NULL,
    ip         TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX ops_sessions_email ON ops_sessions(email);
