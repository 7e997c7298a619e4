-- The CRM side: organisations (a client's company), typed fields of
-- clients and organisations, and the ids an integration gives tickets,
-- clients and organisations so it can map its records to ours both ways
-- (unique where set).
CREATE TABLE organizations (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL COLLATE NOCASE UNIQUE,
    tax_id      TEXT NOT NULL DEFAULT '',  -- INN or VAT id
    kpp         TEXT NOT NULL DEFAULT '',
    domains     TEXT NOT NULL DEFAULT '',  -- comma-separated, lower case: clients mailing from them join
    notes       TEXT NOT NULL DEFAULT '',
    fields      TEXT NOT NULL DEFAULT '{}', -- custom field name → value
    external_id TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX organizations_external ON organizations (external_id) WHERE external_id IS NOT NULL;
CREATE INDEX organizations_updated ON organizations (updated_at, id);

-- Questions asked of clients' and organisations' records (target client
-- or org), typed like the questionnaire's.
CREATE TABLE record_fields (
    id       INTEGER PRIMARY KEY,
    target   TEXT NOT NULL CHECK (target IN ('client', 'org')),
    name     TEXT NOT NULL DEFAULT '',
    label    TEXT NOT NULL,
    help     TEXT NOT NULL DEFAULT '',
    type     TEXT NOT NULL,
    options  TEXT NOT NULL DEFAULT '[]',
    position INTEGER NOT NULL,
    active   INTEGER NOT NULL DEFAULT 1
);

ALTER TABLE users ADD COLUMN org_id INTEGER REFERENCES organizations (id) ON DELETE SET NULL;
ALTER TABLE users ADD COLUMN fields TEXT NOT NULL DEFAULT '{}';
ALTER TABLE users ADD COLUMN external_id TEXT;
CREATE INDEX users_org ON users (org_id) WHERE org_id IS NOT NULL;
CREATE UNIQUE INDEX users_external ON users (external_id) WHERE external_id IS NOT NULL;

ALTER TABLE tickets ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX tickets_external ON tickets (external_id) WHERE external_id IS NOT NULL;
