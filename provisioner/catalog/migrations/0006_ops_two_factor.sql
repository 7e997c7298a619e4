-- The ops console always signs in in two steps: each account's TOTP
-- secret (sealed with a key of the service secret), the time step of the
-- last code taken, and its unused recovery codes (hex SHA-256, comma-separated).
ALTER TABLE ops_users ADD COLUMN totp_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE ops_users ADD COLUMN totp_step INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ops_users ADD COLUMN recovery TEXT NOT NULL DEFAULT '';
