// Package pdtest runs a whole Portaldesk service for tests: a throwaway data
// directory, real SQLite files, real HTTP on loopback, and helpers that act as
// browsers and API clients.
package pdtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"portaldesk/cmd/server"
	"portaldesk/portal"
	"portaldesk/portal/twofactor"
	"portaldesk/provisioner"
	"portaldesk/provisioner/ops"
	"portaldesk/quota"
)

// Env is one running service.
type Env struct {
	Dir  string
	Svc  *provisioner.Service
	App  *provisioner.App
	Jobs *quota.Jobs
	URL  string // http://127.0.0.1:port
	// SMTPAddr is where the service takes mail, when the test gave it a
	// MailDomain.
	SMTPAddr string
	srv      *httptest.Server
	server   *server.Server
	t        testing.TB
	done     bool
}

// New starts a service on cfg (a temporary data directory when unset).
func New(t testing.TB, cfg provisioner.Config) *Env {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.PublicURL = "http://" + ln.Addr().String()
	if cfg.SignupBurst == 0 {
		cfg.SignupBurst = 1000 // tests sign up from one address; TestSignupsAreLimited sets its own
	}
	if cfg.Resolver == nil {
		// Tests use loopback only: a DNS lookup a test did not set up for
		// fails at once rather than asking the machine's resolver.
		cfg.Resolver = &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
			return nil, errors.New("no DNS in tests")
		}}
	}
	if cfg.FormMinFill == 0 {
		cfg.FormMinFill = time.Nanosecond // tests type faster than people
	}
	s, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: s.Handler()}}
	srv.Start()
	e := &Env{Dir: cfg.DataDir, Svc: s.Svc, App: s.App, Jobs: s.Jobs, URL: cfg.PublicURL, srv: srv, t: t, server: s}
	if cfg.MailDomain != "" { // the portals' mail in, on loopback
		mln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		e.SMTPAddr = mln.Addr().String()
		go s.ServeInbound(mln)
	}
	t.Cleanup(e.Close)
	return e
}

// Close stops the service.
func (e *Env) Close() {
	if !e.done {
		e.done = true
		e.srv.Close()
		e.server.Close()
	}
}

// Password is the password of every account the helpers create.
const Password = "amber-lantern-57"

// Create provisions a portal whose admin is admin@<slug>.test.
func (e *Env) Create(t testing.TB, slug string, tariff ...string) {
	t.Helper()
	in := provisioner.SignupInput{Company: strings.ToUpper(slug[:1]) + slug[1:] + " Ltd", Slug: slug,
		AdminName: "Admin", AdminEmail: "admin@" + slug + ".test", AdminPassword: Password, Confirmed: true}
	if len(tariff) > 0 {
		in.Tariff = tariff[0]
	}
	res, err := e.Svc.Provision(context.Background(), in)
	if err != nil {
		t.Fatalf("provision %s: %v", slug, err)
	}
	res.Handle.Release()
}

// Portal runs fn with the open portal slug.
func (e *Env) Portal(t testing.TB, slug string, fn func(p *portal.Portal)) {
	t.Helper()
	h, err := e.Svc.Registry().Acquire(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	fn(h.Portal)
}

// AddUser puts a user straight into a portal's database with Password.
func (e *Env) AddUser(t testing.TB, slug, email, name, role string) *portal.User {
	t.Helper()
	var u *portal.User
	e.Portal(t, slug, func(p *portal.Portal) {
		hash, _ := portal.HashPassword(Password)
		u = &portal.User{Email: email, Name: name, Role: role}
		if err := p.InsertUser(context.Background(), u, hash); err != nil {
			t.Fatal(err)
		}
	})
	return u
}

// Browser is an HTTP client with a cookie jar that does not follow redirects.
func Browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Resp is an answer, read whole.
type Resp struct {
	Status int
	Body   string
	Header http.Header
}

// JSON decodes the body as an object.
func (r Resp) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.Body), &m); err != nil {
		t.Fatalf("not JSON (%d): %s", r.Status, r.Body)
	}
	return m
}

// Multipart is a body of form fields and files.
type Multipart struct {
	Fields map[string]string
	Files  map[string][]File
}

// File is one uploaded file.
type File struct {
	Name string
	Data []byte
}

// Do sends a request: body is nil, url.Values (a form), Multipart, or
// anything else as JSON. hdr is pairs of header names and values ("Host" sets the host).
// A form posts the token of its place the way a browser would: read from
// a page of that place first, unless the form sets _csrf itself.
func Do(t testing.TB, c *http.Client, method, u string, body any, hdr ...string) Resp {
	t.Helper()
	if c == nil {
		c = Browser()
	}
	if body == nil && method != "GET" && method != "HEAD" && !strings.Contains(u, "/api/") {
		body = url.Values{} // a form of buttons only
	}
	switch b := body.(type) {
	case url.Values:
		if _, set := b["_csrf"]; !set {
			b = cloneValues(b)
			for k, v := range formFields(t, c, u, hdr) {
				if _, set := b[k]; !set {
					b.Set(k, v)
				}
			}
			body = b
		}
	case Multipart:
		if _, set := b.Fields["_csrf"]; !set {
			f := formFields(t, c, u, hdr)
			for k, v := range b.Fields {
				f[k] = v
			}
			b.Fields = f
			body = b
		}
	}
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	case Multipart:
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		keys := make([]string, 0, len(b.Fields))
		for k := range b.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			mw.WriteField(k, b.Fields[k])
		}
		for field, files := range b.Files {
			for _, f := range files {
				w, _ := mw.CreateFormFile(field, f.Name)
				w.Write(f.Data)
			}
		}
		mw.Close()
		rd, ctype = &buf, mw.FormDataContentType()
	default:
		js, _ := json.Marshal(b)
		rd, ctype = bytes.NewReader(js), "application/json"
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return Resp{Status: res.StatusCode, Body: string(b), Header: res.Header}
}

