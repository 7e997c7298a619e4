-- Canned replies: shared ones (the admin's) and each person's own, with
-- placeholders filled when one is used; the most used come first.
CREATE TABLE canned_replies (
    id         INTEGER PRIMARY KEY,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    folder     TEXT NOT NULL DEFAULT '',
    owner_id   INTEGER REFERENCES users(id) ON DELETE CASCADE, -- NULL: shared
    uses       INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX canned_owner ON canned_replies(owner_id, uses DESC);
