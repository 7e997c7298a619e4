// Package mail turns a portal's outbox rows into MIME messages and sends
// them: through an SMTP server (github.com/wneessen/go-mail) or, with no
// server configured, into .eml files.
package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"html"
	"io"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"

	"portaldesk/portal"
)

// Compose turns an outbox row into a MIME message: text and HTML, UTF-8,
// a stable Message-ID, and threading headers for mail about a ticket.
func Compose(ctx context.Context, p *portal.Portal, fromName, from string, mm *portal.Mail) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	if from == "" {
		from = "noreply@portaldesk.localhost"
	}
	if fromName == "" {
		fromName = p.Plan().Company
	}
	// Addresses are built as net/mail addresses, which quote and encode
	// any name (quotes, colons, commas, non-Latin letters …): a name is
	// never formatted into a header by hand.
	sender, err := Address(fromName, from)
	if err != nil {
		return nil, fmt.Errorf("mail from: %w", err)
	}
	rcpt, err := Address(mm.ToName, mm.To)
	if err != nil {
		return nil, fmt.Errorf("mail to: %w", err)
	}
	msg.FromMailAddress(sender)
	msg.ToMailAddress(rcpt)
	msg.Subject(mm.Subject)
	msg.SetMessageIDWithValue(strings.Trim(mm.MessageID, "<>"))
	msg.SetDateWithValue(time.Unix(mm.CreatedAt, 0))
	if mm.TicketID != 0 {
		// The thread as this person has it: what we sent them about the
		// ticket and what they wrote in; the ticket's first mail heads it.
		refs := p.ThreadRefs(ctx, mm.TicketID, mm.To, mm.ID)
		if first := p.ThreadID(ctx, mm.TicketID); first != "" && first != mm.MessageID && (len(refs) == 0 || refs[0] != first) {
			refs = append([]string{first}, refs...)
		}
		if len(refs) > 0 {
			msg.SetGenHeader(gomail.HeaderInReplyTo, refs[len(refs)-1])
			msg.SetGenHeader(gomail.HeaderReferences, strings.Join(refs, " "))
		}
	}
	msg.SetGenHeader("X-Portaldesk-Portal", p.Slug)
	// Every mail the portal sends is written by a program: autoresponders
	// must not answer it (RFC 3834), which ends loops before they start.
	// An answer to a received mail says so (auto-replied), the rest is
	// generated.
	if portal.IsAnswer(mm.Kind) {
		msg.SetGenHeader("Auto-Submitted", "auto-replied")
	} else {
		msg.SetGenHeader("Auto-Submitted", "auto-generated")
	}
	text := mm.Text
	if mm.TicketID != 0 {
		if reply := p.ReplyAddress(mm.TicketID); reply != "" {
			// A reply comes back into the ticket; what is written above the
			// marker is the reply, the quoted rest is cut.
			if addr, err := Address(fromName, reply); err == nil {
				msg.ReplyToMailAddress(addr)
			}
			marker := portal.ReplyMarker
			if strings.ContainsFunc(text, func(r rune) bool { return r >= 'А' && r <= 'я' }) {
				marker = portal.ReplyMarkerRU
			}
			text = marker + "\n\n" + text
		}
	}
	msg.SetBodyString(gomail.TypeTextPlain, text)
	msg.AddAlternativeString(gomail.TypeTextHTML, "<div style=\"font-family:sans-serif;white-space:pre-wrap\">"+html.EscapeString(text)+"</div>")
	files, err := p.MailFiles(ctx, mm)
	if err != nil {
		return nil, err
	}
	for _, a := range files {
		f, err := p.OpenFile(a)
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, err
		}
		if err := msg.AttachReader(a.Name, bytes.NewReader(b), gomail.WithFileContentType(gomail.ContentType(a.ContentType))); err != nil {
			return nil, err
		}
	}
	return msg, nil
}

