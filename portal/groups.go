package portal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"portaldesk/portal/sqlitedb"
)

// Groups are teams ("Service", "Accounts", "Line 2"): a ticket belongs to
// one and optionally a person in it. A group with automatic assignment
// gives each ticket that enters it to a present member at once.
//
// Access: an operator may be limited to some groups' tickets and kept from
// some statuses' tickets (line 1 never sees "Escalated"). A ticket outside
// what someone may see does not exist for them, wherever they look: its
// page, the API, the table and its counts, search, files, live updates
// and mail.

// Assignment modes of a group.
const (
	AssignManual     = "manual"
	AssignRoundRobin = "round_robin"
	AssignLeastOpen  = "least_open"
)

// Group is a team and how it hands out its tickets.
type Group struct {
	ID         int64    `json:"id"`
	Name       string   `json:"name"`
	Assignment string   `json:"assignment"` // manual, round_robin or least_open
	MaxOpen    int      `json:"max_open"`   // open tickets a member is given at most (0: no limit)
	Lead       int64    `json:"lead"`       // a staff member told of every passed SLA target in the group (0: none)
	Members    []Person `json:"members"`
	Open       int      `json:"open"` // open tickets in the group
}

// GroupRef is a ticket's group as the ticket carries it.
type GroupRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// parseIDs reads a stored list of ids ("3,7").
func parseIDs(s string) []int64 {
	var out []int64
	for _, f := range strings.Split(s, ",") {
		if id, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64); err == nil {
			out = append(out, id)
		}
	}
	return out
}

func formatIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ",")
}

// limited reports whether u sees only part of the tickets.
func (u *User) limited() bool {
	return u.Role == RoleOperator && (len(u.AccessGroups) > 0 || len(u.HiddenStatuses) > 0)
}

// sees reports whether staff member u may see a ticket in group (0: none)
// and status.
func (u *User) sees(group, status int64) bool {
	if !u.limited() {
		return true
	}
	if len(u.AccessGroups) > 0 && !slices.Contains(u.AccessGroups, group) {
		return false
	}
	return !slices.Contains(u.HiddenStatuses, status)
}

// MaySee reports whether staff member u may see ticket t (limited
// operators: its group and status).
func (u *User) MaySee(t *Ticket) bool { return u.sees(t.GroupID(), t.Status.ID) }

// unlimited is u without their limits, for reading back what they just
// changed.
func (u *User) unlimited() *User {
	c := *u
	c.AccessGroups, c.HiddenStatuses = nil, nil
	return &c
}

// isMember reports whether user is in group.
func (p *Portal) isMember(ctx context.Context, group, user int64) bool {
	var one int
	return p.q.QueryRow(ctx, "SELECT 1 FROM group_members WHERE group_id = ? AND user_id = ?", group, user).Scan(&one) == nil
}

// scopeSQL is the condition on tickets t that keeps a limited operator to
// what they may see ("" for everyone else). The ids are integers read
// from the database, written into the SQL as numbers.
func (u *User) scopeSQL() string {
	if !u.limited() {
		return ""
	}
	var c []string
	if len(u.AccessGroups) > 0 {
		c = append(c, "t.group_id IN ("+formatIDs(u.AccessGroups)+")")
	}
	if len(u.HiddenStatuses) > 0 {
		c = append(c, "t.status_id NOT IN ("+formatIDs(u.HiddenStatuses)+")")
	}
	return strings.Join(c, " AND ")
}

