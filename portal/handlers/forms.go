package handlers

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/gorilla/mux"

	"portaldesk/portal"
	"portaldesk/portal/web"
	"portaldesk/templates"
)

// Several front doors (portal/forms.go): the admin's Forms page and the API.
func (s *Server) formRoutes(m, api *mux.Router) {
	m.Handle("/admin/forms", s.user(s.formsPage, portal.RoleAdmin)).Methods("GET")
	m.Handle("/admin/forms", s.user(s.frontDoorSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/forms/{id:[0-9]+}", s.user(s.frontDoorSubmit, portal.RoleAdmin)).Methods("POST")
	api.Handle("/forms", s.user(s.apiForms)).Methods("GET")
	api.Handle("/forms", s.user(apiSave((*portal.Portal).SaveFrontDoor), portal.RoleAdmin)).Methods("POST")
	api.Handle("/forms/{id:[0-9]+}", s.user(apiSave((*portal.Portal).SaveFrontDoor), portal.RoleAdmin)).Methods("PATCH")
}

// FormsData is the admin's Forms page.
type FormsData struct {
	Forms  []portal.Form
	Fields []*portal.Field // the questionnaire's own fields a form may ask
	Groups []portal.GroupRef
	EditID int64
}

// Asks reports whether form f asks field id.
func (d *FormsData) Asks(f portal.Form, id int64) bool { return slices.Contains(f.Fields, id) }

func (s *Server) renderForms(w http.ResponseWriter, r *http.Request, rq *Request, status int, fix func(*templates.Page)) error {
	ctx := r.Context()
	d := &FormsData{EditID: -1}
	var err error
	if d.Forms, err = rq.P.Forms(ctx, true); err != nil {
		return err
	}
	all, err := rq.P.Fields(ctx, false)
	if err != nil {
		return err
	}
	for _, f := range all {
		if !f.Builtin {
			d.Fields = append(d.Fields, f)
		}
	}
	if d.Groups, err = rq.P.GroupNames(ctx); err != nil {
		return err
	}
	return s.renderPage(w, r, rq, status, "admin_forms", "Forms", "form", d, fix)
}

func (s *Server) formsPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	return s.renderForms(w, r, rq, http.StatusOK, nil)
}

func (s *Server) frontDoorSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	f := r.PostForm
	name, slug, pre, prio := f.Get("name"), f.Get("slug"), f.Get("preamble"), f.Get("priority")
	group, _ := strconv.ParseInt(f.Get("group"), 10, 64)
	fields := idsOf(f["fields"])
	active := f.Get("active") != ""
	id := pathID(r)
	if _, err := rq.P.SaveFrontDoor(r.Context(), rq.User, id, portal.FormInput{Name: &name, Slug: &slug, Preamble: &pre, Priority: &prio, Group: &group, Fields: &fields, Active: &active}); err != nil {
		return formFailOn(err, r, func(st int, fix func(*templates.Page)) error { return s.renderForms(w, r, rq, st, fix) },
			func(pg *templates.Page) { pg.Data.(*FormsData).EditID = id })
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/forms", "The form is saved."))
}

func (s *Server) apiForms(w http.ResponseWriter, r *http.Request, rq *Request) error {
	forms, err := rq.P.Forms(r.Context(), rq.User.Role == portal.RoleAdmin)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, FormList{Forms: forms})
	return nil
}
