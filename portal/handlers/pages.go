package handlers

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"portaldesk/portal"
	"portaldesk/portal/web"
	"portaldesk/templates"
	"portaldesk/templates/i18n"
)

func (s *Server) pageRoutes(m *mux.Router) {
	m.Handle("/help/api", s.user(s.apiReference)).Methods("GET")
	m.Handle("/forgot", s.h(s.forgotPage)).Methods("GET")
	m.Handle("/forgot", s.h(s.forgotSubmit)).Methods("POST")
	m.Handle("/reset", s.h(s.resetPage)).Methods("GET")
	m.Handle("/reset", s.h(s.resetSubmit)).Methods("POST")
	m.Handle("/register", s.h(s.registerPage)).Methods("GET")
	m.Handle("/register", s.h(s.registerSubmit)).Methods("POST")
	m.Handle("/tickets", s.user(s.ticketsPage)).Methods("GET")
	m.Handle("/tickets/new", s.user(s.newTicketPage)).Methods("GET")
	m.Handle("/tickets", s.user(s.newTicketSubmit)).Methods("POST")
	m.Handle("/tickets/{n:[0-9]+}", s.user(s.ticketPage)).Methods("GET")
	m.Handle("/tickets/{n:[0-9]+}/events", s.user(s.ticketEvents)).Methods("GET")
	m.Handle("/tickets/{n:[0-9]+}/writing", s.user(s.writingSubmit, portal.RoleAdmin, portal.RoleOperator)).Methods("POST")
	m.Handle("/events", s.user(s.tableEvents)).Methods("GET")
	m.Handle("/tour", s.user(s.tourSubmit)).Methods("POST")
	m.Handle("/logo", s.h(s.logo)).Methods("GET")
	m.Handle("/admin/logo", s.user(s.logoSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/qr.{ext:png|svg}", s.user(s.qrCode, portal.RoleAdmin)).Methods("GET")
	m.Handle("/tickets/{n:[0-9]+}/messages", s.user(s.replySubmit)).Methods("POST")
	m.Handle("/tickets/{n:[0-9]+}/update", s.user(s.ticketUpdateSubmit, portal.RoleAdmin, portal.RoleOperator)).Methods("POST")
	m.Handle("/tickets/mode", s.user(s.listModeSubmit)).Methods("POST")
	m.Handle("/tickets/bulk", s.user(s.ticketsBulkSubmit, portal.RoleAdmin, portal.RoleOperator)).Methods("POST")
	m.Handle("/tickets/{n:[0-9]+}/delete", s.user(s.ticketDeleteSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/attachments/{id:[0-9]+}", s.user(s.download)).Methods("GET")
	m.Handle("/profile", s.user(s.profilePage)).Methods("GET")
	m.Handle("/profile", s.user(s.profileSubmit)).Methods("POST")
	m.Handle("/profile/password", s.user(s.passwordSubmit)).Methods("POST")
	m.Handle("/profile/confirm", s.user(s.confirmSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/profile/two-factor/{action:start|enable|disable|codes}", s.user(s.twoFactorSubmit, portal.RoleAdmin, portal.RoleOperator)).Methods("POST")
	m.Handle("/profile/sessions/{id:others|[0-9a-f]{12}}/end", s.user(s.sessionEndSubmit)).Methods("POST")
	m.Handle("/confirm", s.h(s.confirmPage)).Methods("GET")
	m.Handle("/profile/tokens", s.user(s.tokenSubmit, portal.RoleAdmin, portal.RoleOperator)).Methods("POST")
	m.Handle("/profile/tokens/{id}/revoke", s.user(s.tokenRevokeSubmit, portal.RoleAdmin, portal.RoleOperator)).Methods("POST")
	m.Handle("/people", s.user(s.peoplePage, portal.RoleAdmin, portal.RoleOperator)).Methods("GET")
	m.Handle("/people", s.user(s.inviteSubmit, portal.RoleAdmin, portal.RoleOperator)).Methods("POST")
	m.Handle("/people/{id:[0-9]+}", s.user(s.personSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/people/{id:[0-9]+}/password-link", s.user(s.passwordLinkSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/people/{id:[0-9]+}/invite", s.user(s.inviteAgainSubmit, portal.RoleAdmin, portal.RoleOperator)).Methods("POST")
	m.Handle("/admin/form", s.user(s.formPage, portal.RoleAdmin)).Methods("GET")
	m.Handle("/admin/form/fields", s.user(s.fieldAddSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/form/fields/{id:[0-9]+}", s.user(s.fieldEditSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/form/preamble", s.user(s.preambleSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/settings", s.user(s.settingsPage, portal.RoleAdmin)).Methods("GET")
	m.Handle("/admin/settings", s.user(s.settingsSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/workflow", s.user(s.workflowSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/statuses", s.user(s.statusSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/statuses/{id:[0-9]+}", s.user(s.statusSubmit, portal.RoleAdmin)).Methods("POST")
}

// formFail re-renders a form with what was typed and the errors at their
// fields, or returns err when it is not a validation failure.
func (s *Server) formFail(w http.ResponseWriter, pg *templates.Page, page string, form url.Values, err error) error {
	var we *web.Error
	if !errors.As(webError(err), &we) || we.Status >= 500 && we.Code != "quota_exceeded" {
		return err
	}
	pg.Form, pg.Errors, pg.Error = form, we.Fields, we.Message
	if pg.Error == "" || len(we.Fields) > 0 && we.Code == "invalid" {
		pg.Error = "Please correct the highlighted fields."
	}
	we.SetHeaders(w)
	return s.tpl.Render(w, we.Status, page, pg)
}

func redirect(w http.ResponseWriter, r *http.Request, to string) error {
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// flashURL passes a one-line confirmation to the next page through the
// URL, signed with the portal's key: a link someone else made cannot put
// their words in a green banner of the portal.
func flashURL(rq *Request, to, msg string) string {
	sep := "?"
	if strings.Contains(to, "?") {
		sep = "&"
	}
	return to + sep + "done=" + url.QueryEscape(msg) + "&ds=" + flashSig(rq, msg)
}

func flashSig(rq *Request, msg string) string {
	m := hmac.New(sha256.New, rq.P.CookieKey())
	m.Write([]byte("flash\x00" + msg))
	return hex.EncodeToString(m.Sum(nil)[:12])
}

// withFlash shows the confirmation the URL carries, if the portal signed it.
func (s *Server) withFlash(r *http.Request, rq *Request, pg *templates.Page) *templates.Page {
	q := r.URL.Query()
	if d := q.Get("done"); d != "" && len(d) < 300 && hmac.Equal([]byte(q.Get("ds")), []byte(flashSig(rq, d))) {
		pg.Flash = d
	}
	return pg
}

func (s *Server) home(w http.ResponseWriter, r *http.Request, rq *Request) error {
	return redirect(w, r, rq.Base+"/tickets")
}

func (s *Server) registerPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if rq.User != nil {
		return redirect(w, r, rq.Base+"/")
	}
	return s.tpl.Render(w, http.StatusOK, "register", s.registerForm(r, rq))
}

// registerForm is the registration page, its form stamped with the time
// it was shown (web.Humans).
func (s *Server) registerForm(r *http.Request, rq *Request) *templates.Page {
	pg := s.page(r, rq, "Register", nil)
	pg.Stamp = s.humans(rq.P).Stamp(rq.P.Now())
	return pg
}

// humans tells people from scripts on a portal's registration form.
func (s *Server) humans(p *portal.Portal) web.Humans {
	return web.Humans{Key: p.CookieKey(), MinFill: s.cfg.MinFill}
}

func (s *Server) registerSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	in := portal.NewPerson{Name: r.PostForm.Get("name"), Surname: r.PostForm.Get("surname"), Email: r.PostForm.Get("email")}
	err := s.humans(rq.P).Check(r.PostForm, rq.P.Now())
	if err == nil {
		err = rq.P.Register(r.Context(), in, web.Info(r).IP)
	}
	if err != nil && err != web.ErrHoneypot { // a script is told what a person would be
		return s.formFail(w, s.registerForm(r, rq), "register", r.PostForm, err)
	}
	pg := s.page(r, rq, "Check your mail", nil)
	pg.Form = url.Values{"email": {in.Email}}
	pg.Flash = fmt.Sprintf("Thank you! Check your mail at %s: the letter tells you how to sign in.", strings.TrimSpace(in.Email))
	return s.tpl.Render(w, http.StatusOK, "login", pg)
}

// TicketsData is what the tickets page shows.
type TicketsData struct {
	List     *portal.TicketList
	Filter   portal.TicketFilter
	Statuses []portal.Status
	Staff    []*portal.User
	Query    url.Values
	Prev     string
	Next     string
	base     string
	staff    bool
	lang     string
	csrf     string // the form token of the rows' Take buttons
	Spam     int    // staff: received mail held as spam
	Groups   []portal.GroupRef
	Tags     []portal.Tag
	Orgs     []portal.OrgRef // the organisations, to filter by (up to 500)
	Views    []portal.View   // the saved and built-in views (counts come after, by script)
	Current  string          // the table's filters now, as a query string (to save as a view)
	Present  bool            // staff: at work (groups give them tickets)
	picked   map[int64]bool  // ticked for a bulk change that failed
	now      int64           // for the rows' SLA due times
	Mode     string          // the person's list mode: table, compact or split
}

// listModeSubmit switches the tickets list between the table, the compact
// list and the split view, and goes back to the same filters.
func (s *Server) listModeSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	if err := rq.P.SetListMode(r.Context(), rq.User, r.PostForm.Get("mode")); err != nil {
		return err
	}
	back := rq.Base + "/tickets"
	if q, err := url.ParseQuery(r.PostForm.Get("back")); err == nil && len(q) > 0 {
		back += "?" + q.Encode()
	}
	return redirect(w, r, back)
}

// apiListMode sets the caller's list mode: {"mode": "table"|"compact"|"split"}.
func (s *Server) apiListMode(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in ListModeInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	if err := rq.P.SetListMode(r.Context(), rq.User, in.Mode); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, rq.User.Self())
	return nil
}

// ListModeInput chooses how the tickets list is shown.
type ListModeInput struct {
	Mode string `json:"mode"` // table, compact or split
}

// listCookie keeps the filters of the list last shown, for the list beside
// a ticket in the split view.
const listCookie = "pd_list"

func (s *Server) ticketsPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	pg, err := s.ticketsData(r, rq, r.URL.Query())
	if err != nil {
		return err
	}
	if d := pg.Data.(*TicketsData); d.Mode == portal.ListSplit {
		http.SetCookie(w, &http.Cookie{Name: listCookie, Value: url.QueryEscape(d.Current), Path: rq.Base + "/tickets", HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: web.Info(r).Secure})
	}
	return s.tpl.Render(w, http.StatusOK, "tickets", s.withFlash(r, rq, pg))
}

// ticketsData is the tickets page for the filters in query.
func (s *Server) ticketsData(r *http.Request, rq *Request, query url.Values) (*templates.Page, error) {
	ctx := r.Context()
	q := i18n.CleanValues(query)
	f := filterOf(q)
	d := &TicketsData{Filter: f, Query: q, base: rq.Base, staff: rq.User.IsStaff(), csrf: rq.CSRF, now: rq.P.Now().Unix()}
	var err error
	if d.List, err = rq.P.ListTickets(ctx, rq.User, f); err != nil {
		var fe *portal.FieldErrors
		if !errors.As(err, &fe) {
			return nil, err
		}
		d.Filter, d.List = portal.TicketFilter{}, &portal.TicketList{Page: 1}
	}
	if d.Statuses, err = rq.P.Statuses(ctx); err != nil {
		return nil, err
	}
	if rq.User.IsStaff() {
		if d.Staff, err = rq.P.Staff(ctx); err != nil {
			return nil, err
		}
		d.Spam = rq.P.SpamCount(ctx)
		if d.Groups, err = rq.P.GroupNames(ctx); err != nil {
			return nil, err
		}
		if d.Tags, err = rq.P.Tags(ctx); err != nil {
			return nil, err
		}
		if d.Orgs, err = rq.P.OrgNames(ctx); err != nil {
			return nil, err
		}
		if d.Views, err = rq.P.Views(ctx, rq.User, false); err != nil {
			return nil, err
		}
		d.Present = rq.User.Present
	}
	cur := url.Values{}
	for k, v := range q {
		if k != "page" && k != "done" && k != "ds" && len(v) > 0 && v[0] != "" {
			cur[k] = v
		}
	}
	d.Current, d.Mode = cur.Encode(), cmp.Or(rq.User.ListMode, portal.ListTable)
	pageURL := func(n int) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("page", strconv.Itoa(n))
		v.Del("done")
		v.Del("ds")
		return rq.Base + "/tickets?" + v.Encode()
	}
	if d.List.Page > 1 {
		d.Prev = pageURL(d.List.Page - 1)
	}
	if d.List.HasMore {
		d.Next = pageURL(d.List.Page + 1)
	}
	title := "My tickets"
	if rq.User.IsStaff() {
		title = "Tickets"
	}
	pg := s.page(r, rq, title, d)
	pg.Nav = "tickets"
	d.lang = pg.Lang
	return pg, nil
}

// NewTicketData is the questionnaire as the form shows it.
type NewTicketData struct {
	PhoneExample string // as the portal's own country writes a number
	Preamble     string
	Fields       []*portal.Field
	Limits       portal.Limits
	Clients      []*portal.User
	Forms        []portal.Form // the portal's front doors, to choose from
	Form         *portal.Form  // the one chosen
}

func (s *Server) newTicketData(r *http.Request, rq *Request) (*NewTicketData, error) {
	ctx := r.Context()
	d := &NewTicketData{Preamble: rq.P.Setting(ctx, "preamble", ""), Limits: rq.P.FileLimits(ctx),
		PhoneExample: portal.PhoneExample(rq.P.Setting(ctx, "lang", "en"))}
	var err error
	if d.Forms, err = rq.P.Forms(ctx, false); err != nil {
		return nil, err
	}
	// The form chosen (?form= on the page and in the address it posts to —
	// never read from a body before its limits are set): its fields and its
	// preamble; an unknown one is the whole questionnaire.
	if ref := r.URL.Query().Get("form"); ref != "" {
		if f, err := rq.P.FindForm(ctx, ref); err == nil {
			d.Form = f
			if f.Preamble != "" {
				d.Preamble = f.Preamble
			}
		}
	}
	if d.Fields, err = rq.P.FormFields(ctx, d.Form); err != nil {
		return nil, err
	}
	if rq.User.IsStaff() {
		if d.Clients, err = rq.P.Users(r.Context(), portal.RoleClient); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (s *Server) newTicketPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	d, err := s.newTicketData(r, rq)
	if err != nil {
		return err
	}
	pg := s.page(r, rq, "New ticket", d)
	pg.Nav = "new"
	return s.tpl.Render(w, http.StatusOK, "ticket_new", pg)
}

// stageForm stages the files chosen in a form's "files" input. On any
// limit nothing is kept and the error names the file.
func stageForm(ctx context.Context, p *portal.Portal, form *multipart.Form) (*portal.Files, error) {
	files := p.NewFiles(ctx)
	if form == nil {
		return files, nil
	}
	for _, fh := range form.File["files"] {
		if fh.Size == 0 && fh.Filename == "" {
			continue // the input left empty
		}
		f, err := fh.Open()
		if err == nil {
			err = files.Add(ctx, fh.Filename, f)
			f.Close()
		}
		if err != nil {
			files.Discard()
			return nil, err
		}
	}
	return files, nil
}

// parseUpload reads a form that may carry files, bounded by the portal's limits.
func parseUpload(w http.ResponseWriter, r *http.Request, lim portal.Limits) error {
	r.Body = http.MaxBytesReader(w, r.Body, lim.MaxFileBytes*int64(max(lim.MaxFiles, 1))+1<<20)
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return &portal.ErrQuota{Code: "file_too_large", Message: fmt.Sprintf("The files are larger than the limit of %s each.", portal.HumanBytes(lim.MaxFileBytes))}
			}
			return web.BadRequest("Bad form.")
		}
		return nil
	}
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	return nil
}

func (s *Server) newTicketSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	lim := rq.P.FileLimits(r.Context())
	d, err := s.newTicketData(r, rq)
	if err != nil {
		return err
	}
	pg := s.page(r, rq, "New ticket", d)
	pg.Nav = "new"
	if err := parseUpload(w, r, lim); err != nil {
		return s.formFail(w, pg, "ticket_new", r.PostForm, err)
	}
	files, err := stageForm(r.Context(), rq.P, r.MultipartForm)
	if err != nil {
		return s.formFail(w, pg, "ticket_new", r.PostForm, err)
	}
	vals := map[string]string{}
	for _, f := range d.Fields {
		vals[f.Name] = r.PostForm.Get(f.Name)
	}
	client, _ := strconv.ParseInt(r.PostForm.Get("client"), 10, 64)
	t, err := rq.P.CreateTicket(r.Context(), rq.User, portal.NewTicket{Values: vals, Priority: r.PostForm.Get("priority"), ClientID: client, Files: files, Form: r.URL.Query().Get("form")})
	if err != nil {
		return s.formFail(w, pg, "ticket_new", r.PostForm, err)
	}
	done := fmt.Sprintf("Ticket #%d is open. We will answer here and by email.", t.Number)
	return redirect(w, r, flashURL(rq, fmt.Sprintf("%s/tickets/%d", rq.Base, t.Number), done))
}

// TicketData is what the ticket page shows.
type TicketData struct {
	T           *portal.Ticket
	Timeline    []*portal.Entry
	Earlier     bool // the conversation has entries before Timeline
	TicketFiles []*portal.Attachment
	Statuses    []portal.Status
	Staff       []*portal.User
	Groups      []portal.GroupRef
	Actions     []portal.Action   // the workflow actions the viewer may perform here
	Steps       map[string]string // the built-in steps open to the viewer here, by their names
	Following   bool              // staff: the viewer follows the ticket
	Priorities  []string
	Limits      portal.Limits
	Work        *portal.TicketWork
	WorkTypes   []portal.WorkType
	Timing      bool
	Rating      *portal.Rating
	Client      *portal.ClientCard // staff only
	Money       func(int64) string
	Today       string
	base        string
	viewer      int64
	now         int64         // for the SLA due times
	Split       template.HTML // the list beside the ticket, in the split view
}

func (s *Server) ticketData(r *http.Request, rq *Request, n int64) (*TicketData, error) {
	ctx := r.Context()
	limit := portal.TimelineShown
	if r.URL.Query().Get("all") == "1" {
		limit = 0
	}
	v, err := rq.P.ViewTicket(ctx, rq.User, n, limit)
	if err != nil {
		return nil, err
	}
	d := &TicketData{T: v.Ticket, Timeline: v.Timeline, Earlier: v.Earlier, TicketFiles: v.Files, Work: v.Work, Rating: v.Rating, Client: v.Client,
		Priorities: portal.Priorities, Limits: rq.P.FileLimits(ctx), Timing: rq.P.Plan().Timing, Money: s.money(),
		Today: rq.P.Now().UTC().Format("2006-01-02"), base: rq.Base, viewer: rq.User.ID, now: rq.P.Now().Unix()}
	if d.Actions, err = rq.P.ActionsOn(ctx, rq.User, d.T); err != nil {
		return nil, err
	}
	d.Steps = rq.P.Steps(ctx, rq.User, d.T)
	if rq.User.IsStaff() {
		d.Following = rq.P.Follows(ctx, rq.User, d.T.Number)
	}
	if rq.User.IsStaff() {
		if d.Timing {
			if d.WorkTypes, err = rq.P.WorkTypes(ctx, false); err != nil {
				return nil, err
			}
		}
		if d.Statuses, err = rq.P.Statuses(ctx); err != nil {
			return nil, err
		}
		if d.Staff, err = rq.P.Staff(ctx); err != nil {
			return nil, err
		}
		if d.Groups, err = rq.P.GroupNames(ctx); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (s *Server) ticketPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	d, err := s.ticketData(r, rq, number(r))
	if err != nil {
		return err
	}
	if rq.User.ListMode == portal.ListSplit {
		// The list beside the ticket: the filters the table last showed.
		var q url.Values
		if c, err := r.Cookie(listCookie); err == nil {
			raw, _ := url.QueryUnescape(c.Value)
			q, _ = url.ParseQuery(raw)
		}
		list, err := rq.P.ListTickets(r.Context(), rq.User, filterOf(i18n.CleanValues(q)))
		if err != nil {
			list, err = rq.P.ListTickets(r.Context(), rq.User, portal.TicketFilter{})
		}
		if err != nil {
			return err
		}
		d.Split = splitRows(list.Tickets, rq.Base, d.T.Number, s.lang(r, rq))
	}
	pg := s.withFlash(r, rq, s.page(r, rq, fmt.Sprintf("#%d %s", d.T.Number, d.T.Subject), d))
	pg.Nav = "tickets"
	return s.tpl.Render(w, http.StatusOK, "ticket", pg)
}

func (s *Server) replySubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	n := number(r)
	lim := rq.P.FileLimits(r.Context())
	perr := parseUpload(w, r, lim)
	d, err := s.ticketData(r, rq, n)
	if err != nil {
		return err
	}
	pg := s.page(r, rq, fmt.Sprintf("#%d %s", d.T.Number, d.T.Subject), d)
	if perr != nil {
		return s.formFail(w, pg, "ticket", r.PostForm, perr)
	}
	files, err := stageForm(r.Context(), rq.P, r.MultipartForm)
	if err != nil {
		return s.formFail(w, pg, "ticket", r.PostForm, err)
	}
	internal := r.PostForm.Get("internal") != ""
	// The status to set with the message is checked first: a request that
	// answers an error has posted nothing.
	var then *portal.Status
	if v := r.PostForm.Get("then_status"); v != "" && rq.User.IsStaff() {
		if then, err = rq.P.FindStatus(r.Context(), v); err != nil {
			files.Discard()
			return s.formFail(w, pg, "ticket", r.PostForm, &portal.FieldErrors{Fields: map[string]string{"body": "Unknown status."}})
		}
	}
	if last, err := strconv.ParseInt(r.PostForm.Get("last"), 10, 64); err == nil && d.newerThan(last, rq.User.ID) != nil {
		// Someone wrote while this was being written: they see it first;
		// sending again (the form now knows it) posts.
		files.Discard()
		return s.formFail(w, pg, "ticket", r.PostForm, &web.Error{Status: http.StatusConflict, Code: "newer_message",
			Message: "A new message arrived while you were writing: read it above, then send yours again."})
	}
	body := r.PostForm.Get("body")
	if strings.TrimSpace(body) == "" && files.Len() > 0 {
		body = "(files attached)"
	}
	via := ""
	if rq.User.IsStaff() && r.PostForm.Get("via") == portal.ViaEmail {
		via = portal.ViaEmail
	}
	e, err := rq.P.PostMessageVia(r.Context(), rq.User, n, body, internal, files, via)
	if err != nil {
		return s.formFail(w, pg, "ticket", r.PostForm, err)
	}
	done := "Your message is sent."
	if internal {
		done = "The internal note is saved. Clients do not see it."
	}
	if then != nil {
		id := strconv.FormatInt(then.ID, 10)
		if _, err := rq.P.UpdateTicket(r.Context(), rq.User, n, portal.TicketChange{Status: &id}); err != nil {
			return err
		}
		done = fmt.Sprintf("Your message is sent; the ticket is now %s.", then.Name)
		if internal {
			done = fmt.Sprintf("The internal note is saved; the ticket is now %s.", then.Name)
		}
	}
	return redirect(w, r, flashURL(rq, fmt.Sprintf("%s/tickets/%d", rq.Base, n), done)+fmt.Sprintf("#m%d", e.ID))
}

// ticketFail answers a form of the ticket page that failed with the page
// again, the form's values and errors at its fields.
func (s *Server) ticketFail(w http.ResponseWriter, r *http.Request, rq *Request, n int64, err error) error {
	d, derr := s.ticketData(r, rq, n)
	if derr != nil {
		return err
	}
	return s.formFail(w, s.page(r, rq, fmt.Sprintf("#%d %s", d.T.Number, d.T.Subject), d), "ticket", r.PostForm, err)
}

func (s *Server) ticketUpdateSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	n := number(r)
	var ch portal.TicketChange
	if v, ok := r.PostForm["status"]; ok {
		ch.Status = &v[0]
	}
	if v, ok := r.PostForm["priority"]; ok {
		ch.Priority = &v[0]
	}
	if v, ok := r.PostForm["group"]; ok {
		ch.Group = &v[0]
	}
	if v, ok := r.PostForm["tags"]; ok {
		tags := []string{}
		for _, t := range strings.Split(v[0], ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
		ch.Tags = &tags
	}
	if v, ok := r.PostForm["assignee"]; ok {
		id, err := assigneeID(rq, v[0])
		if err != nil {
			return err
		}
		ch.Assignee = &id
	}
	t, err := rq.P.UpdateTicket(r.Context(), rq.User, n, ch)
	if err != nil {
		return s.ticketFail(w, r, rq, n, err)
	}
	if !rq.User.MaySee(t) { // moved out of their queues: its page is not theirs now
		return redirect(w, r, flashURL(rq, rq.Base+"/tickets", fmt.Sprintf("Ticket #%d is updated and out of your queues now.", n)))
	}
	if r.PostForm.Get("back") == "list" { // taken from the table's row
		return redirect(w, r, flashURL(rq, rq.Base+"/tickets", fmt.Sprintf("You took ticket #%d.", n)))
	}
	return redirect(w, r, flashURL(rq, fmt.Sprintf("%s/tickets/%d", rq.Base, n), "The ticket is updated."))
}

// ticketsBulkSubmit applies one change to the tickets ticked in the table:
// an assignee, a status, a priority, or "close" (the first closed status).
// The table it came from (its filters, in "back") is shown again.
func (s *Server) ticketsBulkSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	back, _ := url.ParseQuery(r.PostForm.Get("back"))
	back.Del("done")
	back.Del("ds")
	var numbers []int64
	for _, v := range r.PostForm["t"] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return web.BadRequest("Bad ticket number %q.", v)
		}
		numbers = append(numbers, n)
	}
	var ch portal.TicketChange
	if v := r.PostForm.Get("status"); v != "" {
		ch.Status = &v
	}
	if r.PostForm.Get("close") != "" {
		sts, err := rq.P.Statuses(r.Context())
		if err != nil {
			return err
		}
		for _, st := range sts {
			if st.Closed {
				id := strconv.FormatInt(st.ID, 10)
				ch.Status = &id
				break
			}
		}
	}
	if v := r.PostForm.Get("priority"); v != "" {
		ch.Priority = &v
	}
	if v := r.PostForm.Get("assignee"); v != "" {
		id, err := assigneeID(rq, v)
		if err != nil {
			return err
		}
		ch.Assignee = &id
	}
	n, err := rq.P.UpdateTickets(r.Context(), rq.User, numbers, ch)
	if err != nil {
		pg, derr := s.ticketsData(r, rq, back)
		if derr != nil {
			return err
		}
		d := pg.Data.(*TicketsData)
		d.picked = map[int64]bool{}
		for _, n := range numbers {
			d.picked[n] = true
		}
		return s.formFail(w, pg, "tickets", r.PostForm, err)
	}
	to := rq.Base + "/tickets"
	if len(back) > 0 {
		to += "?" + back.Encode()
	}
	return redirect(w, r, flashURL(rq, to, fmt.Sprintf("Tickets changed: %d.", n)))
}

func (s *Server) ticketDeleteSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	n := number(r)
	if err := rq.P.DeleteTicket(r.Context(), rq.User, n); err != nil {
		return err
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/tickets", fmt.Sprintf("Ticket #%d is deleted.", n)))
}
