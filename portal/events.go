package portal

import (
	"sync"
)

// Change is what live pages hear when a ticket changes: which ticket and
// whether only staff may know of it (an internal note). It carries no
// content; a page fetches what changed as the person it shows, so nothing
// reaches anyone who could not have loaded it.
type Change struct {
	Ticket   int64
	ClientID int64 // the ticket's client
	Internal bool
}

// Hub passes ticket changes of one portal to the pages that have it open
// (Server-Sent Events). It outlives the portal's open handle, so a page
// keeps hearing after the registry closes and reopens the portal.
type Hub struct {
	mu     sync.Mutex
	subs   map[*listener]struct{}
	closed bool
}

type listener struct {
	ticket int64 // 0: every ticket (the operators' table)
	staff  bool
	userID int64
	ch     chan Change
}

// Hubs holds one Hub per portal, by slug.
type Hubs struct {
	mu   sync.Mutex
	hubs map[string]*Hub
}

// NewHubs is an empty set of hubs.
func NewHubs() *Hubs { return &Hubs{hubs: map[string]*Hub{}} }

// For is slug's hub.
func (hs *Hubs) For(slug string) *Hub {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	h := hs.hubs[slug]
	if h == nil {
		h = &Hub{subs: map[*listener]struct{}{}}
		hs.hubs[slug] = h
	}
	return h
}

// Shutdown ends every open stream, so that a graceful shutdown need not
// wait for pages that would stay open for hours.
func (hs *Hubs) Shutdown() {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	for _, h := range hs.hubs {
		h.mu.Lock()
		h.closed = true
		for l := range h.subs {
			close(l.ch)
			delete(h.subs, l)
		}
		h.mu.Unlock()
	}
}

// Listeners is how many pages are listening, for tests and metrics.
func (h *Hub) Listeners() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Listen subscribes to the changes a person may know of: of one ticket,
// or of every ticket (ticket 0, the operators' table). A person listening
// to one ticket must have been let see it first. The channel holds
// at most one change a reader has not taken yet, and is closed when the
// hub shuts down; stop ends the subscription. ok is false when the hub is
// shut down already.
func (h *Hub) Listen(ticket int64, staff bool, userID int64) (changes <-chan Change, stop func(), ok bool) {
	l := &listener{ticket: ticket, staff: staff, userID: userID, ch: make(chan Change, 1)}
	if !h.listen(l) {
		return nil, nil, false
	}
	return l.ch, func() { h.leave(l) }, true
}

func (h *Hub) listen(l *listener) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.subs[l] = struct{}{}
	return true
}

func (h *Hub) leave(l *listener) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[l]; ok {
		delete(h.subs, l)
		close(l.ch)
	}
}

// Publish tells the listeners who may know of c. It never blocks: a page
// that has not read its last news gets no more until it does (one fetch
// brings it up to date anyway).
func (h *Hub) Publish(c Change) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for l := range h.subs {
		if l.ticket != 0 && l.ticket != c.Ticket {
			continue
		}
		// A ticket's page was let listen by the ticket's own check (its
		// client or someone in copy); a client's list hears of their own.
		if !l.staff && (c.Internal || (l.ticket == 0 && c.ClientID != l.userID)) {
			continue
		}
		select {
		case l.ch <- c:
		default:
		}
	}
}

// publish tells the portal's live pages that ticket t changed.
func (p *Portal) publish(t *Ticket, internal bool) {
	if p.Events == nil || t == nil {
		return
	}
	c := Change{Ticket: t.Number, ClientID: t.Client.ID, Internal: internal}
	p.afterCommit(func() { p.Events.Publish(c) })
}
