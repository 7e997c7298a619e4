package portal

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	EntryID   int64  `json:"-"` // the message whose files are attached
	State     string `json:"state"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error,omitempty"`
	CreatedAt int64  `json:"created_at"`
	SentAt    int64  `json:"sent_at,omitempty"`
	// Held: pending until the admin confirms their address (see HoldMail).
	Held bool `json:"held,omitempty"`
}

func (p *Portal) ticketsChanged(delta int64) {
	if p.OnTickets != nil {
		p.afterCommit(func() { p.OnTickets(delta) })
	}
}

func (p *Portal) kickOutbox() {
	if p.OnOutbox != nil {
		p.afterCommit(p.OnOutbox)
	}
}

// mailTo renders kind for the recipient in their language and queues it
// within the caller's transaction.
func (p *Portal) mailTo(ctx context.Context, kind string, to *User, v MailVars, ticket int64) error {
	return p.mailAbout(ctx, kind, to, v, ticket, 0)
}

// mailAbout is mailTo for a timeline message: its files ride along.
func (p *Portal) mailAbout(ctx context.Context, kind string, to *User, v MailVars, ticket, entry int64) error {
	lang := to.Lang
	if lang == "" {
		lang = p.Setting(ctx, "lang", "en")
	}
	v.Name, v.Email = to.FullName(), to.Email
	subject, text := p.RenderMail(ctx, kind, lang, v)
	return p.enqueue(ctx, kind, to, subject, text, ticket, entry)
}

