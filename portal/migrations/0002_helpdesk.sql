CREATE TABLE statuses (
    id       INTEGER PRIMARY KEY,
    name     TEXT NOT NULL COLLATE NOCASE UNIQUE,
    color    TEXT NOT NULL DEFAULT '#6b7280',
    position INTEGER NOT NULL,
    closed   INTEGER NOT NULL DEFAULT 0,
    initial  INTEGER NOT NULL DEFAULT 0
);
INSERT INTO statuses (name, color, position, closed, initial) VALUES
    ('New', '#2563eb', 1, 0, 1),
    ('In progress', '#d97706', 2, 0, 0),
    ('Waiting for client', '#7c3aed', 3, 0, 0),
    ('Resolved', '#16a34a', 4, 1, 0),
    ('Closed', '#6b7280', 5, 1, 0);

-- The questionnaire. Builtin fields (subject, description) are always there.
CREATE TABLE fields (
    id       INTEGER PRIMARY KEY,
    name     TEXT NOT NULL UNIQUE,
    label    TEXT NOT NULL,
    help     TEXT NOT NULL DEFAULT '',
    type     TEXT NOT NULL,
    required INTEGER NOT NULL DEFAULT 0,
    options  TEXT NOT NULL DEFAULT '[]',
    position INTEGER NOT NULL,
    active   INTEGER NOT NULL DEFAULT 1,
    builtin  INTEGER NOT NULL DEFAULT 0
);
INSERT INTO fields (name, label, type, required, position, builtin) VALUES
    ('subject', 'Subject', 'text', 1, 1, 1),
    ('description', 'Description', 'textarea', 1, 2, 1);

CREATE TABLE tickets (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    subject           TEXT NOT NULL,
    description       TEXT NOT NULL,
    client_id         INTEGER NOT NULL REFERENCES users(id),
    assignee_id       INTEGER REFERENCES users(id),
    status_id         INTEGER NOT NULL REFERENCES statuses(id),
    priority          INTEGER NOT NULL DEFAULT 1 CHECK (priority BETWEEN 0 AND 3),
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    closed_at         INTEGER,
    first_response_at INTEGER,
    last_activity_at  INTEGER NOT NULL,
    messages          INTEGER NOT NULL DEFAULT 0,
    files             INTEGER NOT NULL DEFAULT 0,
    file_bytes        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tickets_activity ON tickets(last_activity_at DESC, id DESC);
CREATE INDEX tickets_client ON tickets(client_id, last_activity_at DESC);
CREATE INDEX tickets_assignee ON tickets(assignee_id, last_activity_at DESC);
CREATE INDEX tickets_status ON tickets(status_id, last_activity_at DESC);

-- A ticket's answers, labelled as the form was when it was created.
CREATE TABLE ticket_values (
    ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    field_id  INTEGER,
    label     TEXT NOT NULL,
    type      TEXT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (ticket_id, position)
) WITHOUT ROWID;

-- The timeline: messages, internal notes and events.
CREATE TABLE messages (
    id         INTEGER PRIMARY KEY,
    ticket_id  INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    author_id  INTEGER REFERENCES users(id),
    kind       TEXT NOT NULL CHECK (kind IN ('message', 'note', 'event')),
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX messages_ticket ON messages(ticket_id, id);

CREATE TABLE attachments (
    id           INTEGER PRIMARY KEY,
    ticket_id    INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    message_id   INTEGER REFERENCES messages(id) ON DELETE CASCADE,
    uploader_id  INTEGER REFERENCES users(id),
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    path         TEXT NOT NULL,
    internal     INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL
);
CREATE INDEX attachments_ticket ON attachments(ticket_id);
CREATE INDEX attachments_message ON attachments(message_id);

-- What each operator has seen, for the unread marks of the table.
CREATE TABLE reads (
    user_id   INTEGER NOT NULL,
    ticket_id INTEGER NOT NULL,
    seen_at   INTEGER NOT NULL,
    PRIMARY KEY (user_id, ticket_id)
) WITHOUT ROWID;

-- Full-text search over subject, description and messages. internal marks
-- notes, which only staff may find.
CREATE VIRTUAL TABLE search USING fts5(body, ticket_id UNINDEXED, internal UNINDEXED, tokenize = 'unicode61 remove_diacritics 2');

CREATE TRIGGER tickets_search_ins AFTER INSERT ON tickets BEGIN
    INSERT INTO search (rowid, body, ticket_id, internal) VALUES (-new.id, new.subject || ' ' || new.description, new.id, 0);
END;
CREATE TRIGGER tickets_search_del BEFORE DELETE ON tickets BEGIN
    DELETE FROM search WHERE rowid = -old.id OR rowid IN (SELECT id FROM messages WHERE ticket_id = old.id);
END;
CREATE TRIGGER messages_search_ins AFTER INSERT ON messages WHEN new.kind <> 'event' BEGIN
    INSERT INTO search (rowid, body, ticket_id, internal) VALUES (new.id, new.body, new.ticket_id, new.kind = 'note');
END;

-- Mail waiting to be delivered; written in the transaction of the event.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    to_addr     TEXT NOT NULL,
    to_name     TEXT NOT NULL DEFAULT '',
    subject     TEXT NOT NULL,
    text_body   TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    ticket_id   INTEGER,
    state       TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER NOT NULL,
    last_error  TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    sent_at     INTEGER
);
CREATE INDEX outbox_due ON outbox(state, next_at);
CREATE INDEX outbox_ticket ON outbox(ticket_id);

INSERT INTO settings (key, value) VALUES
    ('max_files', '10'),
    ('max_file_mb', '20'),
    ('preamble', '');
