package handlers

import (
	"fmt"
	"net/http"
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
	changes, stop, ok := hub.Listen(ticket, rq.User.IsStaff(), rq.User.ID)
	if !ok {
		return web.Errorf(http.StatusServiceUnavailable, "shutting_down", "The service is restarting.")
	}
	defer stop()
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
		case c, ok := <-changes:
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
