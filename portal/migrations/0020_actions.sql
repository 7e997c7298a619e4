-- Actions of the business's workflow (Webasyst's): a named step offered in
-- some statuses, to some roles and groups, that may lead to a status, asks
-- for a comment (public or internal), an assignee and fields of its own,
-- and sends its own mail (a template per language) to chosen recipients.
CREATE TABLE actions (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL,
    position         INTEGER NOT NULL,
    statuses         TEXT NOT NULL DEFAULT '',      -- status ids it is offered in ('' any open status)
    to_status        INTEGER REFERENCES statuses(id) ON DELETE SET NULL,
    roles            TEXT NOT NULL DEFAULT 'admin,operator', -- who may perform it
    groups           TEXT NOT NULL DEFAULT '',      -- performer must be in one of these groups ('' any)
    comment          TEXT NOT NULL DEFAULT 'optional' CHECK (comment IN ('none', 'optional', 'required')),
    internal         INTEGER NOT NULL DEFAULT 0,    -- the comment is an internal note
    ask_assignee     INTEGER NOT NULL DEFAULT 0,
    fields           TEXT NOT NULL DEFAULT '[]',    -- JSON: [{"name","label","type","options","required"}]
    mail             TEXT NOT NULL DEFAULT '{}',    -- JSON: {"to": [...], "templates": {"en": {"subject","body"}, "ru": …}}
    active           INTEGER NOT NULL DEFAULT 1,
    created_at       INTEGER NOT NULL
);

-- Every action performed, with what it asked for: the timeline shows it,
-- the table filters by it.
CREATE TABLE action_runs (
    id         INTEGER PRIMARY KEY,
    ticket_id  INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    action_id  INTEGER REFERENCES actions(id) ON DELETE SET NULL,
    name       TEXT NOT NULL,                     -- the action's name when performed
    actor_id   INTEGER REFERENCES users(id),
    fields     TEXT NOT NULL DEFAULT '{}',        -- JSON: name → value
    created_at INTEGER NOT NULL
);
CREATE INDEX action_runs_ticket ON action_runs(ticket_id);
CREATE INDEX action_runs_action ON action_runs(action_id, ticket_id);
