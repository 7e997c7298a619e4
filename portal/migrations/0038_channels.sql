-- Messengers as channels (Telegram, VK): the portal's bot or community,
-- the clients who write there, what they sent (kept before it is applied,
-- like mail) and what goes back to them (an outbox, like mail's).
CREATE TABLE channels (
    kind        TEXT PRIMARY KEY CHECK (kind IN ('telegram', 'vk')),
    token       TEXT NOT NULL,            -- sealed
    grp         TEXT NOT NULL DEFAULT '', -- VK: the community's id
    secret      TEXT NOT NULL,            -- proves the messenger's calls to us
    confirm     TEXT NOT NULL DEFAULT '', -- VK: the string its confirmation expects
    account     TEXT NOT NULL DEFAULT '', -- the bot's or community's name
    mode        TEXT NOT NULL,            -- webhook, poll (Telegram), callback (VK)
    poll_offset INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE TABLE channel_contacts (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,
    ext_id     TEXT NOT NULL,             -- the messenger's id of the person
    chat_id    TEXT NOT NULL,             -- where to write to them
    user_id    INTEGER NOT NULL REFERENCES users (id),
    name       TEXT NOT NULL DEFAULT '',
    username   TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    UNIQUE (kind, ext_id)
);
CREATE INDEX channel_contacts_user ON channel_contacts (user_id);
CREATE TABLE channel_inbound (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,
    update_id    TEXT NOT NULL,           -- the messenger's: the same update twice is kept once
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'new', -- new, done, ignored, failed
    outcome      TEXT NOT NULL DEFAULT '',
    ticket_id    INTEGER,
    received_at  INTEGER NOT NULL,
    processed_at INTEGER,
    UNIQUE (kind, update_id)
);
CREATE INDEX channel_inbound_new ON channel_inbound (id) WHERE state = 'new';
CREATE TABLE channel_outbox (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,
    chat_id    TEXT NOT NULL,
    ticket_id  INTEGER REFERENCES tickets (id) ON DELETE CASCADE,
    entry_id   INTEGER REFERENCES messages (id) ON DELETE CASCADE, -- its files go too
    text       TEXT NOT NULL,
    buttons    TEXT NOT NULL DEFAULT '',  -- JSON: [{"label","data"}]
    state      TEXT NOT NULL DEFAULT 'pending', -- pending, sent, failed
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_at    INTEGER NOT NULL,
    error      TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    sent_at    INTEGER
);
CREATE INDEX channel_outbox_due ON channel_outbox (next_at) WHERE state = 'pending';
-- Where the client's side of a ticket hears of it: '' by mail, else the
-- channel the client wrote from last; and what each message came or went by.
ALTER TABLE tickets ADD COLUMN channel TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN channel TEXT NOT NULL DEFAULT '';
