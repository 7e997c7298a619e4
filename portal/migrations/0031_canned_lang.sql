-- A canned reply may be written for one language ('' every language): the
-- reply box offers those in its ticket's client's language.
ALTER TABLE canned_replies ADD COLUMN lang TEXT NOT NULL DEFAULT '';
