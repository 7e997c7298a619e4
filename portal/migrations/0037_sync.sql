-- Incremental sync: lists read in the order things last changed, from a
-- moment or a cursor (see sync.go).
CREATE INDEX tickets_updated ON tickets (updated_at, id);
ALTER TABLE users ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
UPDATE users SET updated_at = created_at;
CREATE INDEX users_updated ON users (updated_at, id);
-- Whatever the API shows of a person changing moves their updated_at,
-- whichever code path changed it (never back: a path that stamps it
-- itself, with the portal's clock, keeps a later stamp).
CREATE TRIGGER users_touched AFTER UPDATE OF email, name, surname, role, active, lang, present, access_groups, hidden_statuses,
    bounced_at, org_id, external_id, fields ON users
BEGIN
    UPDATE users SET updated_at = max(CAST(strftime('%s', 'now') AS INTEGER), NEW.updated_at) WHERE id = NEW.id;
END;
