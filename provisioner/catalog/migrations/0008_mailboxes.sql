-- Portals whose own mailbox the service fetches over IMAP, and when next.
CREATE TABLE mailboxes (
    portal_id INTEGER PRIMARY KEY REFERENCES portals(id) ON DELETE CASCADE,
    next_at   INTEGER NOT NULL
);
CREATE INDEX mailboxes_due ON mailboxes(next_at);
