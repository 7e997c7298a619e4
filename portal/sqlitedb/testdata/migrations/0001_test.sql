CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL COLLATE NOCASE UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    password_hash BLOB NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE TABLE attachments (id INTEGER PRIMARY KEY, ticket_id INTEGER NOT NULL);
CREATE INDEX attachments_ticket ON attachments(ticket_id);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE statuses (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
INSERT INTO statuses (name) VALUES ('New'), ('Closed');
