-- How each person likes the tickets list: the table, a compact list, or
-- split (the list beside the open ticket).
ALTER TABLE users ADD COLUMN list_mode TEXT NOT NULL DEFAULT 'table';
