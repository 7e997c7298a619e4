package provisioner

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"portaldesk/portal"
	"portaldesk/portal/mail"
)

// Mailer delivers the portals' outboxes. A portal that queued mail kicks it;
// it then keeps the portal open (see Queued), or takes it from the registry
// like any request, and sends what is due through the portal's own SMTP
// account, the service's, or — with neither — into .eml files under
// DATA/mail/<slug>/. Failed attempts are
// retried with backoff; at start it sweeps every portal for mail a crash or
// an outage left behind.
type Mailer struct {
	svc      *Service
	fallback portal.Sender // the service's SMTP, or files
	files    *mail.FileSender
	mu       sync.Mutex
	queued   map[string]*Handle // portals to deliver; a handle keeps one open (see Queued)
	running  bool               // handles may be kept: the loop will deliver
	holding  int                // handles kept, in queued or being delivered
	retryAt  map[string]time.Time
	kick     chan struct{}
	// beforeFlush, when set (tests), runs before each delivery round.
	beforeFlush func()
	stop        chan struct{}
	done        chan struct{}
}

// NewMailer makes the deliverer; Start runs it.
func NewMailer(svc *Service) (*Mailer, error) {
	m := &Mailer{svc: svc, queued: map[string]*Handle{}, retryAt: map[string]time.Time{}, kick: make(chan struct{}, 1)}
	m.files = &mail.FileSender{Dir: filepath.Join(svc.cfg.DataDir, "mail"), From: svc.cfg.MailFrom,
		Keep: svc.cfg.MailFilesKeep, MaxAge: time.Duration(svc.cfg.MailFilesDays) * 24 * time.Hour}
	m.fallback = m.files
	if svc.cfg.SMTPURL != "" {
		cfg, err := mail.ParseSMTPURL(svc.cfg.SMTPURL)
		if err != nil {
			return nil, err
		}
		if cfg.From == "" {
			cfg.From = svc.cfg.MailFrom
		}
		cfg.RootCAs = svc.cfg.SMTPRootCAs
		m.fallback = &mail.SMTPSender{Cfg: cfg}
	}
	return m, nil
}

// Kick asks for slug's outbox to be delivered soon.
func (m *Mailer) Kick(slug string) { m.queue(slug, false) }

// Queued is Kick for a portal a request has just queued mail on, while
// the request holds it open: the mailer keeps it open until the mail is
// out. A portal opened for that one request (a rarely visited one, which
// the registry does not keep) is then not closed after the request and
// opened again for delivery.
func (m *Mailer) Queued(slug string) { m.queue(slug, true) }

// maxHolding bounds the portals the mailer keeps open: while mail is slow
// to go out (an SMTP server that times out), portals that queue more are
// closed after their requests as usual and opened again for delivery.
const maxHolding = 32

func (m *Mailer) queue(slug string, hold bool) {
	m.mu.Lock()
	h := m.queued[slug]
	if hold && h == nil && m.running && m.holding < maxHolding {
		if h = m.svc.registry.Peek(slug); h != nil {
			m.holding++
		}
	}
	m.queued[slug] = h
	m.mu.Unlock()
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// Start runs the delivery loop until Stop; sweep also delivers what every
// portal had left in its outbox.
func (m *Mailer) Start(sweep bool) {
	m.stop, m.done = make(chan struct{}), make(chan struct{})
	m.mu.Lock()
	m.running = true
	m.mu.Unlock()
	if sweep {
		go m.sweep()
	}
	go func() {
		defer close(m.done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-m.stop:
				m.flush()
				return
			case <-m.kick:
				m.flush()
			case now := <-tick.C:
				m.mu.Lock()
				for slug, at := range m.retryAt {
					if !now.Before(at) {
						if _, ok := m.queued[slug]; !ok {
							m.queued[slug] = nil
						}
						delete(m.retryAt, slug)
					}
				}
				m.mu.Unlock()
				m.flush()
			}
		}
	}()
}

// Stop delivers what is queued and stops.
func (m *Mailer) Stop() {
	if m.stop != nil {
		m.mu.Lock()
		m.running = false // the loop's last flush delivers what holds a portal
		m.mu.Unlock()
		close(m.stop)
		<-m.done
		m.stop = nil
	}
}

func (m *Mailer) sweep() {
	list, err := m.svc.catalog.Portals(context.Background())
	if err != nil {
		slog.Warn("mail sweep", "err", err)
		return
	}
	for _, rec := range list {
		select {
		case <-m.stop:
			return
		default:
		}
		if rec.State == portal.StateSuspended || !m.svc.ServesHere(rec) {
			continue
		}
		m.Kick(rec.Slug)
	}
}

func (m *Mailer) flush() {
	m.mu.Lock()
	hook := m.beforeFlush
	m.mu.Unlock()
	if hook != nil {
		hook()
	}
	m.mu.Lock()
	batch := m.queued
	m.queued = make(map[string]*Handle, len(batch))
	m.mu.Unlock()
	// Portals are independent: a few at once, so that mail coming in to
	// many portals (or out of them) is not taken one portal at a time. A
	// portal is in one batch once, so never on two workers.
	work := make(chan string)
	var wg sync.WaitGroup
	for w := 0; w < min(flushWorkers, len(batch)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for slug := range work {
				h := batch[slug]
				var err error
				if h != nil {
					err = m.deliver(context.Background(), h)
					m.mu.Lock()
					m.holding--
					m.mu.Unlock()
				} else {
					err = m.Deliver(context.Background(), slug)
				}
				if err != nil {
					slog.Warn("mail delivery", "portal", slug, "err", err)
				}
			}
		}()
	}
	for slug := range batch {
		work <- slug
	}
	close(work)
	wg.Wait()
}

