package portal

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"portaldesk/portal/sqlitedb"
)

// Entry kinds of a ticket's timeline.
const (
	KindMessage = "message"
	KindNote    = "note"
	KindEvent   = "event"
)

// Entry is one item of a ticket's timeline.
type Entry struct {
	ID          int64         `json:"id"`
	Kind        string        `json:"kind"`
	Author      *Person       `json:"author"`
	AuthorRole  string        `json:"author_role,omitempty"`
	Body        string        `json:"body"`
	CreatedAt   int64         `json:"created_at"`
	Attachments []*Attachment `json:"attachments,omitempty"`
	// Channel is the messenger a message came from or went to the client
	// by (telegram, vk); "" for the portal and mail.
	Channel string `json:"channel,omitempty"`
}

// Internal reports whether the entry is an internal note.
func (e *Entry) Internal() bool { return e.Kind == KindNote }

// Timeline is a ticket's messages, events and — for staff only — internal notes.
// Like Attachments, it expects the caller to have checked that actor may
// see the ticket.
func (p *Portal) Timeline(ctx context.Context, actor *User, number int64) ([]*Entry, error) {
	atts, err := p.Attachments(ctx, actor, number)
	if err != nil {
		return nil, err
	}
	tl, _, err := p.timeline(ctx, actor, number, atts, 0)
	return tl, err
}

// TimelineShown is how many of its latest entries a ticket page opens
// with; a longer conversation offers the rest behind a link. The page of
// a ticket that grew to thousands of entries (a mail loop, a chatty
// client) stays a page, not megabytes.
const TimelineShown = 50

