-- Several nodes: which node serves each portal, and how many times it has
-- been placed (a node's copy of a database from another epoch is stale);
-- the nodes, with what they last said of themselves.
ALTER TABLE portals ADD COLUMN node TEXT NOT NULL DEFAULT '';
ALTER TABLE portals ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
CREATE INDEX portals_node ON portals(node) WHERE state <> 'deleted';

CREATE TABLE nodes (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'up',      -- up, draining, down
    started_at INTEGER NOT NULL,           -- unix seconds
    heartbeat_at INTEGER NOT NULL,         -- unix milliseconds
    open_portals INTEGER NOT NULL DEFAULT 0,
    disk_free INTEGER NOT NULL DEFAULT 0,  -- bytes
    latency_us INTEGER NOT NULL DEFAULT 0  -- median request time lately
);
