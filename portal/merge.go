package portal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Merge and split. Merging puts one ticket's conversation, files, labour,
// people in copy and tags into another and leaves it closed, as a link
// there (a client who wrote it, if another, is put in copy so as to keep
// reading it); mail that answers it lands in the ticket it went into.
// Splitting makes a message a ticket of its own, with the message's files.

// MergeTicket merges ticket from into ticket into. Staff only; both must
// be open to them; a ticket merged already cannot be merged again.
func (p *Portal) MergeTicket(ctx context.Context, actor *User, from, into int64) (*Ticket, error) {
	if !actor.IsStaff() {
		return nil, ErrForbidden
	}
	if err := p.writable(); err != nil {
		return nil, err
	}
	src, err := p.Ticket(ctx, actor, from)
	if err != nil {
		return nil, err
	}
	field := func(msg string) error { return &FieldErrors{Fields: map[string]string{"into": msg}} }
	dst, err := p.Ticket(ctx, actor, into)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, field("No such ticket.")
	case err != nil:
		return nil, err
	case from == into:
		return nil, field("A ticket cannot be merged into itself.")
	case src.MergedInto != 0:
		return nil, field(fmt.Sprintf("This ticket was merged into #%d already.", src.MergedInto))
	case dst.MergedInto != 0:
		return nil, field(fmt.Sprintf("#%d was merged into #%d: merge into that one.", into, dst.MergedInto))
	}
	closed, err := p.firstClosedStatus(ctx)
	if err != nil {
		return nil, err
	}
	now := p.Now().Unix()
	err = p.Tx(ctx, func(tp *Portal) error {
		// The source's own words come first, as a message of its client.
		if _, err := tp.q.Exec(ctx, "INSERT INTO messages (ticket_id, author_id, kind, body, created_at) VALUES (?, ?, 'message', ?, ?)",
			into, src.Client.ID, fmt.Sprintf("#%d %s\n\n%s", from, src.Subject, src.Description), src.CreatedAt); err != nil {
			return err
		}
		for _, q := range []string{
			"UPDATE messages SET ticket_id = ? WHERE ticket_id = ?",
			"UPDATE attachments SET ticket_id = ? WHERE ticket_id = ?",
			"UPDATE work_entries SET ticket_id = ? WHERE ticket_id = ?",
			"UPDATE mail_ids SET ticket_id = ? WHERE ticket_id = ?",
			"UPDATE inbound SET ticket_id = ? WHERE ticket_id = ?",
			"INSERT OR IGNORE INTO participants (ticket_id, user_id, added_at) SELECT ?, user_id, added_at FROM participants WHERE ticket_id = ?",
			"INSERT OR IGNORE INTO ticket_tags (ticket_id, tag_id) SELECT ?, tag_id FROM ticket_tags WHERE ticket_id = ?",
		} {
			if _, err := tp.q.Exec(ctx, q, into, from); err != nil {
				return err
			}
		}
		if src.Client.ID != dst.Client.ID {
			if err := tp.addParticipant(ctx, into, src.Client.ID); err != nil && !errors.Is(err, errTooManyParticipants) {
				return err
			}
		}
		if _, err := tp.q.Exec(ctx, "DELETE FROM participants WHERE ticket_id = ?", from); err != nil {
			return err
		}
		// The counters follow what moved.
		if _, err := tp.q.Exec(ctx, `UPDATE tickets SET messages = (SELECT COUNT(*) FROM messages WHERE ticket_id = tickets.id AND kind <> 'event'),
			files = (SELECT COUNT(*) FROM attachments WHERE ticket_id = tickets.id), file_bytes = (SELECT COALESCE(SUM(size), 0) FROM attachments WHERE ticket_id = tickets.id),
			work = (SELECT COUNT(*) FROM work_entries WHERE ticket_id = tickets.id), updated_at = ?, last_activity_at = ? WHERE id IN (?, ?)`, now, now, from, into); err != nil {
			return err
		}
		if _, err := tp.q.Exec(ctx, "UPDATE tickets SET merged_into = ?, status_id = ?, closed_at = ? WHERE id = ?", into, closed.ID, now, from); err != nil {
			return err
		}
		if err := tp.addEvent(ctx, from, actor.ID, fmt.Sprintf("%s merged this ticket into #%d", actor.FullName(), into)); err != nil {
			return err
		}
		if err := tp.addEvent(ctx, into, actor.ID, fmt.Sprintf("%s merged #%d (%s) into this ticket", actor.FullName(), from, src.Subject)); err != nil {
			return err
		}
		for _, n := range []int64{from, into} {
			if err := tp.indexConversation(ctx, n); err != nil {
				return err
			}
			if err := tp.indexNotes(ctx, n); err != nil {
				return err
			}
			if err := tp.slaUpdate(ctx, n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: merge %d into %d: %w", from, into, err)
	}
	p.publish(src, false)
	p.publish(dst, false)
	return p.Ticket(ctx, actor, into)
}

// firstClosedStatus is where merged tickets go.
func (p *Portal) firstClosedStatus(ctx context.Context) (*Status, error) {
	sts, err := p.Statuses(ctx)
	if err != nil {
		return nil, err
	}
	for i := range sts {
		if sts[i].Closed {
			return &sts[i], nil
		}
	}
	return nil, &FieldErrors{Message: "The portal has no closed status to leave the merged ticket in."}
}

// SplitMessage makes a client's message of ticket number a ticket of its
// own: its writer's, in the same group, the message as its description,
// the message's files with it. Staff only. It returns the new ticket.
func (p *Portal) SplitMessage(ctx context.Context, actor *User, number, messageID int64, subject string) (*Ticket, error) {
	if !actor.IsStaff() {
		return nil, ErrForbidden
	}
	if err := p.writable(); err != nil {
		return nil, err
	}
	t, err := p.Ticket(ctx, actor, number)
	if err != nil {
		return nil, err
	}
	var body, kind string
	var author int64
	var created int64
	var role string
	err = p.q.QueryRow(ctx, "SELECT m.body, m.kind, COALESCE(m.author_id, 0), m.created_at, COALESCE(u.role, '') FROM messages m LEFT JOIN users u ON u.id = m.author_id WHERE m.id = ? AND m.ticket_id = ?",
		messageID, number).Scan(&body, &kind, &author, &created, &role)
	if err != nil || kind != KindMessage || role != RoleClient {
		return nil, &FieldErrors{Fields: map[string]string{"message": "Choose a client's message of this ticket."}}
	}
	subject = strings.TrimSpace(Line(subject))
	if subject == "" {
		subject = t.Subject
	}
	if utf8.RuneCountInString(subject) > 200 {
		return nil, &FieldErrors{Fields: map[string]string{"subject": "At most 200 characters."}}
	}
	now := p.Now().Unix()
	var fresh int64
	err = p.Tx(ctx, func(tp *Portal) error {
		// The new ticket is its writer's: the ticket's client, or someone
		// in copy who wrote it.
		res, err := tp.q.Exec(ctx, `INSERT INTO tickets (subject, description, client_id, status_id, priority, created_at, updated_at, last_activity_at, source, group_id)
			SELECT ?, ?, ?, (SELECT id FROM statuses ORDER BY initial DESC, position LIMIT 1), priority, ?, ?, ?, source, group_id FROM tickets WHERE id = ?`,
			subject, body, author, created, now, now, number)
		if err != nil {
			return err
		}
		fresh, _ = res.LastInsertId()
		if _, err := tp.q.Exec(ctx, "UPDATE attachments SET ticket_id = ?, message_id = NULL WHERE message_id = ?", fresh, messageID); err != nil {
			return err
		}
		if _, err := tp.q.Exec(ctx, "DELETE FROM messages WHERE id = ?", messageID); err != nil {
			return err
		}
		if _, err := tp.q.Exec(ctx, `UPDATE tickets SET messages = (SELECT COUNT(*) FROM messages WHERE ticket_id = tickets.id AND kind <> 'event'),
			files = (SELECT COUNT(*) FROM attachments WHERE ticket_id = tickets.id), file_bytes = (SELECT COALESCE(SUM(size), 0) FROM attachments WHERE ticket_id = tickets.id),
			updated_at = ?, last_activity_at = ? WHERE id IN (?, ?)`, now, now, number, fresh); err != nil {
			return err
		}
		if err := tp.addEvent(ctx, number, actor.ID, fmt.Sprintf("%s split a message off into #%d", actor.FullName(), fresh)); err != nil {
			return err
		}
		if err := tp.addEvent(ctx, fresh, actor.ID, fmt.Sprintf("%s split this ticket off #%d", actor.FullName(), number)); err != nil {
			return err
		}
		for _, n := range []int64{number, fresh} {
			if err := tp.indexConversation(ctx, n); err != nil {
				return err
			}
			if err := tp.slaUpdate(ctx, n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: split %d: %w", number, err)
	}
	p.ticketsChanged(1)
	p.publish(t, false)
	return p.Ticket(ctx, actor, fresh)
}
