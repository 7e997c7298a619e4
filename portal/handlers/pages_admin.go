package handlers

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"
	qrcode "github.com/skip2/go-qrcode"

	"portaldesk/portal"
	"portaldesk/portal/web"
	"portaldesk/templates"
	"portaldesk/templates/i18n"
)

// ProfileData is the personal cabinet.
type ProfileData struct {
	Prefs      map[string]bool
	Kinds      []struct{ ID, Label string }
	Tokens     []portal.Token
	NewToken   string
	APITokens  bool
	NotifyDefs bool
	// ConfirmPending: the person is the admin whose address the portal
	// waits for before it mails anyone else.
	ConfirmPending bool
	// Sessions are the browsers the person is signed in on, this one first.
	Sessions []SessionView
	// Two-step sign-in: on or not, required by the portal, an enrolment
	// under way with its QR code, recovery codes to show once, and how
	// many are left.
	TwoFactor, TwoFactorRequired bool
	Setup                        *portal.TwoFactorSetup
	SetupQR                      template.HTML
	RecoveryCodes                []string
	CodesLeft                    int
}

// SessionView is one signed-in browser as the profile lists it.
type SessionView struct {
	portal.Session
	Browser string // "Firefox on Windows", from the user agent
}

func (s *Server) profileData(r *http.Request, rq *Request) (*ProfileData, error) {
	d := &ProfileData{Prefs: rq.P.NotifyPrefs(r.Context(), rq.User), Kinds: portal.NotifyKinds, APITokens: rq.P.Plan().APITokens,
		ConfirmPending: rq.P.MailHeldFor(r.Context()) == rq.User.ID}
	if rq.User.IsStaff() {
		var err error
		if d.Tokens, err = rq.P.PersonalTokens(r.Context(), rq.User); err != nil {
			return nil, err
		}
	}
	if rq.User.IsStaff() {
		d.TwoFactor, d.TwoFactorRequired = rq.User.TwoFactor, rq.P.Settings(r.Context()).RequireTwoFactor
		if d.TwoFactor {
			d.CodesLeft = rq.P.RecoveryCodesLeft(r.Context(), rq.User)
		}
	}
	list, err := rq.P.Sessions(r.Context(), rq.User, sessionCookie(r))
	if err != nil {
		return nil, err
	}
	for _, s := range list {
		v := SessionView{Session: s, Browser: browserName(s.Agent)}
		if s.Current {
			d.Sessions = append([]SessionView{v}, d.Sessions...)
		} else {
			d.Sessions = append(d.Sessions, v)
		}
	}
	return d, nil
}

// twoFactorSubmit starts, finishes, or turns off two-step sign-in, or
// makes new recovery codes (action: start, enable, disable, codes).
func (s *Server) twoFactorSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	ctx := r.Context()
	withSetup := func(setup *portal.TwoFactorSetup, fix func(pg *templates.Page)) func(pg *templates.Page) {
		return func(pg *templates.Page) {
			d := pg.Data.(*ProfileData)
			d.Setup = setup
			if q, err := qrcode.New(setup.URL, qrcode.Medium); err == nil {
				d.SetupQR = template.HTML(qrSVG(q.Bitmap())) // our own drawing: numbers only
			}
			if fix != nil {
				fix(pg)
			}
		}
	}
	switch mux.Vars(r)["action"] {
	case "start":
		setup, err := rq.P.StartTwoFactor(ctx, rq.User)
		if err != nil {
			return err
		}
		return s.renderProfile(w, r, rq, http.StatusOK, nil, withSetup(setup, nil))
	case "enable":
		pending := r.PostForm.Get("pending")
		codes, err := rq.P.EnableTwoFactor(ctx, rq.User, pending, r.PostForm.Get("code"), sessionCookie(r))
		if err != nil {
			we, ok := webError(err).(*web.Error)
			setup, rerr := rq.P.ResumeTwoFactor(rq.User, pending)
			if !ok || rerr != nil {
				return err
			}
			return s.renderProfile(w, r, rq, we.Status, nil, withSetup(setup, func(pg *templates.Page) { pg.Errors, pg.Error = we.Fields, we.Message }))
		}
		rq.User.TwoFactor = true
		return s.renderProfile(w, r, rq, http.StatusOK, nil, func(pg *templates.Page) {
			pg.Data.(*ProfileData).RecoveryCodes = codes
			pg.Flash = "Two-step sign-in is on. Write the recovery codes down now: they are shown only once. You are signed out everywhere else."
		})
	case "codes":
		codes, err := rq.P.NewRecoveryCodes(ctx, rq.User, r.PostForm.Get("password"))
		if err != nil {
			return s.profileFail(w, r, rq, err)
		}
		return s.renderProfile(w, r, rq, http.StatusOK, nil, func(pg *templates.Page) {
			pg.Data.(*ProfileData).RecoveryCodes = codes
			pg.Flash = "New recovery codes: the old ones no longer work. Write these down now: they are shown only once."
		})
	case "disable":
		if err := rq.P.DisableTwoFactor(ctx, rq.User, r.PostForm.Get("password")); err != nil {
			return s.profileFail(w, r, rq, err)
		}
		return redirect(w, r, flashURL(rq, rq.Base+"/profile#two-factor", "Two-step sign-in is off."))
	}
	return web.ErrNotFound
}

