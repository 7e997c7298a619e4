package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/gorilla/sessions"

	"portaldesk/portal"
	"portaldesk/portal/web"
	"portaldesk/static"
	"portaldesk/templates"
	"portaldesk/templates/i18n"
)

type ctxKey struct{}

// Request is what a portal handler knows about the request it serves: the
// portal the router resolved, the path prefix it lives under, and the user.
type Request struct {
	P    *portal.Portal
	Base string       // "/acme", or "" when served on a custom domain
	User *portal.User // nil when anonymous
	// ViaToken is true when the user was authenticated by a bearer token.
	ViaToken bool
	// CSRF is the token the page's forms post (web.CSRF).
	CSRF string
	// release gives the portal back to the router's registry before the
	// request ends (a live-update stream); nothing may use P after it.
	release func()
}

// WithPortal is how the router hands a request to a portal. base is the path
// prefix the router stripped; release, when not nil, lets a long request
// give the portal back early, and may be called again (it does nothing then).
func WithPortal(ctx context.Context, p *portal.Portal, base string, release func()) context.Context {
	return context.WithValue(ctx, ctxKey{}, &Request{P: p, Base: base, release: release})
}

func requestOf(r *http.Request) *Request {
	rq, _ := r.Context().Value(ctxKey{}).(*Request)
	return rq
}

// Config is the service-wide configuration portal handlers need.
type Config struct {
	// PublicURL is the service's address as users reach it, e.g. http://127.0.0.1:8080.
	PublicURL string
	Templates *templates.Set
	Mailer    MailTester
	Billing   Billing
	Domains   Domains
	Mailboxes Mailboxes
	Clocks    Clocks // nil: no SLA job watches the portals
	// MinFill is the least time a person takes to fill in the
	// registration form (web.Humans; 0: its default).
	MinFill time.Duration
	// Assets serve the widget's script (nil: no widget script).
	Assets *static.Assets
}

// Server serves every portal's pages and API; the portal itself comes with
// each request from the router.
type Server struct {
	cfg     Config
	streams streamCount
	tpl     *templates.Set
	mux     *mux.Router
}

// HandlerFunc is a portal handler that returns an error for the adapter to render.
type HandlerFunc func(w http.ResponseWriter, r *http.Request, rq *Request) error

// New builds the routes shared by every portal.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, tpl: cfg.Templates, mux: mux.NewRouter()}
	s.routes()
	return s
}

// ServeHTTP serves a request that the router has given a portal.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

func (s *Server) routes() {
	m := s.mux
	m.NotFoundHandler = s.h(func(w http.ResponseWriter, r *http.Request, rq *Request) error { return web.ErrNotFound })
	m.MethodNotAllowedHandler = s.h(func(w http.ResponseWriter, r *http.Request, rq *Request) error {
		return web.Errorf(http.StatusMethodNotAllowed, "method_not_allowed", "Method %s is not allowed here.", r.Method)
	})

	// HTML
	m.Handle("/", s.user(s.home)).Methods("GET")
	m.Handle("/login", s.h(s.loginPage)).Methods("GET")
	m.Handle("/login", s.h(s.loginSubmit)).Methods("POST")
	m.Handle("/login/code", s.h(s.loginCodeSubmit)).Methods("POST")
	m.Handle("/logout", s.h(s.logout)).Methods("POST")
	m.Handle("/lang", s.h(s.langSubmit)).Methods("POST")

	// JSON API
	api := m.PathPrefix("/api/v1").Subrouter()
	api.Handle("/login", s.h(s.apiLogin)).Methods("POST")
	api.Handle("/logout", s.user(s.apiLogout)).Methods("POST")
	api.Handle("/me", s.user(s.apiMe)).Methods("GET")
	api.Handle("/me/list-mode", s.user(s.apiListMode)).Methods("PUT")
	s.apiRoutes(api)
	s.pageRoutes(m)
	s.mailRoutes(m, api)
	s.billingRoutes(m, api)
	s.domainRoutes(m, api)
	s.insightRoutes(m, api)
	s.participantRoutes(m, api)
	s.groupRoutes(m, api)
	s.slaRoutes(m, api)
	s.triggerRoutes(m, api)
	s.mergeRoutes(m, api)
	s.actionRoutes(m, api)
	s.kbRoutes(m, api)
	s.cannedRoutes(m, api)
	s.viewRoutes(m, api)
	s.formRoutes(m, api)
	s.auditRoutes(m, api)
	s.privacyRoutes(m, api)
	s.widgetRoutes(m, api)
	s.kbImageRoutes(m, api)
	s.webhookRoutes(m, api)
	s.orgRoutes(m, api)
	s.channelRoutes(m, api)
	s.jobRoutes(m, api)
}

