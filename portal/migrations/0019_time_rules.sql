-- Time rules: triggers of the event "time", run by the minute's job on
-- open tickets ("waiting for the client for 3 working days → remind").
-- The events a trigger may have are widened (SQLite changes a CHECK only by
-- copying the table).
CREATE TABLE triggers_new (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    position   INTEGER NOT NULL,
    event      TEXT NOT NULL CHECK (event IN ('create', 'update', 'message', 'time')),
    conditions TEXT NOT NULL DEFAULT '[]',
    actions    TEXT NOT NULL DEFAULT '[]',
    stop       INTEGER NOT NULL DEFAULT 0,
    active     INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL
);
INSERT INTO triggers_new SELECT id, name, position, event, conditions, actions, stop, active, created_at FROM triggers;
DROP TABLE triggers;
ALTER TABLE triggers_new RENAME TO triggers;

-- A time rule acts on a ticket once, until something happens on it: the
-- ticket's last activity when the rule last acted.
CREATE TABLE rule_runs (
    trigger_id  INTEGER NOT NULL REFERENCES triggers(id) ON DELETE CASCADE,
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    activity_at INTEGER NOT NULL,
    PRIMARY KEY (trigger_id, ticket_id)
) WITHOUT ROWID;
