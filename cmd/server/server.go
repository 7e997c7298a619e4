// Package server assembles the whole Portaldesk service: the control
// plane (provisioner), every portal's pages and API, the ops console at
// /ops and the scheduled jobs (quota). The binary, the test harness and the
// load command all build the service here, so every way of running it has
// the same routes, jobs and console.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"portaldesk/provisioner"
	"portaldesk/provisioner/ops"
	"portaldesk/quota"

	"github.com/emersion/go-smtp"
)

// Server is the assembled service.
type Server struct {
	Svc   *provisioner.Service
	App   *provisioner.App
	Jobs  *quota.Jobs
	sched *quota.Scheduler
	http  *http.Server
	smtp  *smtp.Server // the portals' mail in; nil without a mail domain
	https *http.Server // portals' own domains over TLS; nil unless EnableTLS
	once  sync.Once
	err   error
}

// New opens the data directory of cfg and wires the service; Serve (or
// Handler) puts it to work, StartJobs runs the schedule.
func New(ctx context.Context, cfg provisioner.Config) (*Server, error) {
	svc, err := provisioner.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	app, err := provisioner.NewApp(svc)
	if err != nil {
		svc.Close()
		return nil, err
	}
	jobs := quota.New(svc)
	app.Site.Handle("/ops", ops.New(svc, jobs, app.Tpl))
	s := &Server{Svc: svc, App: app, Jobs: jobs, smtp: svc.NewInbound()}
	s.http = &http.Server{Handler: app, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	// Live pages must not hold a shutdown up.
	s.http.RegisterOnShutdown(svc.Hubs().Shutdown)
	return s, nil
}

// Handler is every route of the service.
func (s *Server) Handler() http.Handler { return s.App }

// StartJobs runs the scheduled jobs (and a catch-up round at once).
func (s *Server) StartJobs() error {
	s.sched = quota.NewScheduler(s.Jobs, nil)
	return s.sched.Start()
}

// EnableTLS serves portals' own domains over https with certificates
// obtained on demand (ServeTLS takes the listener); plain HTTP then
// answers ACME's challenges and redirects a host with its certificate.
func (s *Server) EnableTLS(o provisioner.TLSConfig) *provisioner.TLS {
	t := s.Svc.NewTLS(o)
	s.http.Handler = t.HTTP(s.App)
	s.https = &http.Server{Handler: s.App, TLSConfig: t.Config(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	s.https.RegisterOnShutdown(s.Svc.Hubs().Shutdown)
	return t
}

// ServeTLS answers https requests on ln until Shutdown (after EnableTLS).
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.https == nil {
		return errors.New("TLS is not enabled")
	}
	if err := s.https.Serve(tls.NewListener(ln, s.https.TLSConfig)); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Serve answers requests on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ServeInbound takes the portals' mail on ln (SMTP, or LMTP) until
// Shutdown; it returns at once when the service has no mail domain.
func (s *Server) ServeInbound(ln net.Listener) error {
	if s.smtp == nil {
		return errors.New("no mail domain: set --mail-domain to take mail")
	}
	return provisioner.ServeInbound(s.smtp, ln)
}

// Shutdown stops taking requests and finishes those in flight (until ctx
// ends), then the scheduler (a running job completes), then the mail
// worker and every portal.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	if s.https != nil {
		err = errors.Join(err, s.https.Shutdown(ctx))
	}
	if s.smtp != nil {
		err = errors.Join(err, s.smtp.Shutdown(ctx))
	}
	return errors.Join(err, s.Close())
}

// Close stops the scheduler and closes the service without waiting for
// requests (after Shutdown, or when Serve was never called).
func (s *Server) Close() error {
	s.once.Do(func() {
		if s.smtp != nil {
			s.smtp.Close()
		}
		if s.sched != nil {
			s.sched.Stop()
		}
		s.err = s.Svc.Close()
	})
	return s.err
}
