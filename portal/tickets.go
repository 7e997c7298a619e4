package portal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"portaldesk/portal/sqlitedb"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Priorities of a ticket.
var Priorities = []string{"low", "normal", "high", "urgent"}

// PriorityID parses a priority name or number.
func PriorityID(s string) (int, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	for i, p := range Priorities {
		if s == p || s == strconv.Itoa(i) {
			return i, true
		}
	}
	return 0, false
}

// ErrForbidden is returned when the actor may not do what was asked.
var ErrForbidden = errors.New("you are not allowed to do this")

// ErrReadOnly is returned for writes that add data while the portal is read-only.
var ErrReadOnly = errors.New("this portal is read-only for now")

// Status is one step of a ticket's life, as the admin set them up.
type Status struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Color    string `json:"color"`
	Position int    `json:"position"`
	Closed   bool   `json:"closed"`
	Initial  bool   `json:"initial"`
}

// Person is a user as a ticket shows them.
type Person struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email,omitempty"` // for people in copy of a ticket
}

// Ticket is a client's request.
type Ticket struct {
	Number         int64      `json:"number"`
	Subject        string     `json:"subject"`
	Description    string     `json:"description"`
	Status         Status     `json:"status"`
	Priority       string     `json:"priority"`
	Client         Person     `json:"client"`
	Assignee       *Person    `json:"assignee"`
	CreatedAt      int64      `json:"created_at"`
	UpdatedAt      int64      `json:"updated_at"`
	ClosedAt       int64      `json:"closed_at,omitempty"`
	LastActivityAt int64      `json:"last_activity_at"`
	Messages       int        `json:"messages"`
	Files          int        `json:"files"`
	Unread         bool       `json:"unread,omitempty"`
	Values         []Value    `json:"fields,omitempty"`
	Source         string     `json:"source"` // web (the form or the API) or email
	Group          *GroupRef  `json:"group"`  // the team it belongs to (groups.go)
	SLA            *TicketSLA `json:"sla"`    // its clocks, when an SLA policy applies (sla.go)
	// Participants are the clients in copy: they see the ticket as its
	// client does (see participants.go).
	Participants []Person `json:"participants,omitempty"`
	Tags         []Tag    `json:"tags"`
	MergedInto   int64    `json:"merged_into,omitempty"` // the ticket this one was merged into
	Form         *FormRef `json:"form,omitempty"`        // the front door it came through
	ExternalID   string   `json:"external_id,omitempty"` // an integration's id for it (staff see it)
	// Channel is where the client's side hears of it: "" by mail, else
	// the messenger the client wrote from last (telegram, vk).
	Channel         string `json:"channel,omitempty"`
	tagIDs          string // as the row carries them, until read as Tags
	firstResponseAt sql.NullInt64
	fileBytes       int64
	work            int // work entries logged on it
}

// GroupID is the ticket's group's id (0: none).
func (t *Ticket) GroupID() int64 {
	if t.Group == nil {
		return 0
	}
	return t.Group.ID
}

// Value is one answer of a ticket, labelled as the form was when it was asked.
type Value struct {
	FieldID int64  `json:"field_id,omitempty"`
	Label   string `json:"label"`
	Type    string `json:"type"`
	Value   string `json:"value"`
}

// Statuses lists the portal's statuses in order.
func (p *Portal) Statuses(ctx context.Context) ([]Status, error) {
	sts, err := p.ref.statuses.get(p.DB, func() ([]Status, error) { return p.loadStatuses(ctx) })
	return slices.Clone(sts), err
}

// StatusColors are the distinct colours of the portal's statuses, for the
// pages' style.
func (p *Portal) StatusColors(ctx context.Context) []string {
	sts, _ := p.ref.statuses.get(p.DB, func() ([]Status, error) { return p.loadStatuses(ctx) })
	out := make([]string, 0, len(sts))
	for _, s := range sts {
		if !slices.Contains(out, s.Color) {
			out = append(out, s.Color)
		}
	}
	return out
}