// FileSender writes each message as an .eml file under Dir/<slug>/, the
// embedded default when no SMTP server is configured.
type FileSender struct {
	Dir  string
	From string
	// Keep bounds the files a portal's directory holds (0: no bound), and
	// MaxAge how old they may get (0: no bound): the oldest go first.
	Keep   int
	MaxAge time.Duration

	mu      sync.Mutex
	written map[string]int       // files written per directory since it was pruned
	pruned  map[string]time.Time // when each directory was pruned
	files   int                  // what the last Prune found in all directories
	bytes   int64
}

// Send writes each message atomically: a reader never sees half a file.
func (f *FileSender) Send(ctx context.Context, p *portal.Portal, mails []*portal.Mail) []error {
	errs := make([]error, len(mails))
	dir := filepath.Join(f.Dir, p.Slug)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	for i, mm := range mails {
		msg, err := Compose(ctx, p, "", f.From, mm)
		if err == nil {
			name := filepath.Join(dir, fmt.Sprintf("%s-%06d.eml", time.Unix(mm.CreatedAt, 0).UTC().Format("20060102T150405Z"), mm.ID))
			if err = msg.WriteToFile(name + ".tmp"); err == nil {
				err = os.Rename(name+".tmp", name)
			}
		}
		errs[i] = err
	}
	f.afterWrite(dir, len(mails))
	return errs
}

// afterWrite prunes dir once a tenth of Keep files were written to it
// since it was last pruned, or a minute has passed: a busy portal's
// directory never grows far past its bound.
func (f *FileSender) afterWrite(dir string, n int) {
	if f.Keep <= 0 && f.MaxAge <= 0 {
		return
	}
	now := time.Now()
	f.mu.Lock()
	if f.written == nil {
		f.written, f.pruned = map[string]int{}, map[string]time.Time{}
	}
	f.written[dir] += n
	due := f.written[dir] >= max(f.Keep/10, 1) || now.Sub(f.pruned[dir]) > time.Minute
	if due {
		f.written[dir], f.pruned[dir] = 0, now
	}
	f.mu.Unlock()
	if due {
		pruneDir(dir, f.Keep, f.MaxAge, now)
	}
}

// pruneDir removes from dir the .eml files beyond the newest keep and
// those written longer than maxAge ago, and answers what is left. The
// names start with the time the mail was queued, so their order is the
// mail's.
func pruneDir(dir string, keep int, maxAge time.Duration, now time.Time) (files int, bytes int64) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0
	}
	var names []os.DirEntry
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".eml") {
			names = append(names, e)
		}
	}
	for i, e := range names { // oldest first
		fi, err := e.Info()
		if err != nil {
			continue // gone meanwhile
		}
		// Age is the file's own, on disk: the name carries the mail's
		// time, which a portal's clock decides.
		old := keep > 0 && len(names)-i > keep || maxAge > 0 && now.Sub(fi.ModTime()) > maxAge
		if old {
			os.Remove(filepath.Join(dir, e.Name()))
			continue
		}
		files++
		bytes += fi.Size()
	}
	return files, bytes
}

// Prune bounds every portal's directory now (the hourly usage job does,
// for portals that have stopped sending too) and remembers the totals.
func (f *FileSender) Prune(now time.Time) (files int, bytes int64) {
	entries, _ := os.ReadDir(f.Dir)
	for _, e := range entries {
		if e.IsDir() {
			n, b := pruneDir(filepath.Join(f.Dir, e.Name()), f.Keep, f.MaxAge, now)
			files, bytes = files+n, bytes+b
		}
	}
	f.mu.Lock()
	f.files, f.bytes = files, bytes
	f.mu.Unlock()
	return files, bytes
}

// Kept is what the last Prune found: files and their bytes.
func (f *FileSender) Kept() (files int, bytes int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.files, f.bytes
}

// SMTPConfig is an SMTP account.
type SMTPConfig struct {
	Host     string
	Port     int
	Security string // none, starttls, tls
	User     string
	Password string
	FromName string
	From     string
	Insecure bool           // accept any certificate (loopback relays)
	RootCAs  *x509.CertPool // trusted besides the system's
}

