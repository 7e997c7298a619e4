-- An admin enters the portal's own host name on the settings page; it is
-- served, and links in mail use it, once DNS points it at the service.
-- Host names ops added from the shell were trusted: they stay verified.
ALTER TABLE domains ADD COLUMN verified_at INTEGER;
ALTER TABLE domains ADD COLUMN checked_at INTEGER;
ALTER TABLE domains ADD COLUMN problem TEXT NOT NULL DEFAULT '';
UPDATE domains SET verified_at = CAST(strftime('%s', 'now') AS INTEGER);
CREATE INDEX domains_portal ON domains(portal_id, verified_at);