// sessionEndSubmit signs the person out of one of their other browsers,
// or (id "others") of all of them.
func (s *Server) sessionEndSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	id := mux.Vars(r)["id"]
	var err error
	msg := "That browser is signed out."
	if id == "others" {
		err = rq.P.EndOtherSessions(r.Context(), rq.User, sessionCookie(r))
		msg = "You are signed out everywhere else."
	} else {
		err = rq.P.EndSessionByID(r.Context(), rq.User, id)
	}
	if err != nil {
		return err
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/profile#sessions", msg))
}

// browserName tells a person which browser and system a user agent is,
// in a few words ("" when it knows neither); the full string is shown on
// hover.
func browserName(ua string) string {
	browser := ""
	for _, b := range []struct{ token, name string }{
		{"YaBrowser/", "Yandex Browser"}, {"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"},
		{"Chrome/", "Chrome"}, {"Chromium/", "Chromium"}, {"Safari/", "Safari"}, {"curl/", "curl"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	for _, o := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			if browser == "" {
				return o.name
			}
			return browser + " · " + o.name
		}
	}
	return browser
}

func (s *Server) renderProfile(w http.ResponseWriter, r *http.Request, rq *Request, status int, form url.Values, fix func(*templates.Page)) error {
	d, err := s.profileData(r, rq)
	if err != nil {
		return err
	}
	pg := s.withFlash(r, rq, s.page(r, rq, "My profile", d))
	pg.Nav = "profile"
	pg.Form = form
	if pg.Form == nil {
		pg.Form = url.Values{"name": {rq.User.Name}, "surname": {rq.User.Surname}, "lang": {rq.User.Lang}}
	}
	if fix != nil {
		fix(pg)
	}
	return s.tpl.Render(w, status, "profile", pg)
}

// confirmSubmit mails the admin a new link to confirm their address.
func (s *Server) confirmSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := rq.P.ResendConfirmation(r.Context(), rq.User, web.Info(r).IP); err != nil {
		return s.profileFail(w, r, rq, err)
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/profile", fmt.Sprintf("A new link is on its way to %s.", rq.User.Email)))
}

// confirmPage takes the link that confirms the admin's address.
func (s *Server) confirmPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	err := rq.P.ConfirmEmail(r.Context(), r.URL.Query().Get("token"))
	return s.linkOutcome(w, r, rq, err, "Your address is confirmed: the portal now mails your clients and operators.")
}