// h adapts a HandlerFunc: it resolves the user (session cookie or bearer
// token) and renders any returned error as a page or a JSON body.
func (s *Server) h(fn HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rq := requestOf(r)
		if rq == nil {
			http.Error(w, "no portal", http.StatusInternalServerError)
			return
		}
		if cr := mux.CurrentRoute(r); cr != nil {
			if t, err := cr.GetPathTemplate(); err == nil {
				web.Info(r).Route = "/{portal}" + t
			}
		}
		if !web.IsAPI(r) {
			// Forms are bound to this portal and this browser: a form on
			// another portal's page, of the same origin, cannot post here.
			forms := formGuard(rq)
			rq.CSRF = forms.Token(w, r)
			// A request with a bearer token carries no cookie of ours that a
			// page could have sent along: nothing to check.
			if web.Unsafe(r) && r.Header.Get("Authorization") == "" {
				if err := forms.Check(r); err != nil {
					s.renderError(w, r, rq, err)
					return
				}
			}
		}
		if err := s.identify(r, rq); err != nil {
			s.renderError(w, r, rq, err)
			return
		}
		if rq.ViaToken && rq.User.Scope == portal.ScopeRead && web.Unsafe(r) && !strings.HasSuffix(r.URL.Path, "/logout") {
			s.renderError(w, r, rq, errTokenScope("This token may only read: it needs the write or admin scope."))
			return
		}
		if err := fn(w, r, rq); err != nil {
			s.renderError(w, r, rq, err)
		}
	})
}

// user is h for handlers that need someone signed in, of one of roles when given.
func (s *Server) user(fn HandlerFunc, roles ...string) http.Handler {
	return s.h(func(w http.ResponseWriter, r *http.Request, rq *Request) error {
		if rq.User == nil {
			if !web.IsAPI(r) && r.Method == http.MethodGet {
				http.Redirect(w, r, rq.Base+"/login?next="+urlQueryEscape(rq.Base+r.URL.RequestURI()), http.StatusSeeOther)
				return nil
			}
			return web.ErrUnauthorized
		}
		if len(roles) > 0 {
			ok := false
			for _, role := range roles {
				ok = ok || rq.User.Role == role
			}
			if !ok {
				return web.ErrForbidden
			}
			// The portal's set-up (the routes for admins alone) needs a
			// token of the admin scope.
			if rq.ViaToken && len(roles) == 1 && roles[0] == portal.RoleAdmin && rq.User.Scope != portal.ScopeAdmin {
				return errTokenScope("This token may not change the portal's set-up: it needs the admin scope.")
			}
		}
		if rq.P.NeedsTwoFactor(r.Context(), rq.User) && !strings.HasPrefix(r.URL.Path, "/profile") {
			// The portal requires two-step sign-in of staff: until they
			// have set it up, their profile is all they may use.
			if web.IsAPI(r) {
				return &web.Error{Status: http.StatusForbidden, Code: "two_factor_required", Message: "This portal requires two-step sign-in of its staff: set it up in your profile first."}
			}
			return redirect(w, r, flashURL(rq, rq.Base+"/profile#two-factor", "This portal requires two-step sign-in of its staff: set it up to go on."))
		}
		action := auditAction(r)
		if action == "" || action == "two_factor" && mux.Vars(r)["action"] == "start" {
			return fn(w, r, rq)
		}
		rec := &web.StatusWriter{ResponseWriter: w}
		err := fn(rec, r, rq)
		if err == nil && rec.Status < 400 {
			target, detail := auditTarget(r)
			s.audit(r, rq, action, target, detail)
		}
		return err
	})
}

