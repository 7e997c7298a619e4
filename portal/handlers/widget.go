package handlers

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/mux"

	"portaldesk/portal"
	"portaldesk/portal/web"
	"portaldesk/templates"
	"portaldesk/templates/i18n"
)

// The embeddable widget (portal/widget.go): its script, the three calls it
// makes from the business's website, and the admin's page and API.
//
// The calls are "simple" cross-origin requests (GET, and POST of JSON as
// text/plain), so a browser sends no preflight; each answers with
// Access-Control-Allow-Origin for a site the admin allows and carries no
// cookie either way: the visitor is nobody until their request is in.
func (s *Server) widgetRoutes(m, api *mux.Router) {
	m.Handle("/widget.js", http.HandlerFunc(s.widgetScript)).Methods("GET")
	api.Handle("/widget", s.h(s.widgetCORS(s.apiWidgetSetup))).Methods("GET")
	api.Handle("/widget/search", s.h(s.widgetCORS(s.apiWidgetSearch))).Methods("GET")
	api.Handle("/widget/tickets", s.h(s.widgetCORS(s.apiWidgetTicket))).Methods("POST")
	api.Handle("/widget/settings", s.user(s.apiWidgetSettings, portal.RoleAdmin)).Methods("GET")
	api.Handle("/widget/settings", s.user(apiPut((*portal.Portal).SaveWidget), portal.RoleAdmin)).Methods("PUT")
	m.Handle("/admin/widget", s.user(s.widgetPage, portal.RoleAdmin)).Methods("GET")
	m.Handle("/admin/widget", s.user(s.widgetSubmit, portal.RoleAdmin)).Methods("POST")
}

// widgetScript is the script a business includes; it finds the portal from
// its own address, so one file serves every portal.
func (s *Server) widgetScript(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Assets == nil {
		http.NotFound(w, r)
		return
	}
	s.cfg.Assets.ServeFile(w, r, "widget.js")
}

// widgetCORS lets the widget's calls through from the sites the admin
// allows (and from the portal's own pages, where the admin tries it);
// another site is refused before anything is read.
func (s *Server) widgetCORS(fn HandlerFunc) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, rq *Request) error {
		ctx := r.Context()
		if !rq.P.Widget(ctx).Enabled {
			return web.ErrNotFound
		}
		origin := r.Header.Get("Origin")
		if origin != "" {
			u, err := url.Parse(origin)
			own := err == nil && strings.EqualFold(u.Host, r.Host)
			if !own && !rq.P.WidgetAllows(ctx, origin) {
				return web.Errorf(http.StatusForbidden, "site_not_allowed", "This website may not use the portal's widget.")
			}
			w.Header().Set("Access-Control-Allow-Origin", origin)
		}
		w.Header().Add("Vary", "Origin")
		return fn(w, r, rq)
	}
}

// WidgetSetupView is what the widget draws itself from.
type WidgetSetupView struct {
	*portal.WidgetSetup
	Lang  string            `json:"lang"`
	Shown string            `json:"shown"` // the time the form was shown, signed (web.Humans)
	Texts map[string]string `json:"texts"`
}

func (s *Server) apiWidgetSetup(w http.ResponseWriter, r *http.Request, rq *Request) error {
	setup, err := rq.P.WidgetSetup(r.Context())
	if err != nil {
		return err
	}
	lang := s.lang(r, rq)
	// Labels as the new ticket page shows them: the built-in ones in the
	// reader's language. The fields are the portal's kept copies: changed
	// on copies of our own.
	forms := make([]portal.WidgetForm, len(setup.Forms))
	for i, f := range setup.Forms {
		forms[i] = f
		forms[i].Fields = make([]*portal.Field, len(f.Fields))
		for j, fd := range f.Fields {
			c := *fd
			c.Label, c.Help = i18n.Msg(lang, fd.Label), i18n.Msg(lang, fd.Help)
			forms[i].Fields[j] = &c
		}
	}
	setup.Forms = forms
	web.WriteJSON(w, http.StatusOK, WidgetSetupView{WidgetSetup: setup, Lang: lang, Shown: s.humans(rq.P).Stamp(rq.P.Now()), Texts: portal.WidgetTexts(lang)})
	return nil
}

