package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"portaldesk/portal"
	"portaldesk/portal/web"
	"portaldesk/templates"
)

// Organisations, client records and the fields kept on both
// (portal/organizations.go, portal/recordfields.go): staff's pages and
// the API.
func (s *Server) orgRoutes(m, api *mux.Router) {
	admin, op := portal.RoleAdmin, portal.RoleOperator
	m.Handle("/orgs", s.user(s.orgsPage, admin, op)).Methods("GET")
	m.Handle("/orgs", s.user(s.orgSubmit, admin, op)).Methods("POST")
	m.Handle("/orgs/{id:[0-9]+}", s.user(s.orgPage, admin, op)).Methods("GET")
	m.Handle("/orgs/{id:[0-9]+}", s.user(s.orgSubmit, admin, op)).Methods("POST")
	m.Handle("/orgs/{id:[0-9]+}/delete", s.user(pageDelete((*portal.Portal).DeleteOrganization, "/orgs", "The organisation is deleted; its people stay, in none."), admin, op)).Methods("POST")
	m.Handle("/people/{id:[0-9]+}", s.user(s.personPage, admin, op)).Methods("GET")
	m.Handle("/people/{id:[0-9]+}/record", s.user(s.personRecordSubmit, admin, op)).Methods("POST")
	m.Handle("/admin/record-fields", s.user(s.recordFieldsPage, admin)).Methods("GET")
	m.Handle("/admin/record-fields", s.user(s.recordFieldSubmit, admin)).Methods("POST")
	m.Handle("/admin/record-fields/{id:[0-9]+}", s.user(s.recordFieldSubmit, admin)).Methods("POST")
	m.Handle("/admin/record-fields/{id:[0-9]+}/delete", s.user(pageDelete((*portal.Portal).DeleteRecordField, "/admin/record-fields", "The field is deleted."), admin)).Methods("POST")
	api.Handle("/organizations", s.user(s.apiOrgs, admin, op)).Methods("GET")
	api.Handle("/organizations", s.user(apiSave((*portal.Portal).SaveOrganization), admin, op)).Methods("POST")
	api.Handle("/organizations/{id:[0-9]+}", s.user(s.apiOrg, admin, op)).Methods("GET")
	api.Handle("/organizations/{id:[0-9]+}", s.user(apiSave((*portal.Portal).SaveOrganization), admin, op)).Methods("PATCH")
	api.Handle("/organizations/{id:[0-9]+}", s.user(apiDelete((*portal.Portal).DeleteOrganization), admin, op)).Methods("DELETE")
	api.Handle("/record-fields", s.user(s.apiRecordFields, admin, op)).Methods("GET")
	api.Handle("/record-fields", s.user(apiSave((*portal.Portal).SaveRecordField), admin)).Methods("POST")
	api.Handle("/record-fields/{id:[0-9]+}", s.user(apiSave((*portal.Portal).SaveRecordField), admin)).Methods("PATCH")
	api.Handle("/record-fields/{id:[0-9]+}", s.user(apiDelete((*portal.Portal).DeleteRecordField), admin)).Methods("DELETE")
}

// OrgList is a page of organisations.
type OrgList struct {
	Organizations []*portal.Organization `json:"organizations"`
	Page          int                    `json:"page"`
	HasMore       bool                   `json:"has_more"`
	NextCursor    string                 `json:"next_cursor,omitempty"` // goes on from this page of an incremental read
}

// OrgView is one organisation with its clients.
type OrgView struct {
	*portal.Organization
	Members []*portal.User `json:"members"`
}

// RecordFieldList is the fields kept on clients or organisations.
type RecordFieldList struct {
	Fields []*portal.RecordField `json:"fields"`
}

func orgFilter(q url.Values) portal.OrgFilter {
	page, _ := strconv.Atoi(q.Get("page"))
	return portal.OrgFilter{Find: q.Get("find"), ExternalID: q.Get("external_id"), Page: max(page, 1),
		Sync: portal.Sync{Since: q.Get("updated_since"), Cursor: q.Get("cursor")}}
}

func (s *Server) apiOrgs(w http.ResponseWriter, r *http.Request, rq *Request) error {
	f := orgFilter(r.URL.Query())
	list, more, err := rq.P.Organizations(r.Context(), rq.User, f)
	if err != nil {
		return err
	}
	out := OrgList{Organizations: list, Page: f.Page, HasMore: more}
	if more && f.Sync.On() {
		last := list[len(list)-1]
		out.NextCursor, out.Page = portal.Cursor(last.UpdatedAt, last.ID), 1
	}
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) apiOrg(w http.ResponseWriter, r *http.Request, rq *Request) error {
	o, err := rq.P.Organization(r.Context(), rq.User, pathID(r))
	if err != nil {
		return err
	}
	people, err := rq.P.OrgMembers(r.Context(), rq.User, o.ID)
	if err != nil {
		return err
	}
	web.WriteTagged(w, r, OrgView{Organization: o, Members: people})
	return nil
}

