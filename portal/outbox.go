package portal

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Notification kinds, each of which a user may switch off in the cabinet.
const (
	NotifyNewTicket  = "new_ticket"
	NotifyMessage    = "message"
	NotifyStatus     = "status"
	NotifyAssignment = "assignment"
)

// NotifyKinds lists the kinds with their labels for the cabinet.
var NotifyKinds = []struct{ ID, Label string }{
	{NotifyNewTicket, "A new ticket is created (operators)"},
	{NotifyMessage, "A new message on my ticket"},
	{NotifyStatus, "The status of my ticket changes"},
	{NotifyAssignment, "A ticket is assigned to me (operators)"},
}

// Mail is one queued message of the outbox.
type Mail struct {
	ID        int64  `json:"id"`
	Kind      string `json:"kind"`
	To        string `json:"to"`
	ToName    string `json:"to_name"`
	Subject   string `json:"subject"`
	Text      string `json:"text"`
	MessageID string `json:"message_id"`
	TicketID  int64  `json:"ticket,omitempty"`
	State     string `json:"state"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error,omitempty"`
	CreatedAt int64  `json:"created_at"`
	SentAt    int64  `json:"sent_at,omitempty"`
}

func (p *Portal) kickOutbox() {
	if p.OnOutbox != nil {
		p.OnOutbox()
	}
}

