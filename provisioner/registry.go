package provisioner

import (
	"container/list"
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"portaldesk/portal"
)

// planTTL is how long a portal's catalog information is trusted before it is
// read again, so that changes made by ops from the shell reach a running service.
const planTTL = time.Second

// Registry keeps recently used portals open: an LRU, bounded, and
// reference-counted, so an evicted portal is closed only after the last
// request using it has released it.
//
// When the LRU is full, a portal that is not open is let in only if it has
// been asked for more often lately than the portal it would push out
// (TinyLFU-style admission); otherwise it is opened for the requests at hand
// and closed after them. Under a Zipf-like popularity, as many businesses
// produce, this keeps the popular portals open through bursts of rarely
// visited ones, with fewer cold opens than a plain LRU (provisioner's
// README has the measurements).
type Registry struct {
	limit    int
	loadPlan func(ctx context.Context, slug string) (*portal.Plan, error)
	// open opens a portal; passing says it is opened for the requests at hand
	// only, not admitted to the LRU.
	open func(ctx context.Context, plan *portal.Plan, passing bool) (*portal.Portal, error)

	mu      sync.Mutex
	entries map[string]*entry
	lru     *list.List // of *entry, most recent first
	closed  bool
	wg      sync.WaitGroup // closes in flight

	freq     map[string]uint16 // recent requests per portal, halved as they age
	accesses int

	ColdOpens atomic.Int64 // portals opened because a request needed them
	Evictions atomic.Int64
	Passing   atomic.Int64 // cold opens not admitted to the LRU
	live      atomic.Int64 // portals whose databases are open, in the LRU or not
}

// Live is the number of portals whose databases are open now: those in
// the LRU, and those evicted or passing that a request still holds.
func (r *Registry) Live() int { return int(r.live.Load()) }

type entry struct {
	slug     string
	p        *portal.Portal
	err      error
	ready    chan struct{}
	refs     int
	evicted  bool
	passing  bool // opened for the requests at hand, not admitted to the LRU
	elem     *list.Element
	planAt   atomic.Int64 // unix nanos of the last catalog read
	checking atomic.Bool
	closed   chan struct{} // closed once the portal has closed
	once     sync.Once
	gone     chan struct{} // closed once it is evicted: long work on it should stop
	goneOnce sync.Once
}

// Handle is a portal lent to one request. Release it when the request ends.
type Handle struct {
	Portal *portal.Portal
	r      *Registry
	e      *entry
}

// NewRegistry makes a registry that keeps at most limit portals open.
func NewRegistry(limit int, loadPlan func(context.Context, string) (*portal.Plan, error), open func(ctx context.Context, plan *portal.Plan, passing bool) (*portal.Portal, error)) *Registry {
	return &Registry{limit: limit, loadPlan: loadPlan, open: open, entries: map[string]*entry{}, lru: list.New(), freq: map[string]uint16{}}
}

// touchLocked counts a request for slug and returns its recent frequency.
// Every forty times the limit of requests (a few seconds of a busy
// service) all counts are halved, so the counts follow what is popular
// now; halving more often lets noise decide more.
func (r *Registry) touchLocked(slug string) uint16 {
	f := r.freq[slug]
	if f < 1<<15 {
		f++
		r.freq[slug] = f
	}
	if r.accesses++; r.accesses >= 40*max(r.limit, 16) {
		r.accesses = 0
		for k, v := range r.freq {
			if v >>= 1; v == 0 {
				delete(r.freq, k)
			} else {
				r.freq[k] = v
			}
		}
	}
	return f
}

// admitLocked says whether a portal asked for f times lately may take the
// place of the least recently used one.
func (r *Registry) admitLocked(f uint16) bool {
	if r.lru.Len() < r.limit {
		return true
	}
	victim := r.lru.Back().Value.(*entry)
	return f > r.freq[victim.slug]
}

