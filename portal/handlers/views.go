package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/mux"

	"portaldesk/portal"
	"portaldesk/portal/web"
)

// Following, unread marks and saved views (portal/views.go).
func (s *Server) viewRoutes(m, api *mux.Router) {
	staff := []string{portal.RoleAdmin, portal.RoleOperator}
	m.Handle("/tickets/{n:[0-9]+}/follow", s.user(s.followSubmit, staff...)).Methods("POST")
	m.Handle("/tickets/{n:[0-9]+}/unread", s.user(s.unreadSubmit, staff...)).Methods("POST")
	m.Handle("/views", s.user(s.viewSubmit, staff...)).Methods("POST")
	m.Handle("/views/{id:[0-9]+}/delete", s.user(pageDelete((*portal.Portal).DeleteView, "/tickets", "The view is deleted."), staff...)).Methods("POST")
	m.Handle("/views/counts", s.user(s.apiViews, staff...)).Methods("GET") // the table's panel fills its counts after it shows
	api.Handle("/tickets/{n:[0-9]+}/follow", s.user(s.apiFollow, staff...)).Methods("POST", "DELETE")
	api.Handle("/tickets/{n:[0-9]+}/unread", s.user(s.apiUnread, staff...)).Methods("POST")
	api.Handle("/views", s.user(s.apiViews, staff...)).Methods("GET")
	api.Handle("/views", s.user(s.apiSaveView, staff...)).Methods("POST")
	api.Handle("/views/{id:[0-9]+}", s.user(s.apiSaveView, staff...)).Methods("PATCH")
	api.Handle("/views/{id:[0-9]+}", s.user(apiDelete((*portal.Portal).DeleteView), staff...)).Methods("DELETE")
	api.Handle("/views/hidden", s.user(s.apiHideView, staff...)).Methods("PUT")
	api.Handle("/views/order", s.user(s.apiOrderViews, staff...)).Methods("PUT")
	m.Handle("/views/order", s.user(s.viewOrderSubmit, staff...)).Methods("POST") // the panel, after a drag
}

// ViewOrderInput is one's order of views: keys (View.Key), first to last.
type ViewOrderInput struct {
	Order []string `json:"order"`
}

func (s *Server) apiOrderViews(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in ViewOrderInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	list, err := rq.P.OrderViews(r.Context(), rq.User, in.Order)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, ViewList{Views: list})
	return nil
}

// viewOrderSubmit keeps the order the views were dragged into (the
// panel's script posts it; without script the form is never shown).
func (s *Server) viewOrderSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	if _, err := rq.P.OrderViews(r.Context(), rq.User, strings.Split(r.PostForm.Get("order"), ",")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// apiHideView hides a built-in view for the caller, or shows it again.
func (s *Server) apiHideView(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in HideViewInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	if err := rq.P.HideView(r.Context(), rq.User, in.Builtin, in.Hidden); err != nil {
		return err
	}
	return s.apiViews(w, r, rq)
}

func (s *Server) followSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	n := number(r)
	on := r.PostForm.Get("follow") == "1"
	if err := rq.P.Follow(r.Context(), rq.User, n, on); err != nil {
		return err
	}
	msg := "You no longer follow this ticket."
	if on {
		msg = "You follow this ticket: everything on it comes to you by mail."
	}
	return redirect(w, r, flashURL(rq, fmt.Sprintf("%s/tickets/%d", rq.Base, n), msg))
}

func (s *Server) unreadSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := rq.P.MarkUnread(r.Context(), rq.User, number(r)); err != nil {
		return err
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/tickets", fmt.Sprintf("Ticket #%d is marked unread.", number(r))))
}

func (s *Server) viewSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	name, filters := r.PostForm.Get("name"), r.PostForm.Get("filters")
	shared := r.PostForm.Get("shared") != ""
	v, err := rq.P.SaveView(r.Context(), rq.User, 0, portal.ViewInput{Name: &name, Filters: &filters, Shared: &shared})
	if err != nil {
		pg, derr := s.ticketsData(r, rq, mustQuery(filters))
		if derr != nil {
			return err
		}
		return s.formFail(w, pg, "tickets", r.PostForm, err)
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/tickets?"+v.Filters, "The view is saved."))
}

// mustQuery reads a query string, empty when it is not one.
func mustQuery(s string) url.Values {
	q, _ := url.ParseQuery(s)
	return q
}

func (s *Server) apiFollow(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := rq.P.Follow(r.Context(), rq.User, number(r), r.Method == http.MethodPost); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiUnread(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := rq.P.MarkUnread(r.Context(), rq.User, number(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiViews(w http.ResponseWriter, r *http.Request, rq *Request) error {
	vs, err := rq.P.Views(r.Context(), rq.User, true)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, ViewList{Views: vs})
	return nil
}

func (s *Server) apiSaveView(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in ViewJSON
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	vi := portal.ViewInput{Name: in.Name, Shared: in.Shared, Group: in.Group}
	if in.Filters != nil {
		f := url.Values(*in.Filters).Encode()
		vi.Filters = &f
	}
	v, err := rq.P.SaveView(r.Context(), rq.User, pathID(r), vi)
	if err != nil {
		return err
	}
	writeSaved(w, r, v)
	return nil
}