// identify finds the user of a request: a bearer token on the API, else the
// portal's session cookie. A token of another portal is simply unknown here.
func (s *Server) identify(r *http.Request, rq *Request) error {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return web.ErrUnauthorized
		}
		u, err := rq.P.TokenUser(ctx, strings.TrimSpace(tok))
		if errors.Is(err, portal.ErrNotFound) {
			return web.ErrUnauthorized
		}
		if err != nil {
			return err
		}
		rq.User, rq.ViaToken = u, true
		rq.P.NoteTokenUse(ctx, strings.TrimSpace(tok), web.Info(r).IP)
		return nil
	}
	c, err := r.Cookie(portal.SessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	if web.IsAPI(r) && r.Method != http.MethodGet && r.Method != http.MethodHead {
		// The API changes things only for a bearer token: a plain form on
		// any page of this origin could send a browser's cookie along.
		return nil
	}
	// No session, a cookie signed for another portal or tampered with, or
	// a session that has ended: anonymous.
	u, err := rq.P.SessionUser(ctx, c.Value)
	if errors.Is(err, portal.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	rq.User = u
	return nil
}

// sessionOptions are the session cookie's attributes: scoped to the
// portal's path (or, on its own domain, its host).
// Secure comes from the service (web.Info): the public address is https,
// or a trusted proxy says the request came over https.
func sessionOptions(r *http.Request, base string, maxAge int) *sessions.Options {
	return &sessions.Options{Path: base + "/", MaxAge: maxAge, HttpOnly: true, Secure: web.Info(r).Secure, SameSite: http.SameSiteLaxMode}
}

// StartSession signs u in on this response: a new session on the server
// and the portal's cookie that carries it.
func StartSession(w http.ResponseWriter, r *http.Request, p *portal.Portal, base string, u *portal.User) error {
	value, err := p.StartSession(r.Context(), u, ClientIP(r), r.UserAgent())
	if err != nil {
		return err
	}
	http.SetCookie(w, sessions.NewCookie(portal.SessionCookie, value, sessionOptions(r, base, int(portal.SessionTTL.Seconds()))))
	return nil
}

// sessionCookie is the value of the request's session cookie, or "".
func sessionCookie(r *http.Request) string {
	if c, err := r.Cookie(portal.SessionCookie); err == nil {
		return c.Value
	}
	return ""
}

func (s *Server) renderError(w http.ResponseWriter, r *http.Request, rq *Request, err error) {
	e := web.AsError(r, webError(err))
	if web.IsAPI(r) {
		if lang := s.lang(r, rq); lang != "en" {
			t := *e
			t.Message, t.Fields = i18n.Msg(lang, e.Message), i18n.Fields(lang, e.Fields)
			e = &t
		}
		web.JSONError(w, e)
		return
	}
	title := http.StatusText(e.Status)
	if e.Status == http.StatusNotFound {
		title = "Page not found"
	}
	e.SetHeaders(w)
	_ = s.tpl.Render(w, e.Status, "error", s.page(r, rq, title, e.Message))
}

// page builds the common part of every portal page.
func (s *Server) page(r *http.Request, rq *Request, title string, data any) *templates.Page {
	pl := rq.P.Plan()
	pg := &templates.Page{
		CSRF:  rq.CSRF,
		Title: title,
		Lang:  s.lang(r, rq),
		Path:  rq.Base + r.URL.Path,
		Portal: &templates.PortalView{
			Name:   pl.Company,
			Slug:   pl.Slug,
			Base:   rq.Base,
			URL:    s.portalURL(r, rq),
			Timing: pl.Timing,
			Domain: pl.Domain,
			Logo:   rq.P.LogoURL(r.Context(), rq.Base),
			Colors: rq.P.StatusColors(r.Context()),
		},
		Data: data,
	}
	for _, l := range rq.P.InfoMenu(r.Context(), rq.User, pg.Lang) {
		pg.Portal.Pages = append(pg.Portal.Pages, templates.Link{Title: l.Title, URL: rq.Base + "/help/" + l.Slug})
	}
	if rq.User != nil {
		pg.User = &templates.UserView{ID: rq.User.ID, Name: rq.User.FullName(), Email: rq.User.Email, Role: rq.User.Role,
			Tour: !rq.User.TourDone || r.URL.Query().Get("tour") == "1"}
	}
	switch {
	case pl.State == portal.StateReadOnly:
		pg.Banner = "This portal is read-only for now: you can read and export, but not add anything."
		if rq.User != nil && rq.User.Role == portal.RoleAdmin {
			pg.Banner += " It is over its quota or its subscription: see Subscription."
		}
	case pl.UsageLevel >= 80 && rq.User != nil && rq.User.Role == portal.RoleAdmin:
		pg.Banner = fmt.Sprintf("The portal uses over %d%% of its storage quota. Free space or choose a larger tariff under Subscription.", pl.UsageLevel)
	case rq.User != nil && rq.User.Role == portal.RoleAdmin && rq.P.MailHeldFor(r.Context()) == rq.User.ID:
		pg.Banner = "Confirm your address with the link we mailed you: until then the portal mails only you. Your profile can send the link again."
	}
	return pg
}

// langCookie remembers the language a visitor picked before signing in.
const langCookie = "pd_lang"

// lang is the language a request is answered in: one just picked (?lang=),
// the user's own choice, the one remembered in a cookie, the browser's on
// the API, and the portal's default.
func (s *Server) lang(r *http.Request, rq *Request) string {
	if l := r.URL.Query().Get("lang"); i18n.Supported(l) {
		return l
	}
	if rq.User != nil && i18n.Supported(rq.User.Lang) {
		return rq.User.Lang
	}
	if c, err := r.Cookie(langCookie); err == nil && i18n.Supported(c.Value) {
		return c.Value
	}
	if web.IsAPI(r) {
		if l := i18n.FromAcceptLanguage(r.Header.Get("Accept-Language")); l != "" {
			return l
		}
	}
	return i18n.Pick(rq.P.Setting(r.Context(), "lang", "en"))
}

// langSubmit switches the language: for a signed-in person in their
// profile, for a visitor in a cookie; then back to where they were.
func (s *Server) langSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	l := r.FormValue("lang")
	if !i18n.Supported(l) {
		return web.Invalid(map[string]string{"lang": "Choose English or Russian."})
	}
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l, Path: rq.Base + "/", MaxAge: 365 * 24 * 3600, HttpOnly: true, Secure: web.Info(r).Secure, SameSite: http.SameSiteLaxMode})
	if rq.User != nil {
		if err := rq.P.SetLang(r.Context(), rq.User, l); err != nil {
			return err
		}
	}
	return redirect(w, r, localNext(rq.Base, r.FormValue("next")))
}