// linkOutcome answers a link that came by mail: a page saying why when it
// failed, else the tickets (signed in) or the sign-in page, saying msg.
func (s *Server) linkOutcome(w http.ResponseWriter, r *http.Request, rq *Request, err error, msg string) error {
	if err != nil {
		we, ok := webError(err).(*web.Error)
		if !ok {
			return err
		}
		return s.tpl.Render(w, we.Status, "error", s.page(r, rq, "Link expired", we.Message))
	}
	to := rq.Base + "/login"
	if rq.User != nil {
		to = rq.Base + "/tickets"
	}
	return redirect(w, r, flashURL(rq, to, msg))
}

func (s *Server) profilePage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	return s.renderProfile(w, r, rq, http.StatusOK, nil, nil)
}

func (s *Server) profileFail(w http.ResponseWriter, r *http.Request, rq *Request, err error) error {
	we, ok := webError(err).(*web.Error)
	if !ok {
		return err
	}
	return s.renderProfile(w, r, rq, we.Status, r.PostForm, func(pg *templates.Page) {
		pg.Errors, pg.Error = we.Fields, we.Message
	})
}

func (s *Server) profileSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	in := portal.Profile{Name: r.PostForm.Get("name"), Surname: r.PostForm.Get("surname"), Lang: r.PostForm.Get("lang"), Notify: map[string]bool{}}
	for _, k := range portal.NotifyKinds {
		in.Notify[k.ID] = r.PostForm.Get("notify_"+k.ID) != ""
	}
	if err := rq.P.UpdateProfile(r.Context(), rq.User, in); err != nil {
		return s.profileFail(w, r, rq, err)
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/profile", "Your profile is saved."))
}

func (s *Server) passwordSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	if r.PostForm.Get("new_password") != r.PostForm.Get("new_password2") {
		return s.profileFail(w, r, rq, &portal.FieldErrors{Fields: map[string]string{"new_password2": "The two new passwords differ."}})
	}
	if _, err := rq.P.ChangePassword(r.Context(), rq.User, r.PostForm.Get("current_password"), r.PostForm.Get("new_password"), sessionCookie(r)); err != nil {
		return s.profileFail(w, r, rq, err)
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/profile", "Your password is changed. You are signed out everywhere else, and your API tokens no longer work."))
}

func (s *Server) tokenSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	days, _ := strconv.Atoi(r.PostForm.Get("token_days"))
	tok, err := rq.P.CreatePersonalToken(r.Context(), rq.User, portal.NewTokenInput{Name: r.PostForm.Get("token_name"), Scope: r.PostForm.Get("token_scope"), ExpiresInDays: days})
	if err != nil {
		return s.profileFail(w, r, rq, err)
	}
	return s.renderProfile(w, r, rq, http.StatusOK, nil, func(pg *templates.Page) {
		pg.Data.(*ProfileData).NewToken = tok
		pg.Flash = "The token is created. Copy it now: it is shown only once."
	})
}

func (s *Server) tokenRevokeSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := rq.P.RevokePersonalToken(r.Context(), rq.User, mux.Vars(r)["id"]); err != nil {
		return err
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/profile", "The token is revoked."))
}

// PeopleData is the people page.
type PeopleData struct {
	Users        []*portal.User // the staff (admins see them) and one page of clients
	Staff        []*portal.User
	Clients      []*portal.User
	MaxOperators int
	ActiveStaff  int
	Locked       map[int64]bool // staff the tariff keeps out
	Editing      int64          // the person whose edit failed: their form stays open
	// Find is the clients' search (a part of the name or address); Page
	// and More page through them, PeoplePage at a time.
	Find       string
	Page       int
	More, Prev string
}

// PeoplePage is how many clients the People page lists at a time.
const PeoplePage = 50

