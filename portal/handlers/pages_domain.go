package handlers

import (
	"context"
	"errors"
	"net/http"

	"github.com/gorilla/mux"

	"portaldesk/portal"
	"portaldesk/portal/web"
	"portaldesk/templates"
)

// Domains is what the control plane offers a portal about its own host
// name (help.romashka.ru): the record to create, a check, the change.
type Domains interface {
	DomainOf(ctx context.Context, portalID int64) (*portal.Domain, error)
	SetDomain(ctx context.Context, portalID int64, host string) (*portal.Domain, error)
	CheckDomain(ctx context.Context, portalID int64) (*portal.Domain, error)
	RemoveDomainOf(ctx context.Context, portalID int64) error
}

func (s *Server) domainRoutes(m, api *mux.Router) {
	m.Handle("/admin/domain", s.user(s.domainPage, portal.RoleAdmin)).Methods("GET")
	m.Handle("/admin/domain", s.user(s.domainSubmit, portal.RoleAdmin)).Methods("POST")
	api.Handle("/domain", s.user(s.apiDomain, portal.RoleAdmin)).Methods("GET")
	api.Handle("/domain", s.user(s.apiPutDomain, portal.RoleAdmin)).Methods("PUT")
	api.Handle("/domain", s.user(s.apiDeleteDomain, portal.RoleAdmin)).Methods("DELETE")
	api.Handle("/domain/check", s.user(s.apiCheckDomain, portal.RoleAdmin)).Methods("POST")
}

func (s *Server) domains() (Domains, error) {
	if s.cfg.Domains == nil {
		return nil, errors.New("own domains are not set up on this service")
	}
	return s.cfg.Domains, nil
}

// DomainData is the admin's own-domain page.
type DomainData struct {
	Domain  *portal.Domain // nil: none entered
	Allowed bool           // the tariff includes an own domain
}

// domainPage shows the host name with its DNS record, checked live while
// it is not yet in place.
func (s *Server) domainPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	ds, err := s.domains()
	if err != nil {
		return err
	}
	d, err := ds.DomainOf(r.Context(), rq.P.Plan().ID)
	if err == nil && d != nil && !d.Verified {
		d, err = ds.CheckDomain(r.Context(), rq.P.Plan().ID)
	}
	if err != nil {
		return err
	}
	return s.renderDomain(w, r, rq, http.StatusOK, d, nil)
}

func (s *Server) renderDomain(w http.ResponseWriter, r *http.Request, rq *Request, status int, d *portal.Domain, fix func(*templates.Page)) error {
	pg := s.withFlash(r, rq, s.page(r, rq, "Your own domain", &DomainData{Domain: d, Allowed: rq.P.Plan().CustomDomain}))
	pg.Nav = "settings"
	if d != nil {
		pg.Form = map[string][]string{"domain": {d.Host}}
	}
	if fix != nil {
		fix(pg)
	}
	return s.tpl.Render(w, status, "admin_domain", pg)
}

// domainSubmit sets the host name, checks it again, or removes it.
func (s *Server) domainSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	ds, err := s.domains()
	if err != nil {
		return err
	}
	ctx, id := r.Context(), rq.P.Plan().ID
	var d *portal.Domain
	msg := "The host name is saved."
	switch {
	case r.PostForm.Get("remove") != "":
		err, msg = ds.RemoveDomainOf(ctx, id), "The portal is no longer served at its own host name."
	case r.PostForm.Get("check") != "":
		d, err = ds.CheckDomain(ctx, id)
		msg = "Checked."
	default:
		d, err = ds.SetDomain(ctx, id, r.PostForm.Get("domain"))
	}
	if err != nil {
		we, ok := webError(err).(*web.Error)
		if !ok || we.Status >= 500 {
			return err
		}
		cur, derr := ds.DomainOf(ctx, id)
		if derr != nil {
			return err
		}
		return s.renderDomain(w, r, rq, we.Status, cur, func(pg *templates.Page) {
			pg.Form, pg.Errors, pg.Error = r.PostForm, we.Fields, we.Message
		})
	}
	if d != nil && d.Verified {
		msg = "The portal is served at its own host name; mail links use it."
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/domain", msg))
}

func (s *Server) apiDomain(w http.ResponseWriter, r *http.Request, rq *Request) error {
	ds, err := s.domains()
	if err != nil {
		return err
	}
	d, err := ds.DomainOf(r.Context(), rq.P.Plan().ID)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, DomainState{d, rq.P.Plan().CustomDomain})
	return nil
}

func (s *Server) apiPutDomain(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in DomainInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	ds, err := s.domains()
	if err != nil {
		return err
	}
	d, err := ds.SetDomain(r.Context(), rq.P.Plan().ID, in.Host)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) apiCheckDomain(w http.ResponseWriter, r *http.Request, rq *Request) error {
	ds, err := s.domains()
	if err != nil {
		return err
	}
	d, err := ds.CheckDomain(r.Context(), rq.P.Plan().ID)
	if err != nil {
		return err
	}
	if d == nil {
		return portal.ErrNotFound
	}
	web.WriteJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) apiDeleteDomain(w http.ResponseWriter, r *http.Request, rq *Request) error {
	ds, err := s.domains()
	if err != nil {
		return err
	}
	if err := ds.RemoveDomainOf(r.Context(), rq.P.Plan().ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
