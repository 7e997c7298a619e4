package provisioner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
	"golang.org/x/net/netutil"

	"portaldesk/portal"
	"portaldesk/portal/mail"
	"portaldesk/provisioner/catalog"
)

// The service's own mail server: it takes mail for <slug>@<mail domain>
// (and the signed reply addresses <slug>+t<n>.<sig>@<mail domain>),
// refuses any other recipient at RCPT, stores each mail in its portal's
// inbound queue before it answers 250, and wakes the portal's worker,
// which applies it (Mailer.deliver → Portal.ProcessInbound). It can face
// the Internet as an MX or sit behind Postfix as its relay (SMTP or LMTP).

// Inbound limits.
const (
	inboundMaxConns      = 200
	inboundMaxRecipients = 50
)

// NewInbound is the SMTP server that takes the portals' mail; nil when the
// service has no mail domain.
func (s *Service) NewInbound() *smtp.Server {
	if s.cfg.MailDomain == "" {
		return nil
	}
	srv := smtp.NewServer(&inboundBackend{svc: s})
	srv.Domain = s.cfg.MailDomain
	srv.MaxMessageBytes = portal.MaxInboundBytes
	srv.MaxRecipients = inboundMaxRecipients
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.LMTP = s.cfg.InboundLMTP
	return srv
}

// ServeInbound takes mail on ln until the server is closed.
func ServeInbound(srv *smtp.Server, ln net.Listener) error {
	err := srv.Serve(netutil.LimitListener(ln, inboundMaxConns))
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

type inboundBackend struct{ svc *Service }

func (b *inboundBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	sess := &inboundSession{svc: b.svc, helo: c.Hostname()}
	if a, ok := c.Conn().RemoteAddr().(*net.TCPAddr); ok {
		sess.ip = a.IP
	}
	return sess, nil
}

type inboundSession struct {
	svc   *Service
	ip    net.IP // the connecting server, for SPF
	helo  string
	from  string
	rcpts map[string]string // portal slug → the address it was sent to (a signed reply address wins)
}

func (s *inboundSession) Reset()        { s.from, s.rcpts = "", nil }
func (s *inboundSession) Logout() error { return nil }

func (s *inboundSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

var errNoMailbox = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such mailbox here"}

// Rcpt accepts a portal's address at the mail domain, of a live portal.
func (s *inboundSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	addr := strings.ToLower(strings.TrimSpace(to))
	local, domain, ok := strings.Cut(addr, "@")
	if !ok {
		return errNoMailbox
	}
	slug, _, _ := strings.Cut(local, "+")
	if domain != strings.ToLower(s.svc.cfg.MailDomain) {
		// A portal's own address, its domain's MX pointing here.
		if slug = s.svc.catalog.PortalByInboundAddress(context.Background(), addr); slug == "" {
			return errNoMailbox
		}
	}
	rec, err := s.svc.catalog.PortalBySlug(context.Background(), slug)
	if err != nil || rec.State == portal.StateSuspended {
		return errNoMailbox
	}
	if s.rcpts == nil {
		s.rcpts = map[string]string{}
	}
	if cur, seen := s.rcpts[slug]; !seen || !strings.Contains(cur, "+") {
		s.rcpts[slug] = to
	}
	return nil
}

// Data stores the mail in each recipient portal's queue; 250 means it is
// on disk there.
func (s *inboundSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	verdict, failing := s.svc.authenticate(ctx, s.ip, s.helo, s.from, raw)
	for slug, rcpt := range s.rcpts {
		if err := s.svc.receive(ctx, slug, s.from, rcpt, raw, verdict, failing); err != nil {
			slog.Warn("inbound mail", "portal", slug, "err", err)
			switch {
			case errors.Is(err, portal.ErrQuotaExceeded), errors.Is(err, portal.ErrMailTooLarge):
				return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 2, 2}, Message: "The mailbox is full"}
			case errors.Is(err, portal.ErrReadOnly):
				return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "The mailbox is full: try later"}
			}
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
		}
	}
	return nil
}

// receive stores one mail in a portal's queue and wakes its worker.
func (s *Service) receive(ctx context.Context, slug, from, rcpt string, raw []byte, verdict string, failing bool) error {
	h, err := s.registry.Acquire(ctx, slug)
	if err != nil {
		return err
	}
	_, err = h.Portal.ReceiveMailChecked(ctx, from, rcpt, bytes.Clone(raw), verdict, failing)
	h.Release()
	if err != nil {
		return fmt.Errorf("receive mail: %w", err)
	}
	s.mailer.Kick(slug)
	return nil
}

// WatchMailbox puts the portal on the list of mailboxes to fetch, or off.
// A mailbox kept in IDLE is let go: its settings may have changed, and the
// next poll starts it again with the new ones.
func (s *Service) WatchMailbox(ctx context.Context, portalID int64, on bool) error {
	s.idle.stop(portalID)
	return s.catalog.WatchMailbox(ctx, portalID, on, s.now())
}