func (s *Server) renderPeople(w http.ResponseWriter, r *http.Request, rq *Request, status int, fix func(*templates.Page)) error {
	role := ""
	if rq.User.Role != portal.RoleAdmin {
		role = portal.RoleClient
	}
	users, err := rq.P.Users(r.Context(), role)
	if err != nil {
		return err
	}
	d := &PeopleData{Users: users, MaxOperators: rq.P.Plan().MaxOperators, Find: strings.TrimSpace(r.URL.Query().Get("find"))}
	d.Page, _ = strconv.Atoi(r.URL.Query().Get("page"))
	d.Page = max(d.Page, 1)
	find := strings.ToLower(d.Find)
	var clients []*portal.User
	for _, u := range users {
		if u.Active && u.IsStaff() {
			d.ActiveStaff++
		}
		switch {
		case u.IsStaff():
			d.Staff = append(d.Staff, u)
		case find == "" || strings.Contains(strings.ToLower(u.FullName()+" "+u.Email), find):
			clients = append(clients, u)
		}
	}
	d.Locked = rq.P.LockedByTariff(users)
	from := min((d.Page-1)*PeoplePage, len(clients))
	d.Clients = clients[from:min(from+PeoplePage, len(clients))]
	link := func(page int) string {
		q := url.Values{"page": {strconv.Itoa(page)}}
		if d.Find != "" {
			q.Set("find", d.Find)
		}
		return rq.Base + "/people?" + q.Encode()
	}
	if from+PeoplePage < len(clients) {
		d.More = link(d.Page + 1)
	}
	if d.Page > 1 {
		d.Prev = link(d.Page - 1)
	}
	pg := s.withFlash(r, rq, s.page(r, rq, "People", d))
	pg.Nav = "people"
	if pg.Form == nil {
		pg.Form = url.Values{"role": {portal.RoleClient}}
	}
	if fix != nil {
		fix(pg)
	}
	return s.tpl.Render(w, status, "people", pg)
}

func (s *Server) peoplePage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	return s.renderPeople(w, r, rq, http.StatusOK, nil)
}

func (s *Server) inviteSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	in := portal.NewPerson{Name: r.PostForm.Get("name"), Surname: r.PostForm.Get("surname"), Email: r.PostForm.Get("email"), Role: r.PostForm.Get("role")}
	u, err := rq.P.Invite(r.Context(), rq.User, in)
	if err != nil {
		we, ok := webError(err).(*web.Error)
		if !ok || we.Status == http.StatusForbidden {
			return err
		}
		return s.renderPeople(w, r, rq, we.Status, func(pg *templates.Page) { pg.Form, pg.Errors, pg.Error = r.PostForm, we.Fields, we.Message })
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/people", fmt.Sprintf("%s is invited: the login and password are on their way to %s.", u.FullName(), u.Email)))
}

func (s *Server) personSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	var ch portal.UserChange
	for k, dst := range map[string]**string{"edit_name": &ch.Name, "edit_surname": &ch.Surname, "edit_email": &ch.Email} {
		if v, ok := r.PostForm[k]; ok {
			*dst = &v[0]
		}
	}
	if v := r.PostForm.Get("active"); v != "" {
		b := v == "1"
		ch.Active = &b
	}
	if v := r.PostForm.Get("role"); v != "" {
		ch.Role = &v
	}
	u, err := rq.P.ChangeUser(r.Context(), rq.User, pathID(r), ch)
	if err != nil {
		we, ok := webError(err).(*web.Error)
		if !ok || we.Status == http.StatusForbidden || we.Status == http.StatusNotFound {
			return err
		}
		return s.renderPeople(w, r, rq, we.Status, func(pg *templates.Page) {
			pg.Error, pg.Errors, pg.Form = we.Message, map[string]string{}, r.PostForm
			for k, v := range we.Fields { // the row's edit form names its fields edit_*
				pg.Errors["edit_"+k] = v
			}
			pg.Data.(*PeopleData).Editing = pathID(r)
		})
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/people", u.FullName()+" is updated."))
}

// inviteAgainSubmit mails an invitation again to someone who never signed in.
func (s *Server) inviteAgainSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	u, err := rq.P.ResendInvitation(r.Context(), rq.User, pathID(r))
	if err != nil {
		we, ok := webError(err).(*web.Error)
		if !ok || we.Status == http.StatusForbidden || we.Status == http.StatusNotFound {
			return err
		}
		return s.renderPeople(w, r, rq, we.Status, func(pg *templates.Page) { pg.Error = we.Message })
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/people", fmt.Sprintf("The invitation is sent to %s again.", u.Email)))
}

