-- A group's lead hears of every passed SLA target in the group.
ALTER TABLE groups ADD COLUMN lead_id INTEGER REFERENCES users(id) ON DELETE SET NULL;