// timeline is Timeline with the ticket's attachments (as Attachments
// returns them for actor) already read. With limit > 0 it reads only the
// latest limit entries, and earlier says whether there are more.
func (p *Portal) timeline(ctx context.Context, actor *User, number int64, atts []*Attachment, limit int) (out []*Entry, earlier bool, err error) {
	// Authors are looked up in the people kept in memory (refcache.go)
	// rather than joined: a long conversation has a handful of authors,
	// and each joined row cost a lookup and three more columns.
	q := `SELECT m.id, m.kind, m.body, m.created_at, COALESCE(m.author_id, 0), m.channel FROM messages m WHERE m.ticket_id = ?`
	if !actor.IsStaff() {
		q += " AND m.kind <> 'note'"
	}
	args := []any{number}
	if limit > 0 {
		q += " ORDER BY m.id DESC LIMIT ?"
		args = append(args, limit+1)
	} else {
		q += " ORDER BY m.id"
	}
	rows, err := p.q.Query(ctx, q, args...)
	if err != nil {
		return nil, false, fmt.Errorf("store: timeline %d: %w", number, err)
	}
	defer rows.Close()
	byID := map[int64]*Entry{}
	authors := map[int64]*User{}
	for rows.Next() {
		e := &Entry{}
		var aID int64
		if err := rows.Scan(&e.ID, &e.Kind, &e.Body, &e.CreatedAt, &aID, &e.Channel); err != nil {
			return nil, false, err
		}
		if aID != 0 {
			e.Author = &Person{ID: aID}
			authors[aID] = nil
		}
		out = append(out, e)
		byID[e.ID] = e
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	rows.Close()
	if limit > 0 {
		if len(out) > limit {
			earlier, out = true, out[:limit]
		}
		slices.Reverse(out)
	}
	if err := p.people(ctx, authors); err != nil {
		return nil, false, err
	}
	for _, e := range out {
		if e.Author == nil {
			continue
		}
		if u := authors[e.Author.ID]; u != nil {
			e.Author.Name, e.AuthorRole = u.FullName(), u.Role
		} else {
			e.Author = nil // no such user: as a left join gave
		}
	}
	for _, a := range atts {
		if e := byID[a.MessageID]; e != nil {
			e.Attachments = append(e.Attachments, a)
		}
	}
	return out, earlier, nil
}

// PostMessage adds a message (or, for staff, an internal note) to a ticket.
func (p *Portal) PostMessage(ctx context.Context, actor *User, number int64, body string, internal bool) (*Entry, error) {
	return p.PostMessageFiles(ctx, actor, number, body, internal, nil)
}

// PostMessageFiles is PostMessage with files: the message and all its
// files are kept together, or nothing is. Its mail carries the files.
func (p *Portal) PostMessageFiles(ctx context.Context, actor *User, number int64, body string, internal bool, files *Files) (*Entry, error) {
	return p.PostMessageVia(ctx, actor, number, body, internal, files, "")
}

// ViaEmail is PostMessageVia's via for a staff reply that goes to the
// client by mail, though they wrote from a messenger.
const ViaEmail = "email"

// PostMessageVia is PostMessageFiles with the way the message travels: for
// a client's message, the messenger it came from ("" the portal or mail),
// which is where the client's side hears of the ticket from now on; for a
// staff reply, ViaEmail to mail it though the client wrote from a
// messenger ("" follows the ticket's channel).
func (p *Portal) PostMessageVia(ctx context.Context, actor *User, number int64, body string, internal bool, files *Files, via string) (*Entry, error) {
	defer files.Discard()
	if err := p.writable(); err != nil {
		return nil, err
	}
	t, err := p.Ticket(ctx, actor, number)
	if err != nil {
		return nil, err
	}
	if internal && !actor.IsStaff() {
		return nil, ErrForbidden
	}
	step := StepReply
	if internal {
		step = StepNote
	}
	if !p.mayStep(ctx, actor, step, t) {
		return nil, &FieldErrors{Message: "This step is not open to you in the ticket's status.", Fields: map[string]string{"body": "This step is not open to you in the ticket's status."}}
	}
	body = strings.TrimRight(Text(body), " \t\r\n")
	switch n := utf8.RuneCountInString(strings.TrimSpace(body)); {
	case n == 0:
		return nil, &FieldErrors{Fields: map[string]string{"body": "Write a message."}}
	case n > maxTextareaRunes:
		return nil, &FieldErrors{Fields: map[string]string{"body": fmt.Sprintf("At most %d characters.", maxTextareaRunes)}}
	}
	kind := KindMessage
	if internal {
		kind = KindNote
	}
	now := p.Now().Unix()
	e := &Entry{Kind: kind, Body: body, CreatedAt: now, Author: &Person{ID: actor.ID, Name: actor.FullName()}, AuthorRole: actor.Role}
	switch {
	case internal:
	case !actor.IsStaff():
		e.Channel = via
	case via != ViaEmail:
		e.Channel = t.Channel
	}
	err = p.Tx(ctx, func(tp *Portal) error {
		res, err := tp.q.Exec(ctx, "INSERT INTO messages (ticket_id, author_id, kind, body, created_at, channel) VALUES (?, ?, ?, ?, ?, ?)", number, actor.ID, kind, body, now, e.Channel)
		if err != nil {
			return err
		}
		e.ID, _ = res.LastInsertId()
		if !actor.IsStaff() && actor.ID == t.Client.ID && via != t.Channel {
			// The client's side hears of the ticket where the client wrote last.
			if _, err := tp.q.Exec(ctx, "UPDATE tickets SET channel = ? WHERE id = ?", via, number); err != nil {
				return err
			}
		}
		if err := tp.indexEntry(ctx, number, kind); err != nil {
			return err
		}
		firstResponse := actor.IsStaff() && !internal
		if _, err := tp.q.Exec(ctx, `UPDATE tickets SET messages = messages + 1, updated_at = ?, last_activity_at = ?,
			first_response_at = CASE WHEN ? AND first_response_at IS NULL THEN ? ELSE first_response_at END WHERE id = ?`,
			now, now, firstResponse, now, number); err != nil {
			return err
		}
		if err := tp.markRead(ctx, actor.ID, number, now); err != nil {
			return err
		}
		if e.Attachments, err = files.attach(ctx, tp, actor, number, e.ID, internal, now); err != nil {
			return err
		}
		if !internal {
			if err := tp.reopenOnReply(ctx, t, actor, now); err != nil {
				return err
			}
			if err := tp.slaUpdate(ctx, number); err != nil { // a first answer, a reopened ticket
				return err
			}
			if _, err := tp.runTriggers(ctx, OnMessage, number, body, actor); err != nil {
				return err
			}
		}
		event := HookMessage
		if internal {
			event = HookNote // only to endpoints that asked for notes
		}
		if err := tp.emitTicket(ctx, event, number, func(h *HookTicket) {
			h.Message = &HookEntry{ID: e.ID, Body: body, Internal: internal, Author: e.Author, CreatedAt: now}
		}); err != nil {
			return err
		}
		return tp.notifyMessage(ctx, t, actor, e)
	})
	if err != nil {
		return nil, fmt.Errorf("store: post message on %d: %w", number, err)
	}
	files.keep()
	p.kickOutbox()
	p.publish(t, internal)
	return e, nil
}

// NewerMessage reports whether someone other than actor wrote on ticket
// number after entry after (a message, or a note for staff): a reply
// written meanwhile should be read before sending.
func (p *Portal) NewerMessage(ctx context.Context, actor *User, number, after int64) (bool, error) {
	if _, err := p.Ticket(ctx, actor, number); err != nil {
		return false, err
	}
	kinds := "kind = 'message'"
	if actor.IsStaff() {
		kinds = "kind IN ('message', 'note')"
	}
	var one int
	err := p.q.QueryRow(ctx, "SELECT 1 FROM messages WHERE ticket_id = ? AND id > ? AND "+kinds+" AND (author_id IS NULL OR author_id <> ?) LIMIT 1", number, after, actor.ID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// addEvent writes a line of the ticket's history (who changed what), in
// English: the page translates it for its reader.
// actorID 0: the portal did it by itself.
func (p *Portal) addEvent(ctx context.Context, number, actorID int64, text string) error {
	var author any
	if actorID != 0 {
		author = actorID
	}
	_, err := p.q.Exec(ctx, "INSERT INTO messages (ticket_id, author_id, kind, body, created_at) VALUES (?, ?, 'event', ?, ?)", number, author, text, p.Now().Unix())
	return err
}

func (p *Portal) markRead(ctx context.Context, userID, number, now int64) error {
	_, err := p.q.Exec(ctx, "INSERT INTO reads (user_id, ticket_id, seen_at) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET seen_at = excluded.seen_at", userID, number, now)
	return err
}

// MarkRead records that a staff member has seen the ticket as it is now.
// Seeing it again with nothing new writes nothing: a read answers that, so
// the most common page of the product stays a read.
func (p *Portal) MarkRead(ctx context.Context, actor *User, t *Ticket) error {
	if !actor.IsStaff() || p.Plan().State == StateReadOnly {
		return nil
	}
	seen := int64(-1)
	if err := p.q.QueryRow(ctx, "SELECT seen_at FROM reads WHERE user_id = ? AND ticket_id = ?", actor.ID, t.Number).Scan(&seen); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	return p.markSeen(ctx, actor, t, seen)
}

// markSeen is MarkRead when the caller has read seen, when actor last saw
// the ticket (-1: never).
func (p *Portal) markSeen(ctx context.Context, actor *User, t *Ticket, seen int64) error {
	if !actor.IsStaff() || p.Plan().State == StateReadOnly || seen >= t.LastActivityAt {
		return nil
	}
	_, err := p.q.Exec(ctx, "INSERT INTO reads (user_id, ticket_id, seen_at) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET seen_at = excluded.seen_at WHERE seen_at < excluded.seen_at",
		actor.ID, t.Number, max(t.LastActivityAt, p.Now().Unix()))
	return err
}

// TicketChange is what staff may change on a ticket; nil leaves a part as it is.
type TicketChange struct {
	Status   *string // id or name
	Priority *string
	Assignee *int64    // 0 unassigns
	Group    *string   // a group's id or name; "" or "none" takes it out of its group
	Tags     *[]string // the ticket's tags, all of them (new ones are made)
	// ExternalID is an integration's id for the ticket ("" clears it); it
	// changes no activity and tells nobody.
	ExternalID *string
}

// UpdateTicket changes status, priority or assignee, recording each change
// in the timeline. Only staff may; any operator may take or delegate.
func (p *Portal) UpdateTicket(ctx context.Context, actor *User, number int64, ch TicketChange) (*Ticket, error) {
	if !actor.IsStaff() {
		if _, err := p.Ticket(ctx, actor, number); err != nil {
			return nil, err
		}
		return nil, ErrForbidden
	}
	t, err := p.Ticket(ctx, actor, number)
	if err != nil {
		return nil, err
	}
	errs := map[string]string{}
	var events []string
	sets := []string{}
	var args []any
	now := p.Now().Unix()
	var newStatus *Status
	if ch.Status != nil {
		st, err := p.FindStatus(ctx, *ch.Status)
		if err != nil {
			errs["status"] = "Unknown status."
		} else if st.ID != t.Status.ID && st.Closed && !p.mayStep(ctx, actor, StepClose, t) {
			errs["status"] = "Closing is not open to you in the ticket's status."
		} else if st.ID != t.Status.ID {
			newStatus = st
			sets = append(sets, "status_id = ?", "closed_at = ?")
			var closed any
			if st.Closed {
				closed = now
			}
			args = append(args, st.ID, closed)
			events = append(events, fmt.Sprintf("%s changed the status from %s to %s", actor.FullName(), t.Status.Name, st.Name))
		}
	}
	if ch.Priority != nil {
		prio, ok := PriorityID(*ch.Priority)
		if !ok {
			errs["priority"] = "Choose low, normal, high or urgent."
		} else if Priorities[prio] != t.Priority {
			sets = append(sets, "priority = ?")
			args = append(args, prio)
			events = append(events, fmt.Sprintf("%s changed the priority from %s to %s", actor.FullName(), t.Priority, Priorities[prio]))
		}
	}
	group := t.GroupID()
	groupChanged := false
	if ch.Group != nil {
		id, name, err := p.findGroup(ctx, *ch.Group)
		switch {
		case err != nil:
			errs["group"] = "Unknown group."
		case id != group:
			groupChanged, group = true, id
			if id == 0 {
				sets = append(sets, "group_id = NULL")
				events = append(events, fmt.Sprintf("%s took the ticket out of the group %s", actor.FullName(), t.Group.Name))
			} else {
				sets = append(sets, "group_id = ?")
				args = append(args, id)
				events = append(events, fmt.Sprintf("%s moved the ticket to the group %s", actor.FullName(), name))
			}
		}
	}
	status := t.Status.ID
	if newStatus != nil {
		status = newStatus.ID
	}
	var newAssignee *User
	if ch.Assignee != nil {
		cur := int64(0)
		if t.Assignee != nil {
			cur = t.Assignee.ID
		}
		switch {
		case *ch.Assignee == cur:
		case *ch.Assignee == 0:
			sets = append(sets, "assignee_id = NULL")
			events = append(events, fmt.Sprintf("%s unassigned the ticket", actor.FullName()))
		default:
			u, err := p.UserByID(ctx, *ch.Assignee)
			if err != nil || !u.IsStaff() || !u.Active {
				errs["assignee"] = "Choose an active operator."
				break
			}
			if !p.mayStep(ctx, actor, StepAssign, t) {
				errs["assignee"] = "Assigning is not open to you in the ticket's status."
				break
			}
			if !u.sees(group, status) {
				errs["assignee"] = "This operator does not work this group's or status's tickets."
				break
			}
			newAssignee = u
			sets = append(sets, "assignee_id = ?")
			args = append(args, u.ID)
			switch {
			case u.ID == actor.ID && cur == 0:
				events = append(events, fmt.Sprintf("%s took the ticket", actor.FullName()))
			case u.ID == actor.ID:
				events = append(events, fmt.Sprintf("%s took the ticket over from %s", actor.FullName(), t.Assignee.Name))
			case cur == 0:
				events = append(events, fmt.Sprintf("%s assigned the ticket to %s", actor.FullName(), u.FullName()))
			default:
				events = append(events, fmt.Sprintf("%s delegated the ticket from %s to %s", actor.FullName(), t.Assignee.Name, u.FullName()))
			}
		}
	}
	var extID *string
	extChanged := false
	if ch.ExternalID != nil {
		v, msg := externalID(*ch.ExternalID)
		switch {
		case msg != "":
			errs["external_id"] = msg
		case (v == nil && t.ExternalID != "") || (v != nil && *v != t.ExternalID):
			extID, extChanged = v, true
		}
	}
	if len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	if newAssignee != nil && newStatus == nil && t.Status.Initial {
		// Taken: the ticket is being worked on (Workflow.TakeStatus).
		if to := p.Workflow(ctx).TakeStatus; to != 0 && to != t.Status.ID {
			if st, err := p.StatusByID(ctx, to); err == nil {
				newStatus = st
				sets = append(sets, "status_id = ?", "closed_at = ?")
				args = append(args, st.ID, nil)
				events = append(events, fmt.Sprintf("%s changed the status from %s to %s", actor.FullName(), t.Status.Name, st.Name))
			}
		}
	}
	if len(sets) == 0 && ch.Tags == nil && !extChanged {
		return t, nil
	}
	err = p.Tx(ctx, func(tp *Portal) error {
		events := slices.Clone(events)
		if extChanged {
			_, err := tp.q.Exec(ctx, "UPDATE tickets SET external_id = ?, updated_at = ? WHERE id = ?", extID, now, number)
			if sqlitedb.IsUniqueViolation(err) {
				return &FieldErrors{Fields: map[string]string{"external_id": "Another ticket has this external id."}}
			}
			if err != nil {
				return err
			}
		}
		if ch.Tags != nil {
			tagEvents, err := tp.setTags(ctx, number, *ch.Tags, actor.FullName())
			if err != nil {
				return err
			}
			events = append(events, tagEvents...)
		}
		if len(events) == 0 && len(sets) == 0 {
			if extChanged {
				return nil // only the integration's id: no activity, nobody told
			}
			return errNothingChanged
		}
		sets = append(sets, "updated_at = ?", "last_activity_at = ?")
		args = append(args, now, now, number)
		if _, err := tp.q.Exec(ctx, "UPDATE tickets SET "+strings.Join(sets, ", ")+" WHERE id = ?", args...); err != nil {
			return err
		}
		for _, ev := range events {
			if err := tp.addEvent(ctx, number, actor.ID, ev); err != nil {
				return err
			}
		}
		if err := tp.markRead(ctx, actor.ID, number, now); err != nil {
			return err
		}
		if err := tp.notifyChange(ctx, t, actor, newStatus, newAssignee); err != nil {
			return err
		}
		if err := tp.emitTicket(ctx, HookTicketUpdated, number, func(h *HookTicket) { h.Change = events }); err != nil {
			return err
		}
		if newStatus != nil {
			if err := tp.emitTicket(ctx, HookStatusChanged, number, func(h *HookTicket) { h.From = t.Status.Name }); err != nil {
				return err
			}
		}
		if newAssignee != nil {
			if err := tp.emitTicket(ctx, HookAssigned, number, nil); err != nil {
				return err
			}
		}
		if err := tp.slaUpdate(ctx, number); err != nil { // a new status, priority or group moves the clocks
			return err
		}
		if _, err := tp.runTriggers(ctx, OnUpdate, number, t.Description, actor); err != nil {
			return err
		}
		if groupChanged && group != 0 && ch.Assignee == nil && (t.Assignee == nil || !tp.isMember(ctx, group, t.Assignee.ID)) {
			// Into a group that assigns by itself: one of its members takes
			// it over from someone outside the group.
			a, err := tp.autoAssign(ctx, number, group, status)
			if err != nil || a == nil {
				return err
			}
			return tp.notifyAssignedByGroup(ctx, number, group, a)
		}
		return nil
	})
	if errors.Is(err, errNothingChanged) {
		return t, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: update ticket %d: %w", number, err)
	}
	p.kickOutbox()
	p.publish(t, false)
	// Moved out of what the actor may see, the change is still theirs to be
	// told of: the ticket as it is now, read without their limits.
	return p.Ticket(ctx, actor.unlimited(), number)
}

// errNothingChanged ends a change's transaction that turned out to change
// nothing (the tags asked for are the ticket's already).
var errNothingChanged = errors.New("nothing changed")

// MaxBulk bounds how many tickets one bulk change touches.
const MaxBulk = 200

// UpdateTickets applies one change to several tickets, all or none: each
// ticket gets its own timeline events and notifications, as if changed
// alone, and a ticket that refuses the change (gone, or an invalid value)
// rolls every other back. It returns how many tickets changed.
func (p *Portal) UpdateTickets(ctx context.Context, actor *User, numbers []int64, ch TicketChange) (int, error) {
	if !actor.IsStaff() {
		return 0, ErrForbidden
	}
	seen := map[int64]bool{}
	var list []int64
	for _, n := range numbers {
		if n > 0 && !seen[n] {
			seen[n] = true
			list = append(list, n)
		}
	}
	switch {
	case len(list) == 0:
		return 0, &FieldErrors{Fields: map[string]string{"tickets": "Choose at least one ticket."}}
	case len(list) > MaxBulk:
		return 0, &FieldErrors{Fields: map[string]string{"tickets": fmt.Sprintf("Choose at most %d tickets at once.", MaxBulk)}}
	case ch.Status == nil && ch.Priority == nil && ch.Assignee == nil:
		return 0, &FieldErrors{Fields: map[string]string{"change": "Choose a status, a priority or an assignee."}}
	}
	changed := 0
	err := p.Tx(ctx, func(tp *Portal) error {
		changed = 0
		for _, n := range list {
			before, err := tp.Ticket(ctx, actor, n)
			if errors.Is(err, ErrNotFound) {
				return &FieldErrors{Fields: map[string]string{"tickets": fmt.Sprintf("There is no ticket #%d.", n)}}
			} else if err != nil {
				return err
			}
			after, err := tp.UpdateTicket(ctx, actor, n, ch)
			if err != nil {
				return err
			}
			if after.Status.ID != before.Status.ID || after.Priority != before.Priority || assigneeOf(after) != assigneeOf(before) {
				changed++
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return changed, nil
}

func assigneeOf(t *Ticket) int64 {
	if t.Assignee == nil {
		return 0
	}
	return t.Assignee.ID
}

// DeleteTicket removes a ticket with its messages and files (admins only).
func (p *Portal) DeleteTicket(ctx context.Context, actor *User, number int64) error {
	t, err := p.Ticket(ctx, actor, number)
	if err != nil {
		return err
	}
	if actor.Role != RoleAdmin || !p.mayStep(ctx, actor, StepDelete, t) {
		return ErrForbidden
	}
	var paths []string
	err = p.Tx(ctx, func(tp *Portal) error {
		rows, err := tp.q.Query(ctx, "SELECT path FROM attachments WHERE ticket_id = ?", number)
		if err != nil {
			return err
		}
		for rows.Next() {
			var s string
			rows.Scan(&s)
			paths = append(paths, s)
		}
		rows.Close()
		if err := tp.unindexTicket(ctx, number); err != nil {
			return err
		}
		res, err := tp.q.Exec(ctx, "DELETE FROM tickets WHERE id = ?", number)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		_, err = tp.q.Exec(ctx, "DELETE FROM reads WHERE ticket_id = ?", number)
		return err
	})
	if err != nil {
		return err
	}
	p.ticketsChanged(-1)
	for _, path := range paths {
		_ = p.Fs.Remove(path)
	}
	_, _ = p.DB.Writer().ExecContext(ctx, "PRAGMA incremental_vacuum")
	return nil
}

// TicketView is a ticket as its page shows it to one person.
type TicketView struct {
	Ticket   *Ticket
	Timeline []*Entry // the latest entries, oldest first
	Earlier  bool     // the conversation has entries before Timeline
	Files    []*Attachment
	Work     *TicketWork
	Rating   *Rating     // nil until a closed ticket is rated
	Client   *ClientCard // staff only
}

// ClientCard is what staff see of a ticket's client beside the
// conversation: how to reach them and what else they have asked.
type ClientCard struct {
	Email   string    `json:"email"`
	Tickets int       `json:"tickets"` // all of the client's tickets, this one included
	Recent  []*Ticket `json:"recent"`  // up to five others, latest activity first: number, subject, status, activity
	// What staff keep about the client and their organisation.
	Organization *OrgRef            `json:"organization,omitempty"`
	ExternalID   string             `json:"external_id,omitempty"`
	Fields       []RecordFieldValue `json:"fields,omitempty"`
	OrgFields    []RecordFieldValue `json:"organization_fields,omitempty"`
	// FieldValues are the client's fields by name, for the form that edits them.
	FieldValues map[string]string `json:"-"`
}

// clientCard reads the card of ticket t's client: two small reads of the
// client's index.
func (p *Portal) clientCard(ctx context.Context, actor *User, t *Ticket) (*ClientCard, error) {
	c := &ClientCard{}
	scope := ""
	if s := actor.scopeSQL(); s != "" {
		scope = " AND " + s // a limited operator hears only of what they may see
	}
	var org OrgRef
	var fields, orgFields string
	if err := p.q.QueryRow(ctx, `SELECT u.email, (SELECT COUNT(*) FROM tickets t WHERE t.client_id = u.id`+scope+`),
		COALESCE(u.org_id, 0), COALESCE(o.name, ''), u.fields, COALESCE(o.fields, '{}'), COALESCE(u.external_id, '')
		FROM users u LEFT JOIN organizations o ON o.id = u.org_id WHERE u.id = ?`, t.Client.ID).Scan(&c.Email, &c.Tickets, &org.ID, &org.Name, &fields, &orgFields, &c.ExternalID); err != nil {
		return nil, fmt.Errorf("store: client card: %w", err)
	}
	if org.ID != 0 {
		c.Organization = &org
	}
	c.FieldValues = map[string]string{}
	_ = json.Unmarshal([]byte(fields), &c.FieldValues)
	if defs, err := p.RecordFields(ctx, TargetClient, false); err == nil {
		c.Fields = recordValues(defs, c.FieldValues)
	}
	if org.ID != 0 && orgFields != "{}" {
		vals := map[string]string{}
		_ = json.Unmarshal([]byte(orgFields), &vals)
		if defs, err := p.RecordFields(ctx, TargetOrg, false); err == nil {
			c.OrgFields = recordValues(defs, vals)
		}
	}
	if c.Tickets < 2 {
		return c, nil
	}
	rows, err := p.q.Query(ctx, "SELECT t.id, t.subject, t.status_id, t.last_activity_at FROM tickets t WHERE t.client_id = ? AND t.id <> ?"+scope+" ORDER BY t.last_activity_at DESC LIMIT 5", t.Client.ID, t.Number)
	if err != nil {
		return nil, fmt.Errorf("store: client card: %w", err)
	}
	defer rows.Close()
	var status []int64
	for rows.Next() {
		o := &Ticket{}
		var st int64
		if err := rows.Scan(&o.Number, &o.Subject, &st, &o.LastActivityAt); err != nil {
			return nil, err
		}
		c.Recent, status = append(c.Recent, o), append(status, st)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Statuses only once the rows are closed: reading them may take a
	// connection of its own, and a request must never hold one while it
	// waits for another (a full pool would wait forever).
	rows.Close()
	for i, o := range c.Recent {
		if st, err := p.StatusByID(ctx, status[i]); err == nil {
			o.Status = *st
		}
	}
	return c, nil
}

// ViewTicket reads what ticket number's page shows actor — with limit > 0
// only the latest limit entries of its conversation — and records that
// staff have seen it as it is. The ticket is checked once; its parts are
// read only when it has them: a rating only a closed ticket can have,
// work and files only when it counts some.
func (p *Portal) ViewTicket(ctx context.Context, actor *User, number int64, limit int) (*TicketView, error) {
	t, seen, err := p.ticketSeen(ctx, actor, number)
	if err != nil {
		return nil, err
	}
	v := &TicketView{Ticket: t, Work: &TicketWork{Entries: []WorkEntry{}}}
	if t.Status.Closed {
		if v.Rating, err = p.rating(ctx, number); err != nil {
			return nil, err
		}
	}
	if t.work > 0 {
		if v.Work, err = p.workOn(ctx, actor, number); err != nil {
			return nil, err
		}
	}
	var atts []*Attachment
	if t.Files > 0 {
		if atts, err = p.Attachments(ctx, actor, number); err != nil {
			return nil, err
		}
	}
	if v.Timeline, v.Earlier, err = p.timeline(ctx, actor, number, atts, limit); err != nil {
		return nil, err
	}
	for _, a := range atts {
		if a.MessageID == 0 {
			v.Files = append(v.Files, a)
		}
	}
	if actor.IsStaff() {
		if v.Client, err = p.clientCard(ctx, actor, t); err != nil {
			return nil, err
		}
	}
	_ = p.markSeen(ctx, actor, t, seen)
	return v, nil
}
