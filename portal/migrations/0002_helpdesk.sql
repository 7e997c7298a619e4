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
CREATE INDEX tickets_priority ON tickets(priority, last_activity_at, id);

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

-- Full-text search, one document per ticket and audience: rowid 2*id holds
-- what the client sees (subject, description, messages), rowid 2*id+1 the
-- internal notes, which only staff may find. Contentless: the text lives in
-- tickets and messages; a document is rebuilt when a message is added.
CREATE VIRTUAL TABLE search USING fts5(body, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2');

CREATE TRIGGER tickets_search_ins AFTER INSERT ON tickets BEGIN
    INSERT INTO search (rowid, body) VALUES (new.id * 2, new.subject || ' ' || new.description);
END;
CREATE TRIGGER tickets_search_del BEFORE DELETE ON tickets BEGIN
    DELETE FROM search WHERE rowid IN (old.id * 2, old.id * 2 + 1);
END;
CREATE TRIGGER messages_search_ins AFTER INSERT ON messages WHEN new.kind = 'message' BEGIN
    DELETE FROM search WHERE rowid = new.ticket_id * 2;
    INSERT INTO search (rowid, body) SELECT new.ticket_id * 2, t.subject || ' ' || t.description || ' ' ||
        (SELECT group_concat(body, ' ') FROM messages WHERE ticket_id = new.ticket_id AND kind = 'message')
        FROM tickets t WHERE t.id = new.ticket_id;
END;
CREATE TRIGGER notes_search_ins AFTER INSERT ON messages WHEN new.kind = 'note' BEGIN
    DELETE FROM search WHERE rowid = new.ticket_id * 2 + 1;
    INSERT INTO search (rowid, body) SELECT new.ticket_id * 2 + 1, group_concat(body, ' ') FROM messages WHERE ticket_id = new.ticket_id AND kind = 'note';
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