// enqueue writes a message into the outbox within the caller's transaction.
func (p *Portal) enqueue(ctx context.Context, tx *sql.Tx, kind string, to *User, subject, text string, ticket int64) error {
	now := p.Now()
	msgID := fmt.Sprintf("<%s.%d.%s@portaldesk>", p.Slug, now.UnixNano(), newFilePath()[3:15])
	var tid any
	if ticket != 0 {
		tid = ticket
	}
	_, err := p.DB.TxExec(ctx, tx, `INSERT INTO outbox (kind, to_addr, to_name, subject, text_body, message_id, ticket_id, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		kind, to.Email, to.FullName(), subject, text, msgID, tid, now.Unix(), now.Unix())
	return err
}

// wants reports whether u has kind of notification switched on.
func (p *Portal) wants(ctx context.Context, u *User, kind string) bool {
	if !u.Active {
		return false
	}
	prefs := p.NotifyPrefs(ctx, u)
	return prefs[kind]
}

// NotifyPrefs is the user's choices, over the portal's defaults.
func (p *Portal) NotifyPrefs(ctx context.Context, u *User) map[string]bool {
	prefs := map[string]bool{NotifyNewTicket: true, NotifyMessage: true, NotifyStatus: true, NotifyAssignment: true}
	_ = json.Unmarshal([]byte(p.Setting(ctx, "notify_defaults", "{}")), &prefs)
	var own string
	if err := p.DB.QueryRow(ctx, "SELECT notify FROM users WHERE id = ?", u.ID).Scan(&own); err == nil {
		_ = json.Unmarshal([]byte(own), &prefs)
	}
	return prefs
}

func (p *Portal) staff(ctx context.Context) ([]*User, error) {
	rows, err := p.DB.Query(ctx, "SELECT "+userCols+" FROM users WHERE role IN ('admin', 'operator') AND active = 1 ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

func (p *Portal) ticketLink(number int64) string {
	return fmt.Sprintf("%stickets/%d", p.URL, number)
}

func (p *Portal) company() string { return p.Plan().Company }

func ticketSubject(number int64, subject string) string {
	return fmt.Sprintf("[#%d] %s", number, subject)
}

func (p *Portal) notifyNewTicket(ctx context.Context, tx *sql.Tx, number int64, subject, description string, clientID int64) error {
	if p.Setting(ctx, "notify_new_ticket", "all") == "none" {
		return nil
	}
	staff, err := p.staff(ctx)
	if err != nil {
		return err
	}
	client, err := p.UserByID(ctx, clientID)
	if err != nil {
		return err
	}
	for _, u := range staff {
		if !p.wants(ctx, u, NotifyNewTicket) {
			continue
		}
		text := fmt.Sprintf("%s opened ticket #%d on %s:\n\n%s\n\n%s\n\nOpen it: %s\n", client.FullName(), number, p.company(), subject, description, p.ticketLink(number))
		if err := p.enqueue(ctx, tx, NotifyNewTicket, u, ticketSubject(number, subject), text, number); err != nil {
			return err
		}
	}
	return nil
}

func (p *Portal) notifyMessage(ctx context.Context, tx *sql.Tx, t *Ticket, author *User, e *Entry) error {
	if e.Kind == KindNote {
		return nil // internal notes never leave the staff
	}
	var to []*User
	if author.IsStaff() {
		c, err := p.UserByID(ctx, t.Client.ID)
		if err != nil {
			return err
		}
		to = append(to, c)
	} else if t.Assignee != nil {
		a, err := p.UserByID(ctx, t.Assignee.ID)
		if err != nil {
			return err
		}
		to = append(to, a)
	} else {
		staff, err := p.staff(ctx)
		if err != nil {
			return err
		}
		to = staff
	}
	for _, u := range to {
		if u.ID == author.ID || !p.wants(ctx, u, NotifyMessage) {
			continue
		}
		text := fmt.Sprintf("%s wrote on ticket #%d (%s):\n\n%s\n\nReply: %s\n", author.FullName(), t.Number, t.Subject, e.Body, p.ticketLink(t.Number))
		if err := p.enqueue(ctx, tx, NotifyMessage, u, ticketSubject(t.Number, t.Subject), text, t.Number); err != nil {
			return err
		}
	}
	return nil
}

func (p *Portal) notifyChange(ctx context.Context, tx *sql.Tx, t *Ticket, actor *User, st *Status, assignee *User) error {
	if st != nil {
		c, err := p.UserByID(ctx, t.Client.ID)
		if err != nil {
			return err
		}
		if c.ID != actor.ID && p.wants(ctx, c, NotifyStatus) {
			text := fmt.Sprintf("The status of your ticket #%d (%s) is now: %s.\n\n%s\n", t.Number, t.Subject, st.Name, p.ticketLink(t.Number))
			if err := p.enqueue(ctx, tx, NotifyStatus, c, ticketSubject(t.Number, t.Subject), text, t.Number); err != nil {
				return err
			}
		}
	}
	if assignee != nil && assignee.ID != actor.ID && p.wants(ctx, assignee, NotifyAssignment) {
		text := fmt.Sprintf("%s assigned ticket #%d (%s) to you.\n\n%s\n", actor.FullName(), t.Number, t.Subject, p.ticketLink(t.Number))
		if err := p.enqueue(ctx, tx, NotifyAssignment, assignee, ticketSubject(t.Number, t.Subject), text, t.Number); err != nil {
			return err
		}
	}
	return nil
}

// Sender delivers one message of a portal's outbox.
type Sender interface {
	Send(ctx context.Context, p *Portal, m *Mail) error
}

// DeliverOutbox sends what is due, marking each message sent or scheduling
// a retry; it returns how many were sent.
func (p *Portal) DeliverOutbox(ctx context.Context, s Sender) (int, error) {
	p.deliverMu.Lock()
	defer p.deliverMu.Unlock()
	rows, err := p.DB.Query(ctx, `SELECT id, kind, to_addr, to_name, subject, text_body, message_id, COALESCE(ticket_id, 0), attempts, created_at
		FROM outbox WHERE state = 'pending' AND next_at <= ? ORDER BY id LIMIT 100`, p.Now().Unix())
	if err != nil {
		return 0, err
	}
	var due []*Mail
	for rows.Next() {
		m := &Mail{}
		if err := rows.Scan(&m.ID, &m.Kind, &m.To, &m.ToName, &m.Subject, &m.Text, &m.MessageID, &m.TicketID, &m.Attempts, &m.CreatedAt); err != nil {
			rows.Close()
			return 0, err
		}
		due = append(due, m)
	}
	rows.Close()
	sent := 0
	for _, m := range due {
		if err := s.Send(ctx, p, m); err != nil {
			wait := min(time.Duration(1<<min(m.Attempts, 10))*2*time.Second, 10*time.Minute)
			state := "pending"
			if m.Attempts+1 >= 12 {
				state = "failed"
			}
			_, _ = p.DB.Exec(ctx, "UPDATE outbox SET attempts = attempts + 1, next_at = ?, last_error = ?, state = ? WHERE id = ?",
				p.Now().Add(wait).Unix(), truncate(err.Error(), 500), state, m.ID)
			continue
		}
		if _, err := p.DB.Exec(ctx, "UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1 WHERE id = ?", p.Now().Unix(), m.ID); err != nil {
			return sent, err
		}
		sent++
	}
	return sent, nil
}

// ThreadID is the Message-ID of the first mail about a ticket, for threading.
func (p *Portal) ThreadID(ctx context.Context, ticket int64) string {
	var id string
	_ = p.DB.QueryRow(ctx, "SELECT message_id FROM outbox WHERE ticket_id = ? ORDER BY id LIMIT 1", ticket).Scan(&id)
	return id
}

// Outbox lists the latest mail of the portal, for the admin's log.
func (p *Portal) Outbox(ctx context.Context, limit int) ([]*Mail, error) {
	rows, err := p.DB.Query(ctx, `SELECT id, kind, to_addr, to_name, subject, message_id, COALESCE(ticket_id, 0), state, attempts, last_error, created_at, COALESCE(sent_at, 0)
		FROM outbox ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Mail
	for rows.Next() {
		m := &Mail{}
		if err := rows.Scan(&m.ID, &m.Kind, &m.To, &m.ToName, &m.Subject, &m.MessageID, &m.TicketID, &m.State, &m.Attempts, &m.LastError, &m.CreatedAt, &m.SentAt); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
