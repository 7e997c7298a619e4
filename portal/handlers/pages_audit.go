package handlers

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"portaldesk/portal"
	"portaldesk/portal/web"
	"portaldesk/templates/i18n"
)

func (s *Server) auditRoutes(m, api *mux.Router) {
	m.Handle("/admin/audit", s.user(s.auditPage, portal.RoleAdmin)).Methods("GET")
	api.Handle("/audit", s.user(s.apiAudit, portal.RoleAdmin)).Methods("GET")
}

// AuditData is the audit log's page: the filter as given, the entries,
// and where the next page starts.
type AuditData struct {
	Entries []portal.AuditEntry
	Actions []struct{ ID, Label string }
	Query   url.Values
	Older   string // the link to the next page, "" at the end
}

// Label is an action's name, in English (the page translates it).
func (d *AuditData) Label(action string) string {
	for _, a := range d.Actions {
		if a.ID == action {
			return a.Label
		}
	}
	return action
}

// auditFilter reads the log's filter from a query: action, who, from
// and to (dates, to inclusive), before (an entry id).
func auditFilter(q url.Values, loc *time.Location) (portal.AuditFilter, error) {
	f := portal.AuditFilter{Action: q.Get("action"), Actor: q.Get("who")}
	errs := map[string]string{}
	for _, d := range []struct {
		key  string
		dst  *int64
		days int
	}{{"from", &f.From, 0}, {"to", &f.To, 1}} {
		if v := q.Get(d.key); v != "" {
			t, err := time.ParseInLocation("2006-01-02", v, loc)
			if err != nil {
				errs[d.key] = "Enter a date like 2026-12-31."
				continue
			}
			*d.dst = t.AddDate(0, 0, d.days).Unix()
		}
	}
	if v := q.Get("before"); v != "" {
		f.Before, _ = strconv.ParseInt(v, 10, 64)
	}
	if len(errs) > 0 {
		return f, web.Invalid(errs)
	}
	return f, nil
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	q := r.URL.Query()
	f, err := auditFilter(q, time.UTC)
	if err != nil {
		return err
	}
	if q.Get("format") == "csv" {
		return s.auditCSV(w, r, rq, f)
	}
	entries, err := rq.P.AuditLog(r.Context(), rq.User, f)
	if err != nil {
		return err
	}
	d := &AuditData{Entries: entries, Actions: portal.AuditActions, Query: q}
	if len(entries) == 100 {
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("before", strconv.FormatInt(entries[len(entries)-1].ID, 10))
		d.Older = rq.Base + "/admin/audit?" + next.Encode()
	}
	pg := s.page(r, rq, "Audit log", d)
	pg.Nav = "audit"
	pg.Form = q
	return s.tpl.Render(w, http.StatusOK, "audit", pg)
}

// auditCSV writes the whole log the filter selects, newest first.
func (s *Server) auditCSV(w http.ResponseWriter, r *http.Request, rq *Request, f portal.AuditFilter) error {
	lang := s.lang(r, rq)
	rows := [][]string{{i18n.T(lang, "When (UTC)"), i18n.T(lang, "Who"), i18n.T(lang, "Address"), i18n.T(lang, "Action"), i18n.T(lang, "What"), i18n.T(lang, "Details")}}
	labels := map[string]string{}
	for _, a := range portal.AuditActions {
		labels[a.ID] = i18n.Msg(lang, a.Label)
	}
	f.Limit = 1000
	for {
		page, err := rq.P.AuditLog(r.Context(), rq.User, f)
		if err != nil {
			return err
		}
		for _, e := range page {
			rows = append(rows, []string{time.Unix(e.At, 0).UTC().Format("2006-01-02 15:04:05"), e.Actor, e.IP, labels[e.Action], e.Target, e.Detail})
		}
		if len(page) < f.Limit {
			break
		}
		f.Before = page[len(page)-1].ID
	}
	return writeCSV(w, "audit-"+rq.P.Slug, s.excelLang(r, rq), rows)
}

func (s *Server) apiAudit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	f, err := auditFilter(r.URL.Query(), time.UTC)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("format") == "csv" {
		return s.auditCSV(w, r, rq, f)
	}
	entries, err := rq.P.AuditLog(r.Context(), rq.User, f)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, AuditList{nonNil(entries)})
	return nil
}
