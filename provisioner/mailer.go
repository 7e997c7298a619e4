package provisioner

import (
	"context"
	"fmt"
	"html"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"

	"portaldesk/portal"
)

// Mailer delivers the portals' outboxes. A portal that queued mail kicks it;
// it then takes the portal from the registry like any request and sends what
// is due. Without an SMTP server mail is written as .eml files under
// DATA/mail/<slug>/.
type Mailer struct {
	svc    *Service
	sender portal.Sender
	mu     sync.Mutex
	queued map[string]bool
	kick   chan struct{}
	stop   chan struct{}
	done   chan struct{}
}

// NewMailer makes the deliverer; Start runs it.
func NewMailer(svc *Service, sender portal.Sender) *Mailer {
	if sender == nil {
		sender = &FileSender{Dir: filepath.Join(svc.cfg.DataDir, "mail"), From: svc.cfg.MailFrom}
	}
	return &Mailer{svc: svc, sender: sender, queued: map[string]bool{}, kick: make(chan struct{}, 1)}
}

// Kick asks for slug's outbox to be delivered soon.
func (m *Mailer) Kick(slug string) {
	m.mu.Lock()
	m.queued[slug] = true
	m.mu.Unlock()
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// Start runs the delivery loop until Stop.
func (m *Mailer) Start() {
	m.stop, m.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(m.done)
		for {
			select {
			case <-m.stop:
				m.flush()
				return
			case <-m.kick:
				m.flush()
			}
		}
	}()
}

// Stop delivers what is queued and stops.
func (m *Mailer) Stop() {
	if m.stop != nil {
		close(m.stop)
		<-m.done
		m.stop = nil
	}
}

// Flush delivers every queued portal's mail now (tests, shutdown).
func (m *Mailer) flush() {
	m.mu.Lock()
	slugs := make([]string, 0, len(m.queued))
	for s := range m.queued {
		slugs = append(slugs, s)
	}
	clear(m.queued)
	m.mu.Unlock()
	for _, slug := range slugs {
		if err := m.Deliver(context.Background(), slug); err != nil {
			slog.Warn("mail delivery", "portal", slug, "err", err)
		}
	}
}

// Deliver sends slug's due mail now.
func (m *Mailer) Deliver(ctx context.Context, slug string) error {
	h, err := m.svc.registry.Acquire(ctx, slug)
	if err != nil {
		return err
	}
	defer h.Release()
	_, err = h.Portal.DeliverOutbox(ctx, m.sender)
	return err
}

// Compose turns an outbox row into a MIME message: text and HTML, UTF-8,
// a stable Message-ID, and threading headers for mail about a ticket.
func Compose(ctx context.Context, p *portal.Portal, from string, mm *portal.Mail) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	if from == "" {
		from = "noreply@portaldesk.localhost"
	}
	if err := msg.FromFormat(p.Plan().Company, from); err != nil {
		return nil, fmt.Errorf("mail from: %w", err)
	}
	if err := msg.AddToFormat(mm.ToName, mm.To); err != nil {
		return nil, fmt.Errorf("mail to: %w", err)
	}
	msg.Subject(mm.Subject)
	msg.SetMessageIDWithValue(strings.Trim(mm.MessageID, "<>"))
	msg.SetDateWithValue(time.Unix(mm.CreatedAt, 0))
	if mm.TicketID != 0 {
		if first := p.ThreadID(ctx, mm.TicketID); first != "" && first != mm.MessageID {
			msg.SetGenHeader(gomail.HeaderInReplyTo, first)
			msg.SetGenHeader(gomail.HeaderReferences, first)
		}
	}
	msg.SetGenHeader("X-Portaldesk-Portal", p.Slug)
	msg.SetBodyString(gomail.TypeTextPlain, mm.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, "<div style=\"font-family:sans-serif;white-space:pre-wrap\">"+html.EscapeString(mm.Text)+"</div>")
	return msg, nil
}

// FileSender writes each message as an .eml file under Dir/<slug>/, the
// embedded default when no SMTP server is configured.
type FileSender struct {
	Dir  string
	From string
}

// Send writes the message atomically: a reader never sees half a file.
func (f *FileSender) Send(ctx context.Context, p *portal.Portal, mm *portal.Mail) error {
	msg, err := Compose(ctx, p, f.From, mm)
	if err != nil {
		return err
	}
	dir := filepath.Join(f.Dir, p.Slug)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	name := filepath.Join(dir, fmt.Sprintf("%s-%06d.eml", time.Unix(mm.CreatedAt, 0).UTC().Format("20060102T150405Z"), mm.ID))
	tmp := name + ".tmp"
	if err := msg.WriteToFile(tmp); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}
