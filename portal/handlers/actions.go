package handlers

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"portaldesk/portal"
	"portaldesk/portal/web"
	"portaldesk/templates"
)

// Workflow actions (portal/actions.go): the admin's Actions page, the
// ticket page's actions and the API.
func (s *Server) actionRoutes(m, api *mux.Router) {
	m.Handle("/admin/actions", s.user(s.actionsPage, portal.RoleAdmin)).Methods("GET")
	m.Handle("/admin/actions", s.user(s.actionSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/actions/{id:[0-9]+}", s.user(s.actionSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/actions/{id:[0-9]+}/delete", s.user(pageDelete((*portal.Portal).DeleteAction, "/admin/actions", "The action is deleted; what it did stays in the tickets' history."), portal.RoleAdmin)).Methods("POST")
	m.Handle("/tickets/{n:[0-9]+}/actions/{id:[0-9]+}", s.user(s.performSubmit)).Methods("POST")
	api.Handle("/actions", s.user(s.apiActions, portal.RoleAdmin, portal.RoleOperator)).Methods("GET")
	api.Handle("/actions", s.user(s.apiSaveAction, portal.RoleAdmin)).Methods("POST")
	api.Handle("/actions/{id:[0-9]+}", s.user(s.apiSaveAction, portal.RoleAdmin)).Methods("PATCH")
	api.Handle("/actions/{id:[0-9]+}", s.user(apiDelete((*portal.Portal).DeleteAction), portal.RoleAdmin)).Methods("DELETE")
	api.Handle("/tickets/{n:[0-9]+}/actions", s.user(s.apiTicketActions)).Methods("GET")
	api.Handle("/tickets/{n:[0-9]+}/actions/{id:[0-9]+}", s.user(s.apiPerform)).Methods("POST")
}

// ActionsData is the admin's Actions page.
type ActionsData struct {
	Actions  []portal.Action
	Statuses []portal.Status
	Groups   []portal.GroupRef
	EditID   int64
}

// Has says whether a list holds a value, for the form's boxes.
func (d *ActionsData) Has(list any, v any) bool {
	switch l := list.(type) {
	case []int64:
		id, _ := v.(int64)
		return slices.Contains(l, id)
	case []string:
		s, _ := v.(string)
		return slices.Contains(l, s)
	}
	return false
}

// FieldsText is an action's fields as the form edits them, one a line:
// name | label | type | required | option, option.
func (d *ActionsData) FieldsText(fs []portal.Field) string {
	var b strings.Builder
	for _, f := range fs {
		req := ""
		if f.Required {
			req = "required"
		}
		fmt.Fprintf(&b, "%s | %s | %s | %s | %s\n", f.Name, f.Label, f.Type, req, strings.Join(f.Options, ", "))
	}
	return b.String()
}

// Addresses are an action's mail recipients that are addresses.
func (d *ActionsData) Addresses(to []string) string {
	var out []string
	for _, t := range to {
		if strings.Contains(t, "@") {
			out = append(out, t)
		}
	}
	return strings.Join(out, ", ")
}

func (s *Server) renderActions(w http.ResponseWriter, r *http.Request, rq *Request, status int, fix func(*templates.Page)) error {
	ctx := r.Context()
	d := &ActionsData{EditID: -1}
	var err error
	if d.Actions, err = rq.P.Actions(ctx); err != nil {
		return err
	}
	if d.Statuses, err = rq.P.Statuses(ctx); err != nil {
		return err
	}
	if d.Groups, err = rq.P.GroupNames(ctx); err != nil {
		return err
	}
	return s.renderPage(w, r, rq, status, "admin_actions", "Workflow actions", "actions", d, fix)
}

func (s *Server) actionsPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	return s.renderActions(w, r, rq, http.StatusOK, nil)
}