func (s *Server) apiRecordFields(w http.ResponseWriter, r *http.Request, rq *Request) error {
	target := r.URL.Query().Get("target")
	if target != portal.TargetClient && target != portal.TargetOrg {
		return &portal.FieldErrors{Fields: map[string]string{"target": "Choose client or org."}}
	}
	list, err := rq.P.RecordFields(r.Context(), target, rq.User.Role == portal.RoleAdmin && r.URL.Query().Get("all") == "1")
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, RecordFieldList{Fields: nonNil(list)})
	return nil
}

// OrgsData is the organisations page.
type OrgsData struct {
	Orgs       []*portal.Organization
	Fields     []*portal.RecordField // what a new one may be given
	Find       string
	More, Prev string
}

func (s *Server) renderOrgs(w http.ResponseWriter, r *http.Request, rq *Request, status int, fix func(*templates.Page)) error {
	q := r.URL.Query()
	f := orgFilter(q)
	d := &OrgsData{Find: strings.TrimSpace(f.Find)}
	list, more, err := rq.P.Organizations(r.Context(), rq.User, f)
	if err != nil {
		return err
	}
	d.Orgs = list
	if d.Fields, err = rq.P.RecordFields(r.Context(), portal.TargetOrg, false); err != nil {
		return err
	}
	link := func(page int) string {
		v := url.Values{"page": {strconv.Itoa(page)}}
		if d.Find != "" {
			v.Set("find", d.Find)
		}
		return rq.Base + "/orgs?" + v.Encode()
	}
	if more {
		d.More = link(f.Page + 1)
	}
	if f.Page > 1 {
		d.Prev = link(f.Page - 1)
	}
	return s.renderPage(w, r, rq, status, "orgs", "Organisations", "people", d, fix)
}

func (s *Server) orgsPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	return s.renderOrgs(w, r, rq, http.StatusOK, nil)
}

// OrgData is one organisation's page.
type OrgData struct {
	Org     *portal.Organization
	Members []*portal.User
	Tickets *portal.TicketList
	Fields  []*portal.RecordField
}

func (s *Server) renderOrg(w http.ResponseWriter, r *http.Request, rq *Request, status int, fix func(*templates.Page)) error {
	ctx := r.Context()
	o, err := rq.P.Organization(ctx, rq.User, pathID(r))
	if err != nil {
		return err
	}
	d := &OrgData{Org: o}
	if d.Members, err = rq.P.OrgMembers(ctx, rq.User, o.ID); err != nil {
		return err
	}
	if d.Tickets, err = rq.P.ListTickets(ctx, rq.User, portal.TicketFilter{Org: o.ID, Page: 1}); err != nil {
		return err
	}
	if d.Fields, err = rq.P.RecordFields(ctx, portal.TargetOrg, false); err != nil {
		return err
	}
	return s.renderPage(w, r, rq, status, "org", o.Name, "people", d, func(pg *templates.Page) {
		if fix != nil {
			fix(pg)
		}
		if pg.Form == nil { // the form starts from what is saved
			pg.Form = url.Values{"name": {o.Name}, "tax_id": {o.TaxID}, "kpp": {o.KPP}, "domains": {strings.Join(o.Domains, ", ")},
				"notes": {o.Notes}, "external_id": {o.ExternalID}}
			for k, v := range o.Fields {
				pg.Form.Set(k, v)
			}
		}
	})
}

func (s *Server) orgPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	return s.renderOrg(w, r, rq, http.StatusOK, nil)
}

// recordFieldsForm reads defs' values from a posted form: every field is
// sent (an unticked box or an emptied input clears its value).
func recordFieldsForm(form url.Values, defs []*portal.RecordField) map[string]any {
	out := map[string]any{}
	for _, d := range defs {
		out[d.Name] = form.Get(d.Name)
	}
	return out
}

// orgSubmit makes (POST /orgs) or changes (POST /orgs/{id}) an organisation.
func (s *Server) orgSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	id := pathID(r)
	defs, err := rq.P.RecordFields(r.Context(), portal.TargetOrg, false)
	if err != nil {
		return err
	}
	f := r.PostForm
	str := func(k string) *string { v := f.Get(k); return &v }
	domains := []string{f.Get("domains")}
	in := portal.OrgInput{Name: str("name"), TaxID: str("tax_id"), KPP: str("kpp"), Domains: &domains, Notes: str("notes"),
		ExternalID: str("external_id"), Fields: recordFieldsForm(f, defs)}
	o, err := rq.P.SaveOrganization(r.Context(), rq.User, id, in)
	if err != nil {
		render := func(st int, fix func(*templates.Page)) error { return s.renderOrgs(w, r, rq, st, fix) }
		if id != 0 {
			render = func(st int, fix func(*templates.Page)) error { return s.renderOrg(w, r, rq, st, fix) }
		}
		return formFailOn(err, r, render, nil)
	}
	msg := "The organisation is saved."
	switch {
	case id == 0 && o.Joined > 0:
		msg = fmt.Sprintf("The organisation is added; clients at its domains joined it: %d.", o.Joined)
	case id == 0:
		msg = "The organisation is added."
	case o.Joined > 0:
		msg = fmt.Sprintf("The organisation is saved; clients at its domains joined it: %d.", o.Joined)
	}
	return redirect(w, r, flashURL(rq, fmt.Sprintf("%s/orgs/%d", rq.Base, o.ID), msg))
}

