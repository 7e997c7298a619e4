-- Sessions live on the server: a browser's cookie carries a secret whose
-- SHA-256 is a row here. Signing out, changing or resetting a password and
-- deactivation delete rows, so a copied cookie stops working at once.
CREATE TABLE sessions (
    id         BLOB PRIMARY KEY,             -- SHA-256 of the secret in the cookie
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    seen_at    INTEGER NOT NULL,             -- kept to within a few minutes
    ip         TEXT NOT NULL DEFAULT '',
    agent      TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions(user_id);

-- The session version in the cookie is replaced by the rows above.
ALTER TABLE users DROP COLUMN session_version;
