package handlers

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"portaldesk/portal"
	"portaldesk/portal/web"
	"portaldesk/templates"
)

func (s *Server) privacyRoutes(m, api *mux.Router) {
	m.Handle("/people/{id:[0-9]+}/export", s.user(s.personExport, portal.RoleAdmin)).Methods("GET")
	m.Handle("/people/{id:[0-9]+}/erase", s.user(s.personErase, portal.RoleAdmin)).Methods("POST")
	api.Handle("/users/{id:[0-9]+}/export", s.user(s.personExport, portal.RoleAdmin)).Methods("GET")
	api.Handle("/users/{id:[0-9]+}/erase", s.user(s.personErase, portal.RoleAdmin)).Methods("POST")
}

// personExport sends one person's data as a zip (portal.ExportPerson).
func (s *Server) personExport(w http.ResponseWriter, r *http.Request, rq *Request) error {
	id := pathID(r)
	if _, err := rq.P.UserByID(r.Context(), id); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="person-`+strconv.FormatInt(id, 10)+`-`+rq.P.Slug+`.zip"`)
	w.Header().Set("Cache-Control", "no-store")
	return rq.P.ExportPerson(r.Context(), rq.User, id, w)
}

// personErase erases one person (portal.ErasePerson).
func (s *Server) personErase(w http.ResponseWriter, r *http.Request, rq *Request) error {
	u, err := rq.P.UserByID(r.Context(), pathID(r))
	if err != nil {
		return err
	}
	if err := rq.P.ErasePerson(r.Context(), rq.User, u.ID); err != nil {
		if web.IsAPI(r) {
			return err
		}
		we, ok := webError(err).(*web.Error)
		if !ok {
			return err
		}
		return s.renderPeople(w, r, rq, we.Status, func(pg *templates.Page) { pg.Error = we.Message })
	}
	if web.IsAPI(r) {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/people", fmt.Sprintf("%s is erased: their tickets and messages stay, written by a deleted user.", u.FullName())))
}
