package handlers

import (
	"fmt"
	"net/http"

	"github.com/gorilla/mux"

	"portaldesk/portal/web"
)

// The clients in copy of a ticket (portal/participants.go): staff add and
// remove them, someone in copy may leave.
func (s *Server) participantRoutes(m, api *mux.Router) {
	m.Handle("/tickets/{n:[0-9]+}/participants", s.user(s.participantSubmit)).Methods("POST")
	m.Handle("/tickets/{n:[0-9]+}/participants/{id:[0-9]+}/remove", s.user(s.participantRemoveSubmit)).Methods("POST")
	api.Handle("/tickets/{n:[0-9]+}/participants", s.user(s.apiAddParticipant)).Methods("POST")
	api.Handle("/tickets/{n:[0-9]+}/participants/{id:[0-9]+}", s.user(s.apiRemoveParticipant)).Methods("DELETE")
}

func (s *Server) participantSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	n := number(r)
	if _, err := rq.P.AddParticipant(r.Context(), rq.User, n, r.PostForm.Get("email")); err != nil {
		return s.ticketFail(w, r, rq, n, err)
	}
	return redirect(w, r, flashURL(rq, fmt.Sprintf("%s/tickets/%d", rq.Base, n), "The client is in copy.")+"#copy")
}

func (s *Server) participantRemoveSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	n, id := number(r), pathID(r)
	if err := rq.P.RemoveParticipant(r.Context(), rq.User, n, id); err != nil {
		return err
	}
	if id == rq.User.ID { // they left: the ticket is not theirs to see any more
		return redirect(w, r, flashURL(rq, rq.Base+"/tickets", "You are no longer in copy of that ticket."))
	}
	return redirect(w, r, flashURL(rq, fmt.Sprintf("%s/tickets/%d", rq.Base, n), "Taken out of copy.")+"#copy")
}

func (s *Server) apiAddParticipant(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in ParticipantInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	pr, err := rq.P.AddParticipant(r.Context(), rq.User, number(r), in.Email)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, pr)
	return nil
}

func (s *Server) apiRemoveParticipant(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := rq.P.RemoveParticipant(r.Context(), rq.User, number(r), pathID(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
