package portal

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// SLAs: targets for the first answer and for resolution, counted in the
// portal's business hours (bizhours.go). A ticket's clocks are kept on its
// row and moved by what happens to it (slaUpdate, in the transaction of
// every change): the first response clock stops at the first public answer
// by staff; the resolution clock stops while the ticket waits for its
// client and when it is closed. A clock past its due time is a breach: an
// event, a mail to whoever works the ticket, and — if the policy says so —
// a higher priority (CheckSLA, every minute).

// SLAPolicy is a set of targets and the tickets they apply to.
type SLAPolicy struct {
	ID                   int64      `json:"id"`
	Name                 string     `json:"name"`
	Position             int        `json:"position"`
	Priorities           []string   `json:"priorities"` // low … urgent; empty: any
	Groups               []int64    `json:"groups"`     // group ids; empty: any
	Conditions           Conditions `json:"conditions"` // more, all of which must hold (as a trigger's)
	FirstResponseMinutes int        `json:"first_response_minutes"`
	NextResponseMinutes  int        `json:"next_response_minutes"` // a client's message after staff answered
	ResolutionMinutes    int        `json:"resolution_minutes"`
	Escalate             bool       `json:"escalate"` // a breach raises the priority one step
}

// applies reports whether the policy covers a ticket of this priority and
// group; its other conditions are looked at by the caller (held).
func (s *SLAPolicy) applies(priority string, group int64) bool {
	if len(s.Priorities) > 0 && !slices.Contains(s.Priorities, priority) {
		return false
	}
	return len(s.Groups) == 0 || slices.Contains(s.Groups, group)
}

// Conditions are a policy's further conditions. Given as a list they are a
// trigger's ([{"field","op","value"}]); given as an object, each key is a
// field that must be the value ({"client_email": "@romashka.ru"} ends with,
// {"field.contract": "gold"} is), and "priority" or "group" may be lists.
type Conditions []Condition

// UnmarshalJSON reads either form.
func (c *Conditions) UnmarshalJSON(b []byte) error {
	var list []Condition
	if err := json.Unmarshal(b, &list); err == nil {
		*c = list
		return nil
	}
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil {
		return fmt.Errorf("conditions: a list of {field, op, value} or an object of field: value")
	}
	out := Conditions{}
	keys := slices.Sorted(maps.Keys(obj))
	for _, k := range keys {
		vals := []string{}
		switch v := obj[k].(type) {
		case []any:
			for _, x := range v {
				vals = append(vals, fmt.Sprint(x))
			}
		default:
			vals = append(vals, fmt.Sprint(v))
		}
		op := "is"
		switch {
		case k == "client_email":
			op = "ends_with"
		case k == "subject" || k == "body":
			op = "contains"
		case k == "tag":
			op = "has"
		}
		if len(vals) > 1 {
			// Several values: one of them (kept as the list the field takes).
			out = append(out, Condition{Field: k, Op: "in", Value: strings.Join(vals, ",")})
			continue
		}
		out = append(out, Condition{Field: k, Op: op, Value: vals[0]})
	}
	*c = out
	return nil
}

// TicketSLA is a ticket's clocks as the API and the pages show them.
type TicketSLA struct {
	Policy           int64 `json:"policy"`
	FirstResponseDue int64 `json:"first_response_due,omitempty"` // unix time; 0: met or no target
	NextResponseDue  int64 `json:"next_response_due,omitempty"`  // a client's message waits for an answer
	ResolutionDue    int64 `json:"resolution_due,omitempty"`     // 0: met, paused or no target
	Paused           bool  `json:"paused,omitempty"`             // waiting for the client
	Breached         bool  `json:"breached"`
}

// slaForClients is what a client may know of a ticket's clocks: the times
// it is promised an answer and a resolution by, when the portal shows them
// (settings: sla_to_clients); never the policy or whether a target passed.
func (p *Portal) slaForClients(ctx context.Context, s *TicketSLA) *TicketSLA {
	if s == nil || p.Setting(ctx, "sla_clients", "") != "1" {
		return nil
	}
	return &TicketSLA{FirstResponseDue: s.FirstResponseDue, ResolutionDue: s.ResolutionDue, Paused: s.Paused}
}