// Acquire returns the open portal for slug, opening it when needed.
// portal.ErrNotFound means there is no such live portal.
func (r *Registry) Acquire(ctx context.Context, slug string) (*Handle, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, context.Canceled
	}
	f := r.touchLocked(slug)
	e := r.entries[slug]
	if e != nil {
		e.refs++
		if !e.passing {
			r.lru.MoveToFront(e.elem)
		}
		// A passing portal is not kept, however popular it has become: it
		// is open for this process alone (see openPortal). The first open
		// after it has closed is admitted.
		r.mu.Unlock()
		<-e.ready
		if e.err != nil {
			r.release(e)
			return nil, e.err
		}
		r.refreshPlan(ctx, e)
		return &Handle{Portal: e.p, r: r, e: e}, nil
	}
	e = &entry{slug: slug, ready: make(chan struct{}), refs: 1, closed: make(chan struct{}), gone: make(chan struct{})}
	r.entries[slug] = e
	var victims []*entry
	if r.admitLocked(f) {
		e.elem = r.lru.PushFront(e)
		victims = r.evictLocked()
	} else {
		e.passing, e.evicted = true, true // closed when its last request is done
		r.Passing.Add(1)
	}
	r.mu.Unlock()
	r.closeAll(victims)

	plan, err := r.loadPlan(ctx, slug)
	if err == nil {
		e.p, err = r.open(ctx, plan, e.passing)
		r.ColdOpens.Add(1)
		if err == nil && e.p != nil {
			r.live.Add(1)
		}
	}
	e.err = err
	e.planAt.Store(time.Now().UnixNano())
	close(e.ready)
	if err != nil {
		r.mu.Lock()
		if r.entries[slug] == e {
			delete(r.entries, slug)
			r.unlinkLocked(e)
		}
		r.mu.Unlock()
		r.release(e)
		return nil, err
	}
	return &Handle{Portal: e.p, r: r, e: e}, nil
}

// Adopt puts an already open portal (just provisioned) into the registry and
// returns a handle on it.
func (r *Registry) Adopt(p *portal.Portal) *Handle {
	e := &entry{slug: p.Slug, p: p, ready: make(chan struct{}), refs: 1, closed: make(chan struct{}), gone: make(chan struct{})}
	close(e.ready)
	r.live.Add(1)
	e.planAt.Store(time.Now().UnixNano())
	r.mu.Lock()
	var victims []*entry
	if old := r.entries[p.Slug]; old != nil {
		r.unlinkLocked(old)
		if v := r.evictEntryLocked(old); v != nil {
			victims = append(victims, v)
		}
	}
	e.elem = r.lru.PushFront(e)
	r.entries[p.Slug] = e
	victims = append(victims, r.evictLocked()...)
	r.mu.Unlock()
	r.closeAll(victims)
	return &Handle{Portal: p, r: r, e: e}
}

// refreshPlan re-reads the catalog row at most once per planTTL.
func (r *Registry) refreshPlan(ctx context.Context, e *entry) {
	if time.Now().UnixNano()-e.planAt.Load() < int64(planTTL) || !e.checking.CompareAndSwap(false, true) {
		return
	}
	defer e.checking.Store(false)
	plan, err := r.loadPlan(ctx, e.slug)
	if err != nil {
		if err == portal.ErrNotFound {
			gone := *e.p.Plan()
			gone.State = portal.StateDeleted
			e.p.SetPlan(&gone)
			r.Invalidate(e.slug)
		}
		return
	}
	e.planAt.Store(time.Now().UnixNano())
	old := e.p.Plan()
	e.p.SetPlan(plan)
	if old.DBQuotaBytes != plan.DBQuotaBytes || old.ID != plan.ID || old.Node != plan.Node || old.Epoch != plan.Epoch {
		// max_page_count is per connection, and the session key depends on the id: reopen.
		r.Invalidate(e.slug)
	}
}

// Evicted is closed once the portal is on its way out of the registry
// (moved to another node, reopened with a new plan, pushed out): work that
// holds it long — a mail round — stops early and leaves the rest for later.
func (h *Handle) Evicted() <-chan struct{} { return h.e.gone }