// FetchMailbox fetches the portal's mailbox now, records how it went for
// its admin, schedules the next fetch (backing off after failures) and has
// what came applied.
func (s *Service) FetchMailbox(ctx context.Context, p *portal.Portal) (int, error) {
	mu, _ := s.fetching.LoadOrStore(p.Slug, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	n, err := mail.FetchMailbox(ctx, p, s.cfg.SMTPRootCAs)
	next := p.RecordIMAPResult(ctx, err)
	if serr := s.catalog.MailboxNext(ctx, p.Plan().ID, next); serr != nil && err == nil {
		err = serr
	}
	if n > 0 {
		s.mailer.Kick(p.Slug)
	}
	return n, err
}

// FetchDueMailboxes fetches every mailbox that is due (the "mailboxes"
// job, every minute): how many mailboxes it read, messages it stored, and
// mailboxes that failed.
func (s *Service) FetchDueMailboxes(ctx context.Context) (boxes, messages, failed int, err error) {
	if err := s.superviseIdle(ctx); err != nil {
		return 0, 0, 0, err
	}
	due, err := s.catalog.DueMailboxes(ctx, s.now())
	if err != nil {
		return 0, 0, 0, err
	}
	for _, slug := range due {
		h, err := s.registry.Acquire(ctx, slug)
		if err != nil {
			continue
		}
		n, ferr := s.FetchMailbox(ctx, h.Portal)
		h.Release()
		boxes, messages = boxes+1, messages+n
		if ferr != nil {
			failed++
			slog.Info("mailbox", "portal", slug, "err", ferr)
		}
	}
	return boxes, messages, failed, nil
}

// InboundAddresses lists the portal's own addresses.
func (s *Service) InboundAddresses(ctx context.Context, portalID int64) ([]string, error) {
	return s.catalog.InboundAddresses(ctx, portalID)
}

// MaxInboundAddresses bounds a portal's own addresses.
const MaxInboundAddresses = 20

// SetInboundAddresses makes addrs (help@romashka.ru …) the portal's own
// addresses: mail for them that reaches the service is the portal's.
// Every address is checked; one taken by another portal names itself.
func (s *Service) SetInboundAddresses(ctx context.Context, portalID int64, addrs []string) error {
	seen := map[string]bool{}
	var clean []string
	for _, a := range addrs {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == "" || seen[a] {
			continue
		}
		if msg := portal.ValidateEmail(a); msg != "" {
			return &portal.FieldErrors{Fields: map[string]string{"addresses": fmt.Sprintf("%s: %s", a, msg)}}
		}
		if _, domain, _ := strings.Cut(a, "@"); strings.EqualFold(domain, s.cfg.MailDomain) {
			return &portal.FieldErrors{Fields: map[string]string{"addresses": fmt.Sprintf("%s is at the service's own domain: the portal has its address there already.", a)}}
		}
		seen[a] = true
		clean = append(clean, a)
	}
	if len(clean) > MaxInboundAddresses {
		return &portal.FieldErrors{Fields: map[string]string{"addresses": fmt.Sprintf("At most %d addresses.", MaxInboundAddresses)}}
	}
	if err := s.catalog.SetInboundAddresses(ctx, portalID, clean); err != nil {
		var taken *catalog.ErrAddressTaken
		if errors.As(err, &taken) {
			return &portal.FieldErrors{Fields: map[string]string{"addresses": fmt.Sprintf("%s takes mail for another portal.", taken.Address)}}
		}
		return err
	}
	return nil
}

// WatchClocks puts the portal on the list of portals whose SLA clocks and
// time rules are looked at every minute, or off (portal.UsesClocks).
func (s *Service) WatchClocks(ctx context.Context, portalID int64, on bool) error {
	return s.catalog.WatchClocks(ctx, portalID, on)
}

// CheckClocks marks the passed SLA targets and runs the time rules of
// every portal that has either (the "sla" job, every minute): how many
// portals it checked, and breaches marked plus rules that acted.
func (s *Service) CheckClocks(ctx context.Context) (portals, breaches int, err error) {
	list, err := s.catalog.ClockPortals(ctx)
	if err != nil {
		return 0, 0, err
	}
	var errs []error
	for _, slug := range list {
		h, err := s.registry.Acquire(ctx, slug)
		if err != nil {
			continue
		}
		n, err := h.Portal.CheckSLA(ctx)
		if err == nil {
			var m int
			m, err = h.Portal.RunTimeRules(ctx)
			n += m
		}
		h.Release()
		portals, breaches = portals+1, breaches+n
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", slug, err))
		}
	}
	return portals, breaches, errors.Join(errs...)
}
