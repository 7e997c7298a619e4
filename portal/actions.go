package portal

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Actions: the business's own workflow steps (Webasyst Support's). An
// action is offered in some statuses to some roles (and members of some
// groups); performing it may move the ticket to a status, take a comment
// (public, or an internal note), an assignee and fields of its own, and
// sends the action's own mail — a template per language — to the people
// it names. Every performance is kept (action_runs): the timeline shows
// it with its fields, and the table filters by action, field and actor.

// Action is one workflow step.
type Action struct {
	ID          int64      `json:"id"`
	Name        string     `json:"name"`
	Position    int        `json:"position"`
	Statuses    []int64    `json:"statuses"`  // offered in these statuses (empty: any open status)
	ToStatus    int64      `json:"to_status"` // leads to this status (0: stays)
	Roles       []string   `json:"roles"`     // admin, operator, client
	Groups      []int64    `json:"groups"`    // the performer must be in one (empty: anyone of the roles)
	Comment     string     `json:"comment"`   // none, optional or required
	Internal    bool       `json:"internal"`  // the comment is an internal note
	AskAssignee bool       `json:"ask_assignee"`
	Fields      []Field    `json:"fields"` // what else it asks for (the questionnaire's types)
	Mail        ActionMail `json:"mail"`
	Macro       Macro      `json:"macro"` // a canned text and changes made with it: an action as a macro
	Active      bool       `json:"active"`
	// Builtin names the page's own step it stands for (reply, note,
	// assign, close, delete): renamed, restricted or retired here, it is
	// checked wherever that step is taken. "" for the business's own.
	Builtin string `json:"builtin,omitempty"`
}

// The built-in steps.
const (
	StepReply  = "reply"
	StepNote   = "note"
	StepAssign = "assign"
	StepClose  = "close"
	StepDelete = "delete"
)

// Macro is what an action does besides its status and assignee: a canned
// text for its comment ({client.name}, {ticket.number}, {ticket.subject},
// {actor.name} filled) when none is written, a priority, a group, tags.
type Macro struct {
	Text     string   `json:"text,omitempty"`
	Priority string   `json:"priority,omitempty"`
	Group    int64    `json:"group,omitempty"`
	AddTags  []string `json:"add_tags,omitempty"`
}

// ActionMail is what an action sends: to client, assignee, group,
// participants (those in copy) and/or addresses, with a subject and text
// per language in which {ticket.number}, {ticket.subject}, {ticket.link},
// {client.name}, {actor.name}, {comment} and {field.NAME} are filled.
type ActionMail struct {
	To        []string                `json:"to"`
	Templates map[string]MailTemplate `json:"templates"`
}

// MaxActions bounds a portal's actions.
const MaxActions = 100

