-- The admin's price list of work types.
CREATE TABLE work_types (
    id     INTEGER PRIMARY KEY,
    name   TEXT NOT NULL COLLATE NOCASE UNIQUE,
    unit   TEXT NOT NULL CHECK (unit IN ('hour', 'piece')),
    price  INTEGER NOT NULL CHECK (price >= 0),   -- minor units per unit
    active INTEGER NOT NULL DEFAULT 1
);

-- Work logged on tickets. quantity is in thousandths of the unit; the price
-- is copied from the price list so that later price changes keep old costs.
CREATE TABLE work_entries (
    id           INTEGER PRIMARY KEY,
    ticket_id    INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    operator_id  INTEGER NOT NULL REFERENCES users(id),
    client_id    INTEGER NOT NULL REFERENCES users(id),   -- the ticket's client, for the report
    work_type_id INTEGER NOT NULL REFERENCES work_types(id),
    quantity     INTEGER NOT NULL CHECK (quantity > 0),
    price        INTEGER NOT NULL,
    cost         INTEGER NOT NULL,
    day          INTEGER NOT NULL,                -- unix day the work was done
    comment      TEXT NOT NULL DEFAULT '',
    visible      INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL
);
CREATE INDEX work_ticket ON work_entries(ticket_id);
-- Covers the report's totals, so they are read from the index alone.
CREATE INDEX work_day ON work_entries(day, operator_id, client_id, work_type_id, quantity, cost, visible);

-- A client's rating of a closed ticket; one per ticket, changeable for 7 days.
CREATE INDEX work_operator ON work_entries(operator_id, day);
CREATE INDEX work_client ON work_entries(client_id, day);
CREATE INDEX work_type ON work_entries(work_type_id, day);

-- Monthly totals per operator, client and work type, kept by triggers, so a
-- year's report reads a few thousand rows instead of every entry.
CREATE TABLE work_month (
    month      INTEGER NOT NULL,            -- YYYYMM
    dim        TEXT NOT NULL CHECK (dim IN ('operator', 'client', 'type', 'all')),
    key        INTEGER NOT NULL,            -- the operator, client or type; the day for 'all'
    entries    INTEGER NOT NULL,
    hours      INTEGER NOT NULL,            -- thousandths of an hour
    pieces     INTEGER NOT NULL,            -- thousandths of a piece
    cost       INTEGER NOT NULL,
    visible    INTEGER NOT NULL,
    PRIMARY KEY (month, dim, key)
) WITHOUT ROWID;

CREATE TRIGGER work_month_ins AFTER INSERT ON work_entries BEGIN
    INSERT INTO work_month (month, dim, key, entries, hours, pieces, cost, visible)
    SELECT CAST(strftime('%Y%m', new.day * 86400, 'unixepoch') AS INTEGER), d.dim, d.key, 1,
        CASE WHEN wt.unit = 'hour' THEN new.quantity ELSE 0 END, CASE WHEN wt.unit = 'piece' THEN new.quantity ELSE 0 END,
        new.cost, CASE WHEN new.visible THEN new.cost ELSE 0 END
    FROM (SELECT 'operator' AS dim, new.operator_id AS key UNION ALL SELECT 'client', new.client_id UNION ALL SELECT 'type', new.work_type_id UNION ALL SELECT 'all', new.day) d,
        work_types wt WHERE wt.id = new.work_type_id
    ON CONFLICT (month, dim, key) DO UPDATE SET entries = entries + excluded.entries, hours = hours + excluded.hours,
        pieces = pieces + excluded.pieces, cost = cost + excluded.cost, visible = visible + excluded.visible;
END;

CREATE TRIGGER work_month_del AFTER DELETE ON work_entries BEGIN
    UPDATE work_month SET entries = entries - 1,
        hours = hours - CASE WHEN (SELECT unit FROM work_types WHERE id = old.work_type_id) = 'hour' THEN old.quantity ELSE 0 END,
        pieces = pieces - CASE WHEN (SELECT unit FROM work_types WHERE id = old.work_type_id) = 'piece' THEN old.quantity ELSE 0 END,
        cost = cost - old.cost, visible = visible - CASE WHEN old.visible THEN old.cost ELSE 0 END
    WHERE month = CAST(strftime('%Y%m', old.day * 86400, 'unixepoch') AS INTEGER)
      AND ((dim = 'operator' AND key = old.operator_id) OR (dim = 'client' AND key = old.client_id) OR (dim = 'type' AND key = old.work_type_id) OR (dim = 'all' AND key = old.day));
END;

CREATE TABLE ratings (
    ticket_id  INTEGER PRIMARY KEY REFERENCES tickets(id) ON DELETE CASCADE,
    client_id  INTEGER NOT NULL REFERENCES users(id),
    score      INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment    TEXT NOT NULL DEFAULT '',
    first_at   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE INDEX tickets_created ON tickets(created_at);
CREATE INDEX tickets_closed ON tickets(closed_at);
