-- The ops console's table comes from one query: each portal's balance is
-- kept beside it (written with every ledger line, in the same
-- transaction), and so is the time of its last snapshot.
ALTER TABLE portals ADD COLUMN balance INTEGER NOT NULL DEFAULT 0;
UPDATE portals SET balance = COALESCE((SELECT balance_after FROM ledger WHERE ledger.portal_id = portals.id ORDER BY id DESC LIMIT 1), 0);
ALTER TABLE portals ADD COLUMN last_backup_at INTEGER;
-- The ops table's sort orders, so a page of it reads only its own rows.
CREATE INDEX portals_balance ON portals(balance, slug) WHERE state <> 'deleted';
CREATE INDEX portals_backup ON portals(last_backup_at, slug) WHERE state <> 'deleted';
CREATE INDEX portals_tariff ON portals(tariff_id, slug) WHERE state <> 'deleted';
