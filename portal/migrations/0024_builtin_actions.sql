-- The built-in steps are actions too, which the admin can rename, restrict
-- (statuses, roles, groups) or retire: reply, internal note, forward to a
-- specialist (assign), close (any move to a closed status), delete. For
-- them no status ticked means every status, closed ones included.
ALTER TABLE actions ADD COLUMN builtin TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX actions_builtin ON actions(builtin) WHERE builtin <> '';
INSERT INTO actions (name, position, roles, comment, builtin, created_at) VALUES
    ('Reply', -5, 'admin,operator,client', 'required', 'reply', 0),
    ('Internal note', -4, 'admin,operator', 'required', 'note', 0),
    ('Forward to a specialist', -3, 'admin,operator', 'none', 'assign', 0),
    ('Close', -2, 'admin,operator', 'none', 'close', 0),
    ('Delete', -1, 'admin', 'none', 'delete', 0);