// Release gives the portal back; the last release of an evicted portal closes it.
func (h *Handle) Release() {
	if h.e != nil {
		h.r.release(h.e)
		h.e = nil
	}
}

func (r *Registry) release(e *entry) {
	r.mu.Lock()
	e.refs--
	closeNow := e.refs == 0 && e.evicted
	if closeNow && e.passing && r.entries[e.slug] == e {
		delete(r.entries, e.slug)
	}
	r.mu.Unlock()
	if closeNow {
		r.closeEntry(e)
	}
}

// evictLocked removes least recently used entries beyond the limit and
// returns those that nobody holds, to be closed outside the lock.
func (r *Registry) evictLocked() []*entry {
	var victims []*entry
	for el := r.lru.Back(); el != nil && r.lru.Len() > r.limit; {
		prev := el.Prev()
		e := el.Value.(*entry)
		r.lru.Remove(el)
		delete(r.entries, e.slug)
		r.Evictions.Add(1)
		if v := r.evictEntryLocked(e); v != nil {
			victims = append(victims, v)
		}
		el = prev
	}
	return victims
}

// unlinkLocked takes e out of the LRU list, if it is in it.
func (r *Registry) unlinkLocked(e *entry) {
	if e.elem != nil {
		r.lru.Remove(e.elem)
		e.elem = nil
	}
}

func (r *Registry) evictEntryLocked(e *entry) *entry {
	e.evicted = true
	e.goneOnce.Do(func() { close(e.gone) })
	if e.refs == 0 {
		return e
	}
	return nil
}

func (r *Registry) closeAll(es []*entry) {
	for _, e := range es {
		r.closeEntry(e)
	}
}

func (r *Registry) closeEntry(e *entry) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer e.once.Do(func() { close(e.closed) })
		<-e.ready
		if e.p != nil {
			if err := e.p.Close(); err != nil {
				slog.Warn("closing portal", "portal", e.slug, "err", err)
			}
			r.live.Add(-1)
		}
	}()
}

// Invalidate drops slug from the registry; it is closed once released and
// reopened, with fresh catalog information, by the next request.
func (r *Registry) Invalidate(slug string) { r.Evict(slug) }

// Evict drops slug from the registry like Invalidate and returns a
// channel closed once it has closed (after the requests holding it are
// done); closed at once when it is not open.
func (r *Registry) Evict(slug string) <-chan struct{} {
	r.mu.Lock()
	e := r.entries[slug]
	var victim *entry
	if e != nil {
		delete(r.entries, slug)
		r.unlinkLocked(e)
		victim = r.evictEntryLocked(e)
	}
	r.mu.Unlock()
	if e == nil {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	if victim != nil {
		r.closeEntry(victim)
	}
	return e.closed
}

// Open is the number of portals currently open.
func (r *Registry) Open() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.entries)
}

// Close closes every portal, waiting for the ones in use to be released.
func (r *Registry) Close() {
	r.mu.Lock()
	r.closed = true
	var victims []*entry
	for slug, e := range r.entries {
		delete(r.entries, slug)
		r.unlinkLocked(e)
		if v := r.evictEntryLocked(e); v != nil {
			victims = append(victims, v)
		}
	}
	r.mu.Unlock()
	r.closeAll(victims)
	r.wg.Wait()
}

// WaitClosed waits until every portal evicted so far has been closed.
func (r *Registry) WaitClosed() { r.wg.Wait() }

// Peek lends the portal only when it is open already; it never opens one
// (the usage sweep must not churn the cache). Release the handle when done.
func (r *Registry) Peek(slug string) *Handle {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[slug]
	if e == nil {
		return nil
	}
	select {
	case <-e.ready:
	default:
		return nil
	}
	if e.err != nil || e.p == nil {
		return nil
	}
	e.refs++
	return &Handle{Portal: e.p, r: r, e: e}
}
