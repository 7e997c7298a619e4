-- Groups (teams: "Service", "Accounts", "Line 2") with their members. A
-- ticket belongs to a group and optionally a person in it; a group may
-- assign its new tickets itself: in turn among its present members
-- (round_robin, last_assigned remembering whose turn it was) or to the one
-- with the fewest open tickets (least_open), never past max_open (0: no
-- limit) open tickets a person.
CREATE TABLE groups (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    assignment    TEXT NOT NULL DEFAULT 'manual' CHECK (assignment IN ('manual', 'round_robin', 'least_open')),
    max_open      INTEGER NOT NULL DEFAULT 0,
    last_assigned INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX groups_name ON groups(name COLLATE NOCASE);

CREATE TABLE group_members (
    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX group_members_user ON group_members(user_id);

ALTER TABLE tickets ADD COLUMN group_id INTEGER REFERENCES groups(id) ON DELETE SET NULL;
CREATE INDEX tickets_group ON tickets(group_id, last_activity_at);

-- Staff: whether they are at work (automatic assignment passes over the
-- absent), and what an operator may see: the groups whose tickets they
-- work (ids, comma-separated; empty: every ticket) and the statuses whose
-- tickets they never see.
ALTER TABLE users ADD COLUMN present INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN access_groups TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN hidden_statuses TEXT NOT NULL DEFAULT '';
