-- People a ticket's conversation includes besides its client: clients of
-- the portal who were in CC of a mail about it (or added by staff). They
-- see the ticket and its public conversation, write in it and get its
-- mail, like its client; never its internal notes.
CREATE TABLE participants (
    ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    added_at  INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, user_id)
) WITHOUT ROWID;
CREATE INDEX participants_user ON participants(user_id, ticket_id);

-- Whether the portal answered a received mail by itself (a notice of
-- receipt, a request to register): at most a setting's number of such
-- answers go to one sender an hour, so two robots never talk for ever.
ALTER TABLE inbound ADD COLUMN answered INTEGER NOT NULL DEFAULT 0;
