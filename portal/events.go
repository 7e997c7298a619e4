package portal

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// Change is what live pages hear when a ticket changes: which ticket and
// whether only staff may know of it (an internal note). It carries no
// content; a page fetches what changed as the person it shows, so nothing
// reaches anyone who could not have loaded it.
type Change struct {
	Ticket   int64
	ClientID int64 // the ticket's client
	Internal bool
	// Presence: who has the ticket open or is writing changed (staff's
	// pages only; see Hub.Enter).
	Presence bool
}

// Hub passes ticket changes of one portal to the pages that have it open
// (Server-Sent Events). It outlives the portal's open handle, so a page
// keeps hearing after the registry closes and reopens the portal.
type Hub struct {
	mu     sync.Mutex
	subs   map[*listener]struct{}
	closed bool
	here   map[int64]map[int64]*presence // ticket → staff member → on its page
}

// presence is a staff member on a ticket's page: how many pages they have
// open there, and when they last typed in its reply box.
type presence struct {
	name    string
	pages   int
	writing time.Time
}

// Viewer is someone else on a ticket's page, as the page shows them.
type Viewer struct {
	Name    string `json:"name"`
	Writing bool   `json:"writing"` // typed in the reply box in the last WritingFor
}

// WritingFor is how long after a keystroke someone counts as writing.
const WritingFor = 10 * time.Second

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

// Drop ends the open streams of one portal (it moved to another node;
// its pages listen again there). New ones may start.
func (hs *Hubs) Drop(slug string) {
	hs.mu.Lock()
	h := hs.hubs[slug]
	hs.mu.Unlock()
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for l := range h.subs {
		close(l.ch)
		delete(h.subs, l)
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
		if c.Presence && (!l.staff || l.ticket != c.Ticket) {
			continue // who is on a ticket's page is for staff on that page
		}
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

// Enter puts a staff member on ticket's page (once per open page) and
// tells the others there; leave takes them off when the page closes.
func (h *Hub) Enter(ticket, userID int64, name string) (leave func()) {
	h.mu.Lock()
	if h.here == nil {
		h.here = map[int64]map[int64]*presence{}
	}
	if h.here[ticket] == nil {
		h.here[ticket] = map[int64]*presence{}
	}
	p := h.here[ticket][userID]
	if p == nil {
		p = &presence{name: name}
		h.here[ticket][userID] = p
	}
	p.pages++
	h.mu.Unlock()
	h.Publish(Change{Ticket: ticket, Presence: true})
	return func() {
		h.mu.Lock()
		if p.pages--; p.pages <= 0 {
			delete(h.here[ticket], userID)
			if len(h.here[ticket]) == 0 {
				delete(h.here, ticket)
			}
		}
		h.mu.Unlock()
		h.Publish(Change{Ticket: ticket, Presence: true})
	}
}

// Writing notes that a staff member on ticket's page is typing a reply,
// and tells the others there (when they were not writing already).
func (h *Hub) Writing(ticket, userID int64, now time.Time) {
	h.mu.Lock()
	p := h.here[ticket][userID]
	news := p != nil && now.Sub(p.writing) >= WritingFor/2
	if p != nil {
		p.writing = now
	}
	h.mu.Unlock()
	if news {
		h.Publish(Change{Ticket: ticket, Presence: true})
	}
}

// Viewers are the staff on ticket's page other than userID, by name.
func (h *Hub) Viewers(ticket, userID int64, now time.Time) []Viewer {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := []Viewer{}
	for id, p := range h.here[ticket] {
		if id != userID {
			out = append(out, Viewer{Name: p.name, Writing: now.Sub(p.writing) < WritingFor})
		}
	}
	slices.SortFunc(out, func(a, b Viewer) int { return strings.Compare(a.Name, b.Name) })
	return out
}