// Login returns a bearer token for email on slug.
func (e *Env) Login(t testing.TB, slug, email string) string {
	t.Helper()
	r := Do(t, nil, "POST", e.URL+"/"+slug+"/api/v1/login", map[string]string{"email": email, "password": Password})
	if r.Status != 200 {
		t.Fatalf("login %s on %s: %d %s", email, slug, r.Status, r.Body)
	}
	return r.JSON(t)["token"].(string)
}

// API calls slug's API with a bearer token.
func (e *Env) API(t testing.TB, tok, method, slug, path string, body any) Resp {
	t.Helper()
	var hdr []string
	if tok != "" {
		hdr = []string{"Authorization", "Bearer " + tok}
	}
	return Do(t, nil, method, e.URL+"/"+slug+"/api/v1"+path, body, hdr...)
}

// SignIn returns a browser signed in to slug as email.
func (e *Env) SignIn(t testing.TB, slug, email string) *http.Client {
	t.Helper()
	c := Browser()
	r := Do(t, c, "POST", e.URL+"/"+slug+"/login", url.Values{"email": {email}, "password": {Password}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("sign in %s on %s: %d %s", email, slug, r.Status, r.Body)
	}
	return c
}

// OpsUser is an ops account made for a test: its sign-in and the key of
// its authenticator app.
type OpsUser struct {
	Email, Password, Secret string
	steps                   int
}

// AddOpsUser creates an ops account as the shell does.
func (e *Env) AddOpsUser(t testing.TB, email, password string) *OpsUser {
	t.Helper()
	enr, err := ops.AddUser(context.Background(), e.Svc, email, "Ops", password)
	if err != nil {
		t.Fatal(err)
	}
	return &OpsUser{Email: email, Password: password, Secret: enr.Secret}
}

// Code is the next code of the ops person's app: each sign-in of a test
// takes the code of a later time step, as one a minute apart would.
func (o *OpsUser) Code(now time.Time) string {
	o.steps++
	return twofactor.Code(o.Secret, now.Add(time.Duration(o.steps-1)*30*time.Second))
}

// OpsSignIn signs c in to the ops console as o, with password and code.
func (e *Env) OpsSignIn(t testing.TB, c *http.Client, o *OpsUser) Resp {
	t.Helper()
	return Do(t, c, "POST", e.URL+"/ops/login", url.Values{"email": {o.Email}, "password": {o.Password}, "code": {o.Code(e.Svc.Now())}})
}

// Mails delivers slug's outbox and returns the .eml files written for it, oldest first.
func (e *Env) Mails(t testing.TB, slug string) []string {
	t.Helper()
	if err := e.Svc.Mailer().Deliver(context.Background(), slug); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(e.Dir, "mail", slug, "*.eml"))
	sort.Strings(files)
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// SetPlan puts slug on a tariff with a number of operators and optional
// quota overrides in MB (0 keeps the tariff's), as ops would from the
// shell (portals set-tariff, set-limits).
func (e *Env) SetPlan(t testing.TB, slug, tariff string, operators int, dbMB, diskMB int64) {
	t.Helper()
	ctx := context.Background()
	if err := e.Svc.SetTariff(ctx, slug, tariff, operators, "ops"); err != nil {
		t.Fatal(err)
	}
	if err := e.Svc.SetLimits(ctx, slug, dbMB, diskMB); err != nil {
		t.Fatal(err)
	}
	e.Svc.Registry().WaitClosed()
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

var hiddenField = regexp.MustCompile(`name="(_csrf|_shown)" value="([^"]*)"`)

// formFields reads the hidden fields a browser posts with a form to u: the
// form token of the place u belongs to — from a portal's page, the ops
// console's sign-in page, or the service's front page — and, for the
// signup and registration forms, the time the form was shown (from the
// form's own page).
func formFields(t testing.TB, c *http.Client, u string, hdr []string) map[string]string {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	page := "/"
	seg, _, _ := strings.Cut(strings.TrimPrefix(pu.Path, "/"), "/")
	hostSet := false
	for i := 0; i+1 < len(hdr); i += 2 {
		hostSet = hostSet || hdr[i] == "Host"
	}
	switch {
	case strings.HasSuffix(pu.Path, "/register") || pu.Path == "/signup":
		page = pu.Path
	case seg == "ops":
		page = "/ops/login"
	case hostSet: // a portal on its own domain
		page = "/forgot"
	case seg != "" && seg != "api":
		page = "/" + seg + "/forgot" // a page with a form, signed in or not
	}
	r := Do(t, c, "GET", pu.Scheme+"://"+pu.Host+page, nil, hdr...)
	out := map[string]string{"_csrf": ""}
	for _, m := range hiddenField.FindAllStringSubmatch(r.Body, -1) {
		out[m[1]] = m[2]
	}
	return out
}
