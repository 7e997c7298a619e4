package provisioner

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"portaldesk/portal/mail"
)

// Mailboxes whose server supports IDLE are kept open: new mail there is
// fetched within moments, not at the next minute's poll. The poll goes on
// for every mailbox all the same — it catches what a dropped connection
// missed — and a lock per portal keeps the two from fetching at once.

// idlers are the running IDLE connections, by portal id.
type idlers struct {
	mu      sync.Mutex
	ctx     context.Context // ends when the service closes
	stopAll context.CancelFunc
	run     map[int64]*idler
	wg      sync.WaitGroup
}

type idler struct {
	slug   string
	cancel context.CancelFunc
	done   chan struct{}
	noIdle bool // the server has no IDLE: the poll alone serves it
}

func newIdlers() *idlers {
	ctx, cancel := context.WithCancel(context.Background())
	return &idlers{ctx: ctx, stopAll: cancel, run: map[int64]*idler{}}
}

// close stops every IDLE connection and waits for them.
func (is *idlers) close() {
	is.stopAll()
	is.wg.Wait()
}

// stop ends portal id's IDLE connection, if it has one (its settings
// changed, or it no longer fetches a mailbox).
func (is *idlers) stop(id int64) {
	is.mu.Lock()
	it := is.run[id]
	delete(is.run, id)
	is.mu.Unlock()
	if it != nil {
		it.cancel()
		<-it.done
	}
}

// superviseIdle starts an IDLE connection for every watched mailbox that
// has none and stops those of mailboxes no longer watched; it runs with
// the minute's poll.
func (s *Service) superviseIdle(ctx context.Context) error {
	watched, err := s.catalog.WatchedMailboxes(ctx)
	if err != nil {
		return err
	}
	is := s.idle
	is.mu.Lock()
	var gone []int64
	for id, it := range is.run {
		if slug, ok := watched[id]; !ok || slug != it.slug {
			gone = append(gone, id)
		}
	}
	is.mu.Unlock()
	for _, id := range gone {
		is.stop(id)
	}
	for id, slug := range watched {
		s.startIdle(id, slug)
	}
	return nil
}

// startIdle starts portal id's IDLE connection unless it runs (or its
// server has none).
func (s *Service) startIdle(id int64, slug string) {
	is := s.idle
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.ctx.Err() != nil {
		return
	}
	if it, ok := is.run[id]; ok {
		select {
		case <-it.done:
			if it.noIdle {
				return
			}
		default:
			return // running
		}
	}
	ctx, cancel := context.WithCancel(is.ctx)
	it := &idler{slug: slug, cancel: cancel, done: make(chan struct{})}
	is.run[id] = it
	is.wg.Add(1)
	go func() {
		defer is.wg.Done()
		defer close(it.done)
		it.noIdle = s.idleLoop(ctx, slug)
	}()
}

// idleLoop keeps slug's mailbox in IDLE, reconnecting after failures with
// a growing pause (1, 2, 4 … minutes, at most an hour). It returns true
// when the server has no IDLE.
func (s *Service) idleLoop(ctx context.Context, slug string) (noIdle bool) {
	failures := 0
	for ctx.Err() == nil {
		h, err := s.registry.Acquire(ctx, slug)
		if err != nil {
			return false
		}
		acct, err := h.Portal.IMAP(ctx)
		h.Release()
		if err != nil || acct == nil {
			return false
		}
		started := time.Now()
		err = mail.IdleMailbox(ctx, acct, s.cfg.SMTPRootCAs, func() { failures = 0 }, func() { s.fetchBySlug(ctx, slug) })
		switch {
		case errors.Is(err, mail.ErrNoIdle):
			return true
		case ctx.Err() != nil:
			return false
		}
		if time.Since(started) > time.Hour {
			failures = 0
		}
		failures++
		slog.Info("mailbox idle", "portal", slug, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(min(time.Minute<<min(failures-1, 6), time.Hour)):
		}
	}
	return false
}

// fetchBySlug fetches slug's mailbox now, as the poll would.
func (s *Service) fetchBySlug(ctx context.Context, slug string) {
	h, err := s.registry.Acquire(ctx, slug)
	if err != nil {
		return
	}
	defer h.Release()
	if _, err := s.FetchMailbox(ctx, h.Portal); err != nil {
		slog.Info("mailbox", "portal", slug, "err", err)
	}
}