// enqueue writes a message into the outbox within the caller's transaction.
// Addresses that cannot take mail (an account made for a messenger's
// chat, an erased person's) get none.
func (p *Portal) enqueue(ctx context.Context, kind string, to *User, subject, text string, ticket, entry int64) error {
	if strings.HasSuffix(to.Email, ".invalid") {
		return nil
	}
	now := p.Now()
	due := now.Unix()
	if owner, _ := p.mailHold(ctx); owner != 0 && owner != to.ID {
		due = heldMail
	}
	var eid any
	if entry != 0 {
		eid = entry
	}
	msgID := fmt.Sprintf("<%s.%d.%s@portaldesk>", p.Slug, now.UnixNano(), newFilePath()[3:15])
	var tid any
	if ticket != 0 {
		tid = ticket
	}
	if _, err := p.q.Exec(ctx, `INSERT INTO outbox (kind, to_addr, to_name, subject, text_body, message_id, ticket_id, entry_id, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		kind, to.Email, to.FullName(), subject, text, msgID, tid, eid, due, now.Unix()); err != nil {
		return err
	}
	if ticket != 0 { // a reply to this mail finds its ticket
		if _, err := p.q.Exec(ctx, "INSERT OR IGNORE INTO mail_ids (message_id, ticket_id) VALUES (?, ?)", msgID, ticket); err != nil {
			return err
		}
	}
	return nil
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
	prefs := p.Settings(ctx).NotifyDefaults // a map of its own each call
	own, err := p.ref.notify.get(p.DB, u.ID, func() (string, error) {
		var s string
		err := p.q.QueryRow(ctx, "SELECT notify FROM users WHERE id = ?", u.ID).Scan(&s)
		return s, err
	})
	if err == nil {
		_ = json.Unmarshal([]byte(own), &prefs)
	}
	return prefs
}

// people fills in the users whose ids are the keys of m, from the staff
// and the people kept in memory; an id with no user stays nil. The Users
// are the kept copies: read them, never change them.
func (p *Portal) people(ctx context.Context, m map[int64]*User) error {
	if len(m) == 0 {
		return nil
	}
	staff, err := p.ref.staff.get(p.DB, func() ([]*User, error) { return p.loadStaff(ctx) })
	if err != nil {
		return err
	}
	for _, u := range staff {
		if _, ok := m[u.ID]; ok {
			m[u.ID] = u
		}
	}
	for id, u := range m {
		if u != nil {
			continue
		}
		u, err := p.ref.users.get(p.DB, id, func() (*User, error) { return p.loadUser(ctx, id) })
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		m[id] = u
	}
	return nil
}

func (p *Portal) staff(ctx context.Context) ([]*User, error) {
	staff, err := p.ref.staff.get(p.DB, func() ([]*User, error) { return p.loadStaff(ctx) })
	return copyUsers(staff), err
}

func (p *Portal) loadStaff(ctx context.Context) ([]*User, error) {
	rows, err := p.q.Query(ctx, "SELECT "+userCols+" FROM users WHERE role IN ('admin', 'operator') AND active = 1 ORDER BY id")
	if err != nil {
		return nil, err
	}
	return collect(rows, scanUser)
}

func (p *Portal) ticketLink(number int64) string {
	return fmt.Sprintf("%stickets/%d", p.URL(), number)
}

func (p *Portal) company() string { return p.Plan().Company }

func (p *Portal) notifyNewTicket(ctx context.Context, number int64, subject, description string, clientID, group, status int64) error {
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
		if !u.sees(group, status) || !p.wants(ctx, u, NotifyNewTicket) {
			continue
		}
		v := MailVars{Author: client.FullName(), Number: number, Subject: subject, Message: description, Link: p.ticketLink(number)}
		if err := p.mailTo(ctx, MailNewTicket, u, v, number); err != nil {
			return err
		}
	}
	return nil
}

func (p *Portal) notifyMessage(ctx context.Context, t *Ticket, author *User, e *Entry) error {
	followers, err := p.followersOf(ctx, t, author.ID)
	if err != nil {
		return err
	}
	if e.Kind == KindNote {
		// Internal notes never leave the staff: only staff who follow
		// the ticket hear of them.
		return p.mailEach(ctx, followers, nil, t, author, e)
	}
	// The client's side (the client and those in copy) hears of every
	// public message; the staff's side of the client side's messages.
	to, err := p.clientSide(ctx, t)
	if err != nil {
		return err
	}
	if !author.IsStaff() && t.Assignee != nil {
		a, err := p.UserByID(ctx, t.Assignee.ID)
		if err != nil {
			return err
		}
		to = append(to, a)
	} else if !author.IsStaff() {
		staff, err := p.staff(ctx)
		if err != nil {
			return err
		}
		for _, u := range staff {
			if u.sees(t.GroupID(), t.Status.ID) {
				to = append(to, u)
			}
		}
	}
	return p.mailEach(ctx, followers, to, t, author, e)
}

// mailEach mails a message to people — followers, who asked for it, then
// the usual recipients as they chose — each once.
func (p *Portal) mailEach(ctx context.Context, followers, to []*User, t *Ticket, author *User, e *Entry) error {
	seen := map[int64]bool{}
	for i, u := range append(followers, to...) {
		follower := i < len(followers)
		if u.ID == author.ID || seen[u.ID] || (!follower && !p.wants(ctx, u, NotifyMessage)) {
			continue
		}
		seen[u.ID] = true
		if e.Channel != "" && author.IsStaff() && !e.Internal() {
			kind, chat, err := p.chatOf(ctx, t, u)
			if err != nil {
				return err
			}
			if chat != "" { // the client wrote from a messenger: the answer goes there
				if err := p.chatMessage(ctx, kind, chat, t, author, e); err != nil {
					return err
				}
				continue
			}
		}
		v := MailVars{Author: author.FullName(), Number: t.Number, Subject: t.Subject, Message: e.Body, Link: p.ticketLink(t.Number)}
		if err := p.mailAbout(ctx, MailMessage, u, v, t.Number, e.ID); err != nil {
			return err
		}
	}
	return nil
}

func (p *Portal) notifyChange(ctx context.Context, t *Ticket, actor *User, st *Status, assignee *User) error {
	if st != nil {
		side, err := p.clientSide(ctx, t)
		if err != nil {
			return err
		}
		for _, c := range side {
			if c.ID == actor.ID || !p.wants(ctx, c, NotifyStatus) {
				continue
			}
			kind, chat, err := p.chatOf(ctx, t, c)
			if err != nil {
				return err
			}
			if chat != "" {
				if err := p.chatStatus(ctx, kind, chat, t, c, st); err != nil {
					return err
				}
				continue
			}
			v := MailVars{Author: actor.FullName(), Number: t.Number, Subject: t.Subject, Status: st.Name, Link: p.ticketLink(t.Number)}
			if st.Closed && c.ID == t.Client.ID {
				v.Link += "#rating" // where the client rates the ticket
			}
			if err := p.mailTo(ctx, MailStatus, c, v, t.Number); err != nil {
				return err
			}
		}
	}
	if assignee != nil && assignee.ID != actor.ID {
		return p.notifyAssigned(ctx, t.Number, t.Subject, assignee, actor.FullName())
	}
	return nil
}

// notifyAssigned tells assignee that ticket number is theirs now, by whom
// (a person, or the group that assigned it by itself).
func (p *Portal) notifyAssigned(ctx context.Context, number int64, subject string, assignee *User, by string) error {
	if !p.wants(ctx, assignee, NotifyAssignment) {
		return nil
	}
	v := MailVars{Author: by, Number: number, Subject: subject, Link: p.ticketLink(number)}
	return p.mailTo(ctx, MailAssignment, assignee, v, number)
}

// Sender delivers a batch of a portal's outbox; the answer has one error
// (or nil) per message.
type Sender interface {
	Send(ctx context.Context, p *Portal, mails []*Mail) []error
}

// Permanent marks a delivery error that retrying cannot fix (an SMTP 5xx).
type Permanent interface{ Permanent() bool }

// MaxAttempts is how often a message is tried before it is marked failed.
const MaxAttempts = 10

// RetryDelay is the wait after the n-th failed attempt: 2 s, 4 s, 8 s … up to 10 minutes.
func RetryDelay(attempts int) time.Duration {
	return min(time.Duration(1<<min(attempts, 12))*time.Second, 10*time.Minute)
}

// Delivery is what one DeliverOutbox did.
type Delivery struct {
	Sent, Failed int       // delivered; failed attempts (retried or final)
	Pending      int       // still waiting
	Next         time.Time // when the next retry is due (zero: nothing waits)
}

// DeliverOutbox sends what is due, marking each message sent, failed, or to be
// retried later.
func (p *Portal) DeliverOutbox(ctx context.Context, s Sender) (Delivery, error) {
	p.deliverMu.Lock()
	defer p.deliverMu.Unlock()
	var d Delivery
	finish := func(err error) (Delivery, error) {
		var nerr error
		d.Next, nerr = p.nextDue(ctx)
		_ = p.q.QueryRow(ctx, "SELECT COUNT(*) FROM outbox WHERE state = 'pending'").Scan(&d.Pending)
		return d, errors.Join(err, nerr)
	}
	for {
		due, err := p.dueMail(ctx, 100)
		if err != nil || len(due) == 0 {
			return finish(err)
		}
		errs := s.Send(ctx, p, due)
		now := p.Now()
		err = p.Tx(ctx, func(tp *Portal) error {
			for i, m := range due {
				var err error
				switch e := errs[i]; {
				case e == nil:
					_, err = tp.q.Exec(ctx, "UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1, last_error = '' WHERE id = ?", now.Unix(), m.ID)
					d.Sent++
				default:
					d.Failed++
					state := "pending"
					var perm Permanent
					if m.Attempts+1 >= MaxAttempts || errors.As(e, &perm) && perm.Permanent() {
						state = "failed"
					}
					_, err = tp.q.Exec(ctx, "UPDATE outbox SET attempts = attempts + 1, next_at = ?, last_error = ?, state = ? WHERE id = ?",
						now.Add(RetryDelay(m.Attempts+1)).Unix(), truncate(e.Error(), 500), state, m.ID)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return d, err
		}
		if len(due) < 100 {
			return finish(nil)
		}
	}
}

func (p *Portal) dueMail(ctx context.Context, limit int) ([]*Mail, error) {
	rows, err := p.q.Query(ctx, `SELECT id, kind, to_addr, to_name, subject, text_body, message_id, COALESCE(ticket_id, 0), COALESCE(entry_id, 0), attempts, created_at
		FROM outbox WHERE state = 'pending' AND next_at <= ? ORDER BY id LIMIT ?`, p.Now().Unix(), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var due []*Mail
	for rows.Next() {
		m := &Mail{}
		if err := rows.Scan(&m.ID, &m.Kind, &m.To, &m.ToName, &m.Subject, &m.Text, &m.MessageID, &m.TicketID, &m.EntryID, &m.Attempts, &m.CreatedAt); err != nil {
			return nil, err
		}
		due = append(due, m)
	}
	return due, rows.Err()
}

func (p *Portal) nextDue(ctx context.Context) (time.Time, error) {
	var next sql.NullInt64
	if err := p.q.QueryRow(ctx, "SELECT MIN(next_at) FROM outbox WHERE state = 'pending' AND next_at < ?", heldMail).Scan(&next); err != nil {
		return time.Time{}, err
	}
	if !next.Valid {
		return time.Time{}, nil
	}
	return time.Unix(next.Int64, 0), nil
}

// RetryFailed puts failed mail back in the queue (admins).
func (p *Portal) RetryFailed(ctx context.Context, actor *User, id int64) (int64, error) {
	if actor.Role != RoleAdmin {
		return 0, ErrForbidden
	}
	q := "UPDATE outbox SET state = 'pending', attempts = 0, next_at = ? WHERE state = 'failed'"
	args := []any{p.Now().Unix()}
	if id != 0 {
		q += " AND id = ?"
		args = append(args, id)
	}
	res, err := p.q.Exec(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	p.kickOutbox()
	return n, nil
}

// ThreadID is the Message-ID of the first mail about a ticket, for threading.
func (p *Portal) ThreadID(ctx context.Context, ticket int64) string {
	var id string
	_ = p.q.QueryRow(ctx, "SELECT message_id FROM outbox WHERE ticket_id = ? ORDER BY id LIMIT 1", ticket).Scan(&id)
	return id
}

// ThreadRefs are the Message-IDs a mail about a ticket to addr refers to,
// oldest first (at most 10): the mails the portal sent that person about
// it and the mails that person sent in, so that every mail client threads
// the conversation. beforeID bounds the portal's own (the mail being
// composed and later ones are left out).
func (p *Portal) ThreadRefs(ctx context.Context, ticket int64, addr string, beforeID int64) []string {
	rows, err := p.q.Query(ctx, `SELECT message_id FROM (
		SELECT message_id, created_at AS at FROM outbox WHERE ticket_id = ? AND to_addr = ? COLLATE NOCASE AND id < ?
		UNION ALL
		SELECT message_id, received_at AS at FROM inbound WHERE ticket_id = ? AND sender = ? COLLATE NOCASE AND message_id <> '' AND state = 'done'
	) ORDER BY at DESC LIMIT 10`, ticket, addr, beforeID, ticket, addr)
	if err != nil {
		return nil
	}
	defer rows.Close()
	var refs []string
	for rows.Next() {
		var id string
		if rows.Scan(&id) == nil {
			refs = append([]string{id}, refs...)
		}
	}
	return refs
}

// Outbox lists the latest mail of the portal, for the admin's log.
func (p *Portal) Outbox(ctx context.Context, limit int) ([]*Mail, error) {
	rows, err := p.q.Query(ctx, `SELECT id, kind, to_addr, to_name, subject, message_id, COALESCE(ticket_id, 0), state, attempts, last_error, created_at, COALESCE(sent_at, 0), state = 'pending' AND next_at = ?
		FROM outbox ORDER BY id DESC LIMIT ?`, heldMail, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Mail
	for rows.Next() {
		m := &Mail{}
		if err := rows.Scan(&m.ID, &m.Kind, &m.To, &m.ToName, &m.Subject, &m.MessageID, &m.TicketID, &m.State, &m.Attempts, &m.LastError, &m.CreatedAt, &m.SentAt, &m.Held); err != nil {
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

// MailFiles are the files that travel with a mail: those of its message,
// never of an internal note, up to 10 MB in all.
func (p *Portal) MailFiles(ctx context.Context, m *Mail) ([]*Attachment, error) {
	if m.EntryID == 0 {
		return nil, nil
	}
	rows, err := p.q.Query(ctx, "SELECT "+attCols+" FROM attachments WHERE message_id = ? AND internal = 0 ORDER BY id", m.EntryID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Attachment
	var total int64
	for rows.Next() {
		a, err := scanAttachment(rows)
		if err != nil {
			return nil, err
		}
		if total+a.Size > 10<<20 {
			break
		}
		total += a.Size
		out = append(out, a)
	}
	return out, rows.Err()
}

// OpenFile opens an attachment's bytes for the mailer.
func (p *Portal) OpenFile(a *Attachment) (io.ReadCloser, error) { return p.Fs.Open(a.path) }
