-- A ticket merged into another keeps its number as a link to that one;
-- its conversation, files and work moved there.
ALTER TABLE tickets ADD COLUMN merged_into INTEGER REFERENCES tickets(id) ON DELETE SET NULL;
