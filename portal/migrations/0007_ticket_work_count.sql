-- How many work entries a ticket has, kept with each entry (portal/work.go),
-- so that the ticket page reads its work only when there is some.
ALTER TABLE tickets ADD COLUMN work INTEGER NOT NULL DEFAULT 0;
UPDATE tickets SET work = (SELECT COUNT(*) FROM work_entries WHERE ticket_id = tickets.id)
    WHERE id IN (SELECT ticket_id FROM work_entries);
