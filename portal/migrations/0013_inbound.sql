-- Email in. A mail is stored as it came (raw) before anything is made of
-- it, then applied in the transaction that marks it done: a crash between
-- the two leaves it to be applied once, on restart.
CREATE TABLE inbound (
    id           INTEGER PRIMARY KEY,
    received_at  INTEGER NOT NULL,
    mail_from    TEXT NOT NULL,              -- the envelope's sender
    rcpt         TEXT NOT NULL,              -- the address it came to
    state        TEXT NOT NULL DEFAULT 'new' CHECK (state IN ('new', 'done', 'ignored', 'failed', 'spam')),
    auth         TEXT NOT NULL DEFAULT '',   -- the SPF, DKIM and DMARC verdict when it came
    outcome      TEXT NOT NULL DEFAULT '',   -- what it became, or why nothing
    message_id   TEXT NOT NULL DEFAULT '',
    sender       TEXT NOT NULL DEFAULT '',   -- the From address, once read
    ticket_id    INTEGER,
    processed_at INTEGER
);
CREATE INDEX inbound_state ON inbound(state, id);

-- The mail as it came, kept (downloadable as .eml) in a table of its own:
-- marking a mail done rewrites its small row, never its megabytes.
CREATE TABLE inbound_raw (
    inbound_id INTEGER PRIMARY KEY REFERENCES inbound(id) ON DELETE CASCADE,
    raw        BLOB NOT NULL
);
CREATE INDEX inbound_message ON inbound(message_id);
CREATE INDEX inbound_sender ON inbound(sender, received_at);
CREATE INDEX inbound_ticket ON inbound(ticket_id);

-- Every Message-ID the portal sent or received about a ticket: a reply's
-- In-Reply-To and References find their ticket here.
CREATE TABLE mail_ids (
    message_id TEXT PRIMARY KEY,
    ticket_id  INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO mail_ids (message_id, ticket_id) SELECT message_id, ticket_id FROM outbox WHERE ticket_id IS NOT NULL;

-- Where a ticket came from: the web form or the API ("web"), or a mail ("email").
ALTER TABLE tickets ADD COLUMN source TEXT NOT NULL DEFAULT 'web';

-- The last time mail to a person bounced, and why: shown on the person.
ALTER TABLE users ADD COLUMN bounced_at INTEGER;
ALTER TABLE users ADD COLUMN bounce TEXT NOT NULL DEFAULT '';
