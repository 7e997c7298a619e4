package portal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Triggers: the business's own rules. On a ticket's creation, change or
// new public message, a trigger whose conditions all hold performs its
// actions — route to a group, assign, set the status or priority, tag, add
// an internal note, send a mail — in the order the admin set, a trigger
// with "stop" ending the run. Triggers run in the transaction of the
// change that fired them and never fire one another.

// Trigger events.
const (
	OnCreate  = "create"
	OnUpdate  = "update"
	OnMessage = "message"
	// OnTime rules are looked at every minute on open tickets; each acts on
	// a ticket once until something happens on it (RunTimeRules).
	OnTime = "time"
)

// Trigger is one rule.
type Trigger struct {
	ID         int64           `json:"id"`
	Name       string          `json:"name"`
	Position   int             `json:"position"`
	Event      string          `json:"event"` // create, update or message
	Conditions []Condition     `json:"conditions"`
	Actions    []TriggerAction `json:"actions"`
	Stop       bool            `json:"stop"`   // no later trigger runs after this one matched
	Active     bool            `json:"active"` // false: kept, not run
}

// Condition is one test of a ticket. Fields: status, priority, group,
// source, assignee (is / is_not); tag (has / has_not); subject, body
// (contains / not_contains); client_email (ends_with / contains);
// field.NAME (is / is_not / contains); hours (is "in" or "out" of business
// hours); author (is "client" or "staff": who wrote the message).
type Condition struct {
	Field string `json:"field"`
	Op    string `json:"op"`
	Value string `json:"value"`
}

// TriggerAction is one thing a trigger does: set_status, set_priority, set_group,
// set_assignee (a staff id or "none"), add_tag, remove_tag, add_note (the
// note's text), send_mail (to "client", "assignee", "group" or an address,
// with a subject and body in which {ticket.number}, {ticket.subject},
// {ticket.status}, {ticket.link} and {client.name} are replaced),
// perform_action (a workflow action's id: its status, changes, canned
// text and mail, as the trigger).
type TriggerAction struct {
	Type    string `json:"type"`
	Value   string `json:"value"`
	Subject string `json:"subject,omitempty"`
	Body    string `json:"body,omitempty"`
}

// MaxTriggers bounds a portal's triggers; MaxTriggerParts a trigger's
// conditions and actions.
const (
	MaxTriggers     = 200
	MaxTriggerParts = 20
)

var conditionOps = map[string][]string{
	"status": {"is", "is_not"}, "priority": {"is", "is_not"}, "group": {"is", "is_not"}, "source": {"is", "is_not"},
	"assignee": {"is", "is_not"}, "tag": {"has", "has_not"}, "subject": {"contains", "not_contains"},
	"body": {"contains", "not_contains"}, "client_email": {"ends_with", "contains"}, "hours": {"is"}, "author": {"is"},
	"idle": {"more_than"}, "age": {"more_than"},
}

// parseWorkTime reads a span of working time: "30m", "4h", "1h30m", or
// "3d" — working days, each as long as the first working weekday's hours.
func (c *calendar) parseWorkTime(v string) (time.Duration, bool) {
	v = strings.TrimSpace(strings.ToLower(v))
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 || days > 366 {
			return 0, false
		}
		return time.Duration(days) * c.dayLength(), true
	}
	d, err := time.ParseDuration(v)
	return d, err == nil && d > 0 && d <= 366*24*time.Hour
}

// dayLength is a working day's working time (a whole day when every hour
// counts).
func (c *calendar) dayLength() time.Duration {
	if c == nil {
		return 24 * time.Hour
	}
	var d time.Duration
	for _, s := range c.workday {
		d += time.Duration(s[1]-s[0]) * time.Minute
	}
	return d
}

var actionTypes = []string{"set_status", "set_priority", "set_group", "set_assignee", "add_tag", "remove_tag", "add_note", "send_mail", "perform_action"}

