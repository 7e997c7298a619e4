package provisioner

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"portaldesk/portal"
)

func TestMain(m *testing.M) {
	portal.BcryptCost = bcrypt.MinCost
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}

// env is one running service on a throwaway data directory.
type env struct {
	t    *testing.T
	dir  string
	svc  *Service
	app  *App
	srv  *httptest.Server
	base string
}

func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.PublicURL = "http://" + ln.Addr().String()
	svc, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	app, err := NewApp(svc)
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: app}}
	srv.Start()
	e := &env{dir: cfg.DataDir, svc: svc, app: app, srv: srv, base: cfg.PublicURL}
	if tt, ok := t.(*testing.T); ok {
		e.t = tt
	}
	t.Cleanup(e.close)
	return e
}

func (e *env) close() {
	if e.srv != nil {
		e.srv.Close()
		e.svc.Close()
		e.srv = nil
	}
}

// create provisions a portal with an admin whose password is "password1".
func (e *env) create(t testing.TB, slug string) {
	t.Helper()
	res, err := e.svc.Provision(context.Background(), SignupInput{Company: strings.ToUpper(slug[:1]) + slug[1:] + " Ltd", Slug: slug,
		AdminName: "Admin", AdminEmail: "admin@" + slug + ".test", AdminPassword: "password1"})
	if err != nil {
		t.Fatalf("provision %s: %v", slug, err)
	}
	res.Handle.Release()
}

// client is a browser-like HTTP client with its own cookie jar, not following redirects.
func client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type resp struct {
	status int
	body   string
	header http.Header
}

func (r resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("not JSON (%d): %s", r.status, r.body)
	}
	return m
}

func do(t testing.TB, c *http.Client, method, u string, body any, hdr ...string) resp {
	t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
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
	if c == nil {
		c = client()
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, body: string(b), header: res.Header}
}

// login returns a bearer token for email on slug.
func (e *env) login(t testing.TB, slug, email, pw string) string {
	t.Helper()
	r := do(t, nil, "POST", e.base+"/"+slug+"/api/v1/login", map[string]string{"email": email, "password": pw})
	if r.status != 200 {
		t.Fatalf("login %s on %s: %d %s", email, slug, r.status, r.body)
	}
	return r.json(t)["token"].(string)
}
