package portal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Participants: clients of the portal a ticket's conversation includes
// besides its client — those in CC of a mail about it, or added by staff.
// They read the ticket and its public conversation, write in it and get
// its mail, as its client does; internal notes stay with the staff.

// MaxParticipants bounds the people in copy of one ticket.
const MaxParticipants = 20

// participates reports whether user takes part in ticket number's
// conversation besides its client.
func (p *Portal) participates(ctx context.Context, number, userID int64) bool {
	var one int
	return p.q.QueryRow(ctx, "SELECT 1 FROM participants WHERE ticket_id = ? AND user_id = ?", number, userID).Scan(&one) == nil
}

// participants lists the people in copy of ticket number.
func (p *Portal) participants(ctx context.Context, number int64) ([]Person, error) {
	rows, err := p.q.Query(ctx, `SELECT u.id, TRIM(u.name || ' ' || u.surname), u.email FROM participants pt JOIN users u ON u.id = pt.user_id
		WHERE pt.ticket_id = ? ORDER BY pt.added_at, u.id`, number)
	if err != nil {
		return nil, fmt.Errorf("store: participants of %d: %w", number, err)
	}
	defer rows.Close()
	var out []Person
	for rows.Next() {
		var pr Person
		if err := rows.Scan(&pr.ID, &pr.Name, &pr.Email); err != nil {
			return nil, err
		}
		out = append(out, pr)
	}
	return out, rows.Err()
}

// clientSide is who hears of a ticket as its client does: the client and
// the people in copy, active ones only.
func (p *Portal) clientSide(ctx context.Context, t *Ticket) ([]*User, error) {
	c, err := p.UserByID(ctx, t.Client.ID)
	if err != nil {
		return nil, err
	}
	out := []*User{c}
	for _, pr := range t.Participants {
		u, err := p.UserByID(ctx, pr.ID)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if u.Active {
			out = append(out, u)
		}
	}
	return out, nil
}

// includeCopied adds to ticket number the clients of the portal among a
// mail's other recipients (To and CC). Addresses that are nobody's here
// are left alone: a mail never registers the people it was copied to.
func (p *Portal) includeCopied(ctx context.Context, number int64, addrs []string) error {
	for _, a := range addrs {
		u, err := p.UserByEmail(ctx, a)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if u.Role != RoleClient || !u.Active {
			continue
		}
		if err := p.addParticipant(ctx, number, u.ID); err != nil && !errors.Is(err, errTooManyParticipants) {
			return err
		}
	}
	return nil
}

var errTooManyParticipants = errors.New("too many participants")

// addParticipant puts userID in copy of ticket number, unless they are its
// client or in copy already.
func (p *Portal) addParticipant(ctx context.Context, number, userID int64) error {
	var n int
	if err := p.q.QueryRow(ctx, "SELECT COUNT(*) FROM participants WHERE ticket_id = ?", number).Scan(&n); err != nil {
		return err
	}
	if n >= MaxParticipants {
		return errTooManyParticipants
	}
	_, err := p.q.Exec(ctx, `INSERT OR IGNORE INTO participants (ticket_id, user_id, added_at)
		SELECT id, ?, ? FROM tickets WHERE id = ? AND client_id <> ?`, userID, p.Now().Unix(), number, userID)
	return err
}

