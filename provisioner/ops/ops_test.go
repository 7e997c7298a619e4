package ops_test

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
	"portaldesk/portal/twofactor"
	"portaldesk/provisioner"
	"portaldesk/provisioner/ops"
)

func TestMain(m *testing.M) {
	portal.BcryptCost = bcrypt.MinCost
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}

func TestConsole(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{})
	e.Create(t, "acme")
	ctx := context.Background()
	root := e.AddOpsUser(t, "root@vendor.test", "ops-password")
	_ = ctx
	// Nobody else gets in: anonymous, a portal admin's token or cookie.
	if r := pdtest.Do(t, nil, "GET", e.URL+"/ops", nil); r.Status != 401 || !strings.Contains(r.Body, `action="/ops/login"`) || strings.Contains(r.Body, "Acme") {
		t.Fatalf("anonymous: %d", r.Status)
	}
	if r := pdtest.Do(t, nil, "GET", e.URL+"/ops/portals/acme", nil); r.Status != 401 || strings.Contains(r.Body, "Acme") {
		t.Fatalf("anonymous portal page: %d", r.Status)
	}
	tok := e.Login(t, "acme", "admin@acme.test")
	if r := pdtest.Do(t, nil, "GET", e.URL+"/ops", nil, "Authorization", "Bearer "+tok); r.Status != 401 || strings.Contains(r.Body, "Acme") {
		t.Fatalf("a portal admin's token: %d", r.Status)
	}
	admin := e.SignIn(t, "acme", "admin@acme.test")
	if r := pdtest.Do(t, admin, "POST", e.URL+"/ops/portals/acme/suspend", nil); r.Status != 401 {
		t.Fatalf("a portal admin's session: %d", r.Status)
	}
	// Ops login, rate-limited.
	c := pdtest.Browser()
	for i := 0; i < 5; i++ {
		if r := pdtest.Do(t, c, "POST", e.URL+"/ops/login", url.Values{"email": {"root@vendor.test"}, "password": {"wrong"}}); r.Status != 401 {
			t.Fatalf("wrong password: %d", r.Status)
		}
	}
	if r := pdtest.Do(t, c, "POST", e.URL+"/ops/login", url.Values{"email": {"root@vendor.test"}, "password": {"ops-password"}}); r.Status != 429 {
		t.Fatalf("after 5 failures: %d", r.Status)
	}
	c = pdtest.Browser()
	e2 := pdtest.New(t, provisioner.Config{DataDir: e.Dir}) // a fresh limiter: the same catalog, a new process
	e.Close()
	if r := e2.OpsSignIn(t, c, root); r.Status != 303 {
		t.Fatalf("login: %d", r.Status)
	}
	if r := pdtest.Do(t, c, "GET", e2.URL+"/ops", nil); r.Status != 200 || !strings.Contains(r.Body, "Acme Ltd") || !strings.Contains(r.Body, "never") {
		t.Fatalf("table: %d", r.Status)
	}
	// A cross-site form is refused.
	if r := pdtest.Do(t, c, "POST", e2.URL+"/ops/portals/acme/suspend", nil, "Sec-Fetch-Site", "cross-site"); r.Status != 403 {
		t.Fatalf("cross-site: %d", r.Status)
	}
	// Actions, each in the audit log.
	if r := pdtest.Do(t, c, "POST", e2.URL+"/ops/portals/acme/suspend", nil); r.Status != 303 {
		t.Fatalf("suspend: %d %s", r.Status, r.Body)
	}
	if r := pdtest.Do(t, nil, "GET", e2.URL+"/acme/login", nil); r.Status != 403 {
		t.Fatalf("suspended portal: %d", r.Status)
	}
	pdtest.Do(t, c, "POST", e2.URL+"/ops/portals/acme/resume", nil)
	if r := pdtest.Do(t, c, "POST", e2.URL+"/ops/portals/acme/backup", nil); r.Status != 303 {
		t.Fatalf("backup: %d %s", r.Status, r.Body)
	}
	tok2 := e2.Login(t, "acme", "admin@acme.test")
	inv := e2.API(t, tok2, "POST", "acme", "/subscription/topup", map[string]any{"amount": 50000}).JSON(t)["invoice"].(string)
	page := pdtest.Do(t, c, "GET", e2.URL+"/ops/portals/acme", nil)
	if !strings.Contains(page.Body, inv) {
		t.Fatal("the open invoice is not on the portal's page")
	}
	if r := pdtest.Do(t, c, "POST", e2.URL+"/ops/portals/acme/confirm", url.Values{"invoice": {inv}}); r.Status != 303 {
		t.Fatalf("confirm: %d %s", r.Status, r.Body)
	}
	if b := e2.API(t, tok2, "GET", "acme", "/subscription", nil).JSON(t)["balance"].(float64); b != 50000 {
		t.Fatalf("balance after confirm: %v", b)
	}
	page = pdtest.Do(t, c, "GET", e2.URL+"/ops", nil)
	for _, want := range []string{"suspend acme", "resume acme", "backup acme", "confirm acme", "root@vendor.test", "127.0.0.1"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("audit log lacks %q", want)
		}
	}
	// The latest snapshot downloads as a tar.gz with its manifest.
	dl := pdtest.Do(t, c, "GET", e2.URL+"/ops/portals/acme/snapshot.tar.gz", nil)
	zr, err := gzip.NewReader(strings.NewReader(dl.Body))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	names := map[string]bool{}
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names[h.Name] = true
	}
	if !names["manifest.json"] || !names["portal.db"] {
		t.Fatalf("snapshot archive: %v", names)
	}
}