// actionOf reads the action form.
func actionOf(r *http.Request) (portal.Action, map[string]string) {
	f := r.PostForm
	a := portal.Action{Name: f.Get("name"), Comment: f.Get("comment"), Internal: f.Get("internal") != "", AskAssignee: f.Get("ask_assignee") != "",
		Active: f.Get("active") != "", Roles: f["roles"], Statuses: idsOf(f["statuses"]), Groups: idsOf(f["groups"]), Fields: []portal.Field{},
		Mail: portal.ActionMail{To: f["mail_to"], Templates: map[string]portal.MailTemplate{}}}
	a.ToStatus, _ = strconv.ParseInt(f.Get("to_status"), 10, 64)
	a.Macro = portal.Macro{Text: f.Get("macro_text"), Priority: f.Get("macro_priority")}
	a.Macro.Group, _ = strconv.ParseInt(f.Get("macro_group"), 10, 64)
	for _, t := range strings.Split(f.Get("macro_tags"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			a.Macro.AddTags = append(a.Macro.AddTags, t)
		}
	}
	errs := map[string]string{}
	for i, line := range strings.Split(f.Get("fields"), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		parts := strings.Split(line, "|")
		for len(parts) < 5 {
			parts = append(parts, "")
		}
		fd := portal.Field{Name: strings.TrimSpace(parts[0]), Label: strings.TrimSpace(parts[1]), Type: strings.TrimSpace(parts[2]), Required: strings.TrimSpace(parts[3]) == "required"}
		if fd.Type == "" {
			fd.Type = portal.FieldText
		}
		for _, o := range strings.Split(parts[4], ",") {
			if o = strings.TrimSpace(o); o != "" {
				fd.Options = append(fd.Options, o)
			}
		}
		if fd.Name == "" {
			errs["fields"] = fmt.Sprintf("Line %d: name | label | type | required | options.", i+1)
		}
		a.Fields = append(a.Fields, fd)
	}
	for _, addr := range strings.FieldsFunc(f.Get("mail_addresses"), func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
		a.Mail.To = append(a.Mail.To, addr)
	}
	for _, lang := range portal.Languages {
		if sub, body := f.Get("subject_"+lang), f.Get("body_"+lang); sub != "" || body != "" {
			a.Mail.Templates[lang] = portal.MailTemplate{Subject: sub, Body: body}
		}
	}
	return a, errs
}

func (s *Server) actionSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	id := pathID(r)
	a, errs := actionOf(r)
	var err error
	if len(errs) > 0 {
		err = &portal.FieldErrors{Fields: errs}
	} else {
		_, err = rq.P.SaveAction(r.Context(), rq.User, id, a)
	}
	if err != nil {
		return formFailOn(err, r, func(st int, fix func(*templates.Page)) error { return s.renderActions(w, r, rq, st, fix) },
			func(pg *templates.Page) { pg.Data.(*ActionsData).EditID = id })
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/actions", "The action is saved."))
}

// performSubmit performs an action from the ticket page.
func (s *Server) performSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	n := number(r)
	in := portal.ActionInput{Comment: r.PostForm.Get("comment"), Fields: map[string]string{}}
	in.Assignee, _ = strconv.ParseInt(r.PostForm.Get("assignee"), 10, 64)
	for k, v := range r.PostForm {
		if name, ok := strings.CutPrefix(k, "f_"); ok {
			in.Fields[name] = v[0]
		}
	}
	t, err := rq.P.Perform(r.Context(), rq.User, n, pathID(r), in)
	if err != nil {
		return s.ticketFail(w, r, rq, n, err)
	}
	if rq.User.IsStaff() && !rq.User.MaySee(t) {
		return redirect(w, r, flashURL(rq, rq.Base+"/tickets", fmt.Sprintf("Ticket #%d is updated and out of your queues now.", n)))
	}
	return redirect(w, r, flashURL(rq, fmt.Sprintf("%s/tickets/%d", rq.Base, n), "Done."))
}

func (s *Server) apiActions(w http.ResponseWriter, r *http.Request, rq *Request) error {
	as, err := rq.P.Actions(r.Context())
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, ActionList{Actions: as})
	return nil
}

func (s *Server) apiSaveAction(w http.ResponseWriter, r *http.Request, rq *Request) error {
	a := portal.Action{Active: true}
	if id := pathID(r); id != 0 {
		// PATCH: the keys sent change, the rest stays.
		all, err := rq.P.Actions(r.Context())
		if err != nil {
			return err
		}
		i := slices.IndexFunc(all, func(x portal.Action) bool { return x.ID == id })
		if i < 0 {
			return portal.ErrNotFound
		}
		a = all[i]
	}
	if err := web.DecodeJSON(r, &a); err != nil {
		return err
	}
	saved, err := rq.P.SaveAction(r.Context(), rq.User, pathID(r), a)
	if err != nil {
		return err
	}
	writeSaved(w, r, saved)
	return nil
}

func (s *Server) apiTicketActions(w http.ResponseWriter, r *http.Request, rq *Request) error {
	as, err := rq.P.ActionsFor(r.Context(), rq.User, number(r))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, ActionList{Actions: as})
	return nil
}

func (s *Server) apiPerform(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in portal.ActionInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	t, err := rq.P.Perform(r.Context(), rq.User, number(r), pathID(r), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, t)
	return nil
}
