-- The tickets table shows how many tickets match its filters. This index
-- holds every column a filter tests, so a count reads it alone and never
-- the tickets' rows (subjects and descriptions).
CREATE INDEX tickets_filters ON tickets(status_id, priority, assignee_id, client_id, last_activity_at);
