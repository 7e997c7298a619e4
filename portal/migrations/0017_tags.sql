-- Tags: words staff (and triggers) put on tickets, each with a colour;
-- the table filters by them.
CREATE TABLE tags (
    id    INTEGER PRIMARY KEY,
    name  TEXT NOT NULL,
    color TEXT NOT NULL DEFAULT '#6b7280'
);
CREATE UNIQUE INDEX tags_name ON tags(name COLLATE NOCASE);

CREATE TABLE ticket_tags (
    ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    tag_id    INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    PRIMARY KEY (ticket_id, tag_id)
) WITHOUT ROWID;
CREATE INDEX ticket_tags_tag ON ticket_tags(tag_id, ticket_id);

-- Triggers: on a ticket's creation, change or new message, conditions
-- (all must hold) lead to actions, in order; "stop" ends the run there.
CREATE TABLE triggers (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    position   INTEGER NOT NULL,
    event      TEXT NOT NULL CHECK (event IN ('create', 'update', 'message')),
    conditions TEXT NOT NULL DEFAULT '[]', -- JSON: [{"field","op","value"}]
    actions    TEXT NOT NULL DEFAULT '[]', -- JSON: [{"type","value"}]
    stop       INTEGER NOT NULL DEFAULT 0,
    active     INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL
);