// PersonData is a client's record page.
type PersonData struct {
	U      *portal.User
	Org    *portal.Organization
	Orgs   []portal.OrgRef
	Fields []*portal.RecordField
}

func (s *Server) renderPerson(w http.ResponseWriter, r *http.Request, rq *Request, status int, fix func(*templates.Page)) error {
	ctx := r.Context()
	u, err := rq.P.UserByID(ctx, pathID(r))
	if err != nil {
		return err
	}
	if u.IsStaff() && rq.User.Role != portal.RoleAdmin {
		return portal.ErrForbidden // operators keep records of clients only
	}
	d := &PersonData{U: u}
	if u.Org != 0 {
		if d.Org, err = rq.P.Organization(ctx, rq.User, u.Org); err != nil {
			return err
		}
	}
	if d.Orgs, err = rq.P.OrgNames(ctx); err != nil {
		return err
	}
	if !u.IsStaff() {
		if d.Fields, err = rq.P.RecordFields(ctx, portal.TargetClient, false); err != nil {
			return err
		}
	}
	return s.renderPage(w, r, rq, status, "person", u.FullName(), "people", d, func(pg *templates.Page) {
		if fix != nil {
			fix(pg)
		}
		if pg.Form == nil {
			pg.Form = url.Values{"external_id": {u.ExternalID}}
			if d.Org != nil {
				pg.Form.Set("organization", d.Org.Name)
			}
			for k, v := range u.FieldValues() {
				pg.Form.Set(k, v)
			}
		}
	})
}

func (s *Server) personPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	return s.renderPerson(w, r, rq, http.StatusOK, nil)
}

// personRecordSubmit saves what staff keep about a person: their
// organisation, external id and fields.
func (s *Server) personRecordSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	u, err := rq.P.UserByID(r.Context(), pathID(r))
	if err != nil {
		return err
	}
	ch := portal.UserChange{}
	org, ext := r.PostForm.Get("organization"), r.PostForm.Get("external_id")
	ch.Organization, ch.ExternalID = &org, &ext
	if !u.IsStaff() {
		defs, err := rq.P.RecordFields(r.Context(), portal.TargetClient, false)
		if err != nil {
			return err
		}
		ch.Fields = recordFieldsForm(r.PostForm, defs)
	}
	if _, err := rq.P.ChangeUser(r.Context(), rq.User, u.ID, ch); err != nil {
		return formFailOn(err, r, func(st int, fix func(*templates.Page)) error { return s.renderPerson(w, r, rq, st, fix) }, nil)
	}
	return redirect(w, r, flashURL(rq, fmt.Sprintf("%s/people/%d", rq.Base, u.ID), "The record is saved."))
}

// RecordFieldsData is the admin's page of the fields kept on clients and
// organisations.
type RecordFieldsData struct {
	Client, Org []*portal.RecordField
	Types       []struct{ ID, Label string }
	EditID      int64 // the field whose change failed: its form stays open
}

func (s *Server) renderRecordFields(w http.ResponseWriter, r *http.Request, rq *Request, status int, fix func(*templates.Page)) error {
	d := &RecordFieldsData{Types: portal.FieldTypes, EditID: -1}
	var err error
	if d.Client, err = rq.P.RecordFields(r.Context(), portal.TargetClient, true); err != nil {
		return err
	}
	if d.Org, err = rq.P.RecordFields(r.Context(), portal.TargetOrg, true); err != nil {
		return err
	}
	return s.renderPage(w, r, rq, status, "admin_record_fields", "Client and organisation fields", "record-fields", d, fix)
}

func (s *Server) recordFieldsPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	return s.renderRecordFields(w, r, rq, http.StatusOK, nil)
}

func (s *Server) recordFieldSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	f, id := r.PostForm, pathID(r)
	label, help, typ := f.Get("label"), f.Get("help"), f.Get("type")
	active := id == 0 || f.Get("active") != ""
	var options []string
	for _, o := range strings.Split(f.Get("options"), "\n") {
		options = append(options, strings.TrimSpace(o))
	}
	in := portal.RecordFieldInput{Target: f.Get("target"), FieldInput: portal.FieldInput{Label: &label, Help: &help, Type: &typ, Options: options, Active: &active}}
	if _, err := rq.P.SaveRecordField(r.Context(), rq.User, id, in); err != nil {
		return formFailOn(err, r, func(st int, fix func(*templates.Page)) error { return s.renderRecordFields(w, r, rq, st, fix) },
			func(pg *templates.Page) { pg.Data.(*RecordFieldsData).EditID = id })
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/record-fields", "The field is saved."))
}
