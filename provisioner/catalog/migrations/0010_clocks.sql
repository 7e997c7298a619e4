-- Portals with clocks to watch (SLA targets): the minute's "sla" job opens
-- only these.
CREATE TABLE clocks (
    portal_id INTEGER PRIMARY KEY REFERENCES portals(id) ON DELETE CASCADE
);
