package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"portaldesk/portal/web"
)

// ticketEvents streams changes of one ticket to its open page.
func (s *Server) ticketEvents(w http.ResponseWriter, r *http.Request, rq *Request) error {
	n := number(r)
	if _, err := rq.P.Ticket(r.Context(), rq.User, n); err != nil {
		return err
	}
	return s.stream(w, r, rq, n)
}

// tableEvents streams changes of every ticket the person may see to the
// tickets table.
func (s *Server) tableEvents(w http.ResponseWriter, r *http.Request, rq *Request) error {
	return s.stream(w, r, rq, 0)
}

// writingSubmit notes that a staff member types a reply on a ticket's page,
// for the others there to see.
func (s *Server) writingSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	n := number(r)
	if _, err := rq.P.Ticket(r.Context(), rq.User, n); err != nil {
		return err
	}
	if rq.P.Events != nil {
		rq.P.Events.Writing(n, rq.User.ID, time.Now())
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// streamLife bounds one stream; the browser reconnects by itself, which
// also lets a closed portal go.
const streamLife = 5 * time.Minute

// stream sends the changes of ticket (0: every ticket) that the person
// may know of.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, rq *Request, ticket int64) error {
	fl, ok := w.(http.Flusher)
	if !ok || rq.P.Events == nil {
		return web.Errorf(http.StatusNotImplemented, "no_streaming", "Live updates are not available here.")
	}
	hub := rq.P.Events
	leave, err := s.streams.enter(ClientIP(r), fmt.Sprintf("%s/%d", rq.P.Slug, rq.User.ID))
	if err != nil {
		return err
	}
	defer leave()
	changes, stop, ok := hub.Listen(ticket, rq.User.IsStaff(), rq.User.ID)
	if !ok {
		return web.Errorf(http.StatusServiceUnavailable, "shutting_down", "The service is restarting.")
	}
	defer stop()
	staffOnTicket := ticket != 0 && rq.User.IsStaff()
	if staffOnTicket {
		// The others on the ticket's page see this person there.
		defer hub.Enter(ticket, rq.User.ID, rq.User.FullName())()
	}
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
	viewers := func() {
		b, _ := json.Marshal(hub.Viewers(ticket, rq.User.ID, time.Now()))
		fmt.Fprintf(w, "event: viewers\ndata: %s\n\n", b)
	}
	if staffOnTicket {
		viewers()
	}
	fl.Flush()
	ping := time.NewTicker(25 * time.Second)
	defer ping.Stop()
	end := time.NewTimer(streamLife)
	defer end.Stop()
	for {
		select {
		case c, ok := <-changes:
			if !ok {
				return nil
			}
			if c.Presence {
				viewers()
			} else {
				fmt.Fprintf(w, "event: ticket\ndata: {\"ticket\":%d}\n\n", c.Ticket)
			}
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

// Live streams are capped per person and per address: each holds a
// connection (a file descriptor) for minutes, and a browser needs one per
// open page.
const (
	streamsPerUser    = 10
	streamsPerAddress = 50
)

// streamCount counts the open live streams of the whole service.
type streamCount struct {
	mu     sync.Mutex
	byIP   map[string]int
	byUser map[string]int
}

// enter counts one more stream for ip and user, or refuses when either
// has its share open; leave gives it back.
func (c *streamCount) enter(ip, user string) (leave func(), err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byIP == nil {
		c.byIP, c.byUser = map[string]int{}, map[string]int{}
	}
	if c.byIP[ip] >= streamsPerAddress || c.byUser[user] >= streamsPerUser {
		return nil, &web.Error{Status: http.StatusTooManyRequests, Code: "too_many_streams",
			Message: "Too many pages are open for live updates. Close some and reload this one.", RetryAfter: 30}
	}
	c.byIP[ip]++
	c.byUser[user]++
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.byIP[ip]--; c.byIP[ip] <= 0 {
			delete(c.byIP, ip)
		}
		if c.byUser[user]--; c.byUser[user] <= 0 {
			delete(c.byUser, user)
		}
	}, nil
}
