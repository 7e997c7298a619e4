package handlers

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"portaldesk/portal"
	"portaldesk/portal/web"
	"portaldesk/templates"
	"portaldesk/templates/i18n"
)

// Tags and triggers (portal/tags.go, portal/triggers.go): the admin's
// Automation page and the API.
func (s *Server) triggerRoutes(m, api *mux.Router) {
	m.Handle("/admin/automation", s.user(s.automationPage, portal.RoleAdmin)).Methods("GET")
	m.Handle("/admin/automation/triggers", s.user(s.triggerSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/automation/triggers/{id:[0-9]+}", s.user(s.triggerSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/automation/triggers/{id:[0-9]+}/delete", s.user(s.triggerDeleteSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/automation/tags", s.user(s.tagSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/automation/tags/{id:[0-9]+}", s.user(s.tagSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/automation/tags/{id:[0-9]+}/delete", s.user(pageDelete((*portal.Portal).DeleteTag, "/admin/automation#tags", "The tag is deleted and taken off every ticket."), portal.RoleAdmin)).Methods("POST")
	api.Handle("/tags", s.user(s.apiTags, portal.RoleAdmin, portal.RoleOperator)).Methods("GET")
	api.Handle("/tags", s.user(s.apiSaveTag, portal.RoleAdmin)).Methods("POST")
	api.Handle("/tags/{id:[0-9]+}", s.user(s.apiSaveTag, portal.RoleAdmin)).Methods("PATCH")
	api.Handle("/tags/{id:[0-9]+}", s.user(apiDelete((*portal.Portal).DeleteTag), portal.RoleAdmin)).Methods("DELETE")
	api.Handle("/triggers", s.user(s.apiTriggers, portal.RoleAdmin)).Methods("GET")
	api.Handle("/triggers", s.user(s.apiSaveTrigger, portal.RoleAdmin)).Methods("POST")
	api.Handle("/triggers/test", s.user(s.apiTestTrigger, portal.RoleAdmin)).Methods("POST")
	api.Handle("/triggers/{id:[0-9]+}", s.user(s.apiSaveTrigger, portal.RoleAdmin)).Methods("PUT")
	api.Handle("/triggers/{id:[0-9]+}", s.user(s.apiDeleteTrigger, portal.RoleAdmin)).Methods("DELETE")
}

// AutomationData is the Automation page.
type AutomationData struct {
	Triggers []portal.Trigger
	Tags     []portal.Tag
	EditID   int64               // the trigger whose form failed (-1: none)
	Test     *portal.TriggerTest // what trying a trigger on a ticket showed
	TestID   int64
	Fields   []string // the condition fields
	Actions  []string // the action types
}

// Blank are the empty rows a trigger's form offers for more conditions or actions.
func (d *AutomationData) Blank() []int { return []int{0, 1} }

func (s *Server) renderAutomation(w http.ResponseWriter, r *http.Request, rq *Request, status int, fix func(*templates.Page)) error {
	ctx := r.Context()
	d := &AutomationData{EditID: -1, Fields: []string{"status", "priority", "group", "source", "assignee", "tag", "subject", "body", "client_email", "hours", "author", "idle", "age"},
		Actions: []string{"set_status", "set_priority", "set_group", "set_assignee", "add_tag", "remove_tag", "add_note", "send_mail", "perform_action"}}
	var err error
	if d.Triggers, err = rq.P.Triggers(ctx); err != nil {
		return err
	}
	if d.Tags, err = rq.P.Tags(ctx); err != nil {
		return err
	}
	return s.renderPage(w, r, rq, status, "admin_automation", "Automation", "automation", d, fix)
}

func (s *Server) automationPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	return s.renderAutomation(w, r, rq, http.StatusOK, nil)
}

// triggerOf reads a trigger's form: conditions and actions as rows of
// repeated fields, empty rows skipped.
func triggerOf(r *http.Request) portal.Trigger {
	f := r.PostForm
	t := portal.Trigger{Name: f.Get("name"), Event: f.Get("event"), Stop: f.Get("stop") != "", Active: f.Get("active") != "", Conditions: []portal.Condition{}, Actions: []portal.TriggerAction{}}
	at := func(key string, i int) string {
		if v := f[key]; i < len(v) {
			return strings.TrimSpace(v[i])
		}
		return ""
	}
	for i := range f["cond_field"] {
		if c := (portal.Condition{Field: at("cond_field", i), Op: at("cond_op", i), Value: at("cond_value", i)}); c.Field != "" {
			t.Conditions = append(t.Conditions, c)
		}
	}
	for i := range f["act_type"] {
		if a := (portal.TriggerAction{Type: at("act_type", i), Value: at("act_value", i), Subject: at("act_subject", i), Body: at("act_body", i)}); a.Type != "" {
			t.Actions = append(t.Actions, a)
		}
	}
	return t
}

func (s *Server) triggerSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	id, t := pathID(r), triggerOf(r)
	if n := r.PostForm.Get("test_ticket"); r.PostForm.Get("try") != "" {
		// Tried on a ticket, not saved.
		num, _ := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(n), "#"), 10, 64)
		res, err := rq.P.TestTrigger(r.Context(), rq.User, t, num)
		if err != nil {
			return formFailOn(err, r, func(st int, fix func(*templates.Page)) error { return s.renderAutomation(w, r, rq, st, fix) },
				func(pg *templates.Page) { pg.Data.(*AutomationData).EditID = id })
		}
		return s.renderAutomation(w, r, rq, http.StatusOK, func(pg *templates.Page) {
			pg.Form = r.PostForm
			d := pg.Data.(*AutomationData)
			d.Test, d.TestID, d.EditID = res, id, id
			pg.Flash = i18n.T(pg.Lang, "Tried on #%d: the trigger would not act.", num)
			if res.Matches {
				pg.Flash = i18n.T(pg.Lang, "Tried on #%d: every condition holds, the actions would run.", num)
			}
		})
	}
	if _, err := rq.P.SaveTrigger(r.Context(), rq.User, id, t); err != nil {
		return formFailOn(err, r, func(st int, fix func(*templates.Page)) error { return s.renderAutomation(w, r, rq, st, fix) },
			func(pg *templates.Page) { pg.Data.(*AutomationData).EditID = id })
	}
	if err := s.watchClocks(r, rq); err != nil {
		return err
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/automation", "The trigger is saved."))
}

func (s *Server) triggerDeleteSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := rq.P.DeleteTrigger(r.Context(), rq.User, pathID(r)); err != nil {
		return err
	}
	if err := s.watchClocks(r, rq); err != nil {
		return err
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/automation", "The trigger is deleted."))
}

func (s *Server) tagSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	if _, err := rq.P.SaveTag(r.Context(), rq.User, pathID(r), r.PostForm.Get("tag_name"), r.PostForm.Get("tag_color")); err != nil {
		return formFailOn(err, r, func(st int, fix func(*templates.Page)) error { return s.renderAutomation(w, r, rq, st, fix) }, nil)
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/automation#tags", "The tag is saved."))
}

func (s *Server) apiTags(w http.ResponseWriter, r *http.Request, rq *Request) error {
	tags, err := rq.P.Tags(r.Context())
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, TagList{Tags: tags})
	return nil
}

