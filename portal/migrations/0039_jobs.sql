-- Long jobs an admin starts — imports of clients and organisations,
-- exports of tickets — done a chunk at a time by the portal's worker, with
-- their progress; the rows an import refused, with why.
CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('import_clients', 'import_orgs', 'export_tickets')),
    state       TEXT NOT NULL,            -- preview (an import awaiting its columns), queued, running, done, failed
    name        TEXT NOT NULL DEFAULT '', -- the file's name
    params      TEXT NOT NULL DEFAULT '{}',
    file        TEXT NOT NULL DEFAULT '', -- the upload, or the export written (in the portal's files)
    total       INTEGER NOT NULL DEFAULT 0,
    done        INTEGER NOT NULL DEFAULT 0,
    created     INTEGER NOT NULL DEFAULT 0,
    updated     INTEGER NOT NULL DEFAULT 0,
    rejected    INTEGER NOT NULL DEFAULT 0,
    cursor      TEXT NOT NULL DEFAULT '', -- where an export goes on from
    written     INTEGER NOT NULL DEFAULT 0, -- the export's bytes so far: a chunk cut short is written again
    error       TEXT NOT NULL DEFAULT '',
    created_by  INTEGER REFERENCES users (id),
    created_at  INTEGER NOT NULL,
    finished_at INTEGER
);
CREATE INDEX jobs_pending ON jobs (id) WHERE state IN ('queued', 'running');
CREATE TABLE job_rejects (
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    row    INTEGER NOT NULL,
    error  TEXT NOT NULL,
    cells  TEXT NOT NULL,                 -- JSON: the row as it was
    PRIMARY KEY (job_id, row)
);