// ParseSMTPURL reads smtp://user:pass@host:port (smtps:// for implicit TLS,
// ?starttls=1 for STARTTLS, ?from=addr, ?insecure=1).
func ParseSMTPURL(s string) (SMTPConfig, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return SMTPConfig{}, fmt.Errorf("smtp url %q: want smtp://user:pass@host:port", s)
	}
	c := SMTPConfig{Host: u.Hostname(), Security: "none", From: u.Query().Get("from"), Insecure: u.Query().Get("insecure") == "1"}
	switch u.Scheme {
	case "smtp":
		c.Port = 25
		if u.Query().Get("starttls") == "1" {
			c.Security = "starttls"
		}
	case "smtps":
		c.Port, c.Security = 465, "tls"
	default:
		return SMTPConfig{}, fmt.Errorf("smtp url %q: the scheme must be smtp or smtps", s)
	}
	if p := u.Port(); p != "" {
		if c.Port, err = strconv.Atoi(p); err != nil {
			return SMTPConfig{}, fmt.Errorf("smtp url %q: bad port", s)
		}
	}
	if u.User != nil {
		c.User = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	return c, nil
}

// SMTPSender delivers through an SMTP server with go-mail, one connection per batch.
type SMTPSender struct{ Cfg SMTPConfig }

type permanentError struct{ error }

func (permanentError) Permanent() bool { return true }

func (e permanentError) Unwrap() error { return e.error }

func (s *SMTPSender) client() (*gomail.Client, error) {
	c := s.Cfg
	opts := []gomail.Option{gomail.WithPort(c.Port), gomail.WithTimeout(15 * time.Second)}
	switch c.Security {
	case "tls":
		opts = append(opts, gomail.WithSSL())
	case "starttls":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if c.Insecure || c.RootCAs != nil {
		opts = append(opts, gomail.WithTLSConfig(&tls.Config{InsecureSkipVerify: c.Insecure, RootCAs: c.RootCAs, ServerName: c.Host, MinVersion: tls.VersionTLS12}))
	}
	if c.User != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain), gomail.WithUsername(c.User), gomail.WithPassword(c.Password))
	}
	return gomail.NewClient(c.Host, opts...)
}

// Send delivers the batch over one connection; a 5xx answer is permanent.
func (s *SMTPSender) Send(ctx context.Context, p *portal.Portal, mails []*portal.Mail) []error {
	errs := make([]error, len(mails))
	fail := func(err error) []error {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		return errs
	}
	c, err := s.client()
	if err != nil {
		return fail(permanentError{err})
	}
	if err := c.DialWithContext(ctx); err != nil {
		return fail(classify(err))
	}
	defer c.Close()
	for i, mm := range mails {
		msg, err := Compose(ctx, p, s.Cfg.FromName, s.Cfg.From, mm)
		if err != nil {
			errs[i] = permanentError{err}
			continue
		}
		if err := c.Send(msg); err != nil {
			errs[i] = classify(err)
		}
	}
	return errs
}

// classify marks SMTP 5xx answers as permanent; everything else (refused
// connections, timeouts, 4xx) is worth another try.
func classify(err error) error {
	var se *gomail.SendError
	if errors.As(err, &se) && se.ErrorCode() >= 500 && se.ErrorCode() < 600 && !se.IsTemp() {
		return permanentError{err}
	}
	return err
}

// Address is a mail address with a display name: the address must parse
// alone, and the name — whatever it holds — becomes a quoted or encoded
// phrase. Line breaks and other control characters in the name become
// spaces, so no name can start a header of its own.
func Address(name, addr string) (*mail.Address, error) {
	a, err := mail.ParseAddress(strings.TrimSpace(addr))
	if err != nil || a.Name != "" {
		return nil, fmt.Errorf("%q is not a mail address", addr)
	}
	a.Name = strings.Join(strings.FieldsFunc(name, func(r rune) bool { return r < 32 || r == 127 }), " ")
	return a, nil
}
