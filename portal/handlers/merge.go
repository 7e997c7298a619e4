package handlers

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"portaldesk/portal"
	"portaldesk/portal/web"
)

// Merge and split (portal/merge.go): the ticket page's forms and the API.
func (s *Server) mergeRoutes(m, api *mux.Router) {
	m.Handle("/tickets/{n:[0-9]+}/merge", s.user(s.mergeSubmit, portal.RoleAdmin, portal.RoleOperator)).Methods("POST")
	m.Handle("/tickets/{n:[0-9]+}/split", s.user(s.splitSubmit, portal.RoleAdmin, portal.RoleOperator)).Methods("POST")
	api.Handle("/tickets/{n:[0-9]+}/merge", s.user(s.apiMerge, portal.RoleAdmin, portal.RoleOperator)).Methods("POST")
	api.Handle("/tickets/{n:[0-9]+}/split", s.user(s.apiSplit, portal.RoleAdmin, portal.RoleOperator)).Methods("POST")
}

func (s *Server) mergeSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	n := number(r)
	into, _ := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(r.PostForm.Get("into")), "#"), 10, 64)
	t, err := rq.P.MergeTicket(r.Context(), rq.User, n, into)
	if err != nil {
		return s.ticketFail(w, r, rq, n, err)
	}
	return redirect(w, r, flashURL(rq, fmt.Sprintf("%s/tickets/%d", rq.Base, t.Number), fmt.Sprintf("Ticket #%d is merged into this one.", n)))
}

func (s *Server) splitSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	n := number(r)
	msg, _ := strconv.ParseInt(r.PostForm.Get("message"), 10, 64)
	t, err := rq.P.SplitMessage(r.Context(), rq.User, n, msg, r.PostForm.Get("subject"))
	if err != nil {
		return s.ticketFail(w, r, rq, n, err)
	}
	return redirect(w, r, flashURL(rq, fmt.Sprintf("%s/tickets/%d", rq.Base, t.Number), fmt.Sprintf("The message is a ticket of its own, split off #%d.", n)))
}

func (s *Server) apiMerge(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in MergeInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	t, err := rq.P.MergeTicket(r.Context(), rq.User, number(r), in.Into)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, t)
	return nil
}

func (s *Server) apiSplit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in SplitInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	t, err := rq.P.SplitMessage(r.Context(), rq.User, number(r), in.Message, in.Subject)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, t)
	return nil
}
