-- Macros are actions too: a canned text for the comment and changes made
-- in the same click (priority, group, tags). JSON: {"text","priority","group","add_tags"}.
ALTER TABLE actions ADD COLUMN macro TEXT NOT NULL DEFAULT '{}';