// FormData is the questionnaire designer.
type FormData struct {
	Fields   []*portal.Field
	Types    []struct{ ID, Label string }
	Designer bool
	Preamble string
	EditID   int64
}

func (s *Server) renderForm(w http.ResponseWriter, r *http.Request, rq *Request, status int, fix func(*templates.Page)) error {
	fields, err := rq.P.Fields(r.Context(), true)
	if err != nil {
		return err
	}
	d := &FormData{Fields: fields, Types: portal.FieldTypes, Designer: rq.P.Plan().Designer, Preamble: rq.P.Setting(r.Context(), "preamble", "")}
	return s.renderPage(w, r, rq, status, "admin_form", "Questionnaire", "form", d, fix)
}

func (s *Server) formPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	return s.renderForm(w, r, rq, http.StatusOK, nil)
}

func fieldInputOf(form url.Values) portal.FieldInput {
	label, help, typ := form.Get("label"), form.Get("help"), form.Get("type")
	req := form.Get("required") != ""
	var opts []string
	for _, line := range strings.Split(form.Get("options"), "\n") {
		opts = append(opts, strings.TrimSpace(line))
	}
	in := portal.FieldInput{Label: &label, Help: &help, Required: &req, Options: opts}
	if typ != "" {
		in.Type = &typ
	}
	return in
}

func (s *Server) formFailDesigner(w http.ResponseWriter, r *http.Request, rq *Request, editID int64, err error) error {
	we, ok := webError(err).(*web.Error)
	if !ok || we.Status == http.StatusNotFound {
		return err
	}
	return s.renderForm(w, r, rq, we.Status, func(pg *templates.Page) {
		pg.Form, pg.Errors, pg.Error = r.PostForm, we.Fields, we.Message
		pg.Data.(*FormData).EditID = editID
	})
}

func (s *Server) fieldAddSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	f, err := rq.P.AddField(r.Context(), fieldInputOf(r.PostForm))
	if err != nil {
		return s.formFailDesigner(w, r, rq, 0, err)
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/form", fmt.Sprintf("The field %q is added.", f.Label)))
}

func (s *Server) fieldEditSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	id := pathID(r)
	var in portal.FieldInput
	switch r.PostForm.Get("action") {
	case "up", "down":
		f, err := rq.P.Field(r.Context(), id)
		if err != nil {
			return err
		}
		fields, err := rq.P.Fields(r.Context(), true)
		if err != nil {
			return err
		}
		pos := 1
		for i, x := range fields {
			if x.ID == f.ID {
				pos = i + 1
			}
		}
		if r.PostForm.Get("action") == "up" {
			pos--
		} else {
			pos++
		}
		in.Position = &pos
	case "retire", "restore":
		active := r.PostForm.Get("action") == "restore"
		in.Active = &active
	default:
		in = fieldInputOf(r.PostForm)
	}
	f, err := rq.P.UpdateField(r.Context(), id, in)
	if err != nil {
		return s.formFailDesigner(w, r, rq, id, err)
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/form", fmt.Sprintf("The field %q is saved.", f.Label))+"#field-"+strconv.FormatInt(id, 10))
}

func (s *Server) preambleSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	if err := rq.P.SetPreamble(r.Context(), r.PostForm.Get("preamble")); err != nil {
		return s.formFailDesigner(w, r, rq, 0, err)
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/form", "The preamble is saved."))
}

// SettingsData is the admin's settings page.
type SettingsData struct {
	Usage     int64
	Quota     int64
	Plan      *portal.Plan
	Embed     string        // the "Support" button for the business's website, as HTML source
	Preview   template.HTML // the same button, shown on the page
	CeilingMB int
	Statuses  []portal.Status
	EditID    int64 // the status whose form failed
	Defaults  map[string]bool
	Kinds     []struct{ ID, Label string }
	Workflow  portal.Workflow
}

