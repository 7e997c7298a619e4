-- Several front doors: forms (topics or sites) each asking its own part
-- of the questionnaire, with its own preamble, group and priority. Subject
-- and description are every form's; fields lists the others it asks.
CREATE TABLE forms (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    slug       TEXT NOT NULL UNIQUE,
    preamble   TEXT NOT NULL DEFAULT '',
    fields     TEXT NOT NULL DEFAULT '',   -- field ids, comma-separated
    group_id   INTEGER REFERENCES groups(id) ON DELETE SET NULL,
    priority   INTEGER NOT NULL DEFAULT 1,
    position   INTEGER NOT NULL DEFAULT 0,
    active     INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL
);
ALTER TABLE tickets ADD COLUMN form_id INTEGER REFERENCES forms(id) ON DELETE SET NULL;