// Groups lists the portal's groups with their members and open tickets.
func (p *Portal) Groups(ctx context.Context) ([]Group, error) {
	rows, err := p.q.Query(ctx, `SELECT g.id, g.name, g.assignment, g.max_open, COALESCE(g.lead_id, 0),
		(SELECT COUNT(*) FROM tickets t JOIN statuses s ON s.id = t.status_id WHERE t.group_id = g.id AND s.closed = 0)
		FROM groups g ORDER BY g.name COLLATE NOCASE`)
	if err != nil {
		return nil, fmt.Errorf("store: groups: %w", err)
	}
	out := []Group{}
	for rows.Next() {
		var g Group
		if err := rows.Scan(&g.ID, &g.Name, &g.Assignment, &g.MaxOpen, &g.Lead, &g.Open); err != nil {
			rows.Close()
			return nil, err
		}
		g.Members = []Person{}
		out = append(out, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	mrows, err := p.q.Query(ctx, `SELECT m.group_id, u.id, TRIM(u.name || ' ' || u.surname) FROM group_members m JOIN users u ON u.id = m.user_id
		ORDER BY u.name, u.surname, u.id`)
	if err != nil {
		return nil, err
	}
	defer mrows.Close()
	for mrows.Next() {
		var gid int64
		var m Person
		if err := mrows.Scan(&gid, &m.ID, &m.Name); err != nil {
			return nil, err
		}
		for i := range out {
			if out[i].ID == gid {
				out[i].Members = append(out[i].Members, m)
			}
		}
	}
	return out, mrows.Err()
}

// GroupNames lists the groups' ids and names, for the pages' choices.
func (p *Portal) GroupNames(ctx context.Context) ([]GroupRef, error) {
	rows, err := p.q.Query(ctx, "SELECT id, name FROM groups ORDER BY name COLLATE NOCASE")
	if err != nil {
		return nil, fmt.Errorf("store: groups: %w", err)
	}
	defer rows.Close()
	var out []GroupRef
	for rows.Next() {
		var g GroupRef
		if err := rows.Scan(&g.ID, &g.Name); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// Group is one group.
func (p *Portal) Group(ctx context.Context, id int64) (*Group, error) {
	gs, err := p.Groups(ctx)
	if err != nil {
		return nil, err
	}
	for i := range gs {
		if gs[i].ID == id {
			return &gs[i], nil
		}
	}
	return nil, ErrNotFound
}

// GroupChange makes or changes a group; nil leaves a part as it is.
type GroupChange struct {
	Name       *string  `json:"name"`
	Members    *[]int64 `json:"members"`    // user ids of staff
	Assignment *string  `json:"assignment"` // manual, round_robin or least_open
	MaxOpen    *int     `json:"max_open"`   // 0: no limit
	Lead       *int64   `json:"lead"`       // a staff member's id (0: none)
}

// SaveGroup creates a group (id 0) or changes one. Admins only; all of the
// change or, on any error, none.
func (p *Portal) SaveGroup(ctx context.Context, actor *User, id int64, in GroupChange) (*Group, error) {
	if actor.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	if err := p.writable(); err != nil {
		return nil, err
	}
	g := &Group{Assignment: AssignManual}
	if id != 0 {
		var err error
		if g, err = p.Group(ctx, id); err != nil {
			return nil, err
		}
	}
	errs := map[string]string{}
	if in.Name != nil {
		g.Name = Line(*in.Name)
	}
	switch n := utf8.RuneCountInString(g.Name); {
	case n == 0:
		errs["name"] = "Enter the group's name."
	case n > 60:
		errs["name"] = "At most 60 characters."
	}
	if in.Assignment != nil {
		g.Assignment = *in.Assignment
		if g.Assignment != AssignManual && g.Assignment != AssignRoundRobin && g.Assignment != AssignLeastOpen {
			errs["assignment"] = "Choose manual, round_robin or least_open."
		}
	}
	if in.MaxOpen != nil {
		g.MaxOpen = *in.MaxOpen
		if g.MaxOpen < 0 || g.MaxOpen > 10000 {
			errs["max_open"] = "Enter a number from 0 (no limit) to 10000."
		}
	}
	if in.Lead != nil {
		g.Lead = *in.Lead
		if g.Lead != 0 {
			if u, err := p.UserByID(ctx, g.Lead); err != nil || !u.IsStaff() {
				errs["lead"] = "Choose a member of the staff."
			}
		}
	}
	var members []int64
	if in.Members != nil {
		for _, uid := range *in.Members {
			u, err := p.UserByID(ctx, uid)
			if err != nil || !u.IsStaff() {
				errs["members"] = fmt.Sprintf("User %d is not on the staff.", uid)
				break
			}
			if !slices.Contains(members, uid) {
				members = append(members, uid)
			}
		}
	}
	if len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	err := p.Tx(ctx, func(tp *Portal) error {
		if id == 0 {
			res, err := tp.q.Exec(ctx, "INSERT INTO groups (name, assignment, max_open, lead_id, created_at) VALUES (?, ?, ?, NULLIF(?, 0), ?)", g.Name, g.Assignment, g.MaxOpen, g.Lead, p.Now().Unix())
			if err != nil {
				return err
			}
			id, _ = res.LastInsertId()
		} else if _, err := tp.q.Exec(ctx, "UPDATE groups SET name = ?, assignment = ?, max_open = ?, lead_id = NULLIF(?, 0) WHERE id = ?", g.Name, g.Assignment, g.MaxOpen, g.Lead, id); err != nil {
			return err
		}
		if in.Members == nil {
			return nil
		}
		if _, err := tp.q.Exec(ctx, "DELETE FROM group_members WHERE group_id = ?", id); err != nil {
			return err
		}
		for _, uid := range members {
			if _, err := tp.q.Exec(ctx, "INSERT INTO group_members (group_id, user_id) VALUES (?, ?)", id, uid); err != nil {
				return err
			}
		}
		return nil
	})
	if sqlitedb.IsUniqueViolation(err) {
		return nil, &FieldErrors{Fields: map[string]string{"name": "A group with this name exists already."}}
	}
	if err != nil {
		return nil, fmt.Errorf("store: save group: %w", err)
	}
	return p.Group(ctx, id)
}

// DeleteGroup removes a group; its tickets keep their assignees and
// belong to no group.
func (p *Portal) DeleteGroup(ctx context.Context, actor *User, id int64) error {
	if actor.Role != RoleAdmin {
		return ErrForbidden
	}
	if err := p.writable(); err != nil {
		return err
	}
	return p.Tx(ctx, func(tp *Portal) error {
		res, err := tp.q.Exec(ctx, "DELETE FROM groups WHERE id = ?", id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		// Operators limited to it lose it from their list (an empty list
		// would let them see everything: they keep the rest, or none).
		rows, err := tp.q.Query(ctx, "SELECT id, access_groups FROM users WHERE access_groups <> ''")
		if err != nil {
			return err
		}
		type fix struct {
			id   int64
			list string
		}
		var fixes []fix
		for rows.Next() {
			var f fix
			if err := rows.Scan(&f.id, &f.list); err != nil {
				rows.Close()
				return err
			}
			ids := parseIDs(f.list)
			if i := slices.Index(ids, id); i >= 0 {
				ids = slices.Delete(ids, i, i+1)
				f.list = formatIDs(ids)
				if f.list == "" {
					f.list = "0" // no group: no ticket
				}
				fixes = append(fixes, f)
			}
		}
		rows.Close()
		for _, f := range fixes {
			if _, err := tp.q.Exec(ctx, "UPDATE users SET access_groups = ? WHERE id = ?", f.list, f.id); err != nil {
				return err
			}
		}
		p.ref.cookies.forget()
		return nil
	})
}

// findGroup reads a group named by id ("3") or name ("Line 2"); "" and
// "none" are no group (0).
func (p *Portal) findGroup(ctx context.Context, v string) (int64, string, error) {
	v = strings.TrimSpace(v)
	if v == "" || v == "none" || v == "0" {
		return 0, "", nil
	}
	var id int64
	var name string
	err := p.q.QueryRow(ctx, "SELECT id, name FROM groups WHERE id = ? OR name = ? COLLATE NOCASE", v, v).Scan(&id, &name)
	if err != nil {
		return 0, "", ErrNotFound
	}
	return id, name, nil
}

// errNobodyFree: no member of the group can take a ticket now.
var errNobodyFree = errors.New("nobody in the group is free")

// autoAssign gives ticket number (in group, status) to a member of the
// group when the group assigns by itself, inside the caller's
// transaction: round-robin among the present members who may see it and
// are under the group's limit of open tickets, or the one with the fewest.
// It returns the person chosen (nil: the group assigns by hand, or nobody
// is free, and the ticket waits in the group's queue).
func (p *Portal) autoAssign(ctx context.Context, number, group, status int64) (*User, error) {
	var mode string
	var maxOpen int
	var last int64
	if err := p.q.QueryRow(ctx, "SELECT assignment, max_open, last_assigned FROM groups WHERE id = ?", group).Scan(&mode, &maxOpen, &last); err != nil {
		return nil, nil
	}
	if mode == AssignManual {
		return nil, nil
	}
	rows, err := p.q.Query(ctx, `SELECT u.id, (SELECT COUNT(*) FROM tickets t JOIN statuses s ON s.id = t.status_id WHERE t.assignee_id = u.id AND s.closed = 0)
		FROM group_members m JOIN users u ON u.id = m.user_id
		WHERE m.group_id = ? AND u.active = 1 AND u.present = 1 AND u.role IN ('admin', 'operator') ORDER BY u.id`, group)
	if err != nil {
		return nil, err
	}
	type cand struct {
		id   int64
		open int
	}
	var cands []cand
	for rows.Next() {
		var c cand
		if err := rows.Scan(&c.id, &c.open); err != nil {
			rows.Close()
			return nil, err
		}
		if maxOpen == 0 || c.open < maxOpen {
			cands = append(cands, c)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var chosen *User
	pick := func(c cand) bool {
		u, err := p.UserByID(ctx, c.id)
		if err != nil || !u.sees(group, status) {
			return false
		}
		chosen = u
		return true
	}
	switch mode {
	case AssignRoundRobin:
		// The next member after the last one given a ticket, in id order,
		// wrapping round.
		start := 0
		for i, c := range cands {
			if c.id > last {
				start = i
				break
			}
			start = i + 1
		}
		for i := range cands {
			if pick(cands[(start+i)%len(cands)]) {
				break
			}
		}
	case AssignLeastOpen:
		slices.SortStableFunc(cands, func(a, b cand) int { return a.open - b.open })
		for _, c := range cands {
			if pick(c) {
				break
			}
		}
	}
	if chosen == nil {
		return nil, nil
	}
	if _, err := p.q.Exec(ctx, "UPDATE groups SET last_assigned = ? WHERE id = ?", chosen.ID, group); err != nil {
		return nil, err
	}
	if _, err := p.q.Exec(ctx, "UPDATE tickets SET assignee_id = ? WHERE id = ?", chosen.ID, number); err != nil {
		return nil, err
	}
	var gname string
	_ = p.q.QueryRow(ctx, "SELECT name FROM groups WHERE id = ?", group).Scan(&gname)
	if err := p.addEvent(ctx, number, 0, fmt.Sprintf("The group %s assigned the ticket to %s", gname, chosen.FullName())); err != nil {
		return nil, err
	}
	return chosen, nil
}

// notifyAssignedByGroup tells a member their group gave them a ticket.
func (p *Portal) notifyAssignedByGroup(ctx context.Context, number, group int64, a *User) error {
	var subject, gname string
	if err := p.q.QueryRow(ctx, "SELECT t.subject, g.name FROM tickets t, groups g WHERE t.id = ? AND g.id = ?", number, group).Scan(&subject, &gname); err != nil {
		return err
	}
	return p.notifyAssigned(ctx, number, subject, a, gname)
}

// SetPresence says whether a staff member is at work. Going away with
// handBack gives their open tickets that belong to a group back to it
// (reassigned at once where the group assigns by itself). A person sets
// their own; an admin anyone's.
func (p *Portal) SetPresence(ctx context.Context, actor *User, id int64, present, handBack bool) (int, error) {
	if actor.ID != id && actor.Role != RoleAdmin {
		return 0, ErrForbidden
	}
	if err := p.writable(); err != nil {
		return 0, err
	}
	u, err := p.UserByID(ctx, id)
	if err != nil {
		return 0, err
	}
	if !u.IsStaff() {
		return 0, &FieldErrors{Fields: map[string]string{"present": "Only staff are present or away."}}
	}
	handed := 0
	var touched []*Ticket
	err = p.Tx(ctx, func(tp *Portal) error {
		if _, err := tp.q.Exec(ctx, "UPDATE users SET present = ? WHERE id = ?", present, id); err != nil {
			return err
		}
		if present || !handBack {
			return nil
		}
		rows, err := tp.q.Query(ctx, `SELECT t.id, t.group_id, t.status_id, t.client_id FROM tickets t JOIN statuses s ON s.id = t.status_id
			WHERE t.assignee_id = ? AND s.closed = 0 AND t.group_id IS NOT NULL ORDER BY t.id`, id)
		if err != nil {
			return err
		}
		type tk struct{ number, group, status, client int64 }
		var list []tk
		for rows.Next() {
			var x tk
			if err := rows.Scan(&x.number, &x.group, &x.status, &x.client); err != nil {
				rows.Close()
				return err
			}
			list = append(list, x)
		}
		rows.Close()
		now := p.Now().Unix()
		for _, x := range list {
			if _, err := tp.q.Exec(ctx, "UPDATE tickets SET assignee_id = NULL, updated_at = ?, last_activity_at = ? WHERE id = ?", now, now, x.number); err != nil {
				return err
			}
			if err := tp.addEvent(ctx, x.number, actor.ID, fmt.Sprintf("%s is away: the ticket went back to its group", u.FullName())); err != nil {
				return err
			}
			a, err := tp.autoAssign(ctx, x.number, x.group, x.status)
			if err != nil {
				return err
			}
			if a != nil {
				if err := tp.notifyAssignedByGroup(ctx, x.number, x.group, a); err != nil {
					return err
				}
			}
			touched = append(touched, &Ticket{Number: x.number, Client: Person{ID: x.client}})
			handed++
		}
		return nil
	})
	p.ref.cookies.forget()
	if err != nil {
		return 0, err
	}
	p.kickOutbox()
	for _, t := range touched {
		p.publish(t, false)
	}
	return handed, nil
}

// SetAccess limits an operator to some groups' tickets and keeps them from
// some statuses' tickets (empty lists: no limit). Admins only.
func (p *Portal) SetAccess(ctx context.Context, actor *User, id int64, groups, hidden []int64) error {
	if actor.Role != RoleAdmin {
		return ErrForbidden
	}
	u, err := p.UserByID(ctx, id)
	if err != nil {
		return err
	}
	errs := map[string]string{}
	if u.Role != RoleOperator && (len(groups) > 0 || len(hidden) > 0) {
		errs["access_groups"] = "Only operators are limited: admins see every ticket."
	}
	for _, g := range groups {
		var one int
		if p.q.QueryRow(ctx, "SELECT 1 FROM groups WHERE id = ?", g).Scan(&one) != nil {
			errs["access_groups"] = fmt.Sprintf("There is no group %d.", g)
		}
	}
	for _, s := range hidden {
		if _, err := p.StatusByID(ctx, s); err != nil {
			errs["hidden_statuses"] = fmt.Sprintf("There is no status %d.", s)
		}
	}
	if len(errs) > 0 {
		return &FieldErrors{Fields: errs}
	}
	slices.Sort(groups)
	slices.Sort(hidden)
	_, err = p.q.Exec(ctx, "UPDATE users SET access_groups = ?, hidden_statuses = ? WHERE id = ?", formatIDs(slices.Compact(groups)), formatIDs(slices.Compact(hidden)), id)
	p.ref.cookies.forget()
	return err
}

// SetDefaultGroup chooses the group new tickets go to ("" or "none": none).
func (p *Portal) SetDefaultGroup(ctx context.Context, actor *User, group string) error {
	if actor.Role != RoleAdmin {
		return ErrForbidden
	}
	id, _, err := p.findGroup(ctx, group)
	if err != nil {
		return &FieldErrors{Fields: map[string]string{"group": "Unknown group."}}
	}
	return p.SetSetting(ctx, "default_group", strconv.FormatInt(id, 10))
}
