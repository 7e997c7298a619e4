-- Personal tokens carry a scope (read, write, admin: everything their
-- person may do) and record when and from where they were last used.
ALTER TABLE tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'admin';
ALTER TABLE tokens ADD COLUMN last_used_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN last_ip TEXT NOT NULL DEFAULT '';