func (s *Server) apiSaveTag(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in TagInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	t, err := rq.P.SaveTag(r.Context(), rq.User, pathID(r), in.Name, in.Color)
	if err != nil {
		return err
	}
	writeSaved(w, r, t)
	return nil
}

// writeSaved answers a POST that made something with 201, a change with 200.
func writeSaved(w http.ResponseWriter, r *http.Request, v any) {
	code := http.StatusOK
	if pathID(r) == 0 {
		code = http.StatusCreated
	}
	web.WriteJSON(w, code, v)
}

func (s *Server) apiTriggers(w http.ResponseWriter, r *http.Request, rq *Request) error {
	ts, err := rq.P.Triggers(r.Context())
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, TriggerList{Triggers: ts})
	return nil
}

func (s *Server) apiSaveTrigger(w http.ResponseWriter, r *http.Request, rq *Request) error {
	in := portal.Trigger{Active: true}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	t, err := rq.P.SaveTrigger(r.Context(), rq.User, pathID(r), in)
	if err != nil {
		return err
	}
	if err := s.watchClocks(r, rq); err != nil {
		return err
	}
	writeSaved(w, r, t)
	return nil
}

func (s *Server) apiTestTrigger(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in TriggerTestInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	res, err := rq.P.TestTrigger(r.Context(), rq.User, in.Trigger, in.Ticket)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) apiDeleteTrigger(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := rq.P.DeleteTrigger(r.Context(), rq.User, pathID(r)); err != nil {
		return err
	}
	if err := s.watchClocks(r, rq); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// apiSave answers a POST that makes (201) or a PATCH that changes (200)
// the resource at {id} with what save returns, the body decoded as In.
func apiSave[In, Out any](save func(*portal.Portal, context.Context, *portal.User, int64, In) (Out, error)) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, rq *Request) error {
		var in In
		if err := web.DecodeJSON(r, &in); err != nil {
			return err
		}
		out, err := save(rq.P, r.Context(), rq.User, pathID(r), in)
		if err != nil {
			return err
		}
		writeSaved(w, r, out)
		return nil
	}
}

// apiPut answers a PUT of a single resource of the portal (its settings
// of one kind): decoded, saved whole or refused, the saved value back.
func apiPut[In, Out any](save func(*portal.Portal, context.Context, *portal.User, In) (Out, error)) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, rq *Request) error {
		var in In
		if err := web.DecodeJSON(r, &in); err != nil {
			return err
		}
		out, err := save(rq.P, r.Context(), rq.User, in)
		if err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusOK, out)
		return nil
	}
}

// apiDelete answers a DELETE of the resource at {id}: 204 once del did.
// apiByID answers a GET of one thing by the id in its path.
func apiByID[Out any](get func(*portal.Portal, context.Context, *portal.User, int64) (Out, error)) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, rq *Request) error {
		out, err := get(rq.P, r.Context(), rq.User, pathID(r))
		if err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusOK, out)
		return nil
	}
}

// apiAccept answers a POST that starts work done later: decoded, started
// (the id in its path, 0 when none), 202 with what was started.
func apiAccept[In, Out any](start func(*portal.Portal, context.Context, *portal.User, int64, In) (Out, error)) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, rq *Request) error {
		var in In
		if err := web.DecodeJSON(r, &in); err != nil {
			return err
		}
		out, err := start(rq.P, r.Context(), rq.User, pathID(r), in)
		if err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusAccepted, out)
		return nil
	}
}

// pageDelete answers a page's delete button: the thing deleted, then back
// to the page at back with msg.
func pageDelete(del func(*portal.Portal, context.Context, *portal.User, int64) error, back, msg string) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, rq *Request) error {
		if err := del(rq.P, r.Context(), rq.User, pathID(r)); err != nil {
			return err
		}
		return redirect(w, r, flashURL(rq, rq.Base+back, msg))
	}
}

func apiDelete(del func(*portal.Portal, context.Context, *portal.User, int64) error) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, rq *Request) error {
		if err := del(rq.P, r.Context(), rq.User, pathID(r)); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}
