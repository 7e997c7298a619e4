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

// Groups, automatic assignment, presence and who sees what
// (portal/groups.go): the admin's Groups page and the API.
func (s *Server) groupRoutes(m, api *mux.Router) {
	m.Handle("/admin/groups", s.user(s.groupsPage, portal.RoleAdmin)).Methods("GET")
	m.Handle("/admin/groups", s.user(s.groupSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/groups/{id:[0-9]+}", s.user(s.groupSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/groups/{id:[0-9]+}/delete", s.user(pageDelete((*portal.Portal).DeleteGroup, "/admin/groups", "The group is deleted; its tickets belong to no group now."), portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/groups/default", s.user(s.defaultGroupSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/access/{id:[0-9]+}", s.user(s.accessSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/presence", s.user(s.presenceSubmit, portal.RoleAdmin, portal.RoleOperator)).Methods("POST")
	api.Handle("/groups", s.user(s.apiGroups, portal.RoleAdmin, portal.RoleOperator)).Methods("GET")
	api.Handle("/groups", s.user(apiSave((*portal.Portal).SaveGroup), portal.RoleAdmin)).Methods("POST")
	api.Handle("/groups/{id:[0-9]+}", s.user(apiSave((*portal.Portal).SaveGroup), portal.RoleAdmin)).Methods("PATCH")
	api.Handle("/groups/{id:[0-9]+}", s.user(apiDelete((*portal.Portal).DeleteGroup), portal.RoleAdmin)).Methods("DELETE")
	api.Handle("/users/{id:[0-9]+}/access", s.user(s.apiSetAccess, portal.RoleAdmin)).Methods("PUT")
	api.Handle("/users/{id:[0-9]+}/presence", s.user(s.apiSetPresence, portal.RoleAdmin, portal.RoleOperator)).Methods("PUT")
}

// GroupsData is the Groups page.
type GroupsData struct {
	Groups   []portal.Group
	Staff    []*portal.User
	Statuses []portal.Status
	Default  int64 // the group new tickets go to (0: none)
	EditID   int64 // the group whose form failed
}

// Member reports whether user id is in group g.
func (d *GroupsData) Member(g portal.Group, id int64) bool {
	return slices.ContainsFunc(g.Members, func(p portal.Person) bool { return p.ID == id })
}

// InGroups reports whether u is limited to group id.
func (d *GroupsData) InGroups(u *portal.User, id int64) bool {
	return slices.Contains(u.AccessGroups, id)
}

// Hides reports whether u never sees status id.
func (d *GroupsData) Hides(u *portal.User, id int64) bool {
	return slices.Contains(u.HiddenStatuses, id)
}

func (s *Server) renderGroups(w http.ResponseWriter, r *http.Request, rq *Request, status int, fix func(*templates.Page)) error {
	ctx := r.Context()
	d := &GroupsData{}
	var err error
	if d.Groups, err = rq.P.Groups(ctx); err != nil {
		return err
	}
	if d.Staff, err = rq.P.Staff(ctx); err != nil {
		return err
	}
	if d.Statuses, err = rq.P.Statuses(ctx); err != nil {
		return err
	}
	d.Default, _ = strconv.ParseInt(rq.P.Setting(ctx, "default_group", "0"), 10, 64)
	return s.renderPage(w, r, rq, status, "admin_groups", "Groups", "groups", d, fix)
}

func (s *Server) groupsPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	return s.renderGroups(w, r, rq, http.StatusOK, nil)
}

// formFailOn answers a failed form of a page rendered by render: the
// page again with the form's values and errors.
func formFailOn(err error, r *http.Request, render func(status int, fix func(*templates.Page)) error, also func(*templates.Page)) error {
	we, ok := webError(err).(*web.Error)
	if !ok || we.Status >= 500 || we.Status == http.StatusNotFound || we.Status == http.StatusForbidden {
		return err
	}
	return render(we.Status, func(pg *templates.Page) {
		pg.Form, pg.Errors, pg.Error = r.PostForm, we.Fields, we.Message
		if also != nil {
			also(pg)
		}
	})
}

func (s *Server) groupSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	id := pathID(r)
	name, mode := r.PostForm.Get("name"), r.PostForm.Get("assignment")
	maxOpen, err := strconv.Atoi(r.PostForm.Get("max_open"))
	if err != nil {
		maxOpen = -1 // "Enter a number …" at the field
		if r.PostForm.Get("max_open") == "" {
			maxOpen = 0
		}
	}
	var members []int64
	for _, v := range r.PostForm["members"] {
		if uid, err := strconv.ParseInt(v, 10, 64); err == nil {
			members = append(members, uid)
		}
	}
	in := portal.GroupChange{Name: &name, Assignment: &mode, MaxOpen: &maxOpen, Members: &members}
	if v, ok := r.PostForm["lead"]; ok {
		lead, _ := strconv.ParseInt(v[0], 10, 64)
		in.Lead = &lead
	}
	if _, err := rq.P.SaveGroup(r.Context(), rq.User, id, in); err != nil {
		return formFailOn(err, r, func(st int, fix func(*templates.Page)) error { return s.renderGroups(w, r, rq, st, fix) },
			func(pg *templates.Page) { pg.Data.(*GroupsData).EditID = id })
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/groups", "The group is saved."))
}

func (s *Server) defaultGroupSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	if err := rq.P.SetDefaultGroup(r.Context(), rq.User, r.PostForm.Get("group")); err != nil {
		return formFailOn(err, r, func(st int, fix func(*templates.Page)) error { return s.renderGroups(w, r, rq, st, fix) }, nil)
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/groups", "Saved."))
}

// idsOf reads a form's repeated id fields.
func idsOf(vals []string) []int64 {
	var out []int64
	for _, v := range vals {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil {
			out = append(out, id)
		}
	}
	return out
}

func (s *Server) accessSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	if err := rq.P.SetAccess(r.Context(), rq.User, pathID(r), idsOf(r.PostForm["groups"]), idsOf(r.PostForm["hidden"])); err != nil {
		return formFailOn(err, r, func(st int, fix func(*templates.Page)) error { return s.renderGroups(w, r, rq, st, fix) }, nil)
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/groups#access", "Saved."))
}

func (s *Server) presenceSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	present := r.PostForm.Get("present") == "1"
	n, err := rq.P.SetPresence(r.Context(), rq.User, rq.User.ID, present, r.PostForm.Get("hand_back") != "")
	if err != nil {
		return err
	}
	msg := "Welcome back: new tickets come to you again."
	switch {
	case !present && n > 0:
		msg = "You are away: your open tickets went back to their groups."
	case !present:
		msg = "You are away: the groups give you no new tickets."
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/tickets", msg))
}

func (s *Server) apiGroups(w http.ResponseWriter, r *http.Request, rq *Request) error {
	gs, err := rq.P.Groups(r.Context())
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, GroupList{Groups: gs})
	return nil
}

func (s *Server) apiSetAccess(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in AccessInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	if err := rq.P.SetAccess(r.Context(), rq.User, pathID(r), in.Groups, in.HiddenStatuses); err != nil {
		return err
	}
	u, err := rq.P.UserByID(r.Context(), pathID(r))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, u)
	return nil
}

func (s *Server) apiSetPresence(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in PresenceInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	n, err := rq.P.SetPresence(r.Context(), rq.User, pathID(r), in.Present, in.HandBack)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, PresenceResult{Present: in.Present, HandedBack: n})
	return nil
}
