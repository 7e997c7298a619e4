-- Following: staff who follow a ticket hear of everything on it.
CREATE TABLE followers (
    ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (ticket_id, user_id)
) WITHOUT ROWID;
CREATE INDEX followers_user ON followers(user_id, ticket_id);

-- Saved views: a named filter set, a person's own or shared (with
-- everyone, or a group).
CREATE TABLE views (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    filters    TEXT NOT NULL,                -- the table's query string
    owner_id   INTEGER REFERENCES users(id) ON DELETE CASCADE, -- NULL: shared
    group_id   INTEGER REFERENCES groups(id) ON DELETE CASCADE, -- shared with a group only
    position   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
