-- The search index and the monthly work totals are kept by the Go code that
-- writes tickets, messages and work (portal/index.go), in the same
-- transactions. SQLite parses every trigger each time it opens a database,
-- and these six were a fifth of the cost of opening a closed portal.
DROP TRIGGER IF EXISTS tickets_search_ins;
DROP TRIGGER IF EXISTS tickets_search_del;
DROP TRIGGER IF EXISTS messages_search_ins;
DROP TRIGGER IF EXISTS notes_search_ins;
DROP TRIGGER IF EXISTS work_month_ins;
DROP TRIGGER IF EXISTS work_month_del;