var actionFieldName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// Actions lists the portal's actions in order (inactive ones too).
func (p *Portal) Actions(ctx context.Context) ([]Action, error) {
	rows, err := p.q.Query(ctx, `SELECT id, name, position, statuses, COALESCE(to_status, 0), roles, groups, comment, internal, ask_assignee, fields, mail, macro, active, builtin
		FROM actions ORDER BY position, id`)
	if err != nil {
		return nil, fmt.Errorf("store: actions: %w", err)
	}
	defer rows.Close()
	out := []Action{}
	for rows.Next() {
		var a Action
		var statuses, roles, groups, fields, mail, macro string
		if err := rows.Scan(&a.ID, &a.Name, &a.Position, &statuses, &a.ToStatus, &roles, &groups, &a.Comment, &a.Internal, &a.AskAssignee, &fields, &mail, &macro, &a.Active, &a.Builtin); err != nil {
			return nil, err
		}
		a.Statuses, a.Groups = nonNilIDs(parseIDs(statuses)), nonNilIDs(parseIDs(groups))
		a.Roles = strings.FieldsFunc(roles, func(r rune) bool { return r == ',' })
		_ = json.Unmarshal([]byte(fields), &a.Fields)
		_ = json.Unmarshal([]byte(mail), &a.Mail)
		_ = json.Unmarshal([]byte(macro), &a.Macro)
		if a.Fields == nil {
			a.Fields = []Field{}
		}
		if a.Mail.To == nil {
			a.Mail.To = []string{}
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func nonNilIDs(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}

// SaveAction makes (id 0) or replaces an action. Admins only.
func (p *Portal) SaveAction(ctx context.Context, actor *User, id int64, a Action) (*Action, error) {
	if actor.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	if err := p.writable(); err != nil {
		return nil, err
	}
	if id != 0 {
		if cur, err := p.actionByID(ctx, id); err == nil && cur.Builtin != "" {
			// A built-in step keeps what it is: only its name, where and by
			// whom it is offered, and whether it is on change.
			name, statuses, roles, groups, active := a.Name, a.Statuses, a.Roles, a.Groups, a.Active
			a = *cur
			a.Name, a.Statuses, a.Roles, a.Groups, a.Active = name, statuses, roles, groups, active
		}
	}
	errs := map[string]string{}
	a.Name = Line(a.Name)
	if n := utf8.RuneCountInString(a.Name); n == 0 || n > 60 {
		errs["name"] = "Enter a name of at most 60 characters."
	}
	for _, s := range a.Statuses {
		if _, err := p.StatusByID(ctx, s); err != nil {
			errs["statuses"] = fmt.Sprintf("There is no status %d.", s)
		}
	}
	if a.ToStatus != 0 {
		if _, err := p.StatusByID(ctx, a.ToStatus); err != nil {
			errs["to_status"] = "Unknown status."
		}
	}
	if len(a.Roles) == 0 {
		a.Roles = []string{RoleAdmin, RoleOperator}
	}
	for _, r := range a.Roles {
		if r != RoleAdmin && r != RoleOperator && r != RoleClient {
			errs["roles"] = "Use admin, operator and client."
		}
	}
	for _, g := range a.Groups {
		if _, _, err := p.findGroup(ctx, strconv.FormatInt(g, 10)); err != nil || g == 0 {
			errs["groups"] = fmt.Sprintf("There is no group %d.", g)
		}
	}
	if a.Comment == "" {
		a.Comment = "optional"
	}
	if a.Comment != "none" && a.Comment != "optional" && a.Comment != "required" {
		errs["comment"] = "Choose none, optional or required."
	}
	if a.Internal && slices.Contains(a.Roles, RoleClient) {
		errs["internal"] = "A client may not write internal notes: take clients off the roles or make the comment public."
	}
	for i, f := range a.Fields {
		key := "fields." + strconv.Itoa(i)
		f.Label = Line(f.Label)
		a.Fields[i].Label = f.Label
		switch {
		case !actionFieldName.MatchString(f.Name):
			errs[key] = "A field's name is lower-case letters, digits and _, like serial_number."
		case f.Label == "":
			errs[key] = "Give the field a label."
		case !slices.ContainsFunc(FieldTypes, func(t struct{ ID, Label string }) bool { return t.ID == f.Type }):
			errs[key] = "Unknown field type."
		case f.Type == FieldSelect && len(f.Options) == 0:
			errs[key] = "A select list needs options."
		}
	}
	for _, to := range a.Mail.To {
		if to != "client" && to != "assignee" && to != "group" && to != "participants" && ValidateEmail(to) != "" {
			errs["mail.to"] = fmt.Sprintf("%q: send to client, assignee, group, participants or an address.", to)
		}
	}
	if len(a.Mail.To) > 0 {
		ok := false
		for lang, t := range a.Mail.Templates {
			if !slices.Contains(Languages, lang) {
				errs["mail.templates"] = fmt.Sprintf("Unknown language %q.", lang)
			}
			ok = ok || strings.TrimSpace(t.Subject) != "" && strings.TrimSpace(t.Body) != ""
		}
		if !ok {
			errs["mail.templates"] = "Write the mail's subject and text (in at least one language)."
		}
	}
	if a.Macro.Priority != "" {
		if _, ok := PriorityID(a.Macro.Priority); !ok {
			errs["macro.priority"] = "Use low, normal, high or urgent."
		}
	}
	if a.Macro.Group != 0 {
		if _, _, err := p.findGroup(ctx, strconv.FormatInt(a.Macro.Group, 10)); err != nil {
			errs["macro.group"] = "Unknown group."
		}
	}
	for _, tag := range a.Macro.AddTags {
		if _, msg := cleanTag(tag); msg != "" {
			errs["macro.add_tags"] = fmt.Sprintf("%q: %s", tag, msg)
		}
	}
	if utf8.RuneCountInString(a.Macro.Text) > maxTextareaRunes {
		errs["macro.text"] = fmt.Sprintf("At most %d characters.", maxTextareaRunes)
	}
	if a.Macro.Text != "" && a.Comment == "none" {
		errs["macro.text"] = "A canned text is the action's comment: let the action take a comment."
	}
	if len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	a.Statuses, a.Groups = nonNilIDs(a.Statuses), nonNilIDs(a.Groups)
	if a.Mail.To == nil {
		a.Mail.To = []string{}
	}
	if a.Fields == nil {
		a.Fields = []Field{}
	}
	fields, _ := json.Marshal(a.Fields)
	mail, _ := json.Marshal(a.Mail)
	macro, _ := json.Marshal(a.Macro)
	var to any
	if a.ToStatus != 0 {
		to = a.ToStatus
	}
	args := []any{a.Name, formatIDs(a.Statuses), to, strings.Join(a.Roles, ","), formatIDs(a.Groups), a.Comment, a.Internal, a.AskAssignee, string(fields), string(mail), string(macro), a.Active}
	if id == 0 {
		var n int
		_ = p.q.QueryRow(ctx, "SELECT COUNT(*), COALESCE(MAX(position), 0) + 1 FROM actions").Scan(&n, &a.Position)
		if n >= MaxActions {
			return nil, &FieldErrors{Message: fmt.Sprintf("At most %d actions.", MaxActions)}
		}
		res, err := p.q.Exec(ctx, `INSERT INTO actions (name, statuses, to_status, roles, groups, comment, internal, ask_assignee, fields, mail, macro, active, position, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, append(args, a.Position, p.Now().Unix())...)
		if err != nil {
			return nil, fmt.Errorf("store: save action: %w", err)
		}
		a.ID, _ = res.LastInsertId()
		return &a, nil
	}
	res, err := p.q.Exec(ctx, `UPDATE actions SET name = ?, statuses = ?, to_status = ?, roles = ?, groups = ?, comment = ?, internal = ?, ask_assignee = ?,
		fields = ?, mail = ?, macro = ?, active = ? WHERE id = ?`, append(args, id)...)
	if err != nil {
		return nil, fmt.Errorf("store: save action: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, ErrNotFound
	}
	a.ID = id
	return &a, nil
}

// DeleteAction removes an action; what it did stays in the tickets'
// history under its name.
func (p *Portal) DeleteAction(ctx context.Context, actor *User, id int64) error {
	if actor.Role != RoleAdmin {
		return ErrForbidden
	}
	res, err := p.q.Exec(ctx, "DELETE FROM actions WHERE id = ? AND builtin = ''", id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// mayPerform reports whether actor may perform a on ticket t now.
func (p *Portal) mayPerform(ctx context.Context, actor *User, a *Action, t *Ticket) bool {
	if !a.Active || !slices.Contains(a.Roles, actor.Role) {
		return false
	}
	if len(a.Statuses) == 0 {
		if t.Status.Closed && a.Builtin == "" {
			return false
		}
	} else if !slices.Contains(a.Statuses, t.Status.ID) {
		return false
	}
	if len(a.Groups) > 0 && !slices.ContainsFunc(a.Groups, func(g int64) bool { return p.isMember(ctx, g, actor.ID) }) {
		return false
	}
	return true
}

// ActionsFor are the actions actor may perform on ticket number as it is
// now: exactly what its page offers.
func (p *Portal) ActionsFor(ctx context.Context, actor *User, number int64) ([]Action, error) {
	t, err := p.Ticket(ctx, actor, number)
	if err != nil {
		return nil, err
	}
	return p.ActionsOn(ctx, actor, t)
}

// ActionsOn is ActionsFor with the ticket loaded already.
func (p *Portal) ActionsOn(ctx context.Context, actor *User, t *Ticket) ([]Action, error) {
	all, err := p.Actions(ctx)
	if err != nil {
		return nil, err
	}
	out := []Action{}
	for i := range all {
		if all[i].Builtin == "" && p.mayPerform(ctx, actor, &all[i], t) {
			out = append(out, all[i])
		}
	}
	return out, nil
}

// ActionInput is what performing an action brings.
type ActionInput struct {
	Comment  string            `json:"comment"`
	Assignee int64             `json:"assignee,omitempty"` // when the action asks for one (0: none)
	Fields   map[string]string `json:"fields"`
}

// Perform performs action id on ticket number: all of it, or — on any
// error — nothing. It answers 404 for an action the person may not
// perform here (as for a ticket they may not see).
func (p *Portal) Perform(ctx context.Context, actor *User, number, id int64, in ActionInput) (*Ticket, error) {
	if err := p.writable(); err != nil {
		return nil, err
	}
	t, err := p.Ticket(ctx, actor, number)
	if err != nil {
		return nil, err
	}
	all, err := p.Actions(ctx)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(all, func(a Action) bool { return a.ID == id })
	if i < 0 || all[i].Builtin != "" || !p.mayPerform(ctx, actor, &all[i], t) {
		return nil, ErrNotFound
	}
	a := all[i]
	errs := map[string]string{}
	comment := strings.TrimSpace(Text(in.Comment))
	if comment == "" && a.Macro.Text != "" {
		comment = strings.NewReplacer("{client.name}", t.Client.Name, "{ticket.number}", strconv.FormatInt(t.Number, 10),
			"{ticket.subject}", t.Subject, "{actor.name}", actor.FullName()).Replace(a.Macro.Text)
	}
	switch {
	case a.Comment == "required" && comment == "":
		errs["comment"] = "Write a comment."
	case a.Comment == "none":
		comment = ""
	case utf8.RuneCountInString(comment) > maxTextareaRunes:
		errs["comment"] = fmt.Sprintf("At most %d characters.", maxTextareaRunes)
	}
	values := map[string]string{}
	for _, f := range a.Fields {
		v, msg := f.Normalize(in.Fields[f.Name])
		if msg != "" {
			errs["fields."+f.Name] = msg
		}
		if v != "" {
			values[f.Name] = v
		}
	}
	var assignee *User
	if a.AskAssignee && in.Assignee != 0 {
		u, err := p.UserByID(ctx, in.Assignee)
		st := t.Status.ID
		if a.ToStatus != 0 {
			st = a.ToStatus
		}
		if err != nil || !u.IsStaff() || !u.Active || !u.sees(t.GroupID(), st) {
			errs["assignee"] = "Choose an active operator who may see the ticket."
		} else {
			assignee = u
		}
	}
	if len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	err = p.Tx(ctx, func(tp *Portal) error {
		if err := tp.applyAction(ctx, &a, t, actor, comment, values, assignee); err != nil {
			return err
		}
		_, err := tp.runTriggers(ctx, OnUpdate, number, comment, actor)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: perform %q on %d: %w", a.Name, number, err)
	}
	p.kickOutbox()
	p.publish(t, a.Internal && comment != "" && a.ToStatus == 0 && assignee == nil)
	return p.Ticket(ctx, actor.unlimited(), number)
}

// applyAction makes what action a does to ticket t, inside the caller's
// transaction: its record and event, the comment, the status, assignee,
// priority, group and tags, the mail, the clocks. actor may be a trigger
// (ID 0: written as nobody).
func (p *Portal) applyAction(ctx context.Context, a *Action, t *Ticket, actor *User, comment string, values map[string]string, assignee *User) error {
	number := t.Number
	now := p.Now().Unix()
	fieldsJSON, _ := json.Marshal(values)
	if _, err := p.q.Exec(ctx, "INSERT INTO action_runs (ticket_id, action_id, name, actor_id, fields, created_at) VALUES (?, ?, ?, ?, ?, ?)",
		number, a.ID, a.Name, nullID(actor.ID), string(fieldsJSON), now); err != nil {
		return err
	}
	line := fmt.Sprintf("%s: %s", actor.FullName(), a.Name)
	for _, f := range a.Fields {
		if v := values[f.Name]; v != "" {
			line += fmt.Sprintf("\n%s: %s", f.Label, v)
		}
	}
	if err := p.addEvent(ctx, number, actor.ID, line); err != nil {
		return err
	}
	if comment != "" {
		kind := KindMessage
		if a.Internal {
			kind = KindNote
		}
		if _, err := p.q.Exec(ctx, "INSERT INTO messages (ticket_id, author_id, kind, body, created_at) VALUES (?, ?, ?, ?, ?)", number, nullID(actor.ID), kind, comment, now); err != nil {
			return err
		}
		if _, err := p.q.Exec(ctx, `UPDATE tickets SET messages = messages + 1,
			first_response_at = CASE WHEN ? AND first_response_at IS NULL THEN ? ELSE first_response_at END WHERE id = ?`, actor.IsStaff() && !a.Internal, now, number); err != nil {
			return err
		}
		if err := p.indexEntry(ctx, number, kind); err != nil {
			return err
		}
	}
	sets, args := []string{"updated_at = ?", "last_activity_at = ?"}, []any{now, now}
	if a.ToStatus != 0 && a.ToStatus != t.Status.ID {
		st, err := p.StatusByID(ctx, a.ToStatus)
		if err != nil {
			return err
		}
		var closed any
		if st.Closed {
			closed = now
		}
		sets, args = append(sets, "status_id = ?", "closed_at = ?"), append(args, st.ID, closed)
	}
	if assignee != nil {
		sets, args = append(sets, "assignee_id = ?"), append(args, assignee.ID)
	}
	if prio, ok := PriorityID(a.Macro.Priority); ok && a.Macro.Priority != t.Priority {
		sets, args = append(sets, "priority = ?"), append(args, prio)
		if err := p.addEvent(ctx, number, actor.ID, fmt.Sprintf("%s changed the priority from %s to %s", actor.FullName(), t.Priority, a.Macro.Priority)); err != nil {
			return err
		}
	}
	if a.Macro.Group != 0 && a.Macro.Group != t.GroupID() {
		sets, args = append(sets, "group_id = ?"), append(args, a.Macro.Group)
	}
	if len(a.Macro.AddTags) > 0 {
		names := []string{}
		for _, g := range t.Tags {
			names = append(names, g.Name)
		}
		events, err := p.setTags(ctx, number, append(names, a.Macro.AddTags...), actor.FullName())
		if err != nil {
			return err
		}
		for _, ev := range events {
			if err := p.addEvent(ctx, number, actor.ID, ev); err != nil {
				return err
			}
		}
	}
	if _, err := p.q.Exec(ctx, "UPDATE tickets SET "+strings.Join(sets, ", ")+" WHERE id = ?", append(args, number)...); err != nil {
		return err
	}
	if actor.ID != 0 {
		if err := p.markRead(ctx, actor.ID, number, now); err != nil {
			return err
		}
	}
	if a.Macro.Group != 0 && a.Macro.Group != t.GroupID() && assignee == nil {
		var gname string
		_ = p.q.QueryRow(ctx, "SELECT name FROM groups WHERE id = ?", a.Macro.Group).Scan(&gname)
		if err := p.addEvent(ctx, number, actor.ID, fmt.Sprintf("%s moved the ticket to the group %s", actor.FullName(), gname)); err != nil {
			return err
		}
		if t.Assignee == nil || !p.isMember(ctx, a.Macro.Group, t.Assignee.ID) {
			st := t.Status.ID
			if a.ToStatus != 0 {
				st = a.ToStatus
			}
			if u, err := p.autoAssign(ctx, number, a.Macro.Group, st); err != nil {
				return err
			} else if u != nil {
				if err := p.notifyAssignedByGroup(ctx, number, a.Macro.Group, u); err != nil {
					return err
				}
			}
		}
	}
	if assignee != nil && assignee.ID != actor.ID {
		if err := p.notifyAssigned(ctx, number, t.Subject, assignee, actor.FullName()); err != nil {
			return err
		}
	}
	if err := p.actionMail(ctx, a, t, actor, comment, values); err != nil {
		return err
	}
	return p.slaUpdate(ctx, number)
}

// nullID is an id for a column that is NULL for nobody (0).
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// actionMail sends an action's mail, in each recipient's language (the
// portal's for an address), within the caller's transaction. An internal
// comment never reaches the client side.
func (p *Portal) actionMail(ctx context.Context, a *Action, t *Ticket, actor *User, comment string, values map[string]string) error {
	if len(a.Mail.To) == 0 {
		return nil
	}
	type rcpt struct {
		u      *User
		client bool
	}
	var to []rcpt
	seen := map[string]bool{}
	add := func(u *User, client bool) {
		if u != nil && u.Active && !seen[strings.ToLower(u.Email)] && u.ID != actor.ID {
			seen[strings.ToLower(u.Email)] = true
			to = append(to, rcpt{u, client})
		}
	}
	var cur struct{ assignee, group, status int64 }
	_ = p.q.QueryRow(ctx, "SELECT COALESCE(assignee_id, 0), COALESCE(group_id, 0), status_id FROM tickets WHERE id = ?", t.Number).Scan(&cur.assignee, &cur.group, &cur.status)
	for _, who := range a.Mail.To {
		switch who {
		case "client":
			c, err := p.UserByID(ctx, t.Client.ID)
			if err == nil {
				add(c, true)
			}
		case "participants":
			for _, pr := range t.Participants {
				if u, err := p.UserByID(ctx, pr.ID); err == nil {
					add(u, true)
				}
			}
		case "assignee", "group":
			staff, err := p.staff(ctx)
			if err != nil {
				return err
			}
			for _, u := range staff {
				ok := (who == "assignee" && u.ID == cur.assignee) || (who == "group" && cur.group != 0 && p.isMember(ctx, cur.group, u.ID))
				if ok && u.sees(cur.group, cur.status) {
					add(u, false)
				}
			}
		default:
			u := &User{Email: who, Active: true, Lang: p.Setting(ctx, "lang", "en")}
			add(u, true) // someone outside: as much as the client may know
		}
	}
	for _, r := range to {
		lang := r.u.Lang
		if lang == "" {
			lang = p.Setting(ctx, "lang", "en")
		}
		tpl, ok := a.Mail.Templates[lang]
		if !ok || tpl.Subject == "" {
			for _, l := range Languages {
				if x := a.Mail.Templates[l]; x.Subject != "" {
					tpl = x
					break
				}
			}
		}
		c := comment
		if a.Internal && r.client {
			c = "" // an internal note stays with the staff
		}
		pairs := []string{"{ticket.number}", strconv.FormatInt(t.Number, 10), "{ticket.subject}", t.Subject, "{ticket.link}", p.ticketLink(t.Number),
			"{client.name}", t.Client.Name, "{actor.name}", actor.FullName(), "{comment}", c}
		for k, v := range values {
			pairs = append(pairs, "{field."+k+"}", v)
		}
		fill := strings.NewReplacer(pairs...)
		if err := p.enqueue(ctx, "action", r.u, Line(fill.Replace(tpl.Subject)), fill.Replace(tpl.Body), t.Number, 0); err != nil {
			return err
		}
	}
	return nil
}

// actionByID is one action.
func (p *Portal) actionByID(ctx context.Context, id int64) (*Action, error) {
	all, err := p.Actions(ctx)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].ID == id {
			return &all[i], nil
		}
	}
	return nil, ErrNotFound
}

// Steps are the built-in steps as actor may take them on t: each step's
// name (as the admin named it) when allowed, absent when not.
func (p *Portal) Steps(ctx context.Context, actor *User, t *Ticket) map[string]string {
	all, _ := p.cachedActions(ctx)
	out := map[string]string{}
	for i := range all {
		if all[i].Builtin != "" && p.mayPerform(ctx, actor, &all[i], t) {
			out[all[i].Builtin] = all[i].Name
		}
	}
	return out
}

// mayStep reports whether actor may take built-in step on t (a portal
// without the step's row — never the case after migration — allows it).
func (p *Portal) mayStep(ctx context.Context, actor *User, step string, t *Ticket) bool {
	all, err := p.cachedActions(ctx)
	if err != nil {
		return false
	}
	i := slices.IndexFunc(all, func(a Action) bool { return a.Builtin == step })
	return i < 0 || p.mayPerform(ctx, actor, &all[i], t)
}

// cachedActions are the actions, kept in memory with the reference data:
// every reply asks whether its step is allowed.
func (p *Portal) cachedActions(ctx context.Context) ([]Action, error) {
	return p.ref.actions.get(p.DB, func() ([]Action, error) { return p.Actions(ctx) })
}
