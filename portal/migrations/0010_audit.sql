-- The portal's audit log, for its admins: sign-ins and failures, changes
-- to settings, people, the form, tokens and two-step sign-in, deletions
-- and exports — who, when, from where. Kept twelve months.
CREATE TABLE audit (
    id       INTEGER PRIMARY KEY,
    at       INTEGER NOT NULL,
    actor_id INTEGER,                      -- NULL: nobody signed in (a failed sign-in, a reset link)
    actor    TEXT NOT NULL DEFAULT '',     -- who, as they were called then
    ip       TEXT NOT NULL DEFAULT '',
    action   TEXT NOT NULL,
    target   TEXT NOT NULL DEFAULT '',
    detail   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_at ON audit(at);