// Triggers lists every trigger in the order they run.
func (p *Portal) Triggers(ctx context.Context) ([]Trigger, error) {
	rows, err := p.q.Query(ctx, "SELECT id, name, position, event, conditions, actions, stop, active FROM triggers ORDER BY position, id")
	if err != nil {
		return nil, fmt.Errorf("store: triggers: %w", err)
	}
	defer rows.Close()
	out := []Trigger{}
	for rows.Next() {
		var t Trigger
		var conds, acts string
		if err := rows.Scan(&t.ID, &t.Name, &t.Position, &t.Event, &conds, &acts, &t.Stop, &t.Active); err != nil {
			return nil, err
		}
		_ = json.Unmarshal([]byte(conds), &t.Conditions)
		_ = json.Unmarshal([]byte(acts), &t.Actions)
		if t.Conditions == nil {
			t.Conditions = []Condition{}
		}
		if t.Actions == nil {
			t.Actions = []TriggerAction{}
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// activeTriggers are the triggers that run, kept in memory.
func (p *Portal) activeTriggers(ctx context.Context) []Trigger {
	ts, _ := p.ref.triggers.get(p.DB, func() ([]Trigger, error) {
		all, err := p.Triggers(ctx)
		if err != nil {
			return nil, err
		}
		return slices.DeleteFunc(all, func(t Trigger) bool { return !t.Active }), nil
	})
	return ts
}

// checkTrigger says what is wrong with a trigger, keyed by field
// ("conditions.0", "actions.2").
func (p *Portal) checkTrigger(ctx context.Context, t *Trigger) map[string]string {
	errs := map[string]string{}
	t.Name = Line(t.Name)
	if n := utf8.RuneCountInString(t.Name); n == 0 || n > 80 {
		errs["name"] = "Enter a name of at most 80 characters."
	}
	if t.Event != OnCreate && t.Event != OnUpdate && t.Event != OnMessage && t.Event != OnTime {
		errs["event"] = "Choose create, update, message or time."
	}
	timed := slices.ContainsFunc(t.Conditions, func(c Condition) bool { return c.Field == "idle" || c.Field == "age" })
	if t.Event == OnTime && !timed {
		errs["conditions"] = "A time rule needs an idle or age condition: how long after what it acts."
	}
	if len(t.Conditions) > MaxTriggerParts || len(t.Actions) > MaxTriggerParts {
		errs["actions"] = fmt.Sprintf("At most %d conditions and %d actions.", MaxTriggerParts, MaxTriggerParts)
	}
	if len(t.Actions) == 0 {
		errs["actions"] = "Add at least one action."
	}
	maps.Copy(errs, p.checkConditions(ctx, t.Conditions))
	for i, a := range t.Actions {
		key := "actions." + strconv.Itoa(i)
		a.Value = strings.TrimSpace(a.Value)
		t.Actions[i].Value = a.Value
		switch a.Type {
		case "set_status":
			if _, err := p.FindStatus(ctx, a.Value); err != nil {
				errs[key] = "Unknown status."
			}
		case "set_priority":
			if _, ok := PriorityID(a.Value); !ok {
				errs[key] = "Use low, normal, high or urgent."
			}
		case "set_group":
			if _, _, err := p.findGroup(ctx, a.Value); err != nil {
				errs[key] = "Unknown group."
			}
		case "set_assignee":
			if a.Value != "none" {
				id, _ := strconv.ParseInt(a.Value, 10, 64)
				if u, err := p.UserByID(ctx, id); err != nil || !u.IsStaff() {
					errs[key] = "Choose a staff member or none."
				}
			}
		case "add_tag", "remove_tag":
			if _, msg := cleanTag(a.Value); msg != "" {
				errs[key] = msg
			}
		case "add_note":
			if strings.TrimSpace(a.Value) == "" || utf8.RuneCountInString(a.Value) > maxTextareaRunes {
				errs[key] = "Write the note."
			}
		case "perform_action":
			id, _ := strconv.ParseInt(a.Value, 10, 64)
			if act, err := p.actionByID(ctx, id); err != nil || act.Builtin != "" {
				errs[key] = "Choose one of the workflow's own actions (its id)."
			}
		case "send_mail":
			switch {
			case a.Value != "client" && a.Value != "assignee" && a.Value != "group" && ValidateEmail(a.Value) != "":
				errs[key] = "Send to client, assignee, group or an address."
			case strings.TrimSpace(a.Subject) == "" || strings.TrimSpace(a.Body) == "":
				errs[key] = "Write the mail's subject and text."
			}
		default:
			errs[key] = fmt.Sprintf("Unknown action %q; use %s.", a.Type, strings.Join(actionTypes, ", "))
		}
	}
	return errs
}

// checkConditions says what is wrong with conditions, keyed
// "conditions.N" (triggers' and SLA policies').
func (p *Portal) checkConditions(ctx context.Context, conds []Condition) map[string]string {
	errs := map[string]string{}
	for i, c := range conds {
		key := "conditions." + strconv.Itoa(i)
		field := c.Field
		if strings.HasPrefix(field, "field.") {
			field = "field"
		}
		ops, ok := conditionOps[field]
		if field == "field" {
			ops, ok = []string{"is", "is_not", "contains"}, true
		}
		switch {
		case !ok:
			errs[key] = fmt.Sprintf("Unknown field %q.", c.Field)
		case !slices.Contains(ops, c.Op):
			errs[key] = fmt.Sprintf("%s takes %s.", c.Field, strings.Join(ops, ", "))
		case field == "status":
			if _, err := p.FindStatus(ctx, c.Value); err != nil {
				errs[key] = "Unknown status."
			}
		case field == "priority":
			if _, ok := PriorityID(c.Value); !ok {
				errs[key] = "Use low, normal, high or urgent."
			}
		case field == "group":
			if _, _, err := p.findGroup(ctx, c.Value); err != nil {
				errs[key] = "Unknown group."
			}
		case field == "idle" || field == "age":
			if _, ok := p.workCalendar(ctx).parseWorkTime(c.Value); !ok {
				errs[key] = "Enter working time like 30m, 4h or 3d (working days)."
			}
		case field == "hours" && c.Value != "in" && c.Value != "out":
			errs[key] = "Use in or out."
		case field == "author" && c.Value != "client" && c.Value != "staff":
			errs[key] = "Use client or staff."
		case field == "source" && c.Value != SourceWeb && c.Value != SourceEmail && c.Value != SourceWidget:
			errs[key] = "Use web, email or widget."
		}
	}
	return errs
}

// SaveTrigger makes (id 0) or replaces a trigger. Admins only.
func (p *Portal) SaveTrigger(ctx context.Context, actor *User, id int64, t Trigger) (*Trigger, error) {
	if actor.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	if err := p.writable(); err != nil {
		return nil, err
	}
	if errs := p.checkTrigger(ctx, &t); len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	conds, _ := json.Marshal(t.Conditions)
	acts, _ := json.Marshal(t.Actions)
	if id == 0 {
		var n int
		_ = p.q.QueryRow(ctx, "SELECT COUNT(*), COALESCE(MAX(position), 0) + 1 FROM triggers").Scan(&n, &t.Position)
		if n >= MaxTriggers {
			return nil, &FieldErrors{Message: fmt.Sprintf("At most %d triggers.", MaxTriggers)}
		}
		res, err := p.q.Exec(ctx, "INSERT INTO triggers (name, position, event, conditions, actions, stop, active, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			t.Name, t.Position, t.Event, string(conds), string(acts), t.Stop, t.Active, p.Now().Unix())
		if err != nil {
			return nil, fmt.Errorf("store: save trigger: %w", err)
		}
		t.ID, _ = res.LastInsertId()
		return &t, nil
	}
	res, err := p.q.Exec(ctx, "UPDATE triggers SET name = ?, position = COALESCE(NULLIF(?, 0), position), event = ?, conditions = ?, actions = ?, stop = ?, active = ? WHERE id = ?",
		t.Name, t.Position, t.Event, string(conds), string(acts), t.Stop, t.Active, id)
	if err != nil {
		return nil, fmt.Errorf("store: save trigger: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, ErrNotFound
	}
	t.ID = id
	return &t, nil
}

// DeleteTrigger removes a trigger. Admins only.
func (p *Portal) DeleteTrigger(ctx context.Context, actor *User, id int64) error {
	if actor.Role != RoleAdmin {
		return ErrForbidden
	}
	res, err := p.q.Exec(ctx, "DELETE FROM triggers WHERE id = ?", id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// trigTicket is what conditions look at.
type trigTicket struct {
	number, status, group, assignee, client int64
	created, activity                       int64
	statusName, priority, source            string
	subject, description, clientEmail       string
	clientName                              string
	tags                                    []Tag
	values                                  map[string]string // read when a condition asks
}

func (p *Portal) trigTicketOf(ctx context.Context, number int64) (*trigTicket, error) {
	t := &trigTicket{number: number}
	var prio int
	var tagIDs string
	err := p.q.QueryRow(ctx, `SELECT t.status_id, s.name, t.priority, COALESCE(t.group_id, 0), COALESCE(t.assignee_id, 0), t.source, t.subject, t.description,
		c.id, c.email, TRIM(c.name || ' ' || c.surname), COALESCE((SELECT group_concat(tag_id) FROM ticket_tags WHERE ticket_id = t.id), ''),
		t.created_at, t.last_activity_at
		FROM tickets t JOIN statuses s ON s.id = t.status_id JOIN users c ON c.id = t.client_id WHERE t.id = ?`, number).
		Scan(&t.status, &t.statusName, &prio, &t.group, &t.assignee, &t.source, &t.subject, &t.description, &t.client, &t.clientEmail, &t.clientName, &tagIDs,
			&t.created, &t.activity)
	if err != nil {
		return nil, err
	}
	t.priority = Priorities[prio]
	t.tags = p.tagsByIDs(ctx, tagIDs)
	return t, nil
}

// holds tells whether c holds for t; text is the event's text (the new
// message, else the description), staffAuthor who wrote it.
func (p *Portal) holds(ctx context.Context, c Condition, t *trigTicket, text string, staffAuthor bool) bool {
	is := func(ok bool) bool {
		if c.Op == "is_not" || c.Op == "has_not" || c.Op == "not_contains" {
			return !ok
		}
		return ok
	}
	has := func(s, sub string) bool {
		return strings.Contains(strings.ToLower(s), strings.ToLower(strings.TrimSpace(sub)))
	}
	switch f := c.Field; {
	case f == "status":
		st, err := p.FindStatus(ctx, c.Value)
		return is(err == nil && st.ID == t.status)
	case f == "priority":
		return is(strings.EqualFold(c.Value, t.priority))
	case f == "group":
		id, _, err := p.findGroup(ctx, c.Value)
		return is(err == nil && id == t.group)
	case f == "source":
		return is(c.Value == t.source)
	case f == "assignee":
		id, _ := strconv.ParseInt(c.Value, 10, 64)
		return is(id == t.assignee || (c.Value == "none" && t.assignee == 0))
	case f == "tag":
		return is(slices.ContainsFunc(t.tags, func(g Tag) bool { return strings.EqualFold(g.Name, strings.TrimSpace(c.Value)) }))
	case f == "subject":
		return is(has(t.subject, c.Value))
	case f == "body":
		return is(has(text, c.Value))
	case f == "client_email":
		if c.Op == "ends_with" {
			return strings.HasSuffix(strings.ToLower(t.clientEmail), strings.ToLower(strings.TrimSpace(c.Value)))
		}
		return has(t.clientEmail, c.Value)
	case f == "hours":
		in := true
		if cal := p.workCalendar(ctx); cal != nil {
			now := p.Now()
			in = cal.between(now, now.Add(time.Minute)) > 0
		}
		return in == (c.Value == "in")
	case f == "author":
		return staffAuthor == (c.Value == "staff")
	case f == "idle" || f == "age":
		cal := p.workCalendar(ctx)
		d, ok := cal.parseWorkTime(c.Value)
		since := t.activity
		if f == "age" {
			since = t.created
		}
		return ok && cal.between(time.Unix(since, 0), p.Now()) > d
	case strings.HasPrefix(f, "field."):
		if t.values == nil {
			t.values = map[string]string{}
			rows, err := p.q.Query(ctx, "SELECT COALESCE(f.name, ''), v.value FROM ticket_values v LEFT JOIN fields f ON f.id = v.field_id WHERE v.ticket_id = ?", t.number)
			if err == nil {
				for rows.Next() {
					var k, v string
					if rows.Scan(&k, &v) == nil {
						t.values[k] = v
					}
				}
				rows.Close()
			}
		}
		v := t.values[strings.TrimPrefix(f, "field.")]
		if c.Op == "contains" {
			return has(v, c.Value)
		}
		return is(strings.EqualFold(strings.TrimSpace(v), strings.TrimSpace(c.Value)))
	}
	return false
}

// runTriggers runs the active triggers of event on ticket number, inside
// the caller's transaction: text is the new message's (or the
// description), author who caused it. It returns whether any acted.
func (p *Portal) runTriggers(ctx context.Context, event string, number int64, text string, author *User) (bool, error) {
	all := p.activeTriggers(ctx)
	if !slices.ContainsFunc(all, func(t Trigger) bool { return t.Event == event }) {
		return false, nil // the common case: nothing to look at
	}
	t, err := p.trigTicketOf(ctx, number)
	if err != nil {
		return false, err
	}
	staffAuthor := author != nil && author.IsStaff()
	acted := false
	for _, tr := range all {
		if tr.Event != event {
			continue
		}
		match := true
		for _, c := range tr.Conditions {
			if !p.holds(ctx, c, t, text, staffAuthor) {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		for _, a := range tr.Actions {
			if err := p.perform(ctx, tr.Name, a, t); err != nil {
				return acted, fmt.Errorf("trigger %q: %w", tr.Name, err)
			}
		}
		acted = true
		if tr.Stop {
			break
		}
	}
	if acted {
		return true, p.slaUpdate(ctx, number)
	}
	return false, nil
}

// perform does one action of trigger name on t, inside a transaction, and
// keeps t up to date for the actions after it.
func (p *Portal) perform(ctx context.Context, name string, a TriggerAction, t *trigTicket) error {
	by := fmt.Sprintf("Trigger %s", name)
	now := p.Now().Unix()
	switch a.Type {
	case "set_status":
		st, err := p.FindStatus(ctx, a.Value)
		if err != nil || st.ID == t.status {
			return nil
		}
		var closed any
		if st.Closed {
			closed = now
		}
		if _, err := p.q.Exec(ctx, "UPDATE tickets SET status_id = ?, closed_at = ?, updated_at = ? WHERE id = ?", st.ID, closed, now, t.number); err != nil {
			return err
		}
		t.status, t.statusName = st.ID, st.Name
		return p.addEvent(ctx, t.number, 0, fmt.Sprintf("%s set the status to %s", by, st.Name))
	case "set_priority":
		prio, _ := PriorityID(a.Value)
		if Priorities[prio] == t.priority {
			return nil
		}
		if _, err := p.q.Exec(ctx, "UPDATE tickets SET priority = ? WHERE id = ?", prio, t.number); err != nil {
			return err
		}
		t.priority = Priorities[prio]
		return p.addEvent(ctx, t.number, 0, fmt.Sprintf("%s set the priority to %s", by, t.priority))
	case "set_group":
		id, gname, err := p.findGroup(ctx, a.Value)
		if err != nil || id == t.group {
			return nil
		}
		if _, err := p.q.Exec(ctx, "UPDATE tickets SET group_id = NULLIF(?, 0) WHERE id = ?", id, t.number); err != nil {
			return err
		}
		t.group = id
		if id == 0 {
			return p.addEvent(ctx, t.number, 0, fmt.Sprintf("%s took the ticket out of its group", by))
		}
		if err := p.addEvent(ctx, t.number, 0, fmt.Sprintf("%s moved the ticket to the group %s", by, gname)); err != nil {
			return err
		}
		if t.assignee == 0 || !p.isMember(ctx, id, t.assignee) {
			u, err := p.autoAssign(ctx, t.number, id, t.status)
			if err != nil || u == nil {
				return err
			}
			t.assignee = u.ID
			return p.notifyAssignedByGroup(ctx, t.number, id, u)
		}
		return nil
	case "set_assignee":
		if a.Value == "none" {
			if t.assignee == 0 {
				return nil
			}
			t.assignee = 0
			if _, err := p.q.Exec(ctx, "UPDATE tickets SET assignee_id = NULL WHERE id = ?", t.number); err != nil {
				return err
			}
			return p.addEvent(ctx, t.number, 0, fmt.Sprintf("%s unassigned the ticket", by))
		}
		id, _ := strconv.ParseInt(a.Value, 10, 64)
		u, err := p.UserByID(ctx, id)
		if err != nil || !u.IsStaff() || !u.Active || !u.sees(t.group, t.status) || id == t.assignee {
			return nil // gone, or may not see it: the rule no longer applies
		}
		if _, err := p.q.Exec(ctx, "UPDATE tickets SET assignee_id = ? WHERE id = ?", id, t.number); err != nil {
			return err
		}
		t.assignee = id
		if err := p.addEvent(ctx, t.number, 0, fmt.Sprintf("%s assigned the ticket to %s", by, u.FullName())); err != nil {
			return err
		}
		return p.notifyAssigned(ctx, t.number, t.subject, u, by)
	case "add_tag", "remove_tag":
		names := make([]string, 0, len(t.tags)+1)
		for _, g := range t.tags {
			if a.Type == "add_tag" || !strings.EqualFold(g.Name, a.Value) {
				names = append(names, g.Name)
			}
		}
		if a.Type == "add_tag" {
			names = append(names, a.Value)
		}
		events, err := p.setTags(ctx, t.number, names, by)
		if err != nil {
			var fe *FieldErrors
			if errors.As(err, &fe) {
				return nil // over the limit: the tag is not added
			}
			return err
		}
		for _, ev := range events {
			if err := p.addEvent(ctx, t.number, 0, ev); err != nil {
				return err
			}
		}
		var ids string
		_ = p.q.QueryRow(ctx, "SELECT COALESCE(group_concat(tag_id), '') FROM ticket_tags WHERE ticket_id = ?", t.number).Scan(&ids)
		t.tags = p.tagsByIDs(ctx, ids)
		return nil
	case "add_note":
		if _, err := p.q.Exec(ctx, "INSERT INTO messages (ticket_id, author_id, kind, body, created_at) VALUES (?, NULL, ?, ?, ?)", t.number, KindNote, by+":\n"+a.Value, now); err != nil {
			return err
		}
		if _, err := p.q.Exec(ctx, "UPDATE tickets SET messages = messages + 1 WHERE id = ?", t.number); err != nil {
			return err
		}
		return p.indexEntry(ctx, t.number, KindNote)
	case "send_mail":
		return p.triggerMail(ctx, a, t)
	case "perform_action":
		// The action as the trigger performs it: its status, changes,
		// canned text and mail; retired since, it does nothing.
		id, _ := strconv.ParseInt(a.Value, 10, 64)
		act, err := p.actionByID(ctx, id)
		if err != nil || !act.Active || act.Builtin != "" {
			return nil
		}
		system := &User{Name: by, Role: RoleAdmin}
		tk, err := p.Ticket(ctx, system, t.number)
		if err != nil {
			return err
		}
		comment := ""
		if act.Macro.Text != "" {
			comment = strings.NewReplacer("{client.name}", tk.Client.Name, "{ticket.number}", strconv.FormatInt(tk.Number, 10),
				"{ticket.subject}", tk.Subject, "{actor.name}", by).Replace(act.Macro.Text)
		}
		if err := p.applyAction(ctx, act, tk, system, comment, map[string]string{}, nil); err != nil {
			return err
		}
		// What conditions after it look at follows.
		fresh, err := p.trigTicketOf(ctx, t.number)
		if err != nil {
			return err
		}
		*t = *fresh
		return nil
	}
	return nil
}

// triggerMail sends a trigger's mail: its subject and text with the
// ticket's placeholders filled, to the client, the assignee, the group's
// members or an address. Staff get it only for tickets they may see.
func (p *Portal) triggerMail(ctx context.Context, a TriggerAction, t *trigTicket) error {
	fill := strings.NewReplacer("{ticket.number}", strconv.FormatInt(t.number, 10), "{ticket.subject}", t.subject,
		"{ticket.status}", t.statusName, "{ticket.link}", p.ticketLink(t.number), "{client.name}", t.clientName)
	subject, body := Line(fill.Replace(a.Subject)), fill.Replace(a.Body)
	var to []*User
	switch a.Value {
	case "client":
		c, err := p.UserByID(ctx, t.client)
		if err != nil {
			return err
		}
		to = append(to, c)
	case "assignee", "group":
		staff, err := p.staff(ctx)
		if err != nil {
			return err
		}
		for _, u := range staff {
			ok := (a.Value == "assignee" && u.ID == t.assignee) || (a.Value == "group" && t.group != 0 && p.isMember(ctx, t.group, u.ID))
			if ok && u.sees(t.group, t.status) {
				to = append(to, u)
			}
		}
	default:
		to = append(to, &User{Email: a.Value, Lang: p.Setting(ctx, "lang", "en")})
	}
	for _, u := range to {
		if err := p.enqueue(ctx, "trigger", u, subject, body, t.number, 0); err != nil {
			return err
		}
	}
	return nil
}

// TriggerTest is what a trigger would do to a ticket: whether each of its
// conditions holds, and so whether its actions would run.
type TriggerTest struct {
	Matches    bool            `json:"matches"`
	Conditions []ConditionTest `json:"conditions"`
}

// ConditionTest is one condition and whether it holds.
type ConditionTest struct {
	Condition
	Holds bool `json:"holds"`
}

// TestTrigger tells an admin what a trigger (saved or not) would do to an
// existing ticket, changing nothing.
func (p *Portal) TestTrigger(ctx context.Context, actor *User, tr Trigger, number int64) (*TriggerTest, error) {
	if actor.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	if errs := p.checkTrigger(ctx, &tr); len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	if _, err := p.Ticket(ctx, actor, number); err != nil {
		return nil, &FieldErrors{Fields: map[string]string{"ticket": "No such ticket."}}
	}
	t, err := p.trigTicketOf(ctx, number)
	if err != nil {
		return nil, err
	}
	out := &TriggerTest{Matches: true, Conditions: []ConditionTest{}}
	for _, c := range tr.Conditions {
		h := p.holds(ctx, c, t, t.description, false)
		out.Conditions = append(out.Conditions, ConditionTest{Condition: c, Holds: h})
		out.Matches = out.Matches && h
	}
	return out, nil
}

// UsesClocks reports whether the minute's job has work in the portal: SLA
// clocks or time rules.
func (p *Portal) UsesClocks(ctx context.Context) bool {
	return p.UsesSLA(ctx) || slices.ContainsFunc(p.activeTriggers(ctx), func(t Trigger) bool { return t.Event == OnTime })
}

// MaxTimeRuleTickets bounds the tickets one time rule acts on in a run; the
// rest wait for the next minute.
const MaxTimeRuleTickets = 500

// RunTimeRules looks at the open tickets with each active time rule and
// acts on those its conditions hold for — once a ticket, until something
// happens on it (its last activity moves). It returns how many times a
// rule acted.
func (p *Portal) RunTimeRules(ctx context.Context) (int, error) {
	if p.Plan().State != StateActive {
		return 0, nil
	}
	acted := 0
	now := p.Now()
	cal := p.workCalendar(ctx)
	for _, tr := range p.activeTriggers(ctx) {
		if tr.Event != OnTime {
			continue
		}
		// The working time asked for is at most as long as the wall time
		// since: the index narrows the tickets by the wall clock, the
		// conditions then count working time exactly.
		where, args := []string{"s.closed = 0", "t.merged_into IS NULL"}, []any{}
		for _, c := range tr.Conditions {
			d, ok := cal.parseWorkTime(c.Value)
			switch {
			case !ok:
			case c.Field == "idle":
				where, args = append(where, "t.last_activity_at <= ?"), append(args, now.Add(-d).Unix())
			case c.Field == "age":
				where, args = append(where, "t.created_at <= ?"), append(args, now.Add(-d).Unix())
			}
		}
		args = append([]any{tr.ID}, args...)
		rows, err := p.q.Query(ctx, `SELECT t.id FROM tickets t JOIN statuses s ON s.id = t.status_id
			LEFT JOIN rule_runs r ON r.trigger_id = ? AND r.ticket_id = t.id
			WHERE (r.activity_at IS NULL OR r.activity_at <> t.last_activity_at) AND `+strings.Join(where, " AND ")+` ORDER BY t.last_activity_at LIMIT ?`,
			append(args, MaxTimeRuleTickets)...)
		if err != nil {
			return acted, err
		}
		var due []int64
		for rows.Next() {
			var n int64
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return acted, err
			}
			due = append(due, n)
		}
		rows.Close()
		for _, n := range due {
			var did bool
			err := p.Tx(ctx, func(tp *Portal) error {
				t, err := tp.trigTicketOf(ctx, n)
				if err != nil {
					return err
				}
				for _, c := range tr.Conditions {
					if !tp.holds(ctx, c, t, t.description, false) {
						return nil
					}
				}
				for _, a := range tr.Actions {
					if err := tp.perform(ctx, tr.Name, a, t); err != nil {
						return fmt.Errorf("time rule %q: %w", tr.Name, err)
					}
				}
				did = true
				if err := tp.slaUpdate(ctx, n); err != nil {
					return err
				}
				// Acted: not again until something happens on the ticket.
				_, err = tp.q.Exec(ctx, `INSERT INTO rule_runs (trigger_id, ticket_id, activity_at) SELECT ?, id, last_activity_at FROM tickets WHERE id = ?
					ON CONFLICT DO UPDATE SET activity_at = excluded.activity_at`, tr.ID, n)
				return err
			})
			if err != nil {
				return acted, err
			}
			if did {
				acted++
				var client int64
				_ = p.q.QueryRow(ctx, "SELECT client_id FROM tickets WHERE id = ?", n).Scan(&client)
				p.publish(&Ticket{Number: n, Client: Person{ID: client}}, false)
			}
		}
	}
	if acted > 0 {
		p.kickOutbox()
	}
	return acted, nil
}