func (s *Server) renderSettings(w http.ResponseWriter, r *http.Request, rq *Request, status int, fix func(*templates.Page)) error {
	ctx := r.Context()
	used, err := rq.P.DiskUsage(ctx)
	if err != nil {
		return err
	}
	sts, err := rq.P.Statuses(ctx)
	if err != nil {
		return err
	}
	pg := s.page(r, rq, "Settings", nil)
	d := &SettingsData{Statuses: sts, Usage: used, Quota: rq.P.Plan().DiskQuotaBytes, Plan: rq.P.Plan(), CeilingMB: portal.MaxFileMBCeiling,
		Preview: supportButtonPreview(pg.Portal.URL, i18n.Msg(pg.Lang, "Support"))}
	d.Embed = string(supportButton(pg.Portal.URL, i18n.Msg(pg.Lang, "Support")))
	pg.Data = d
	s.withFlash(r, rq, pg)
	pg.Nav = "settings"
	st := rq.P.Settings(ctx)
	d.Defaults, d.Kinds = st.NotifyDefaults, portal.NotifyKinds
	d.Workflow = rq.P.Workflow(ctx)
	pg.Form = url.Values{"max_files": {strconv.Itoa(st.MaxFiles)}, "max_file_mb": {strconv.FormatFloat(st.MaxFileMB, 'f', -1, 64)}, "notify_new_ticket": {st.NotifyNewTicket}, "lang": {st.Lang},
		"require_two_factor": {map[bool]string{true: "1"}[st.RequireTwoFactor]}}
	if fix != nil {
		fix(pg)
	}
	return s.tpl.Render(w, status, "admin_settings", pg)
}

func (s *Server) settingsPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	return s.renderSettings(w, r, rq, http.StatusOK, nil)
}

func (s *Server) settingsSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	st := rq.P.Settings(r.Context())
	errs := map[string]string{}
	var err error
	if st.MaxFiles, err = strconv.Atoi(strings.TrimSpace(r.PostForm.Get("max_files"))); err != nil {
		errs["max_files"] = "Enter a whole number."
	}
	if st.MaxFileMB, err = strconv.ParseFloat(strings.Replace(strings.TrimSpace(r.PostForm.Get("max_file_mb")), ",", ".", 1), 64); err != nil {
		errs["max_file_mb"] = "Enter a number of megabytes."
	}
	st.NotifyNewTicket = r.PostForm.Get("notify_new_ticket")
	st.Lang = r.PostForm.Get("lang")
	st.RequireTwoFactor = r.PostForm.Get("require_two_factor") != ""
	for _, k := range portal.NotifyKinds {
		st.NotifyDefaults[k.ID] = r.PostForm.Get("default_"+k.ID) != ""
	}
	if len(errs) == 0 {
		err = rq.P.SaveSettings(r.Context(), st)
	} else {
		err = &portal.FieldErrors{Fields: errs}
	}
	if err != nil {
		we, ok := webError(err).(*web.Error)
		if !ok {
			return err
		}
		return s.renderSettings(w, r, rq, we.Status, func(pg *templates.Page) { pg.Form, pg.Errors, pg.Error = r.PostForm, we.Fields, we.Message })
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/settings", "The settings are saved."))
}

func (s *Server) statusSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	f := r.PostForm
	name, color := f.Get("name"), f.Get("color")
	closed, initial := f.Get("closed") != "", f.Get("initial") != ""
	in := portal.StatusInput{Name: &name, Color: &color, Closed: &closed, Initial: &initial}
	switch f.Get("action") {
	case "up", "down":
		st, err := rq.P.StatusByID(r.Context(), pathID(r))
		if err != nil {
			return err
		}
		pos := st.Position - 1
		if f.Get("action") == "down" {
			pos = st.Position + 1
		}
		in = portal.StatusInput{Position: &pos}
	}
	st, err := rq.P.SaveStatus(r.Context(), rq.User, pathID(r), in)
	if err != nil {
		we, ok := webError(err).(*web.Error)
		if !ok || we.Status == http.StatusNotFound || we.Status == http.StatusForbidden {
			return err
		}
		return s.renderSettings(w, r, rq, we.Status, func(pg *templates.Page) {
			for k, v := range r.PostForm {
				pg.Form[k] = v
			}
			pg.Errors, pg.Error = we.Fields, we.Message
			pg.Data.(*SettingsData).EditID = pathID(r)
		})
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/settings", fmt.Sprintf("The status %q is saved.", st.Name))+"#statuses")
}