func TestMetricsAndHealth(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{})
	e.Create(t, "acme")
	e.Login(t, "acme", "admin@acme.test")
	for _, p := range []string{"/healthz", "/readyz"} {
		if r := pdtest.Do(t, nil, "GET", e.URL+p, nil); r.Status != 200 {
			t.Fatalf("%s: %d", p, r.Status)
		}
	}
	m := pdtest.Do(t, nil, "GET", e.URL+"/metrics", nil).Body
	for _, want := range []string{`portaldesk_http_requests_total{code="200",method="POST",route="/{portal}/api/v1/login"}`, "portaldesk_open_portals 1",
		"portaldesk_portals_provisioned_total 1", "portaldesk_http_request_duration_seconds_bucket", `portaldesk_portals{quota_level="0",state="active"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(m, `"acme"`) || strings.Contains(m, "/acme/") {
		t.Error("metrics are labelled by portal")
	}
}

// TestOpsConsoleAsksForTheCode: the console takes the password only with
// a code from the app (never the same one twice) or a recovery code
// (once); the shell's add-user gives a new key and ends the sessions.
func TestOpsConsoleAsksForTheCode(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{})
	enr, err := ops.AddUser(context.Background(), e.Svc, "root@vendor.test", "Root", "ops-password")
	if err != nil || len(enr.RecoveryCodes) != 10 || !strings.HasPrefix(enr.URL, "otpauth://totp/") {
		t.Fatalf("enrolment: %v %+v", err, enr)
	}
	login := func(code string) int {
		c := pdtest.Browser()
		return pdtest.Do(t, c, "POST", e.URL+"/ops/login", url.Values{"email": {"root@vendor.test"}, "password": {"ops-password"}, "code": {code}}).Status
	}
	if s := login(""); s != 401 {
		t.Fatalf("no code: %d", s)
	}
	code := twofactor.Code(enr.Secret, time.Now())
	if s := login(code); s != 303 {
		t.Fatalf("the code: %d", s)
	}
	if s := login(code); s != 401 {
		t.Fatalf("the same code again: %d", s)
	}
	if s := login(enr.RecoveryCodes[3]); s != 303 {
		t.Fatalf("a recovery code: %d", s)
	}
	if s := login(enr.RecoveryCodes[3]); s != 401 {
		t.Fatalf("the recovery code again: %d", s)
	}
}
