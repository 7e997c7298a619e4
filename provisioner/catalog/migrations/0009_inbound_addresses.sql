-- A portal's own addresses (help@romashka.ru) that the service takes mail
-- for, besides SLUG@<mail domain>: the business points its MX here or
-- forwards. One address, one portal.
CREATE TABLE inbound_addresses (
    address   TEXT PRIMARY KEY COLLATE NOCASE,
    portal_id INTEGER NOT NULL REFERENCES portals(id) ON DELETE CASCADE
);
CREATE INDEX inbound_addresses_portal ON inbound_addresses(portal_id);