// SLAPolicies lists the policies in the order they are tried.
func (p *Portal) SLAPolicies(ctx context.Context) ([]SLAPolicy, error) {
	rows, err := p.q.Query(ctx, `SELECT id, name, position, priorities, groups, first_response_minutes, next_response_minutes, resolution_minutes, escalate, conditions
		FROM sla_policies ORDER BY position, id`)
	if err != nil {
		return nil, fmt.Errorf("store: sla policies: %w", err)
	}
	defer rows.Close()
	out := []SLAPolicy{}
	for rows.Next() {
		var s SLAPolicy
		var prios, groups, conds string
		if err := rows.Scan(&s.ID, &s.Name, &s.Position, &prios, &groups, &s.FirstResponseMinutes, &s.NextResponseMinutes, &s.ResolutionMinutes, &s.Escalate, &conds); err != nil {
			return nil, err
		}
		_ = json.Unmarshal([]byte(conds), &s.Conditions)
		if s.Conditions == nil {
			s.Conditions = Conditions{}
		}
		s.Priorities, s.Groups = []string{}, parseIDs(groups)
		if prios != "" {
			s.Priorities = strings.Split(prios, ",")
		}
		if s.Groups == nil {
			s.Groups = []int64{}
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// SLAPolicyChange makes or changes a policy; nil leaves a part as it is.
type SLAPolicyChange struct {
	Name                 *string     `json:"name"`
	Position             *int        `json:"position"`
	Priorities           *[]string   `json:"priorities"`
	Groups               *[]int64    `json:"groups"`
	Conditions           *Conditions `json:"conditions"`
	FirstResponseMinutes *int        `json:"first_response_minutes"`
	NextResponseMinutes  *int        `json:"next_response_minutes"`
	ResolutionMinutes    *int        `json:"resolution_minutes"`
	Escalate             *bool       `json:"escalate"`
}

// MaxSLAMinutes bounds a target: a year of working time.
const MaxSLAMinutes = 366 * 24 * 60

// SaveSLAPolicy makes (id 0) or changes a policy, admins only, and sets
// the clocks of the open tickets by the policies as they are now.
func (p *Portal) SaveSLAPolicy(ctx context.Context, actor *User, id int64, in SLAPolicyChange) (*SLAPolicy, error) {
	if actor.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	if err := p.writable(); err != nil {
		return nil, err
	}
	s := &SLAPolicy{Position: 0}
	if id != 0 {
		all, err := p.SLAPolicies(ctx)
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(all, func(x SLAPolicy) bool { return x.ID == id })
		if i < 0 {
			return nil, ErrNotFound
		}
		s = &all[i]
	} else {
		_ = p.q.QueryRow(ctx, "SELECT COALESCE(MAX(position), 0) + 1 FROM sla_policies").Scan(&s.Position)
	}
	errs := map[string]string{}
	if in.Name != nil {
		s.Name = Line(*in.Name)
	}
	if n := utf8.RuneCountInString(s.Name); n == 0 || n > 80 {
		errs["name"] = "Enter a name of at most 80 characters."
	}
	if in.Position != nil {
		s.Position = *in.Position
	}
	if in.Priorities != nil && in.Conditions == nil {
		s.Priorities = nil
		for _, pr := range *in.Priorities {
			if _, ok := PriorityID(pr); !ok {
				errs["priorities"] = "Use low, normal, high or urgent."
			} else if !slices.Contains(s.Priorities, pr) {
				s.Priorities = append(s.Priorities, pr)
			}
		}
	}
	if in.Groups != nil && in.Conditions == nil {
		s.Groups = nil
		for _, g := range *in.Groups {
			if _, _, err := p.findGroup(ctx, fmt.Sprint(g)); err != nil || g == 0 {
				errs["groups"] = fmt.Sprintf("There is no group %d.", g)
			} else if !slices.Contains(s.Groups, g) {
				s.Groups = append(s.Groups, g)
			}
		}
	}
	for field, v := range map[string]*int{"first_response_minutes": in.FirstResponseMinutes, "next_response_minutes": in.NextResponseMinutes, "resolution_minutes": in.ResolutionMinutes} {
		if v == nil {
			continue
		}
		if *v < 0 || *v > MaxSLAMinutes {
			errs[field] = fmt.Sprintf("Enter minutes from 0 (no target) to %d.", MaxSLAMinutes)
		}
		*map[string]*int{"first_response_minutes": &s.FirstResponseMinutes, "next_response_minutes": &s.NextResponseMinutes, "resolution_minutes": &s.ResolutionMinutes}[field] = *v
	}
	if s.FirstResponseMinutes == 0 && s.NextResponseMinutes == 0 && s.ResolutionMinutes == 0 && len(errs) == 0 {
		errs["first_response_minutes"] = "Set a first response or a resolution target."
	}
	if in.Escalate != nil {
		s.Escalate = *in.Escalate
	}
	if in.Conditions != nil {
		s.Conditions = Conditions{}
		for _, c := range *in.Conditions {
			switch {
			case c.Field == "priority" && c.Op == "in":
				s.Priorities = strings.Split(c.Value, ",")
			case c.Field == "group" && c.Op == "in":
				s.Groups = nil
				for _, g := range strings.Split(c.Value, ",") {
					if id, _, err := p.findGroup(ctx, g); err == nil && id != 0 {
						s.Groups = append(s.Groups, id)
					} else {
						errs["conditions"] = fmt.Sprintf("There is no group %s.", g)
					}
				}
			case c.Field == "priority" && c.Op == "is":
				s.Priorities = []string{c.Value}
			case c.Field == "group" && c.Op == "is":
				if id, _, err := p.findGroup(ctx, c.Value); err == nil && id != 0 {
					s.Groups = []int64{id}
				} else {
					errs["conditions"] = fmt.Sprintf("There is no group %s.", c.Value)
				}
			default:
				s.Conditions = append(s.Conditions, c)
			}
		}
		for _, pr := range s.Priorities {
			if _, ok := PriorityID(pr); !ok {
				errs["conditions"] = "Use low, normal, high or urgent."
			}
		}
		maps.Copy(errs, p.checkConditions(ctx, s.Conditions))
	}
	if len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	err := p.Tx(ctx, func(tp *Portal) error {
		conds, _ := json.Marshal(s.Conditions)
		args := []any{s.Name, s.Position, strings.Join(s.Priorities, ","), formatIDs(s.Groups), s.FirstResponseMinutes, s.ResolutionMinutes, s.Escalate, s.NextResponseMinutes, string(conds)}
		if id == 0 {
			res, err := tp.q.Exec(ctx, `INSERT INTO sla_policies (name, position, priorities, groups, first_response_minutes, resolution_minutes, escalate, next_response_minutes, conditions, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, append(args, p.Now().Unix())...)
			if err != nil {
				return err
			}
			s.ID, _ = res.LastInsertId()
		} else if _, err := tp.q.Exec(ctx, `UPDATE sla_policies SET name = ?, position = ?, priorities = ?, groups = ?, first_response_minutes = ?,
			resolution_minutes = ?, escalate = ?, next_response_minutes = ?, conditions = ? WHERE id = ?`, append(args, id)...); err != nil {
			return err
		}
		return tp.slaReset(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("store: save sla policy: %w", err)
	}
	return s, nil
}

// DeleteSLAPolicy removes a policy; the open tickets get the clocks of
// the policies left.
func (p *Portal) DeleteSLAPolicy(ctx context.Context, actor *User, id int64) error {
	if actor.Role != RoleAdmin {
		return ErrForbidden
	}
	if err := p.writable(); err != nil {
		return err
	}
	return p.Tx(ctx, func(tp *Portal) error {
		res, err := tp.q.Exec(ctx, "DELETE FROM sla_policies WHERE id = ?", id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return tp.slaReset(ctx)
	})
}

// UsesSLA reports whether the portal has SLA policies (its tickets have
// clocks for the minute's check to look at).
func (p *Portal) UsesSLA(ctx context.Context) bool { return p.Setting(ctx, "sla_on", "") == "1" }

// slaReset sets every open ticket's clocks by the policies as they are now,
// inside the caller's transaction, and notes whether the portal has any.
func (p *Portal) slaReset(ctx context.Context) error {
	var n int
	if err := p.q.QueryRow(ctx, "SELECT COUNT(*) FROM sla_policies").Scan(&n); err != nil {
		return err
	}
	if err := p.SetSetting(ctx, "sla_on", map[bool]string{true: "1", false: ""}[n > 0]); err != nil {
		return err
	}
	env, err := p.slaEnvNow(ctx)
	if err != nil {
		return err
	}
	// Read first, written after: a request never holds rows open while it
	// writes on the same connection's behalf.
	rows, err := p.q.Query(ctx, "SELECT "+slaCols+" WHERE s.closed = 0 OR t.sla_policy_id IS NOT NULL")
	if err != nil {
		return err
	}
	var list []slaRow
	for rows.Next() {
		var r slaRow
		if err := rows.Scan(r.dest()...); err != nil {
			rows.Close()
			return err
		}
		list = append(list, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for i := range list {
		if err := p.slaSet(ctx, env, &list[i]); err != nil {
			return err
		}
	}
	return nil
}

// slaEnv is what the clocks are set by: the policies, the working hours,
// the status that pauses resolution, and the moment.
type slaEnv struct {
	policies []SLAPolicy
	cal      *calendar
	waiting  int64
	now      time.Time
}

func (p *Portal) slaEnvNow(ctx context.Context) (*slaEnv, error) {
	policies, err := p.SLAPolicies(ctx)
	if err != nil {
		return nil, err
	}
	return &slaEnv{policies: policies, cal: p.workCalendar(ctx), waiting: p.Workflow(ctx).WaitingStatus, now: p.Now()}, nil
}

// slaUpdate moves ticket number's clocks to match its state now: the
// policy that applies, the first response due until staff first answer,
// the resolution clock running, paused while the ticket waits for its
// client, stopped when it is closed. Inside the caller's transaction.
func (p *Portal) slaUpdate(ctx context.Context, number int64) error {
	return p.slaApply(ctx, nil, number)
}

// slaRow is what of a ticket its clocks depend on.
type slaRow struct {
	number, group, status, created, spent  int64
	prio                                   int
	closed                                 bool
	policy, firstResp, from, frDue, resDue sql.NullInt64
	nextDue, waitingSince                  sql.NullInt64 // the client's first message since staff last answered
}

const slaCols = `t.id, t.priority, COALESCE(t.group_id, 0), t.status_id, s.closed, t.created_at, t.first_response_at,
	t.sla_policy_id, t.resolution_spent, t.resolution_from, t.first_response_due, t.resolution_due, t.next_response_due,
	(SELECT MIN(m.created_at) FROM messages m JOIN users u ON u.id = m.author_id WHERE m.ticket_id = t.id AND m.kind = 'message' AND u.role = 'client'
		AND m.id > COALESCE((SELECT MAX(m2.id) FROM messages m2 JOIN users u2 ON u2.id = m2.author_id
			WHERE m2.ticket_id = t.id AND m2.kind = 'message' AND u2.role <> 'client'), 0))
	FROM tickets t JOIN statuses s ON s.id = t.status_id`

func (r *slaRow) dest() []any {
	return []any{&r.number, &r.prio, &r.group, &r.status, &r.closed, &r.created, &r.firstResp, &r.policy, &r.spent, &r.from, &r.frDue, &r.resDue, &r.nextDue, &r.waitingSince}
}

// slaApply is slaUpdate with the ticket read and what the clocks are set
// by read already (nil: read it here, when the ticket has clocks to keep).
func (p *Portal) slaApply(ctx context.Context, env *slaEnv, number int64) error {
	var r slaRow
	if err := p.q.QueryRow(ctx, "SELECT "+slaCols+" WHERE t.id = ?", number).Scan(r.dest()...); err != nil {
		return err
	}
	if env == nil {
		if !r.policy.Valid && !p.UsesSLA(ctx) {
			return nil // the common case: no policies, nothing to keep
		}
		var err error
		if env, err = p.slaEnvNow(ctx); err != nil {
			return err
		}
	}
	return p.slaSet(ctx, env, &r)
}

// slaSet writes a ticket's clocks as env sets them, if they changed.
func (p *Portal) slaSet(ctx context.Context, env *slaEnv, r *slaRow) error {
	var pol *SLAPolicy
	var tt *trigTicket // read when a policy's further conditions need it
	for i := range env.policies {
		ep := &env.policies[i]
		if !ep.applies(Priorities[r.prio], r.group) {
			continue
		}
		if len(ep.Conditions) > 0 {
			if tt == nil {
				var err error
				if tt, err = p.trigTicketOf(ctx, r.number); err != nil {
					return err
				}
			}
			if !slices.ContainsFunc(ep.Conditions, func(c Condition) bool { return !p.holds(ctx, c, tt, tt.description, false) }) {
				pol = ep
				break
			}
			continue
		}
		pol = ep
		break
	}
	now, cal, spent := env.now, env.cal, r.spent
	var newPolicy, newFR, newRes, newFrom, newNext sql.NullInt64
	if pol != nil {
		newPolicy = sql.NullInt64{Int64: pol.ID, Valid: true}
		if pol.FirstResponseMinutes > 0 && !r.firstResp.Valid && !r.closed {
			newFR = sql.NullInt64{Int64: cal.add(time.Unix(r.created, 0), time.Duration(pol.FirstResponseMinutes)*time.Minute).Unix(), Valid: true}
		}
		// Next response: once staff have answered, the client's first
		// message since their last answer waits for the next one.
		if pol.NextResponseMinutes > 0 && r.firstResp.Valid && r.waitingSince.Valid && !r.closed {
			newNext = sql.NullInt64{Int64: cal.add(time.Unix(r.waitingSince.Int64, 0), time.Duration(pol.NextResponseMinutes)*time.Minute).Unix(), Valid: true}
		}
	}
	// The resolution clock: what ran until now is added to what was spent
	// whenever it stops; a running clock's due is the time left from when
	// it last started.
	running := pol != nil && pol.ResolutionMinutes > 0 && !r.closed && r.status != env.waiting
	if r.from.Valid && !running {
		spent += int64(cal.between(time.Unix(r.from.Int64, 0), now) / time.Second)
	}
	if running {
		start := now.Unix()
		switch {
		case r.from.Valid:
			start = r.from.Int64
		case !r.policy.Valid && !r.resDue.Valid && spent == 0:
			start = r.created // a new clock counts from the ticket's creation
		}
		newFrom = sql.NullInt64{Int64: start, Valid: true}
		left := time.Duration(pol.ResolutionMinutes)*time.Minute - time.Duration(spent)*time.Second
		newRes = sql.NullInt64{Int64: cal.add(time.Unix(start, 0), left).Unix(), Valid: true}
	}
	if newPolicy == r.policy && newFR == r.frDue && newRes == r.resDue && newFrom == r.from && spent == r.spent && newNext == r.nextDue {
		return nil
	}
	// A new wait for a next response may be breached anew.
	_, err := p.q.Exec(ctx, `UPDATE tickets SET sla_policy_id = ?, first_response_due = ?, resolution_due = ?, resolution_from = ?, resolution_spent = ?, next_response_due = ?,
		sla_breached = CASE WHEN ? IS NOT next_response_due THEN TRIM(REPLACE(REPLACE(sla_breached, 'next_response', ''), ',,', ','), ',') ELSE sla_breached END WHERE id = ?`,
		newPolicy, newFR, newRes, newFrom, spent, newNext, newNext, r.number)
	return err
}

// MailSLABreach tells whoever works a ticket that a target passed.
const MailSLABreach = "sla_breach"

// CheckSLA marks the tickets whose clock passed its due time: an event in
// the timeline, a mail to the assignee (else the group's members, else the
// admins), the priority raised one step where the policy says so. A clock
// is marked once. It returns how many breaches it marked.
func (p *Portal) CheckSLA(ctx context.Context) (int, error) {
	if !p.UsesSLA(ctx) || p.Plan().State != StateActive {
		return 0, nil
	}
	now := p.Now().Unix()
	type due struct {
		number int64
		kind   string
	}
	var list []due
	for _, k := range []struct{ kind, col string }{{"first_response", "first_response_due"}, {"next_response", "next_response_due"}, {"resolution", "resolution_due"}} {
		rows, err := p.q.Query(ctx, "SELECT id FROM tickets WHERE "+k.col+" IS NOT NULL AND "+k.col+" <= ? AND instr(sla_breached, ?) = 0", now, k.kind)
		if err != nil {
			return 0, err
		}
		for rows.Next() {
			var n int64
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return 0, err
			}
			list = append(list, due{n, k.kind})
		}
		rows.Close()
	}
	marked := 0
	for _, d := range list {
		err := p.Tx(ctx, func(tp *Portal) error {
			return tp.breach(ctx, d.number, d.kind)
		})
		if err != nil {
			return marked, err
		}
		marked++
	}
	if marked > 0 {
		p.kickOutbox()
	}
	return marked, nil
}

// breach marks one passed clock of ticket number, inside a transaction.
func (p *Portal) breach(ctx context.Context, number int64, kind string) error {
	var breached, subject string
	var prio int
	var group, assignee, policy, status, client sql.NullInt64
	if err := p.q.QueryRow(ctx, "SELECT sla_breached, subject, priority, group_id, assignee_id, sla_policy_id, status_id, client_id FROM tickets WHERE id = ?", number).
		Scan(&breached, &subject, &prio, &group, &assignee, &policy, &status, &client); err != nil {
		return err
	}
	if strings.Contains(breached, kind) {
		return nil
	}
	breached = strings.Trim(breached+","+kind, ",")
	if _, err := p.q.Exec(ctx, "UPDATE tickets SET sla_breached = ? WHERE id = ?", breached, number); err != nil {
		return err
	}
	what := map[string]string{"first_response": "first response", "next_response": "next response", "resolution": "resolution"}[kind]
	if err := p.addEvent(ctx, number, 0, fmt.Sprintf("The %s target passed", what)); err != nil {
		return err
	}
	var escalate bool
	_ = p.q.QueryRow(ctx, "SELECT escalate FROM sla_policies WHERE id = ?", policy.Int64).Scan(&escalate)
	if escalate && prio < len(Priorities)-1 {
		if _, err := p.q.Exec(ctx, "UPDATE tickets SET priority = ? WHERE id = ?", prio+1, number); err != nil {
			return err
		}
		if err := p.addEvent(ctx, number, 0, fmt.Sprintf("The passed target raised the priority from %s to %s", Priorities[prio], Priorities[prio+1])); err != nil {
			return err
		}
	}
	// Who hears of it: whoever works the ticket, else its group, else the
	// admins, and the group's lead — each only if they may see it.
	var to []*User
	staff, err := p.staff(ctx)
	if err != nil {
		return err
	}
	var lead int64
	if group.Valid {
		_ = p.q.QueryRow(ctx, "SELECT COALESCE(lead_id, 0) FROM groups WHERE id = ?", group.Int64).Scan(&lead)
	}
	for _, u := range staff {
		switch {
		case !u.sees(group.Int64, status.Int64):
		case u.ID == lead:
			to = append(to, u) // the group's lead hears of every passed target in it
		case assignee.Valid:
			if u.ID == assignee.Int64 {
				to = append(to, u)
			}
		case group.Valid:
			if p.isMember(ctx, group.Int64, u.ID) {
				to = append(to, u)
			}
		case u.Role == RoleAdmin:
			to = append(to, u)
		}
	}
	for _, u := range to {
		v := MailVars{Number: number, Subject: subject, Status: what, Link: p.ticketLink(number)}
		if err := p.mailTo(ctx, MailSLABreach, u, v, number); err != nil {
			return err
		}
	}
	p.publish(&Ticket{Number: number, Client: Person{ID: client.Int64}}, false)
	return nil
}
