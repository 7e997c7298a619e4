package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"portaldesk/portal"
	"portaldesk/portal/web"
	"portaldesk/templates"
)

// Clocks is what the control plane keeps of a portal's SLA clocks: whether
// the minute's job checks it.
type Clocks interface {
	WatchClocks(ctx context.Context, portalID int64, on bool) error
}

// Business hours and SLA policies (portal/bizhours.go, portal/sla.go): the
// admin's Service levels page and the API.
func (s *Server) slaRoutes(m, api *mux.Router) {
	m.Handle("/admin/sla", s.user(s.slaPage, portal.RoleAdmin)).Methods("GET")
	m.Handle("/admin/sla/hours", s.user(s.hoursSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/sla/import", s.user(s.calendarImportSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/sla/clients", s.user(s.slaClientsSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/sla/policies", s.user(s.policySubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/sla/policies/{id:[0-9]+}", s.user(s.policySubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/sla/policies/{id:[0-9]+}/delete", s.user(s.policyDeleteSubmit, portal.RoleAdmin)).Methods("POST")
	api.Handle("/business-hours", s.user(s.apiBusinessHours, portal.RoleAdmin, portal.RoleOperator)).Methods("GET")
	api.Handle("/business-hours", s.user(s.apiPutBusinessHours, portal.RoleAdmin)).Methods("PUT")
	api.Handle("/business-hours/import", s.user(s.apiImportCalendar, portal.RoleAdmin)).Methods("POST")
	api.Handle("/sla-policies", s.user(s.apiSLAPolicies, portal.RoleAdmin, portal.RoleOperator)).Methods("GET")
	api.Handle("/sla-policies", s.user(s.apiSaveSLAPolicy, portal.RoleAdmin)).Methods("POST")
	api.Handle("/sla-policies/{id:[0-9]+}", s.user(s.apiSaveSLAPolicy, portal.RoleAdmin)).Methods("PATCH")
	api.Handle("/sla-policies/{id:[0-9]+}", s.user(s.apiDeleteSLAPolicy, portal.RoleAdmin)).Methods("DELETE")
}

// watchClocks tells the control plane whether the portal has clocks now.
func (s *Server) watchClocks(r *http.Request, rq *Request) error {
	if s.cfg.Clocks == nil {
		return nil
	}
	return s.cfg.Clocks.WatchClocks(r.Context(), rq.P.Plan().ID, rq.P.UsesClocks(r.Context()))
}

// SLAData is the Service levels page.
type SLAData struct {
	Hours     *portal.BusinessHours // nil: every hour counts
	Days      []Weekday             // Monday … Sunday
	Policies  []portal.SLAPolicy
	Groups    []portal.GroupRef
	Years     []int // of the bundled production calendar
	ToClients bool  // clients see the promised times
	EditID    int64 // the policy whose form failed
}

// Weekday is a day of the week as the hours form names it.
type Weekday struct{ Key, Name string }

var weekdays = []Weekday{{"mon", "Monday"}, {"tue", "Tuesday"}, {"wed", "Wednesday"}, {"thu", "Thursday"}, {"fri", "Friday"}, {"sat", "Saturday"}, {"sun", "Sunday"}}

// DayHours is a day's opening hours as the form shows them ("09:00-13:00, 14:00-18:00").
func (d *SLAData) DayHours(day string) string {
	if d.Hours == nil {
		if day == "sat" || day == "sun" {
			return ""
		}
		return "09:00-18:00"
	}
	var parts []string
	for _, s := range d.Hours.Week[day] {
		parts = append(parts, s.From+"-"+s.To)
	}
	return strings.Join(parts, ", ")
}

// HasPriority and HasGroup say what a policy's conditions tick.
func (d *SLAData) HasPriority(p portal.SLAPolicy, v string) bool {
	return slices.Contains(p.Priorities, v)
}
func (d *SLAData) HasGroup(p portal.SLAPolicy, id int64) bool { return slices.Contains(p.Groups, id) }

// Target writes minutes as the form takes them back ("4h", "1h30m", "45m").
func (d *SLAData) Target(min int) string {
	if min == 0 {
		return ""
	}
	return strings.TrimSuffix(strings.TrimSuffix((time.Duration(min)*time.Minute).String(), "0s"), "0m")
}

func (s *Server) renderSLA(w http.ResponseWriter, r *http.Request, rq *Request, status int, fix func(*templates.Page)) error {
	ctx := r.Context()
	d := &SLAData{Hours: rq.P.BusinessHours(ctx), Days: weekdays, Years: portal.ProductionYears(), ToClients: rq.P.Settings(ctx).SLAToClients}
	var err error
	if d.Policies, err = rq.P.SLAPolicies(ctx); err != nil {
		return err
	}
	if d.Groups, err = rq.P.GroupNames(ctx); err != nil {
		return err
	}
	return s.renderPage(w, r, rq, status, "admin_sla", "Service levels", "sla", d, fix)
}

func (s *Server) slaPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	return s.renderSLA(w, r, rq, http.StatusOK, nil)
}

func (s *Server) slaFail(w http.ResponseWriter, r *http.Request, rq *Request, err error, edit int64) error {
	return formFailOn(err, r, func(st int, fix func(*templates.Page)) error { return s.renderSLA(w, r, rq, st, fix) },
		func(pg *templates.Page) { pg.Data.(*SLAData).EditID = edit })
}

// parseDayHours reads "09:00-13:00, 14:00-18:00" (empty: closed).
func parseDayHours(v string) ([]portal.Span, bool) {
	var out []portal.Span
	for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' }) {
		from, to, ok := strings.Cut(strings.NewReplacer("–", "-", "—", "-", " ", "").Replace(part), "-")
		if !ok {
			return nil, false
		}
		out = append(out, portal.Span{From: from, To: to})
	}
	return out, true
}

// daysOf reads dates one a line or separated by commas.
func daysOf(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' || r == ' ' || r == ';' })
}

func (s *Server) hoursSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	var err error
	if r.PostForm.Get("every_hour") != "" {
		err = rq.P.SaveBusinessHours(r.Context(), rq.User, nil)
	} else {
		b := &portal.BusinessHours{TimeZone: strings.TrimSpace(r.PostForm.Get("time_zone")), Week: map[string][]portal.Span{},
			Holidays: daysOf(r.PostForm.Get("holidays")), Workdays: daysOf(r.PostForm.Get("workdays"))}
		bad := map[string]string{}
		for _, d := range weekdays {
			spans, ok := parseDayHours(r.PostForm.Get("day_" + d.Key))
			if !ok {
				bad["week."+d.Key] = "Enter hours like 09:00-18:00, or 09:00-13:00, 14:00-18:00."
			}
			b.Week[d.Key] = spans
		}
		if len(bad) > 0 {
			err = &portal.FieldErrors{Fields: bad}
		} else {
			err = rq.P.SaveBusinessHours(r.Context(), rq.User, b)
		}
	}
	if err != nil {
		return s.slaFail(w, r, rq, err, -1)
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/sla", "The working hours are saved; open tickets' clocks follow them."))
}

func (s *Server) slaClientsSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	st := rq.P.Settings(r.Context())
	st.SLAToClients = r.PostForm.Get("sla_to_clients") != ""
	if err := rq.P.SaveSettings(r.Context(), st); err != nil {
		return err
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/sla", "Saved."))
}

func (s *Server) calendarImportSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	year, _ := strconv.Atoi(r.PostForm.Get("year"))
	if _, err := rq.P.ImportProductionCalendar(r.Context(), rq.User, year); err != nil {
		return s.slaFail(w, r, rq, err, -1)
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/sla", fmt.Sprintf("The production calendar of %d is added.", year)))
}

// parseTarget reads a target as the form writes it: "4h", "1h30m", "45m",
// or a number of minutes — working time, so no days (a working day is not
// 24 hours); empty is no target. -1: unreadable.
func parseTarget(v string) int {
	v = strings.TrimSpace(strings.ReplaceAll(strings.ToLower(v), " ", ""))
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		return n
	}
	d, err := time.ParseDuration(v)
	if err != nil || d%time.Minute != 0 {
		return -1
	}
	return int(d / time.Minute)
}

func (s *Server) policySubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	id := pathID(r)
	name := r.PostForm.Get("name")
	prios := r.PostForm["priorities"]
	groups := idsOf(r.PostForm["groups"])
	fr, next, res := parseTarget(r.PostForm.Get("first_response")), parseTarget(r.PostForm.Get("next_response")), parseTarget(r.PostForm.Get("resolution"))
	esc := r.PostForm.Get("escalate") != ""
	in := portal.SLAPolicyChange{Name: &name, Priorities: &prios, Groups: &groups, FirstResponseMinutes: &fr, NextResponseMinutes: &next, ResolutionMinutes: &res, Escalate: &esc}
	if _, err := rq.P.SaveSLAPolicy(r.Context(), rq.User, id, in); err != nil {
		return s.slaFail(w, r, rq, err, id)
	}
	if err := s.watchClocks(r, rq); err != nil {
		return err
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/sla", "The policy is saved; open tickets' clocks follow it."))
}

func (s *Server) policyDeleteSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := rq.P.DeleteSLAPolicy(r.Context(), rq.User, pathID(r)); err != nil {
		return err
	}
	if err := s.watchClocks(r, rq); err != nil {
		return err
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/sla", "The policy is deleted."))
}

func (s *Server) apiBusinessHours(w http.ResponseWriter, r *http.Request, rq *Request) error {
	v := BusinessHoursView{Hours: rq.P.BusinessHours(r.Context()), Years: portal.ProductionYears()}
	if v.Hours != nil {
		v.BusinessHours, v.Set = *v.Hours, true
	}
	web.WriteJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) apiPutBusinessHours(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var raw map[string]json.RawMessage
	if err := web.DecodeJSON(r, &raw); err != nil {
		return err
	}
	var hours *portal.BusinessHours
	switch h, nested := raw["hours"]; {
	case nested:
		if err := json.Unmarshal(h, &hours); err != nil {
			return web.BadRequest("hours: %v", err)
		}
	case string(raw["set"]) == "false":
	default:
		b, _ := json.Marshal(raw)
		hours = &portal.BusinessHours{}
		if err := json.Unmarshal(b, hours); err != nil {
			return web.BadRequest("%v", err)
		}
	}
	if err := rq.P.SaveBusinessHours(r.Context(), rq.User, hours); err != nil {
		return err
	}
	return s.apiBusinessHours(w, r, rq)
}

func (s *Server) apiImportCalendar(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in CalendarImport
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	if _, err := rq.P.ImportProductionCalendar(r.Context(), rq.User, in.Year); err != nil {
		return err
	}
	return s.apiBusinessHours(w, r, rq)
}

func (s *Server) apiSLAPolicies(w http.ResponseWriter, r *http.Request, rq *Request) error {
	ps, err := rq.P.SLAPolicies(r.Context())
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, SLAPolicyList{Policies: ps})
	return nil
}

func (s *Server) apiSaveSLAPolicy(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in portal.SLAPolicyChange
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	if pathID(r) == 0 {
		// A policy without conditions applies to every ticket: absent
		// lists are empty, not "as before".
		in.Priorities, in.Groups = cmpPtr(in.Priorities, &[]string{}), cmpPtr(in.Groups, &[]int64{})
	}
	p, err := rq.P.SaveSLAPolicy(r.Context(), rq.User, pathID(r), in)
	if err != nil {
		return err
	}
	if err := s.watchClocks(r, rq); err != nil {
		return err
	}
	code := http.StatusOK
	if pathID(r) == 0 {
		code = http.StatusCreated
	}
	web.WriteJSON(w, code, p)
	return nil
}

func cmpPtr[T any](a, b *T) *T {
	if a != nil {
		return a
	}
	return b
}

func (s *Server) apiDeleteSLAPolicy(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := rq.P.DeleteSLAPolicy(r.Context(), rq.User, pathID(r)); err != nil {
		return err
	}
	if err := s.watchClocks(r, rq); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
