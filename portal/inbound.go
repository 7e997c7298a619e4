package portal

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	_ "github.com/emersion/go-message/charset" // KOI8-R, Windows-1251 and the rest
	"github.com/emersion/go-message/mail"
	"github.com/microcosm-cc/bluemonday"

	"portaldesk/templates/i18n"

	"golang.org/x/net/html"
)

// Email in. A mail to the portal (its address at the service's mail
// domain, or a signed reply address) is stored raw by ReceiveMail, then
// applied by ProcessInbound: a new conversation becomes a ticket, a reply
// a message in its ticket. Automatic mail (RFC 3834) and bounces make
// nothing, so two systems can never answer each other for ever.

// MaxInboundBytes bounds one stored mail.
const MaxInboundBytes = 25 << 20

// ErrMailTooLarge: the mail is larger than the portal takes.
var ErrMailTooLarge = errors.New("the mail is larger than the portal takes")

// ReceiveMail stores a mail as it came, before anything is made of it; the
// database's quota bounds it. The caller then has ProcessInbound apply it.
func (p *Portal) ReceiveMail(ctx context.Context, envFrom, rcpt string, raw []byte) (int64, error) {
	return p.ReceiveMailChecked(ctx, envFrom, rcpt, raw, "", false)
}

// ReceiveMailChecked is ReceiveMail with the verdict of the checks the mail
// met on its way in (SPF, DKIM, DMARC); mail whose sender's own DMARC
// policy refuses it waits in the Spam list (unless the admin chose to let
// it through) until someone releases or deletes it.
func (p *Portal) ReceiveMailChecked(ctx context.Context, envFrom, rcpt string, raw []byte, verdict string, failing bool) (int64, error) {
	if err := p.writable(); err != nil {
		return 0, err
	}
	if max, _ := strconv.ParseInt(p.Setting(ctx, "inbound_max_mb", "25"), 10, 64); len(raw) > MaxInboundBytes || int64(len(raw)) > max<<20 {
		return 0, ErrMailTooLarge
	}
	var id int64
	err := p.Tx(ctx, func(tp *Portal) error {
		state, outcome := "new", ""
		if failing && p.Setting(ctx, "inbound_failing", "spam") == "spam" {
			state, outcome = "spam", "held as spam: "+verdict
		}
		res, err := tp.q.Exec(ctx, "INSERT INTO inbound (received_at, mail_from, rcpt, auth, state, outcome) VALUES (?, ?, ?, ?, ?, ?)", p.Now().Unix(), envFrom, rcpt, verdict, state, outcome)
		if err != nil {
			return err
		}
		id, _ = res.LastInsertId()
		_, err = tp.q.Exec(ctx, "INSERT INTO inbound_raw (inbound_id, raw) VALUES (?, ?)", id, raw)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: receive mail: %w", err)
	}
	return id, nil
}

// Inbound is one received mail as the admin's list shows it.
type Inbound struct {
	ID         int64  `json:"id"`
	ReceivedAt int64  `json:"received_at"`
	From       string `json:"from"`
	To         string `json:"to"`
	State      string `json:"state"`          // new, done, ignored, failed, spam
	Auth       string `json:"auth,omitempty"` // SPF, DKIM and DMARC as the mail came
	Subject    string `json:"subject,omitempty"`
	Outcome    string `json:"outcome"` // what it became, or why nothing
	Ticket     int64  `json:"ticket,omitempty"`
}

// InboundLog lists the latest received mail, newest first.
func (p *Portal) InboundLog(ctx context.Context, limit int) ([]Inbound, error) {
	rows, err := p.q.Query(ctx, "SELECT id, received_at, mail_from, rcpt, state, outcome, COALESCE(ticket_id, 0), auth FROM inbound ORDER BY id DESC LIMIT ?", limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Inbound
	for rows.Next() {
		var m Inbound
		if err := rows.Scan(&m.ID, &m.ReceivedAt, &m.From, &m.To, &m.State, &m.Outcome, &m.Ticket, &m.Auth); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// ProcessInbound applies every stored mail not yet applied, oldest first,
// each in the transaction that marks it done. It returns how many it
// applied.
func (p *Portal) ProcessInbound(ctx context.Context) (int, error) {
	if p.Plan().State != StateActive {
		return 0, nil // read-only or suspended: the mail waits
	}
	n := 0
	for {
		var id int64
		var from, rcpt string
		var raw []byte
		err := p.q.QueryRow(ctx, "SELECT i.id, i.mail_from, i.rcpt, r.raw FROM inbound i JOIN inbound_raw r ON r.inbound_id = i.id WHERE i.state = 'new' ORDER BY i.id LIMIT 1").Scan(&id, &from, &rcpt, &raw)
		if errors.Is(err, sql.ErrNoRows) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("store: inbound: %w", err)
		}
		err = p.Tx(ctx, func(tp *Portal) error {
			a := tp.applyMail(ctx, from, rcpt, raw)
			var tid any
			if a.ticket != 0 {
				tid = a.ticket
			}
			if _, err := tp.q.Exec(ctx, "UPDATE inbound SET state = ?, outcome = ?, ticket_id = ?, message_id = ?, sender = ?, answered = ?, processed_at = ? WHERE id = ?",
				a.state, a.outcome, tid, a.msgID, a.sender, a.answered, p.Now().Unix(), id); err != nil {
				return err
			}
			if a.ticket != 0 && a.msgID != "" {
				_, err := tp.q.Exec(ctx, "INSERT OR IGNORE INTO mail_ids (message_id, ticket_id) VALUES (?, ?)", a.msgID, a.ticket)
				return err
			}
			return nil
		})
		if err != nil {
			// What made it fail (a quota, a full disk) is kept on the row:
			// it is not tried again until someone looks.
			if _, err2 := p.q.Exec(ctx, "UPDATE inbound SET state = 'failed', outcome = ?, processed_at = ? WHERE id = ?", err.Error(), p.Now().Unix(), id); err2 != nil {
				return n, err2
			}
		}
		n++
		p.kickOutbox()
	}
}

// parsedMail is what a mail says, decoded.
type parsedMail struct {
	from, fromName string
	copied         []string // the other addresses it went to (To and CC)
	subject        string
	messageID      string
	refs           []string // In-Reply-To and References
	text           string
	files          []mailFile
	auto           string // why it is automatic mail, or ""
	bounce         string // the address a bounce reports failing, or ""
}

type mailFile struct {
	name string
	data []byte
}

// applied is what became of a mail: the row's new state, what happened,
// the ticket, the mail's Message-ID and sender, and whether it was
// answered automatically (a notice of receipt, a request to register).
type applied struct {
	state, outcome string
	ticket         int64
	msgID, sender  string
	answered       bool
}

// applyMail makes what a mail asks for. An error inside is an outcome, not
// a failure, unless storing itself fails.
func (p *Portal) applyMail(ctx context.Context, envFrom, rcpt string, raw []byte) applied {
	m, err := parseMail(raw)
	if err != nil {
		return applied{state: "ignored", outcome: "unreadable mail: " + err.Error()}
	}
	a := p.applyParsed(ctx, rcpt, m)
	a.sender = m.from
	return a
}

// Inbound limits per hour: mail applied from one sender, and new clients
// registered by mail in one portal (a flood of forged senders must not
// make the portal mail strangers).
const (
	MaxMailsPerSenderHour = 30
	MaxNewSendersPerHour  = 50
)

// DefaultAnswersPerHour is how many mails of one sender an hour the portal
// answers by itself (a notice of receipt, a request to register) unless
// its admin chose otherwise; past it mail is still taken, silently.
const DefaultAnswersPerHour = 5

// MaxAnswersPerHour bounds the setting: more would let a forged sender
// make the portal mail someone without end.
const MaxAnswersPerHour = 100

// mayAnswer reports whether a mail from addr may be answered
// automatically: fewer answers to it this hour than the portal allows.
func (p *Portal) mayAnswer(ctx context.Context, addr string) bool {
	limit, _ := strconv.Atoi(p.Setting(ctx, "inbound_answers_per_hour", strconv.Itoa(DefaultAnswersPerHour)))
	if limit <= 0 {
		return false
	}
	var n int
	err := p.q.QueryRow(ctx, "SELECT COUNT(*) FROM inbound WHERE sender = ? AND received_at > ? AND answered = 1", addr, p.Now().Add(-time.Hour).Unix()).Scan(&n)
	return err == nil && n < limit
}

func (p *Portal) applyParsed(ctx context.Context, rcpt string, m *parsedMail) applied {
	msgID := m.messageID
	if m.bounce != "" {
		p.recordBounce(ctx, m.bounce, m.subject)
		return applied{state: "ignored", outcome: "a bounce for " + m.bounce, msgID: msgID}
	}
	if m.auto != "" {
		return applied{state: "ignored", outcome: "automatic mail (" + m.auto + ")", msgID: msgID}
	}
	if m.from == "" {
		return applied{state: "ignored", outcome: "no sender", msgID: msgID}
	}
	if p.mailDomain != "" && strings.HasSuffix(m.from, "@"+p.mailDomain) {
		return applied{state: "ignored", outcome: "mail from the service's own address", msgID: msgID} // a loop
	}
	if blocked(p.Setting(ctx, "inbound_block", ""), m.from) {
		return applied{state: "ignored", outcome: "the sender is on the block list", msgID: msgID}
	}
	hourAgo := p.Now().Add(-time.Hour).Unix()
	var recent int
	if err := p.q.QueryRow(ctx, "SELECT COUNT(*) FROM inbound WHERE sender = ? AND received_at > ? AND state = 'done'", m.from, hourAgo).Scan(&recent); err == nil && recent >= MaxMailsPerSenderHour {
		return applied{state: "ignored", outcome: "too many mails from this sender this hour", msgID: msgID}
	}
	if msgID != "" {
		// The same mail again: a reply-all to the portal's address and the
		// reply address, or a retry after a lost 250.
		var n int64
		if err := p.q.QueryRow(ctx, "SELECT COALESCE(ticket_id, 0) FROM inbound WHERE message_id = ? AND state = 'done' LIMIT 1", msgID).Scan(&n); err == nil {
			return applied{state: "ignored", outcome: "a copy of a mail already received", ticket: n, msgID: msgID}
		}
	}
	sender, err := p.UserByEmail(ctx, m.from)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return applied{state: "failed", outcome: err.Error(), msgID: msgID}
	}
	if sender != nil && !sender.Active {
		return applied{state: "ignored", outcome: "the sender's account is deactivated", msgID: msgID}
	}
	number, proven := p.threadOf(ctx, rcpt, m, sender)
	if number != 0 && !proven {
		// "[#N]" and a From anyone can write: posting is allowed (as that
		// sender), letting the people in CC read the ticket is not.
		m.copied = nil
	}
	body := m.text
	if sender != nil && sender.IsStaff() {
		if number == 0 {
			return applied{state: "ignored", outcome: "staff mail that answers no ticket", msgID: msgID}
		}
		internal := false
		if first, rest, _ := strings.Cut(body, "\n"); strings.TrimSpace(first) == "#note" {
			internal, body = true, rest
		}
		e, err := p.postMailMessage(ctx, sender, number, body, internal, m.files)
		if err != nil {
			return applied{state: "ignored", outcome: err.Error(), ticket: number, msgID: msgID}
		}
		if err := p.includeCopied(ctx, number, m.copied); err != nil {
			return applied{state: "failed", outcome: err.Error(), ticket: number, msgID: msgID}
		}
		return applied{state: "done", outcome: fmt.Sprintf("%s on #%d", map[bool]string{true: "a note", false: "a reply"}[internal], number), ticket: e, msgID: msgID}
	}
	followUp := ""
	if number != 0 && sender != nil {
		// A reply long after the ticket was closed is a new matter: a new
		// ticket that names the old one (a setting, 30 days by default).
		days, _ := strconv.Atoi(p.Setting(ctx, "inbound_reopen_days", "30"))
		if t, err := p.Ticket(ctx, sender, number); err == nil && t.Status.Closed && t.ClosedAt > 0 && t.ClosedAt < p.Now().AddDate(0, 0, -days).Unix() {
			followUp = i18n.T(p.Setting(ctx, "lang", "en"), "Follow-up to #%d (%s).", number, t.Subject) + "\n\n"
			number = 0
		}
	}
	if number != 0 {
		if sender == nil {
			return applied{state: "ignored", outcome: "a reply from someone who is neither the ticket's client nor in copy", ticket: number, msgID: msgID}
		}
		if _, err := p.postMailMessage(ctx, sender, number, body, false, m.files); err != nil {
			return applied{state: "ignored", outcome: err.Error(), ticket: number, msgID: msgID}
		}
		if err := p.includeCopied(ctx, number, m.copied); err != nil {
			return applied{state: "failed", outcome: err.Error(), ticket: number, msgID: msgID}
		}
		return applied{state: "done", outcome: fmt.Sprintf("a reply on #%d", number), ticket: number, msgID: msgID}
	}
	answer, registered := p.mayAnswer(ctx, m.from), false
	if sender == nil {
		if p.Setting(ctx, "inbound_new_clients", "allow") != "allow" {
			a := applied{state: "ignored", outcome: "not a client of the portal (new clients by mail are off)", msgID: msgID}
			if answer {
				// A polite answer: how to register and write again.
				stranger := &User{Email: m.from, Name: Line(m.fromName), Lang: p.Setting(ctx, "lang", "en")}
				if err := p.mailTo(ctx, MailRegisterFirst, stranger, MailVars{Subject: Line(m.subject), Link: p.URL() + "register"}, 0); err != nil {
					return applied{state: "failed", outcome: err.Error(), msgID: msgID}
				}
				a.answered = true
			}
			return a
		}
		var fresh int
		if err := p.q.QueryRow(ctx, "SELECT COUNT(*) FROM users WHERE role = 'client' AND password_hash = '!' AND created_at > ?", hourAgo).Scan(&fresh); err == nil && fresh >= MaxNewSendersPerHour {
			return applied{state: "ignored", outcome: "too many new senders this hour", msgID: msgID}
		}
		name := strings.TrimSpace(m.fromName)
		if name == "" {
			name, _, _ = strings.Cut(m.from, "@")
		}
		first, last, _ := strings.Cut(name, " ")
		u, err := p.registerByMail(ctx, NewPerson{Name: Line(first), Surname: Line(last), Email: m.from, Role: RoleClient}, m.subject, answer)
		if err != nil {
			return applied{state: "ignored", outcome: "could not register the sender: " + err.Error(), msgID: msgID}
		}
		sender, registered = u, true
	}
	files := p.NewFiles(ctx)
	lang := p.Setting(ctx, "lang", "en") // what the mail did not say is said in the portal's language
	note := stageMailFiles(ctx, files, m.files, lang)
	subject := strings.TrimSpace(Line(m.subject))
	if subject == "" {
		subject = i18n.T(lang, "(no subject)")
	}
	subject = truncRunes(subject, 200)
	if strings.TrimSpace(body) == "" {
		body = i18n.T(lang, "(no text)")
	}
	t, err := p.CreateTicket(ctx, sender, NewTicket{Values: map[string]string{"subject": subject, "description": followUp + body + note}, Files: files, Source: SourceEmail})
	if err != nil {
		return applied{state: "ignored", outcome: err.Error(), msgID: msgID}
	}
	if err := p.includeCopied(ctx, t.Number, m.copied); err != nil {
		return applied{state: "failed", outcome: err.Error(), ticket: t.Number, msgID: msgID}
	}
	if answer && !registered {
		// The client knows their request is in, and its number.
		v := MailVars{Number: t.Number, Subject: t.Subject, Link: p.ticketLink(t.Number)}
		if err := p.mailTo(ctx, MailTicketReceived, sender, v, t.Number); err != nil {
			return applied{state: "failed", outcome: err.Error(), ticket: t.Number, msgID: msgID}
		}
	}
	return applied{state: "done", outcome: fmt.Sprintf("new ticket #%d", t.Number), ticket: t.Number, msgID: msgID, answered: answer}
}

// postMailMessage posts a mail's text and files on a ticket; a file the
// portal's limits refuse is left out and said so in the message.
func (p *Portal) postMailMessage(ctx context.Context, actor *User, number int64, body string, internal bool, in []mailFile) (int64, error) {
	files := p.NewFiles(ctx)
	lang := p.Setting(ctx, "lang", "en")
	note := stageMailFiles(ctx, files, in, lang)
	if strings.TrimSpace(body) == "" && files.Len() > 0 {
		body = i18n.T(lang, "(files)")
	}
	_, err := p.PostMessageFiles(ctx, actor, number, body+note, internal, files)
	return number, err
}

// stageMailFiles stages what fits; it returns a note naming what did not.
func stageMailFiles(ctx context.Context, files *Files, in []mailFile, lang string) string {
	var left []string
	for _, f := range in {
		if err := files.Add(ctx, f.name, bytes.NewReader(f.data)); err != nil {
			left = append(left, fmt.Sprintf("%s (%s)", f.name, strings.TrimSuffix(err.Error(), ".")))
		}
	}
	if len(left) == 0 {
		return ""
	}
	return "\n\n[" + i18n.T(lang, "Not kept from the mail: %s", strings.Join(left, "; ")) + "]"
}

// threadOf finds the ticket a mail answers: our signed reply address, then
// the Message-IDs it refers to, then "[#N]" in the subject from that
// ticket's client, staff or someone in copy. 0: a new conversation.
// proven: the mail shows its sender received our mail about the ticket
// (the address or a Message-ID no outsider knows), not just its number.
func (p *Portal) threadOf(ctx context.Context, rcpt string, m *parsedMail, sender *User) (number int64, proven bool) {
	if n := p.replyTicket(rcpt); n != 0 {
		return n, true
	}
	for i := len(m.refs) - 1; i >= 0; i-- {
		var n int64
		if err := p.q.QueryRow(ctx, "SELECT ticket_id FROM mail_ids WHERE message_id = ?", m.refs[i]).Scan(&n); err == nil {
			return n, true
		}
	}
	if sender != nil {
		if sm := subjectTag.FindStringSubmatch(m.subject); sm != nil {
			n, _ := strconv.ParseInt(sm[1], 10, 64)
			if _, err := p.Ticket(ctx, sender, n); err == nil {
				return n, false
			}
		}
	}
	return 0, false
}

var subjectTag = regexp.MustCompile(`\[#(\d{1,12})\]`)

// ReplyAddress is the address a reply about ticket number comes back to,
// signed so that nobody can post on a ticket by guessing its number; ""
// when the service takes no mail.
func (p *Portal) ReplyAddress(number int64) string {
	if p.mailDomain == "" {
		return ""
	}
	return fmt.Sprintf("%s+t%d.%s@%s", p.Slug, number, p.replySig(number), p.mailDomain)
}

// MailDomain is where the service takes mail ("" when it takes none).
func (p *Portal) MailDomain() string { return p.mailDomain }

// InboundAddress is the portal's own address at the service's mail domain.
func (p *Portal) InboundAddress() string {
	if p.mailDomain == "" {
		return ""
	}
	return p.Slug + "@" + p.mailDomain
}

func (p *Portal) replySig(number int64) string {
	m := hmac.New(sha256.New, p.CookieKey())
	fmt.Fprintf(m, "reply\x00%s\x00%d", p.Slug, number)
	return hex.EncodeToString(m.Sum(nil)[:5])
}

// replyTicket reads the ticket of a signed reply address (0: none, or a
// signature that does not match).
func (p *Portal) replyTicket(rcpt string) int64 {
	local, _, _ := strings.Cut(strings.ToLower(rcpt), "@")
	_, tag, ok := strings.Cut(local, "+t")
	if !ok {
		return 0
	}
	num, sig, ok := strings.Cut(tag, ".")
	n, err := strconv.ParseInt(num, 10, 64)
	if !ok || err != nil || !hmac.Equal([]byte(sig), []byte(p.replySig(n))) {
		return 0
	}
	return n
}

// recordBounce marks the person whose address bounced.
func (p *Portal) recordBounce(ctx context.Context, addr, why string) {
	_, _ = p.q.Exec(ctx, "UPDATE users SET bounced_at = ?, bounce = ? WHERE email = ? COLLATE NOCASE", p.Now().Unix(), Line(why), strings.TrimSpace(addr))
}

// parseMail decodes a mail: addresses, subject (RFC 2047), the text (the
// plain part, else the HTML part as text), attachments, and whether it is
// automatic mail or a bounce.
func parseMail(raw []byte) (*parsedMail, error) {
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil && r == nil {
		return nil, err
	}
	defer r.Close()
	h := r.Header
	m := &parsedMail{}
	if from, err := h.AddressList("From"); err == nil && len(from) > 0 {
		m.from, m.fromName = strings.ToLower(strings.TrimSpace(from[0].Address)), from[0].Name
	}
	for _, key := range []string{"To", "Cc"} {
		list, _ := h.AddressList(key)
		for _, a := range list {
			if addr := strings.ToLower(strings.TrimSpace(a.Address)); addr != "" && addr != m.from && !slices.Contains(m.copied, addr) {
				m.copied = append(m.copied, addr)
			}
		}
	}
	m.subject, _ = h.Subject()
	m.messageID, _ = h.MessageID()
	if ids, err := h.MsgIDList("References"); err == nil {
		m.refs = append(m.refs, ids...)
	}
	if ids, err := h.MsgIDList("In-Reply-To"); err == nil {
		m.refs = append(m.refs, ids...)
	}
	for i, id := range m.refs {
		m.refs[i] = "<" + id + ">"
	}
	if m.messageID != "" {
		m.messageID = "<" + m.messageID + ">"
	}
	m.auto = automatic(h)
	ct, _, _ := h.ContentType()
	var plain, htmlText string
	for {
		part, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			if plain == "" && htmlText == "" {
				return nil, err
			}
			break
		}
		switch ph := part.Header.(type) {
		case *mail.InlineHeader:
			pct, _, _ := ph.ContentType()
			b, _ := io.ReadAll(io.LimitReader(part.Body, MaxInboundBytes))
			switch {
			case pct == "message/delivery-status":
				if a := finalRecipient(b); a != "" {
					m.bounce = a
				}
			case pct == "text/plain" && plain == "":
				plain = string(b)
			case pct == "text/html" && htmlText == "":
				htmlText = htmlToText(string(b))
			case strings.HasPrefix(pct, "text/"):
			default: // an inline image or another file
				name := ""
				if _, params, err := ph.ContentDisposition(); err == nil {
					name = params["filename"]
				}
				if name == "" {
					_, params, _ := ph.ContentType()
					name = params["name"]
				}
				if name == "" {
					exts, _ := mime.ExtensionsByType(pct)
					name = "inline"
					if len(exts) > 0 {
						name += exts[0]
					}
				}
				m.files = append(m.files, mailFile{name: name, data: b})
			}
		case *mail.AttachmentHeader:
			b, _ := io.ReadAll(io.LimitReader(part.Body, MaxInboundBytes))
			if pct, _, _ := ph.ContentType(); pct == "message/delivery-status" {
				if a := finalRecipient(b); a != "" {
					m.bounce = a // a bounce's report: never a file
				}
				continue
			}
			name, _ := ph.Filename()
			if name == "" {
				name = "attachment"
			}
			m.files = append(m.files, mailFile{name: name, data: b})
		}
	}
	if ct == "multipart/report" && m.bounce == "" {
		m.auto = "a delivery report"
	}
	text := plain
	if strings.TrimSpace(text) == "" {
		text = htmlText
	}
	m.text = cutQuoted(Text(strings.ReplaceAll(text, "\r\n", "\n")))
	return m, nil
}

// automatic says why a mail was sent by a program (RFC 3834 and the
// headers autoresponders set), or "".
func automatic(h mail.Header) string {
	if v := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))); v != "" && v != "no" {
		return "Auto-Submitted: " + v
	}
	switch v := strings.ToLower(strings.TrimSpace(h.Get("Precedence"))); v {
	case "bulk", "junk", "list", "auto_reply":
		return "Precedence: " + v
	}
	for _, k := range []string{"List-Id", "X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"} {
		if h.Get(k) != "" {
			return k
		}
	}
	return ""
}