// AddParticipant puts a client of the portal, by address, in copy of a
// ticket: staff do, and the ticket's own client adds colleagues. The
// address must be an active client's.
func (p *Portal) AddParticipant(ctx context.Context, actor *User, number int64, email string) (*Person, error) {
	if err := p.writable(); err != nil {
		return nil, err
	}
	t, err := p.Ticket(ctx, actor, number)
	if err != nil {
		return nil, err
	}
	if !actor.IsStaff() && actor.ID != t.Client.ID {
		return nil, ErrForbidden // someone in copy does not invite more
	}
	field := func(msg string) error { return &FieldErrors{Fields: map[string]string{"email": msg}} }
	email = strings.TrimSpace(email)
	if email == "" {
		return nil, field("Enter the address of the person to put in copy.")
	}
	u, err := p.UserByEmail(ctx, email)
	fresh := errors.Is(err, ErrNotFound) // nobody's yet: they are invited
	switch {
	case fresh:
		local, _, _ := strings.Cut(email, "@")
		if r := []rune(local); len(r) > 100 {
			local = string(r[:100])
		}
		in := NewPerson{Name: Line(local), Email: email, Role: RoleClient}
		if errs := in.validate(); errs["email"] != "" {
			return nil, field(errs["email"])
		}
		var n int
		hourAgo := p.Now().Add(-time.Hour).Unix()
		if err := p.q.QueryRow(ctx, "SELECT COUNT(*) FROM users WHERE role = 'client' AND password_hash = '!' AND created_at > ?", hourAgo).Scan(&n); err != nil {
			return nil, err
		}
		if n >= MaxNewSendersPerHour {
			return nil, field("Too many new people this hour: try again later.")
		}
		u = &User{Email: in.Email, Name: in.Name, Role: RoleClient, Active: true}
	case err != nil:
		return nil, err
	case u.ID == t.Client.ID:
		return nil, field("This is the ticket's own client.")
	case !actor.IsStaff() && (u.Role != RoleClient || !u.Active):
		return nil, field("This address cannot be put in copy.") // a client learns nothing of who else is here
	case u.Role != RoleClient:
		return nil, field("Only clients are put in copy: staff see every ticket.")
	case !u.Active:
		return nil, field("This client's account is deactivated.")
	}
	err = p.Tx(ctx, func(tp *Portal) error {
		link := tp.ticketLink(number)
		if fresh {
			if err := tp.InsertUser(ctx, u, "!"); err != nil { // "!" matches no password: they set one with the link
				return err
			}
			var err error
			if link, err = tp.resetLink(ctx, u.ID, RegisteredByMailTTL); err != nil {
				return err
			}
		}
		if err := tp.addParticipant(ctx, number, u.ID); err != nil {
			return err
		}
		v := MailVars{Author: actor.FullName(), Number: number, Subject: t.Subject, Link: link}
		if err := tp.mailTo(ctx, MailAddedToCopy, u, v, number); err != nil {
			return err
		}
		return tp.addEvent(ctx, number, actor.ID, fmt.Sprintf("%s put %s in copy", actor.FullName(), u.FullName()))
	})
	if errors.Is(err, errTooManyParticipants) {
		return nil, field(fmt.Sprintf("At most %d people in copy.", MaxParticipants))
	}
	if err != nil {
		return nil, fmt.Errorf("store: add participant to %d: %w", number, err)
	}
	p.publish(t, false)
	return &Person{ID: u.ID, Name: u.FullName(), Email: u.Email}, nil
}

// RemoveParticipant takes someone out of copy of a ticket: staff, or the
// participant themselves.
func (p *Portal) RemoveParticipant(ctx context.Context, actor *User, number, userID int64) error {
	if !actor.IsStaff() && actor.ID != userID {
		return ErrForbidden
	}
	if err := p.writable(); err != nil {
		return err
	}
	t, err := p.Ticket(ctx, actor, number)
	if err != nil {
		return err
	}
	err = p.Tx(ctx, func(tp *Portal) error {
		var name string
		if err := tp.q.QueryRow(ctx, `SELECT TRIM(u.name || ' ' || u.surname) FROM participants pt JOIN users u ON u.id = pt.user_id
			WHERE pt.ticket_id = ? AND pt.user_id = ?`, number, userID).Scan(&name); err != nil {
			return ErrNotFound
		}
		if _, err := tp.q.Exec(ctx, "DELETE FROM participants WHERE ticket_id = ? AND user_id = ?", number, userID); err != nil {
			return err
		}
		if actor.ID == userID {
			return tp.addEvent(ctx, number, actor.ID, fmt.Sprintf("%s left the copy", name))
		}
		return tp.addEvent(ctx, number, actor.ID, fmt.Sprintf("%s took %s out of copy", actor.FullName(), name))
	})
	if err != nil {
		return err
	}
	p.publish(t, false)
	return nil
}
