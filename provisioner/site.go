package provisioner

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"portaldesk/portal/throttle"
	"portaldesk/templates/i18n"
	"time"

	"github.com/gorilla/mux"

	"portaldesk/portal/handlers"
	"portaldesk/portal/web"
	"portaldesk/templates"
)

// Site serves the service's own pages: the landing page with the signup
// form, the signup API, health checks and static files.
type Site struct {
	svc    *Service
	tpl    *templates.Set
	mux    *mux.Router
	static http.Handler
	forms  web.CSRF   // the signup form, bound to the browser
	humans web.Humans // tells people from scripts on the signup form
	// signups limits the portals made from one address.
	signups *throttle.Throttle
}

// NewSite builds the service's routes.
func NewSite(svc *Service, tpl *templates.Set, static http.Handler) *Site {
	m := hmac.New(sha256.New, svc.Secret())
	m.Write([]byte("portaldesk site forms"))
	s := &Site{svc: svc, tpl: tpl, mux: mux.NewRouter(), static: static,
		// Path "/" would reach every portal's pages; the signup form posts
		// to /signup, so the cookie lives there alone.
		forms: web.CSRF{Key: m.Sum(nil), Cookie: "pd_site_form", Path: "/signup"}, humans: web.Humans{Key: m.Sum(nil), MinFill: svc.cfg.FormMinFill},
		signups: throttle.New(cmp.Or(svc.cfg.SignupBurst, 3), time.Minute, time.Hour, 24*time.Hour)}
	mx := s.mux
	mx.PathPrefix("/static/").Handler(static)
	mx.HandleFunc("/", s.h(s.landing)).Methods("GET")
	mx.HandleFunc("/signup", s.h(s.landing)).Methods("GET")
	mx.HandleFunc("/signup", s.h(s.signupForm)).Methods("POST")
	mx.HandleFunc("/api/v1/portals", s.h(s.signupAPI)).Methods("POST")
	mx.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mx.HandleFunc("/readyz", s.h(s.ready))
	mx.Handle("/metrics", svc.metrics.Handler())
	mx.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.RenderError(w, r, web.ErrNotFound) })
	mx.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.RenderError(w, r, web.Errorf(http.StatusMethodNotAllowed, "method_not_allowed", "Method %s is not allowed here.", r.Method))
	})
	return s
}

// Handle adds a route to the service's pages (the ops console, metrics).
func (s *Site) Handle(path string, h http.Handler) *mux.Route {
	return s.mux.PathPrefix(path).Handler(h)
}

// ServeHTTP serves the service's own pages.
func (s *Site) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Site) h(fn func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if cr := mux.CurrentRoute(r); cr != nil {
			if t, err := cr.GetPathTemplate(); err == nil {
				web.Info(r).Route = t
			}
		}
		if err := fn(w, r); err != nil {
			s.RenderError(w, r, web.AsError(r, err))
		}
	}
}

// RenderError answers with an error page, or JSON under /api/.
func (s *Site) RenderError(w http.ResponseWriter, r *http.Request, e *web.Error) {
	if web.IsAPI(r) {
		// The service's API speaks the caller's language, as each portal's does.
		if lang := i18n.FromAcceptLanguage(r.Header.Get("Accept-Language")); lang != "" && lang != "en" {
			t := *e
			t.Message, t.Fields = i18n.Msg(lang, e.Message), i18n.Fields(lang, e.Fields)
			e = &t
		}
		web.JSONError(w, e)
		return
	}
	title := http.StatusText(e.Status)
	switch e.Code {
	case "not_found", "no_such_portal":
		title = "Page not found"
	case "portal_suspended":
		title = "Portal suspended"
	}
	_ = s.tpl.Render(w, e.Status, "error", &templates.Page{Title: title, Data: e.Message, Lang: web.ServiceLang(w, r)})
}

func (s *Site) landing(w http.ResponseWriter, r *http.Request) error {
	return s.tpl.Render(w, http.StatusOK, "landing", s.landingPage(w, r, "Your helpdesk in seconds"))
}

func (s *Site) landingPage(w http.ResponseWriter, r *http.Request, title string) *templates.Page {
	return &templates.Page{Title: title, Data: s.svc.cfg.PublicURL, Lang: web.ServiceLang(w, r), CSRF: s.forms.Token(w, r), Stamp: s.humans.Stamp(s.svc.now())}
}

// signupAllowed counts a signup against the address it came from: three
// go through at once, then one a minute, waiting longer after each.
func (s *Site) signupAllowed(r *http.Request) error {
	now := s.svc.now()
	a, wait := throttle.Begin(now, throttle.Key{T: s.signups, Key: web.Info(r).IP})
	if a == nil {
		return web.RateLimited(wait)
	}
	a.Failed(now)
	return nil
}

// provision is a signup from the web: limited per address, and its
// portal mails no one but its admin until the admin's address is
// confirmed.
func (s *Site) provision(r *http.Request, in SignupInput) (*Provisioned, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if err := s.signupAllowed(r); err != nil {
		return nil, err
	}
	in.Confirmed = false
	return s.svc.Provision(r.Context(), in)
}

func (s *Site) signupForm(w http.ResponseWriter, r *http.Request) error {
	if err := s.forms.Check(r); err != nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	in := SignupInput{
		Company: r.PostForm.Get("company"), Slug: r.PostForm.Get("slug"), AdminName: r.PostForm.Get("admin_name"),
		AdminEmail: r.PostForm.Get("admin_email"), AdminPassword: r.PostForm.Get("admin_password"),
	}
	var res *Provisioned
	err := s.humans.Check(r.PostForm, s.svc.now())
	if err == nil {
		res, err = s.provision(r, in)
	}
	if err != nil {
		var e *web.Error
		if !errors.As(err, &e) {
			return err
		}
		form := url.Values{}
		for k, v := range r.PostForm {
			if k != "admin_password" {
				form[k] = v
			}
		}
		pg := s.landingPage(w, r, "Create your portal")
		pg.Form, pg.Errors, pg.Error = form, e.Fields, e.Message
		return s.tpl.Render(w, e.Status, "landing", pg)
	}
	defer res.Handle.Release()
	// A business that signs up in Russian gets a portal that speaks Russian.
	if lang := web.ServiceLang(w, r); lang != "en" {
		if err := res.Handle.Portal.SetSetting(r.Context(), "lang", lang); err != nil {
			return err
		}
	}
	base := "/" + res.Record.Slug
	if err := handlers.StartSession(w, r, res.Handle.Portal, base, res.Admin); err != nil {
		return err
	}
	http.Redirect(w, r, base+"/", http.StatusSeeOther)
	return nil
}

func (s *Site) signupAPI(w http.ResponseWriter, r *http.Request) error {
	var in SignupInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	res, err := s.provision(r, in)
	if err != nil {
		return err
	}
	res.Handle.Release()
	web.WriteJSON(w, http.StatusCreated, map[string]string{"slug": res.Record.Slug, "url": s.svc.cfg.PublicURL + "/" + res.Record.Slug + "/"})
	return nil
}

func (s *Site) ready(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.catalog.Ping(r.Context()); err != nil {
		return web.Errorf(http.StatusServiceUnavailable, "not_ready", "catalog unreachable: %v", err)
	}
	probe := filepath.Join(s.svc.cfg.DataDir, ".ready-probe")
	if err := os.WriteFile(probe, []byte("ok"), 0o600); err != nil {
		return web.Errorf(http.StatusServiceUnavailable, "not_ready", "data directory not writable: %v", err)
	}
	os.Remove(probe)
	w.Write([]byte("ready\n"))
	return nil
}
