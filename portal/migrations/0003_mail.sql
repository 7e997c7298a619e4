-- The admin's own wording of each mail, per language; defaults live in the binary.
CREATE TABLE mail_templates (
    kind    TEXT NOT NULL,
    lang    TEXT NOT NULL,
    subject TEXT NOT NULL,
    body    TEXT NOT NULL,
    PRIMARY KEY (kind, lang)
) WITHOUT ROWID;

-- One-time password reset links; only the hash of the token is kept.
CREATE TABLE password_resets (
    hash       BLOB PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) WITHOUT ROWID;

-- The timeline message whose files travel with the mail.
ALTER TABLE outbox ADD COLUMN entry_id INTEGER;
