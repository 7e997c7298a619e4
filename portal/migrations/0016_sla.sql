-- SLA policies: targets for the first answer and for resolution, counted
-- in business hours. The first policy (by position) whose conditions a
-- ticket meets applies; one without conditions applies to every ticket.
CREATE TABLE sla_policies (
    id                     INTEGER PRIMARY KEY,
    name                   TEXT NOT NULL,
    position               INTEGER NOT NULL,
    priorities             TEXT NOT NULL DEFAULT '',  -- low,high … ('' any)
    groups                 TEXT NOT NULL DEFAULT '',  -- group ids ('' any)
    first_response_minutes INTEGER NOT NULL DEFAULT 0, -- 0: no target
    resolution_minutes     INTEGER NOT NULL DEFAULT 0,
    escalate               INTEGER NOT NULL DEFAULT 0, -- a breach raises the priority one step
    created_at             INTEGER NOT NULL
);

-- A ticket's clocks. The resolution clock stops while the ticket waits for
-- its client: resolution_spent is the working time counted before the
-- current run, resolution_from when the current run began (NULL: stopped).
ALTER TABLE tickets ADD COLUMN sla_policy_id INTEGER REFERENCES sla_policies(id) ON DELETE SET NULL;
ALTER TABLE tickets ADD COLUMN first_response_due INTEGER;
ALTER TABLE tickets ADD COLUMN resolution_due INTEGER;
ALTER TABLE tickets ADD COLUMN resolution_spent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN resolution_from INTEGER;
ALTER TABLE tickets ADD COLUMN sla_breached TEXT NOT NULL DEFAULT ''; -- first_response, resolution (comma)
CREATE INDEX tickets_first_response_due ON tickets(first_response_due) WHERE first_response_due IS NOT NULL;
CREATE INDEX tickets_resolution_due ON tickets(resolution_due) WHERE resolution_due IS NOT NULL;
