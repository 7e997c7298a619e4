package provisioner

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"portaldesk/portal"
	"portaldesk/portal/channel"
)

// Long polling: a portal whose Telegram bot cannot be called back (the
// service has no public https address) is asked for updates by a poller
// of its own, which keeps them in the portal (ReceivePolled) and wakes its
// worker. Pollers start when a bot is connected, or when the start-up
// sweep finds one, and stop when it is disconnected or the service stops.
type pollers struct {
	svc     *Service
	wait    time.Duration
	mu      sync.Mutex
	running map[string]context.CancelFunc
	ctx     context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

func newPollers(svc *Service, wait time.Duration) *pollers {
	ctx, stop := context.WithCancel(context.Background())
	return &pollers{svc: svc, wait: wait, running: map[string]context.CancelFunc{}, ctx: ctx, stop: stop}
}

// ensure starts or stops slug's poller as its portal p says.
func (ps *pollers) ensure(ctx context.Context, slug string, p *portal.Portal) {
	_, _, want := p.PollingChannel(ctx)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	cancel, running := ps.running[slug]
	switch {
	case want && !running && ps.ctx.Err() == nil:
		pctx, cancel := context.WithCancel(ps.ctx)
		ps.running[slug] = cancel
		ps.wg.Add(1)
		go func() {
			defer ps.wg.Done()
			ps.run(pctx, slug)
		}()
	case !want && running:
		cancel()
		delete(ps.running, slug)
	}
}

// recheck is ensure from outside the mail worker (a bot just connected).
func (ps *pollers) recheck(slug string) {
	h, err := ps.svc.registry.Acquire(ps.ctx, slug)
	if err != nil {
		return
	}
	defer h.Release()
	ps.ensure(ps.ctx, slug, h.Portal)
}

func (ps *pollers) close() {
	ps.stop()
	ps.wg.Wait()
}

func (ps *pollers) forget(slug string) {
	ps.mu.Lock()
	if cancel, ok := ps.running[slug]; ok {
		cancel()
		delete(ps.running, slug)
	}
	ps.mu.Unlock()
}

// run asks Telegram for slug's updates until ctx ends or the bot is no
// longer polled; failures wait, doubling up to five minutes.
func (ps *pollers) run(ctx context.Context, slug string) {
	backoff := time.Second
	pause := func(d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d):
			return true
		}
	}
	for ctx.Err() == nil {
		n, err := ps.PollOnce(ctx, slug, ps.wait)
		switch {
		case errors.Is(err, errNotPolled):
			ps.forget(slug)
			return
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			slog.Warn("telegram polling", "portal", slug, "err", err)
			wait := backoff
			var te *channel.Error
			if errors.As(err, &te) && te.RetryAfter > 0 {
				wait = time.Duration(te.RetryAfter) * time.Second
			}
			if !pause(wait) {
				return
			}
			backoff = min(backoff*2, 5*time.Minute)
		default:
			backoff = time.Second
			_ = n
		}
	}
}

var errNotPolled = errors.New("the portal's bot is not polled")

// PollOnce asks Telegram once for slug's updates, waiting up to wait, and
// keeps what came; it answers how many.
func (ps *pollers) PollOnce(ctx context.Context, slug string, wait time.Duration) (int, error) {
	h, err := ps.svc.registry.Acquire(ctx, slug)
	if err != nil {
		return 0, err
	}
	token, offset, ok := h.Portal.PollingChannel(ctx)
	h.Release() // not held while Telegram keeps the request waiting
	if !ok {
		return 0, errNotPolled
	}
	updates, next, err := ps.svc.channels.Poll(ctx, token, offset, wait)
	if err != nil {
		if ctx.Err() == nil {
			if h, aerr := ps.svc.registry.Acquire(ctx, slug); aerr == nil {
				h.Portal.ChannelPollFailed(ctx, err.Error())
				h.Release()
			}
		}
		return 0, err
	}
	if len(updates) == 0 && next == offset {
		return 0, nil
	}
	if h, err = ps.svc.registry.Acquire(ctx, slug); err != nil {
		return 0, err
	}
	defer h.Release()
	return len(updates), h.Portal.ReceivePolled(ctx, token, updates, next)
}
