-- The next-response target: a client's message after staff answered
-- wants an answer within it.
ALTER TABLE sla_policies ADD COLUMN next_response_minutes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN next_response_due INTEGER;
CREATE INDEX tickets_next_response_due ON tickets(next_response_due) WHERE next_response_due IS NOT NULL;