// portalURL is the portal's absolute address for sharing.
func (s *Server) portalURL(r *http.Request, rq *Request) string {
	if rq.Base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		return scheme + "://" + r.Host + "/"
	}
	return rq.P.URL() // its own host name once DNS points it here
}

// localNext is where to go back to after a form: next when it is a path
// inside this portal, else the portal's start page. Nothing that a browser
// could read as another host gets through: //evil, /\evil, or a header break.
func localNext(base, next string) string {
	if !strings.HasPrefix(next, base+"/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return base + "/"
	}
	return next
}

// ClientIP is the address the request came from: the service works it
// out once (web.Info), trusting a proxy's forwarding headers only when
// the proxy is one configured.
func ClientIP(r *http.Request) string { return web.ClientIP(r) }

// Route is one route a portal serves.
type Route struct {
	Method string
	Path   string // the template, e.g. /tickets/{n:[0-9]+}
}

// Routes lists every route of a portal (tests walk them: every page is
// rendered with hostile data, every API route is in the OpenAPI document).
func (s *Server) Routes() []Route {
	var out []Route
	_ = s.mux.Walk(func(r *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := r.GetPathTemplate()
		if err != nil {
			return nil
		}
		methods, _ := r.GetMethods()
		for _, m := range methods {
			out = append(out, Route{Method: m, Path: tpl})
		}
		return nil
	})
	return out
}

// formGuard guards the forms of rq's portal: a key of the portal's own
// and a cookie scoped to its path.
func formGuard(rq *Request) web.CSRF {
	return web.CSRF{Key: rq.P.CookieKey(), Cookie: "pd_form", Path: rq.Base + "/"}
}

// errTokenScope refuses what a token's scope does not cover.
func errTokenScope(msg string) error {
	return &web.Error{Status: http.StatusForbidden, Code: "token_scope", Message: msg}
}

// renderPage renders template tpl titled title with data, the flash the
// address carries, its menu entry nav marked, and fix applied (a failed
// form's values and errors).
func (s *Server) renderPage(w http.ResponseWriter, r *http.Request, rq *Request, status int, tpl, title, nav string, data any, fix func(*templates.Page)) error {
	pg := s.withFlash(r, rq, s.page(r, rq, title, data))
	pg.Nav = nav
	if fix != nil {
		fix(pg)
	}
	return s.tpl.Render(w, status, tpl, pg)
}