// WidgetHit is an article the widget's search found.
type WidgetHit struct {
	Title   string `json:"title"`
	URL     string `json:"url"`
	Excerpt string `json:"excerpt"`
}

// WidgetHits answers the widget's search.
type WidgetHits struct {
	Articles []WidgetHit `json:"articles"`
}

func (s *Server) apiWidgetSearch(w http.ResponseWriter, r *http.Request, rq *Request) error {
	found, err := rq.P.SearchArticles(r.Context(), nil, r.URL.Query().Get("q"), 5)
	if err != nil {
		return err
	}
	out := []WidgetHit{}
	for _, a := range found {
		if a.Kind != "article" {
			continue
		}
		out = append(out, WidgetHit{Title: a.Title, URL: rq.P.URL() + "help/" + url.PathEscape(a.Slug), Excerpt: a.Body})
	}
	web.WriteJSON(w, http.StatusOK, WidgetHits{Articles: out})
	return nil
}

// WidgetTicketInput is a request sent from the widget: the visitor's name
// and address, the form and its answers, and the two fields that tell a
// person from a script.
type WidgetTicketInput struct {
	portal.WidgetTicket
	Website string `json:"website"` // the field nobody sees: left empty by people
	Shown   string `json:"shown"`   // from the widget's setup
}

// WidgetTicketCreated answers a request sent from the widget.
type WidgetTicketCreated struct {
	Number int64 `json:"number"`
}

func (s *Server) apiWidgetTicket(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in WidgetTicketInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	err := s.humans(rq.P).Check(url.Values{web.HoneypotField: {in.Website}, web.ShownField: {in.Shown}}, rq.P.Now())
	if err == web.ErrHoneypot {
		// A script is told what a person would be, and nothing is made.
		web.WriteJSON(w, http.StatusCreated, WidgetTicketCreated{})
		return nil
	}
	if err != nil {
		return err
	}
	t, err := rq.P.CreateWidgetTicket(r.Context(), in.WidgetTicket, web.Info(r).IP)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, WidgetTicketCreated{Number: t.Number})
	return nil
}

func (s *Server) apiWidgetSettings(w http.ResponseWriter, r *http.Request, rq *Request) error {
	web.WriteJSON(w, http.StatusOK, rq.P.Widget(r.Context()))
	return nil
}

// WidgetData is the admin's widget page.
type WidgetData struct {
	Widget  portal.Widget
	Forms   []portal.Form
	Snippet string // the script tag to paste
}

func (s *Server) renderWidget(w http.ResponseWriter, r *http.Request, rq *Request, status int, fix func(*templates.Page)) error {
	ctx := r.Context()
	wd := rq.P.Widget(ctx)
	forms, err := rq.P.Forms(ctx, false)
	if err != nil {
		return err
	}
	d := &WidgetData{Widget: wd, Forms: forms, Snippet: `<script src="` + rq.P.URL() + `widget.js" async></script>`}
	pg := s.withFlash(r, rq, s.page(r, rq, "Website widget", d))
	pg.Nav = "settings"
	on := ""
	if wd.Enabled {
		on = "1"
	}
	pg.Form = url.Values{"enabled": {on}, "sites": {strings.Join(wd.Sites, "\n")}, "label": {wd.Label}, "colour": {wd.Colour}, "form": {wd.Form}}
	if fix != nil {
		fix(pg)
	}
	return s.tpl.Render(w, status, "admin_widget", pg)
}

func (s *Server) widgetPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	return s.renderWidget(w, r, rq, http.StatusOK, nil)
}

func (s *Server) widgetSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	f := r.PostForm
	on := f.Get("enabled") != ""
	sites := strings.FieldsFunc(f.Get("sites"), func(c rune) bool { return c == '\n' || c == '\r' || c == ',' || c == ' ' })
	label, colour, form := f.Get("label"), f.Get("colour"), f.Get("form")
	_, err := rq.P.SaveWidget(r.Context(), rq.User, portal.WidgetInput{Enabled: &on, Sites: &sites, Label: &label, Colour: &colour, Form: &form})
	if err != nil {
		we, ok := webError(err).(*web.Error)
		if !ok {
			return err
		}
		return s.renderWidget(w, r, rq, we.Status, func(pg *templates.Page) {
			pg.Errors, pg.Error, pg.Form = we.Fields, we.Message, f
		})
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/widget", "The widget's settings are saved."))
}