func (p *Portal) loadStatuses(ctx context.Context) ([]Status, error) {
	rows, err := p.q.Query(ctx, "SELECT id, name, color, position, closed, initial FROM statuses ORDER BY position, id")
	if err != nil {
		return nil, fmt.Errorf("store: statuses: %w", err)
	}
	defer rows.Close()
	var out []Status
	for rows.Next() {
		var s Status
		if err := rows.Scan(&s.ID, &s.Name, &s.Color, &s.Position, &s.Closed, &s.Initial); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// FindStatus resolves a status by id or name.
func (p *Portal) FindStatus(ctx context.Context, ref string) (*Status, error) {
	sts, err := p.Statuses(ctx)
	if err != nil {
		return nil, err
	}
	ref = strings.TrimSpace(ref)
	for i := range sts {
		if strconv.FormatInt(sts[i].ID, 10) == ref || strings.EqualFold(sts[i].Name, ref) {
			return &sts[i], nil
		}
	}
	return nil, ErrNotFound
}

// writable refuses writes that add data while the portal is read-only.
func (p *Portal) writable() error {
	if p.Plan().State == StateReadOnly {
		return ErrReadOnly
	}
	return nil
}

// NewTicket is what a client (or an operator on a client's behalf) submits.
type NewTicket struct {
	Values   map[string]string // by field name or id
	Priority string
	ClientID int64  // staff may open a ticket for a client
	Files    *Files // kept with the ticket, or with it refused
	// Source is "email" for a ticket made from a mail: the questionnaire's
	// required fields other than subject and description may stay empty.
	Source string
	// Form is the front door it came through (a form's id or slug; "" the
	// whole questionnaire): its fields, group and priority apply.
	Form string
	// Also are errors of the request's other fields (the widget's name and
	// address), answered together with the questionnaire's.
	Also map[string]string
	// ExternalID is an integration's id for the ticket (staff only).
	ExternalID string
	channel    string // the messenger it came from (channels.go)
}

// Where tickets come from.
const (
	SourceWeb    = "web"
	SourceEmail  = "email"
	SourceWidget = "widget" // the panel a business embeds in its website
	// Tickets from a messenger have its kind as their source (telegram, vk).
)

// CreateTicket validates the answers against the questionnaire and stores the ticket.
func (p *Portal) CreateTicket(ctx context.Context, actor *User, in NewTicket) (*Ticket, error) {
	defer in.Files.Discard()
	if err := p.writable(); err != nil {
		return nil, err
	}
	var form *Form
	if in.Form != "" {
		f, err := p.FindForm(ctx, in.Form)
		if err != nil {
			return nil, &FieldErrors{Fields: map[string]string{"form": "Unknown form."}}
		}
		form = f
		if in.Priority == "" {
			in.Priority = f.Priority
		}
	}
	fields, err := p.FormFields(ctx, form)
	if err != nil {
		return nil, err
	}
	errs := maps.Clone(in.Also)
	if errs == nil {
		errs = map[string]string{}
	}
	var values []Value
	var subject, description string
	for _, f := range fields {
		raw, ok := in.Values[f.Name]
		if !ok {
			raw = in.Values[strconv.FormatInt(f.ID, 10)]
		}
		v, msg := f.Normalize(raw)
		if in.Source == SourceEmail && strings.TrimSpace(raw) == "" && f.Name != "subject" && f.Name != "description" {
			msg = "" // a mail answers no questionnaire
		}
		if msg == msgPhone {
			msg = fmt.Sprintf("Enter a phone number, like %s.", PhoneExample(p.Setting(ctx, "lang", "en")))
		}
		if msg != "" {
			errs[f.Name] = msg
			continue
		}
		switch f.Name {
		case "subject":
			subject = v
			if utf8.RuneCountInString(v) > 200 {
				errs[f.Name] = "At most 200 characters."
			}
		case "description":
			description = v
		default:
			if v != "" {
				values = append(values, Value{FieldID: f.ID, Label: f.Label, Type: f.Type, Value: v})
			}
		}
	}
	prio := 1
	if in.Priority != "" {
		var ok bool
		if prio, ok = PriorityID(in.Priority); !ok {
			errs["priority"] = "Choose low, normal, high or urgent."
		}
	}
	extID, msg := externalID(in.ExternalID)
	if msg != "" {
		errs["external_id"] = msg
	} else if extID != nil && !actor.IsStaff() {
		errs["external_id"] = "Only staff give tickets external ids."
	}
	clientID := actor.ID
	if in.ClientID != 0 && in.ClientID != actor.ID {
		if !actor.IsStaff() {
			return nil, ErrForbidden
		}
		c, err := p.UserByID(ctx, in.ClientID)
		if err != nil || c.Role != RoleClient {
			errs["client"] = "Choose one of the portal's clients."
		}
		clientID = in.ClientID
	}
	if len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	now := p.Now().Unix()
	var number int64
	err = p.Tx(ctx, func(tp *Portal) error {
		source := in.Source
		if source == "" {
			source = SourceWeb
		}
		res, err := tp.q.Exec(ctx, `INSERT INTO tickets (subject, description, client_id, status_id, priority, created_at, updated_at, last_activity_at, source, external_id, channel)
			VALUES (?, ?, ?, (SELECT id FROM statuses ORDER BY initial DESC, position LIMIT 1), ?, ?, ?, ?, ?, ?, ?)`,
			subject, description, clientID, prio, now, now, now, source, extID, in.channel)
		if sqlitedb.IsUniqueViolation(err) {
			return &FieldErrors{Fields: map[string]string{"external_id": "Another ticket has this external id."}}
		}
		if err != nil {
			return err
		}
		number, _ = res.LastInsertId()
		for i, v := range values {
			if _, err := tp.q.Exec(ctx, "INSERT INTO ticket_values (ticket_id, position, field_id, label, type, value) VALUES (?, ?, ?, ?, ?, ?)",
				number, i+1, v.FieldID, v.Label, v.Type, v.Value); err != nil {
				return err
			}
		}
		if _, err := tp.q.Exec(ctx, "INSERT INTO reads (user_id, ticket_id, seen_at) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET seen_at = excluded.seen_at", actor.ID, number, now); err != nil {
			return err
		}
		if _, err := in.Files.attach(ctx, tp, actor, number, 0, false, now); err != nil {
			return err
		}
		if err := tp.indexConversation(ctx, number); err != nil {
			return err
		}
		// Articles the client opened meanwhile did not answer.
		if err := tp.ticketedAfterDeflection(ctx, clientID); err != nil {
			return err
		}
		// The form's group, then the business's own rules (which may route
		// it elsewhere), then a member of the group it ended in, where that
		// group assigns by itself — all before anyone is told, so that who
		// hears of it follows where it went.
		g, _ := strconv.ParseInt(tp.Setting(ctx, "default_group", "0"), 10, 64)
		if form != nil {
			if _, err := tp.q.Exec(ctx, "UPDATE tickets SET form_id = ? WHERE id = ?", form.ID, number); err != nil {
				return err
			}
			if form.Group != 0 {
				g = form.Group // the form's group before the portal's
			}
		}
		if g != 0 {
			if _, err := tp.q.Exec(ctx, "UPDATE tickets SET group_id = ? WHERE id = ? AND EXISTS (SELECT 1 FROM groups WHERE id = ?)", g, number, g); err != nil {
				return err
			}
		}
		if _, err := tp.runTriggers(ctx, OnCreate, number, description, actor); err != nil {
			return err
		}
		var group, status, assignee int64
		if err := tp.q.QueryRow(ctx, "SELECT COALESCE(group_id, 0), status_id, COALESCE(assignee_id, 0) FROM tickets WHERE id = ?", number).Scan(&group, &status, &assignee); err != nil {
			return err
		}
		if group != 0 && assignee == 0 {
			a, err := tp.autoAssign(ctx, number, group, status)
			if err != nil {
				return err
			}
			if a != nil {
				if err := tp.notifyAssignedByGroup(ctx, number, group, a); err != nil {
					return err
				}
			}
		}
		if err := tp.slaUpdate(ctx, number); err != nil {
			return err
		}
		if err := tp.emitTicket(ctx, HookTicketCreated, number, nil); err != nil {
			return err
		}
		return tp.notifyNewTicket(ctx, number, subject, description, clientID, group, status)
	})
	if err != nil {
		return nil, fmt.Errorf("store: create ticket: %w", err)
	}
	in.Files.keep()
	p.kickOutbox()
	p.ticketsChanged(1)
	t, err := p.Ticket(ctx, actor, number)
	if err == nil {
		p.publish(t, false)
	}
	return t, err
}

const ticketSelect = `SELECT t.id, t.subject, t.description, t.priority, t.created_at, t.updated_at, COALESCE(t.closed_at, 0), t.last_activity_at,
	t.messages, t.files, t.file_bytes, t.first_response_at, t.work,
	s.id, s.name, s.color, s.position, s.closed, s.initial,
	c.id, c.name || CASE WHEN c.surname <> '' THEN ' ' || c.surname ELSE '' END,
	a.id, COALESCE(a.name || CASE WHEN a.surname <> '' THEN ' ' || a.surname ELSE '' END, ''), t.source,
	COALESCE(t.group_id, 0), COALESCE(g.name, ''),
	COALESCE(t.sla_policy_id, 0), COALESCE(t.first_response_due, 0), COALESCE(t.resolution_due, 0), t.sla_breached <> '', t.resolution_spent > 0, COALESCE(t.next_response_due, 0),
	COALESCE((SELECT group_concat(tag_id) FROM ticket_tags WHERE ticket_id = t.id), ''), COALESCE(t.merged_into, 0),
	COALESCE(t.form_id, 0), COALESCE((SELECT name FROM forms WHERE id = t.form_id), ''), COALESCE(t.external_id, ''), t.channel`

// ticketOne is ticketSelect for one ticket: with whether anyone is in
// copy of it, so that a ticket nobody is copied on (most) costs no more.
const ticketOne = ticketSelect + ", EXISTS (SELECT 1 FROM participants pt WHERE pt.ticket_id = t.id)"

const ticketFrom = ` FROM tickets t JOIN statuses s ON s.id = t.status_id JOIN users c ON c.id = t.client_id LEFT JOIN users a ON a.id = t.assignee_id LEFT JOIN groups g ON g.id = t.group_id`

func scanTicket(row interface{ Scan(...any) error }, extra ...any) (*Ticket, error) {
	t := &Ticket{}
	var prio int
	var aID sql.NullInt64
	var aName, gName string
	var gID, formID int64
	var formName string
	var sla TicketSLA
	dest := []any{&t.Number, &t.Subject, &t.Description, &prio, &t.CreatedAt, &t.UpdatedAt, &t.ClosedAt, &t.LastActivityAt,
		&t.Messages, &t.Files, &t.fileBytes, &t.firstResponseAt, &t.work,
		&t.Status.ID, &t.Status.Name, &t.Status.Color, &t.Status.Position, &t.Status.Closed, &t.Status.Initial,
		&t.Client.ID, &t.Client.Name, &aID, &aName, &t.Source, &gID, &gName,
		&sla.Policy, &sla.FirstResponseDue, &sla.ResolutionDue, &sla.Breached, &sla.Paused, &sla.NextResponseDue, &t.tagIDs, &t.MergedInto, &formID, &formName, &t.ExternalID, &t.Channel}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	t.Priority = Priorities[prio]
	if aID.Valid {
		t.Assignee = &Person{ID: aID.Int64, Name: aName}
	}
	if gID != 0 {
		t.Group = &GroupRef{ID: gID, Name: gName}
	}
	if formID != 0 {
		t.Form = &FormRef{ID: formID, Name: formName}
	}
	if sla.Policy != 0 {
		sla.Paused = sla.Paused && sla.ResolutionDue == 0 && !t.Status.Closed
		t.SLA = &sla
	}
	return t, nil
}

// Ticket loads one ticket with its answers, if actor may see it. A client
// asking for someone else's ticket is told it does not exist.
func (p *Portal) Ticket(ctx context.Context, actor *User, number int64) (*Ticket, error) {
	return p.ticket(ctx, actor, number, ticketOne+ticketFrom+" WHERE t.id = ?", []any{number})
}

// ticketSeen is Ticket with when actor last saw it (-1: never), read in
// the same statement, for the ticket page.
func (p *Portal) ticketSeen(ctx context.Context, actor *User, number int64) (*Ticket, int64, error) {
	var seen int64
	t, err := p.ticket(ctx, actor, number, ticketOne+", COALESCE(r.seen_at, -1)"+ticketFrom+" LEFT JOIN reads r ON r.user_id = ? AND r.ticket_id = t.id WHERE t.id = ?",
		[]any{actor.ID, number}, &seen)
	return t, seen, err
}

// ticket runs query for ticket number (extra receives its columns after
// the ticket's), checks that actor may see it and reads its answers.
func (p *Portal) ticket(ctx context.Context, actor *User, number int64, query string, args []any, extra ...any) (*Ticket, error) {
	var copied bool
	t, err := scanTicket(p.q.QueryRow(ctx, query, args...), append([]any{&copied}, extra...)...)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("store: ticket %d: %w", number, err)
	}
	if !actor.IsStaff() && t.Client.ID != actor.ID && (!copied || !p.participates(ctx, number, actor.ID)) {
		return nil, ErrNotFound
	}
	if actor.IsStaff() && !actor.sees(t.GroupID(), t.Status.ID) {
		return nil, ErrNotFound
	}
	t.Tags = p.tagsByIDs(ctx, t.tagIDs)
	if !actor.IsStaff() {
		t.SLA = p.slaForClients(ctx, t.SLA)
		t.ExternalID = ""
	}
	if copied {
		if t.Participants, err = p.participants(ctx, number); err != nil {
			return nil, err
		}
	}
	rows, err := p.q.Query(ctx, "SELECT COALESCE(field_id, 0), label, type, value FROM ticket_values WHERE ticket_id = ? ORDER BY position", number)
	if err != nil {
		return nil, fmt.Errorf("store: ticket %d values: %w", number, err)
	}
	defer rows.Close()
	for rows.Next() {
		var v Value
		if err := rows.Scan(&v.FieldID, &v.Label, &v.Type, &v.Value); err != nil {
			return nil, err
		}
		t.Values = append(t.Values, v)
	}
	return t, rows.Err()
}

// TicketFilter selects the rows of the tickets table.
type TicketFilter struct {
	Status   string // a status id, "open", "closed" or "" for all
	Assignee string // "me", "none", "" (anyone) or an operator's id
	Client   int64
	Group    string // staff: a group's id or name, or "none"
	Tag      string // staff: a tag's name
	Form     int64  // staff: the form tickets came through
	// Action filters by a workflow action performed (its id), ActionBy by
	// who performed it, ActionField by what it asked for ("name=value").
	Action      int64
	ActionBy    int64
	ActionField string
	Following   bool   // staff: only tickets they follow
	SLA         string // staff: "late" — a target passed or due now
	CountOnly   bool   // only Total is wanted (a view's count)
	Priority    string
	Query       string // full-text search
	Unread      bool   // staff: only tickets with something they have not seen
	Sort        string // activity (default), created, number, priority
	Asc         bool
	Page        int    // from 1
	ExternalID  string // staff: the ticket an integration knows by this id
	Org         int64  // staff: tickets of an organisation's clients
	// Sync reads the list in the order tickets changed, from a moment or
	// a cursor, SyncPage at a time (Page and Sort are then ignored).
	Sync Sync
}

// TicketPageSize is the number of rows of the tickets table per page.
const TicketPageSize = 50

// TicketList is one page of the tickets table.
type TicketList struct {
	Tickets []*Ticket `json:"tickets"`
	Page    int       `json:"page"`
	HasMore bool      `json:"has_more"`
	Total   int       `json:"total"` // rows matching the filter, all pages
	// TotalCapped: a search matched more than Total; counting stopped there.
	TotalCapped bool `json:"total_capped,omitempty"`
	// NextCursor goes on from this page of an incremental read ("": the
	// last page — keep the time of the read for the next updated_since).
	NextCursor string `json:"next_cursor,omitempty"`
}

// ListTickets is the operators' table (every ticket) or a client's list (their own).
func (p *Portal) ListTickets(ctx context.Context, actor *User, f TicketFilter) (*TicketList, error) {
	var where []string
	var args, outerArgs []any
	readJoin := ""
	unread := "0"
	if actor.IsStaff() {
		readJoin = " LEFT JOIN reads r ON r.user_id = ? AND r.ticket_id = t.id"
		unread = "COALESCE(r.seen_at, 0) < t.last_activity_at"
		outerArgs = append(outerArgs, actor.ID)
		if scope := actor.scopeSQL(); scope != "" {
			where = append(where, scope)
		}
	} else {
		where = append(where, "(t.client_id = ? OR t.id IN (SELECT ticket_id FROM participants WHERE user_id = ?))")
		args = append(args, actor.ID, actor.ID)
	}
	switch f.Status {
	case "":
	case "open":
		// "+" keeps SQLite on the activity index: open tickets are most of them.
		where = append(where, "+t.status_id IN (SELECT id FROM statuses WHERE closed = 0)")
	case "closed":
		where = append(where, "+t.status_id IN (SELECT id FROM statuses WHERE closed = 1)")
	default:
		id, err := strconv.ParseInt(f.Status, 10, 64)
		if err != nil {
			st, err := p.FindStatus(ctx, f.Status)
			if err != nil {
				return nil, &FieldErrors{Fields: map[string]string{"status": "Unknown status."}}
			}
			id = st.ID
		}
		where = append(where, "t.status_id = ?")
		args = append(args, id)
	}
	switch f.Assignee {
	case "", "any":
	case "me":
		where = append(where, "t.assignee_id = ?")
		args = append(args, actor.ID)
	case "none":
		where = append(where, "t.assignee_id IS NULL")
	default:
		id, err := strconv.ParseInt(f.Assignee, 10, 64)
		if err != nil {
			return nil, &FieldErrors{Fields: map[string]string{"assignee": "Use me, none, any or an operator's id."}}
		}
		where = append(where, "t.assignee_id = ?")
		args = append(args, id)
	}
	switch {
	case f.Group == "" || !actor.IsStaff():
	case f.Group == "none":
		where = append(where, "t.group_id IS NULL")
	default:
		id, _, err := p.findGroup(ctx, f.Group)
		if err != nil {
			return nil, &FieldErrors{Fields: map[string]string{"group": "Unknown group."}}
		}
		where = append(where, "t.group_id = ?")
		args = append(args, id)
	}
	if (f.Action != 0 || f.ActionBy != 0 || f.ActionField != "") && actor.IsStaff() {
		cond, a := []string{"1"}, []any{}
		if f.Action != 0 {
			cond, a = append(cond, "ar.action_id = ?"), append(a, f.Action)
		}
		if f.ActionBy != 0 {
			cond, a = append(cond, "ar.actor_id = ?"), append(a, f.ActionBy)
		}
		if f.ActionField != "" {
			name, value, _ := strings.Cut(f.ActionField, "=")
			if !actionFieldName.MatchString(strings.TrimSpace(name)) {
				return nil, &FieldErrors{Fields: map[string]string{"action_field": "Use a field's name and value, like serial_number=A-17."}}
			}
			cond, a = append(cond, "json_extract(ar.fields, '$.' || ?) = ? COLLATE NOCASE"), append(a, strings.TrimSpace(name), strings.TrimSpace(value))
		}
		where, args = append(where, "t.id IN (SELECT ar.ticket_id FROM action_runs ar WHERE "+strings.Join(cond, " AND ")+")"), append(args, a...)
	}
	if f.Form != 0 && actor.IsStaff() {
		where, args = append(where, "t.form_id = ?"), append(args, f.Form)
	}
	if f.Following && actor.IsStaff() {
		where, args = append(where, "t.id IN (SELECT ticket_id FROM followers WHERE user_id = ?)"), append(args, actor.ID)
	}
	if f.SLA == "late" && actor.IsStaff() {
		now := p.Now().Unix()
		where = append(where, "(t.sla_breached <> '' OR t.first_response_due <= ? OR t.next_response_due <= ? OR t.resolution_due <= ?)")
		args = append(args, now, now, now)
	}
	if f.Tag != "" && actor.IsStaff() {
		cond, a := tagFilter(f.Tag)
		where, args = append(where, cond), append(args, a...)
	}
	if f.Org != 0 && actor.IsStaff() {
		where, args = append(where, "t.client_id IN (SELECT id FROM users WHERE org_id = ?)"), append(args, f.Org)
	}
	if f.ExternalID != "" && actor.IsStaff() {
		where, args = append(where, "t.external_id = ?"), append(args, strings.TrimSpace(f.ExternalID))
	}
	if f.Client != 0 && actor.IsStaff() {
		where = append(where, "t.client_id = ?")
		args = append(args, f.Client)
	}
	if f.Priority != "" {
		prio, ok := PriorityID(f.Priority)
		if !ok {
			return nil, &FieldErrors{Fields: map[string]string{"priority": "Use low, normal, high or urgent."}}
		}
		where = append(where, "t.priority = ?")
		args = append(args, prio)
	}
	if f.Sync.On() {
		cond, a, errs := f.Sync.where("t.updated_at", "t.id")
		if errs != nil {
			return nil, &FieldErrors{Fields: errs}
		}
		if cond != "" {
			where, args = append(where, cond), append(args, a...)
		}
	}
	// The total: filters on the ticket's own columns are counted exactly
	// from tickets_filters alone; "unread" as all matching tickets less
	// those the person has read since their last activity (a walk of their
	// read marks, not of every ticket); a search only as far as its page.
	fts := ftsQuery(f.Query)
	unreadOnly := f.Unread && actor.IsStaff()
	plain := "FROM tickets t"
	if len(where) > 0 {
		plain += " WHERE " + strings.Join(where, " AND ")
	}
	plain = strings.ReplaceAll(plain, "+t.status_id", "t.status_id")
	countQ, countArgs := "SELECT COUNT(*) "+plain, append([]any(nil), args...)
	if unreadOnly {
		seen := "FROM reads r JOIN tickets t ON t.id = r.ticket_id WHERE r.user_id = ? AND r.seen_at >= t.last_activity_at"
		if len(where) > 0 {
			seen += " AND " + strings.Join(where, " AND ")
		}
		countQ = "SELECT (" + countQ + ") - (SELECT COUNT(*) " + strings.ReplaceAll(seen, "+t.status_id", "t.status_id") + ")"
		countArgs = append(append(countArgs, actor.ID), args...)
		where = append(where, "t.last_activity_at > COALESCE((SELECT seen_at FROM reads WHERE user_id = ? AND ticket_id = t.id), 0)")
		args = append(args, actor.ID)
	}
	if f.CountOnly && fts == "" {
		list := &TicketList{Page: 1, Tickets: []*Ticket{}}
		if err := p.q.QueryRow(ctx, countQ, countArgs...).Scan(&list.Total); err != nil {
			return nil, fmt.Errorf("store: count tickets: %w", err)
		}
		return list, nil
	}
	searchFirst := fts != "" && f.Sort == "" && !f.Sync.On()
	if fts != "" && !searchFirst {
		cond := "t.id IN (SELECT rowid >> 1 FROM search WHERE search MATCH ?"
		if !actor.IsStaff() {
			cond += " AND (rowid & 1) = 0"
		}
		where = append(where, cond+")")
		args = append(args, fts)
	}
	dir := " DESC"
	if f.Asc {
		dir = " ASC"
	}
	order := "t.last_activity_at" + dir + ", t.id" + dir
	switch f.Sort {
	case "created", "number":
		order = "t.id" + dir
	case "priority":
		order = "t.priority" + dir + ", t.last_activity_at" + dir + ", t.id" + dir
	}
	pageSize := TicketPageSize
	if f.Sync.On() {
		order, f.Page, pageSize = "t.updated_at, t.id", 1, SyncPage
	}
	if f.Page < 1 {
		f.Page = 1
	}
	// The page's ids are chosen from the indexes alone; only those 51 rows
	// are then joined with statuses, people and read marks.
	inner := "SELECT t.id FROM tickets t"
	if searchFirst {
		// Search results come newest ticket first, read lazily from the
		// full-text index in rowid order: a common word costs no more
		// than a rare one.
		order = "t.id DESC"
		inner = "SELECT DISTINCT t.id FROM search s CROSS JOIN tickets t ON t.id = s.rowid >> 1" // search first, always
		if len(where) == 0 {
			// Nothing else to test: the index alone names the tickets.
			inner = "SELECT DISTINCT s.rowid >> 1 FROM search s"
		}
		cond := "search MATCH ?"
		if !actor.IsStaff() {
			cond += " AND (s.rowid & 1) = 0"
		}
		where = append([]string{cond}, where...)
		args = append([]any{fts}, args...)
	}
	if len(where) > 0 {
		inner += " WHERE " + strings.Join(where, " AND ")
	}
	if searchFirst {
		inner += " ORDER BY s.rowid DESC"
	} else {
		inner += " ORDER BY " + order
	}
	offset := (f.Page - 1) * pageSize
	args = append(args, pageSize+1, offset)
	q := ticketSelect + ", " + unread + ticketFrom + readJoin + " WHERE t.id IN (" + inner + " LIMIT ? OFFSET ?) ORDER BY " + order
	rows, err := p.q.Query(ctx, q, append(outerArgs, args...)...)
	if err != nil {
		return nil, fmt.Errorf("store: list tickets: %w", err)
	}
	defer rows.Close()
	list := &TicketList{Page: f.Page, Tickets: make([]*Ticket, 0, pageSize)}
	for rows.Next() {
		var un bool
		t, err := scanTicket(rows, &un)
		if err != nil {
			return nil, fmt.Errorf("store: list tickets: %w", err)
		}
		t.Unread = un
		list.Tickets = append(list.Tickets, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list tickets: %w", err)
	}
	rows.Close()
	for _, t := range list.Tickets {
		t.Tags = p.tagsByIDs(ctx, t.tagIDs) // once the rows are closed: the tags may be read
		if !actor.IsStaff() {
			t.SLA = p.slaForClients(ctx, t.SLA)
			t.ExternalID = ""
		}
	}
	if len(list.Tickets) > pageSize {
		list.Tickets, list.HasMore = list.Tickets[:pageSize], true
		if f.Sync.On() {
			last := list.Tickets[pageSize-1]
			list.NextCursor = Cursor(last.UpdatedAt, last.Number)
		}
	}
	list.Total = offset + len(list.Tickets)
	switch {
	case fts != "":
		// A search is not counted past its page: matches are read lazily,
		// newest first, and counting them all would read the whole index
		// (a common word matches most tickets). "More than 50" it says.
		list.TotalCapped = list.HasMore
	case list.HasMore || (f.Page > 1 && len(list.Tickets) == 0):
		// Only when the page does not tell it: the count reads the same
		// indexes as the page, without the joins.
		if err := p.q.QueryRow(ctx, countQ, countArgs...).Scan(&list.Total); err != nil {
			return nil, fmt.Errorf("store: count tickets: %w", err)
		}
	}
	return list, nil
}

// countTickets is how many tickets a filter holds for actor.
func (p *Portal) countTickets(ctx context.Context, actor *User, f TicketFilter) (int, error) {
	f.CountOnly = true
	l, err := p.ListTickets(ctx, actor, f)
	if err != nil {
		return 0, err
	}
	return l.Total, nil
}

// ftsQuery turns what a user typed into an FTS5 query of prefix terms, so
// that no input is an FTS syntax error.
func ftsQuery(s string) string {
	var terms []string
	for _, w := range strings.FieldsFunc(s, func(r rune) bool {
		return !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 127)
	}) {
		terms = append(terms, `"`+w+`"*`)
		if len(terms) == 8 {
			break
		}
	}
	return strings.Join(terms, " ")
}

// TicketCount is the number of tickets in the portal.
func (p *Portal) TicketCount(ctx context.Context) (int64, error) {
	var n int64
	err := p.q.QueryRow(ctx, "SELECT COUNT(*) FROM tickets").Scan(&n)
	return n, err
}

// externalID checks an integration's id: nil for "" (none), else at most
// 100 characters on one line.
func externalID(s string) (*string, string) {
	s = strings.TrimSpace(Line(s))
	switch {
	case s == "":
		return nil, ""
	case utf8.RuneCountInString(s) > 100:
		return nil, "At most 100 characters."
	}
	return &s, ""
}
