package portal

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"portaldesk/portal/web"
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
		if !l.staff && (c.Internal || c.ClientID != l.userID) {
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
	p.Events.Publish(Change{Ticket: t.Number, ClientID: t.Client.ID, Internal: internal})
}

// ticketEvents streams changes of one ticket to its open page.
func (s *Server) ticketEvents(w http.ResponseWriter, r *http.Request, rq *Request) error {
	n := number(r)
	if _, err := rq.P.Ticket(r.Context(), rq.User, n); err != nil {
		return err
	}
	return s.stream(w, r, rq, &listener{ticket: n, staff: rq.User.IsStaff(), userID: rq.User.ID, ch: make(chan Change, 1)})
}

// tableEvents streams changes of every ticket the person may see to the
// tickets table.
func (s *Server) tableEvents(w http.ResponseWriter, r *http.Request, rq *Request) error {
	return s.stream(w, r, rq, &listener{staff: rq.User.IsStaff(), userID: rq.User.ID, ch: make(chan Change, 1)})
}

// streamLife bounds one stream; the browser reconnects by itself, which
// also lets a closed portal go.
const streamLife = 5 * time.Minute

func (s *Server) stream(w http.ResponseWriter, r *http.Request, rq *Request, l *listener) error {
	fl, ok := w.(http.Flusher)
	if !ok || rq.P.Events == nil {
		return web.Errorf(http.StatusNotImplemented, "no_streaming", "Live updates are not available here.")
	}
	hub := rq.P.Events
	if !hub.listen(l) {
		return web.Errorf(http.StatusServiceUnavailable, "shutting_down", "The service is restarting.")
	}
	defer hub.leave(l)
	// The stream needs only the hub, which outlives the portal's handle:
	// give the portal back now, so that open pages never keep portals open
	// past the registry's limit.
	if rq.release != nil {
		rq.release()
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 3000\n: hello\n\n")
	fl.Flush()
	ping := time.NewTicker(25 * time.Second)
	defer ping.Stop()
	end := time.NewTimer(streamLife)
	defer end.Stop()
	for {
		select {
		case c, ok := <-l.ch:
			if !ok {
				return nil
			}
			fmt.Fprintf(w, "event: ticket\ndata: {\"ticket\":%d}\n\n", c.Ticket)
		case <-ping.C:
			fmt.Fprint(w, ": ping\n\n")
		case <-end.C:
			return nil
		case <-r.Context().Done():
			return nil
		}
		fl.Flush()
	}
}