// jobSlice is how long one round works on a portal's long jobs.
const jobSlice = 2 * time.Second

// flushWorkers is how many portals one round of the mail worker serves at
// once.
const flushWorkers = 4

// Deliver sends slug's due mail now and schedules the next retry.
func (m *Mailer) Deliver(ctx context.Context, slug string) error {
	h, err := m.svc.registry.Acquire(ctx, slug)
	if err != nil {
		return err
	}
	return m.deliver(ctx, h)
}

// deliver is Deliver on a portal held open; it releases h.
func (m *Mailer) deliver(ctx context.Context, h *Handle) error {
	defer h.Release()
	slug := h.Portal.Slug
	// A portal closing (moving to another node) is not held open by its
	// mail: what is not sent stays queued for the next round, there.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	gone := h.Evicted()
	go func() {
		select {
		case <-gone:
			cancel()
		case <-ctx.Done():
		}
	}()
	// Mail received first: what it makes (a ticket, a reply) mails people,
	// and that mail goes in the same round.
	if _, err := h.Portal.ProcessInbound(ctx); err != nil {
		slog.Warn("inbound mail", "portal", slug, "err", err)
	}
	// And what the messengers sent: a ticket, a reply, a rating.
	if _, err := h.Portal.ProcessChannels(ctx); err != nil {
		slog.Warn("messenger updates", "portal", slug, "err", err)
	}
	m.svc.pollers.ensure(ctx, slug, h.Portal)
	// Long jobs (imports, exports) a chunk at a time, for a few seconds a
	// round: the rest waits for the next round, which comes at once.
	jobsLeft := false
	for start := time.Now(); time.Since(start) < jobSlice; {
		more, err := h.Portal.RunJobs(ctx)
		if err != nil {
			slog.Warn("jobs", "portal", slug, "err", err)
		}
		if jobsLeft = more; !more || err != nil {
			break
		}
	}
	d, err := h.Portal.DeliverOutbox(ctx, m.senderFor(ctx, h.Portal))
	m.svc.metrics.observeMail(slug, d.Sent, d.Failed, d.Pending)
	next := d.Next
	// Webhooks ride the same round: queued in the same transactions, woken
	// by the same kick, retried on the same clock.
	hookNext, herr := h.Portal.DeliverWebhooks(ctx, m.svc.hooks)
	if herr != nil {
		slog.Warn("webhooks", "portal", slug, "err", herr)
	}
	if !hookNext.IsZero() && (next.IsZero() || hookNext.Before(next)) {
		next = hookNext
	}
	if jobsLeft {
		if now := m.svc.now(); next.IsZero() || now.Before(next) {
			next = now
		}
	}
	chats, cerr := h.Portal.DeliverChannels(ctx)
	if cerr != nil {
		slog.Warn("messenger delivery", "portal", slug, "err", cerr)
	}
	if !chats.Next.IsZero() && (next.IsZero() || chats.Next.Before(next)) {
		next = chats.Next
	}
	if !next.IsZero() {
		m.mu.Lock()
		if at, ok := m.retryAt[slug]; !ok || next.Before(at) {
			m.retryAt[slug] = next
		}
		m.mu.Unlock()
	}
	return err
}

func (m *Mailer) senderFor(ctx context.Context, p *portal.Portal) portal.Sender {
	if own := p.SMTP(ctx); own != nil {
		return &mail.SMTPSender{Cfg: mail.SMTPConfig{Host: own.Host, Port: own.Port, Security: own.Security, User: own.User, Password: own.Password, FromName: own.FromName, From: own.From, RootCAs: m.svc.cfg.SMTPRootCAs}}
	}
	return m.fallback
}

// SendTest sends a test message through the account in s (or, when nil, the
// one the portal uses) and reports the server's answer.
func (m *Mailer) SendTest(ctx context.Context, p *portal.Portal, s *portal.SMTPSettings, to *portal.User) (string, error) {
	sender := m.senderFor(ctx, p)
	where := "the service's mail"
	if s.Configured() {
		sender = &mail.SMTPSender{Cfg: mail.SMTPConfig{Host: s.Host, Port: s.Port, Security: s.Security, User: s.User, Password: s.Password, FromName: s.FromName, From: s.From, RootCAs: m.svc.cfg.SMTPRootCAs}}
		where = fmt.Sprintf("%s:%d", s.Host, s.Port)
	}
	if _, ok := sender.(*mail.FileSender); ok {
		where = "a file under the data directory (no SMTP server is configured)"
	}
	mail := &portal.Mail{ID: time.Now().UnixNano() % 1e6, Kind: "test", To: to.Email, ToName: to.FullName(), Subject: "Test email from " + p.Plan().Company,
		Text: "This is a test email from your helpdesk portal. If you read this, mail works.\n", MessageID: fmt.Sprintf("<%s.test.%d@portaldesk>", p.Slug, time.Now().UnixNano()), CreatedAt: time.Now().Unix()}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := sender.Send(ctx, p, []*portal.Mail{mail})[0]; err != nil {
		return "", err
	}
	return "Accepted by " + where + " for " + to.Email + ".", nil
}

// MailFiles bounds the .eml files of every portal (the usage job calls it
// hourly) and answers what is kept: files and bytes.
func (m *Mailer) MailFiles(now time.Time) (int, int64) { return m.files.Prune(now) }

// KeptMailFiles is what the last MailFiles found.
func (m *Mailer) KeptMailFiles() (int, int64) { return m.files.Kept() }