// finalRecipient reads the failing address from a delivery-status part.
func finalRecipient(status []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), "Final-Recipient") {
			if _, addr, ok := strings.Cut(v, ";"); ok {
				return strings.ToLower(strings.TrimSpace(addr))
			}
		}
	}
	return ""
}

var (
	htmlPolicy = bluemonday.StrictPolicy()
	htmlBreaks = regexp.MustCompile(`(?i)<br\s*/?>|</(p|div|li|tr|h[1-6]|blockquote)>`)
)

// htmlToText makes a mail's HTML body plain text: line breaks where the
// HTML broke lines, every tag gone (scripts and styles with their content,
// by bluemonday), entities decoded.
func htmlToText(s string) string {
	s = htmlBreaks.ReplaceAllString(s, "$0\n")
	return strings.TrimSpace(html.UnescapeString(htmlPolicy.Sanitize(s)))
}

// ReplyMarker heads the text of mail about a ticket when replies come back
// by mail: what is written above it is the reply.
const ReplyMarker = "— Write your reply above this line —"

// ReplyMarkerRU is the marker of mail in Russian.
const ReplyMarkerRU = "— Напишите ответ над этой строкой —"

// cutQuoted keeps the reply: the text above our marker, above an
// "On … wrote:" line that starts the quote, without trailing quoted lines
// and without the signature after "-- ".
func cutQuoted(s string) string {
	lines := strings.Split(s, "\n")
	end := len(lines)
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if strings.Contains(l, ReplyMarker) || strings.Contains(l, ReplyMarkerRU) || l == "-- " || l == "--" {
			end = i
			break
		}
		if (strings.HasSuffix(t, "wrote:") || strings.HasSuffix(t, "пишет:") || strings.HasSuffix(t, "написал(а):")) && i+1 < len(lines) &&
			(strings.HasPrefix(strings.TrimSpace(lines[i+1]), ">") || strings.TrimSpace(lines[i+1]) == "") {
			end = i
			break
		}
	}
	lines = lines[:end]
	for len(lines) > 0 && (strings.HasPrefix(strings.TrimSpace(lines[len(lines)-1]), ">") || strings.TrimSpace(lines[len(lines)-1]) == "") {
		lines = lines[:len(lines)-1]
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// InboundSettings is the portal's mail in, as its admin sees it.
type InboundSettings struct {
	Address    string   `json:"address"`     // the portal's own address at the service ("" when the service takes no mail)
	MailDomain string   `json:"mail_domain"` // where the service takes mail: the MX of the portal's own addresses
	Addresses  []string `json:"addresses"`   // the business's own addresses the portal takes mail for (help@romashka.ru)
	NewClients string   `json:"new_clients"` // allow: a mail from a new address registers its sender; reject: it is ignored
	Block      string   `json:"block"`       // senders whose mail is ignored: addresses or domains, one a line
	Failing    string   `json:"failing"`     // spam or accept: what becomes of mail that fails its sender's DMARC
	MaxMB      int      `json:"max_mb"`      // the largest mail taken, in MB (at most 25)
	// AnswersPerHour: how many mails of one sender an hour the portal
	// answers by itself (a notice of receipt, a request to register); 0: none.
	AnswersPerHour int       `json:"answers_per_hour"`
	Recent         []Inbound `json:"recent"` // the latest received mail, newest first
	// IMAP is the business's own mailbox the portal fetches (no password
	// shown), IMAPState how fetching it goes.
	IMAP      *IMAPAccount `json:"imap"`
	IMAPState IMAPState    `json:"imap_state"`
}

// Inbound is the portal's mail in settings and what came lately.
func (p *Portal) Inbound(ctx context.Context) (*InboundSettings, error) {
	maxMB, _ := strconv.Atoi(p.Setting(ctx, "inbound_max_mb", "25"))
	s := &InboundSettings{Address: p.InboundAddress(), NewClients: p.Setting(ctx, "inbound_new_clients", "allow"), Block: p.Setting(ctx, "inbound_block", ""),
		Failing: p.Setting(ctx, "inbound_failing", "spam"),
		MaxMB:   maxMB, IMAP: p.IMAPForm(ctx), IMAPState: p.IMAPStatus(ctx)}
	s.AnswersPerHour, _ = strconv.Atoi(p.Setting(ctx, "inbound_answers_per_hour", strconv.Itoa(DefaultAnswersPerHour)))
	var err error
	if s.Recent, err = p.InboundLog(ctx, 50); err != nil {
		return nil, err
	}
	if s.Recent == nil {
		s.Recent = []Inbound{}
	}
	return s, nil
}

// InboundChange is a change of the mail-in settings; nil leaves a part.
type InboundChange struct {
	NewClients *string `json:"new_clients"`
	Failing    *string `json:"failing"` // spam: mail its sender's DMARC refuses waits in the Spam list; accept: it goes through
	Block      *string `json:"block"`
	MaxMB      *int    `json:"max_mb"`
	// AnswersPerHour: automatic answers to one sender an hour, 0 to 100.
	AnswersPerHour *int `json:"answers_per_hour"`
}

// SaveInbound changes who may write by mail and how much (whether mail
// from new addresses registers clients, the block list, the size limit,
// the automatic answers) and, when imap is not nil, the mailbox the portal
// fetches: all of it, or — on any error — none.
func (p *Portal) SaveInbound(ctx context.Context, actor *User, in InboundChange, imap *IMAPAccount) error {
	vals, err := p.inboundSettings(ctx, actor, in, imap)
	if err != nil {
		return err
	}
	return p.SetSettings(ctx, vals)
}

// CheckInbound is SaveInbound without saving: the error SaveInbound would
// answer, for a caller that must store something elsewhere in between.
func (p *Portal) CheckInbound(ctx context.Context, actor *User, in InboundChange, imap *IMAPAccount) error {
	_, err := p.inboundSettings(ctx, actor, in, imap)
	return err
}

func (p *Portal) inboundSettings(ctx context.Context, actor *User, in InboundChange, imap *IMAPAccount) (map[string]string, error) {
	if actor.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	errs := map[string]string{}
	vals := map[string]string{}
	if in.NewClients != nil {
		if *in.NewClients != "allow" && *in.NewClients != "reject" {
			errs["new_clients"] = "Choose allow or reject."
		}
		vals["inbound_new_clients"] = *in.NewClients
	}
	if in.Failing != nil {
		if *in.Failing != "spam" && *in.Failing != "accept" {
			errs["failing"] = "Choose spam or accept."
		}
		vals["inbound_failing"] = *in.Failing
	}
	if in.Block != nil {
		var lines []string
		for _, l := range strings.Split(Text(*in.Block), "\n") {
			l = strings.ToLower(strings.TrimSpace(l))
			switch {
			case l == "":
			case strings.ContainsAny(l, " \t,;<>") || !strings.Contains(strings.TrimPrefix(l, "@"), "."):
				errs["block"] = fmt.Sprintf("%q is neither an address nor a domain.", l)
			default:
				lines = append(lines, l)
			}
		}
		if len(lines) > 1000 {
			errs["block"] = "At most 1000 entries."
		}
		vals["inbound_block"] = strings.Join(lines, "\n")
	}
	if in.MaxMB != nil {
		if *in.MaxMB < 1 || *in.MaxMB > MaxInboundBytes>>20 {
			errs["max_mb"] = fmt.Sprintf("Enter a size from 1 to %d MB.", MaxInboundBytes>>20)
		}
		vals["inbound_max_mb"] = strconv.Itoa(*in.MaxMB)
	}
	if in.AnswersPerHour != nil {
		if *in.AnswersPerHour < 0 || *in.AnswersPerHour > MaxAnswersPerHour {
			errs["answers_per_hour"] = fmt.Sprintf("Enter a number from 0 to %d.", MaxAnswersPerHour)
		}
		vals["inbound_answers_per_hour"] = strconv.Itoa(*in.AnswersPerHour)
	}
	if imap != nil {
		more, imapErrs, err := p.imapSettings(ctx, *imap)
		if err != nil {
			return nil, err
		}
		maps.Copy(errs, imapErrs)
		maps.Copy(vals, more)
	}
	if len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	return vals, nil
}

// blocked reports whether addr is on the block list: one entry a line, an
// address (spam@example.com) or a domain (example.com, @example.com).
func blocked(list, addr string) bool {
	_, domain, _ := strings.Cut(addr, "@")
	for _, l := range strings.Split(list, "\n") {
		l = strings.ToLower(strings.TrimSpace(l))
		if l == "" {
			continue
		}
		if l == addr || strings.TrimPrefix(l, "@") == domain || strings.HasSuffix(domain, "."+strings.TrimPrefix(l, "@")) {
			return true
		}
	}
	return false
}

// RegisteredByMailTTL is how long the link a client registered by mail
// sets their password with works.
const RegisteredByMailTTL = 7 * 24 * time.Hour

// registerByMail makes a client of a mail's sender. They chose no
// password: the account has none (no bcrypt on the mail path) and the mail
// that tells them their ticket is received carries a link to set one.
func (p *Portal) registerByMail(ctx context.Context, in NewPerson, subject string, answer bool) (*User, error) {
	if errs := in.validate(); len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	u := &User{Email: in.Email, Name: in.Name, Surname: in.Surname, Role: RoleClient}
	if err := p.InsertUser(ctx, u, "!"); err != nil { // "!" matches no password
		return nil, err
	}
	if !answer {
		return u, nil // they set a password with "Forgot your password?"
	}
	link, err := p.resetLink(ctx, u.ID, RegisteredByMailTTL)
	if err != nil {
		return nil, err
	}
	if err := p.mailTo(ctx, MailRegisteredByMail, u, MailVars{Subject: Line(subject), Link: link}, 0); err != nil {
		return nil, err
	}
	return u, nil
}

// ReleaseSpam lets a mail held as spam through: it is applied as if it had
// just come. Staff only.
func (p *Portal) ReleaseSpam(ctx context.Context, actor *User, id int64) error {
	if !actor.IsStaff() {
		return ErrForbidden
	}
	res, err := p.q.Exec(ctx, "UPDATE inbound SET state = 'new', outcome = '' WHERE id = ? AND state = 'spam'", id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	p.kickOutbox() // the portal's worker applies received mail too
	return nil
}

// DeleteSpam removes a mail held as spam, for good. Staff only.
func (p *Portal) DeleteSpam(ctx context.Context, actor *User, id int64) error {
	if !actor.IsStaff() {
		return ErrForbidden
	}
	return p.Tx(ctx, func(tp *Portal) error {
		res, err := tp.q.Exec(ctx, "DELETE FROM inbound WHERE id = ? AND state = 'spam'", id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		_, err = tp.q.Exec(ctx, "DELETE FROM inbound_raw WHERE inbound_id = ?", id)
		return err
	})
}

// SpamCount is how many received mails wait in the spam list.
func (p *Portal) SpamCount(ctx context.Context) int {
	var n int
	_ = p.q.QueryRow(ctx, "SELECT COUNT(*) FROM inbound WHERE state = 'spam'").Scan(&n)
	return n
}

// SpamList is the mail held as spam, newest first, with each one's subject
// read from its headers, for staff to let through or delete.
func (p *Portal) SpamList(ctx context.Context, actor *User, limit int) ([]Inbound, error) {
	if !actor.IsStaff() {
		return nil, ErrForbidden
	}
	rows, err := p.q.Query(ctx, `SELECT i.id, i.received_at, i.mail_from, i.rcpt, i.state, i.outcome, i.auth, r.raw FROM inbound i
		JOIN inbound_raw r ON r.inbound_id = i.id WHERE i.state = 'spam' ORDER BY i.id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Inbound{}
	for rows.Next() {
		var m Inbound
		var raw []byte
		if err := rows.Scan(&m.ID, &m.ReceivedAt, &m.From, &m.To, &m.State, &m.Outcome, &m.Auth, &raw); err != nil {
			return nil, err
		}
		if r, err := mail.CreateReader(bytes.NewReader(raw)); r != nil {
			m.Subject, _ = r.Header.Subject()
			if from, err := r.Header.AddressList("From"); err == nil && len(from) > 0 {
				m.From = from[0].Address
			}
			_ = err
			r.Close()
		}
		out = append(out, m)
	}
	return out, rows.Err()
}