// supportButtonPreview is supportButton as our own pages show it: styled by
// a class of app.css, as our policy lets no style attribute through.
func supportButtonPreview(portalURL, label string) template.HTML {
	return `<a class="support-button" href="` + templates.Escape(portalURL) + `" target="_blank" rel="noopener">` + templates.Escape(label) + `</a>`
}

// supportButton is the snippet a business puts on its website: a link to
// its portal styled as a button inline, so that it needs none of our CSS.
func supportButton(portalURL, label string) template.HTML {
	return `<a href="` + templates.Escape(portalURL) + `" target="_blank" rel="noopener" style="display:inline-block;padding:10px 18px;border-radius:8px;background:#2855d8;color:#fff;font:600 15px/1.2 system-ui,sans-serif;text-decoration:none">` +
		templates.Escape(label) + `</a>`
}

// workflowSubmit saves the ticket workflow from the settings page.
func (s *Server) workflowSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	id := func(k string) int64 { n, _ := strconv.ParseInt(r.PostForm.Get(k), 10, 64); return n }
	days, err := strconv.Atoi(strings.TrimSpace(r.PostForm.Get("auto_close_days")))
	if err != nil {
		days = -1
	}
	wf := portal.Workflow{ReopenStatus: id("reopen_status"), TakeStatus: id("take_status"), WaitingStatus: id("waiting_status"),
		AutoCloseStatus: id("auto_close_status"), AutoCloseDays: days}
	if err := rq.P.SaveWorkflow(r.Context(), rq.User, wf); err != nil {
		we, ok := webError(err).(*web.Error)
		if !ok {
			return err
		}
		return s.renderSettings(w, r, rq, we.Status, func(pg *templates.Page) {
			pg.Errors, pg.Error = we.Fields, we.Message
			pg.Data.(*SettingsData).Workflow = wf
		})
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/settings", "The workflow is saved.")+"#workflow")
}

func (s *Server) apiWorkflow(w http.ResponseWriter, r *http.Request, rq *Request) error {
	web.WriteJSON(w, http.StatusOK, rq.P.Workflow(r.Context()))
	return nil
}

func (s *Server) apiPutWorkflow(w http.ResponseWriter, r *http.Request, rq *Request) error {
	wf := rq.P.Workflow(r.Context())
	if err := web.DecodeJSON(r, &wf); err != nil {
		return err
	}
	if err := rq.P.SaveWorkflow(r.Context(), rq.User, wf); err != nil {
		return err
	}
	return s.apiWorkflow(w, r, rq)
}

// passwordLinkSubmit mails someone a link to set a new password: for a
// person who lost theirs, or never got the invitation.
func (s *Server) passwordLinkSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	u, err := rq.P.UserByID(r.Context(), pathID(r))
	if err != nil {
		return err
	}
	if !u.Active {
		return s.renderPeople(w, r, rq, http.StatusUnprocessableEntity, func(pg *templates.Page) { pg.Error = "Activate the person first." })
	}
	if err := rq.P.RequestPasswordReset(r.Context(), u.Email, web.Info(r).IP); err != nil {
		we, ok := webError(err).(*web.Error)
		if !ok {
			return err
		}
		we.SetHeaders(w)
		return s.renderPeople(w, r, rq, we.Status, func(pg *templates.Page) { pg.Error = we.Message })
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/people", fmt.Sprintf("A link to set a new password is on its way to %s.", u.Email)))
}
