package provisioner

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"portaldesk/portal"
)

func TestSlugRules(t *testing.T) {
	cases := []struct {
		slug string
		ok   bool
	}{
		{"acme", true}, {"a1b", true}, {"my-shop-24", true}, {strings.Repeat("a", 40), true},
		{"", false}, {"ab", false}, {strings.Repeat("a", 41), false}, {"Acme", false}, {"ac_me", false},
		{"-acme", false}, {"acme-", false}, {"ac--me", false}, {"аcme", false}, {"ac me", false},
		{"api", false}, {"static", false}, {"ops", false}, {"signup", false}, {"login", false}, {"admin", false},
		{"www", false}, {"mail", false}, {"assets", false}, {"health", false}, {"metrics", false},
	}
	for _, c := range cases {
		msg := ValidateSlug(c.slug)
		if (msg == "") != c.ok {
			t.Errorf("ValidateSlug(%q) = %q, want ok=%v", c.slug, msg, c.ok)
		}
	}
}

func TestSignupAPI(t *testing.T) {
	e := newEnv(t, Config{})
	body := map[string]string{"company": "Acme", "slug": "acme", "admin_name": "Ann", "admin_email": "ann@acme.test", "admin_password": "secret123"}
	r := do(t, nil, "POST", e.base+"/api/v1/portals", body)
	if r.status != 201 || r.json(t)["slug"] != "acme" || r.json(t)["url"] != e.base+"/acme/" {
		t.Fatalf("signup: %d %s", r.status, r.body)
	}
	if r := do(t, nil, "POST", e.base+"/api/v1/portals", body); r.status != 409 {
		t.Fatalf("second signup: %d %s", r.status, r.body)
	}
	bad := map[string]string{"company": "", "slug": "-x", "admin_name": "", "admin_email": "nope", "admin_password": "short"}
	r = do(t, nil, "POST", e.base+"/api/v1/portals", bad)
	if r.status != 422 {
		t.Fatalf("invalid signup: %d %s", r.status, r.body)
	}
	fields := r.json(t)["error"].(map[string]any)["fields"].(map[string]any)
	for _, f := range []string{"company", "slug", "admin_name", "admin_email", "admin_password"} {
		if fields[f] == nil || fields[f] == "" {
			t.Errorf("no error for field %s in %s", f, r.body)
		}
	}
	for _, p := range []string{"control.db", "portals/acme/portal.db", "portals/acme/files"} {
		if _, err := os.Stat(filepath.Join(e.dir, p)); err != nil {
			t.Errorf("data layout: %v", err)
		}
	}
	tok := e.login(t, "acme", "ann@acme.test", "secret123")
	me := do(t, nil, "GET", e.base+"/acme/api/v1/me", nil, "Authorization", "Bearer "+tok).json(t)
	if me["email"] != "ann@acme.test" || me["role"] != "admin" || me["name"] != "Ann" || me["id"] == nil {
		t.Fatalf("me: %v", me)
	}
}

func TestSignupFormLogsTheAdminIn(t *testing.T) {
	e := newEnv(t, Config{})
	c := client()
	if r := do(t, c, "GET", e.base+"/", nil); r.status != 200 || !strings.Contains(r.body, `name="slug"`) {
		t.Fatalf("landing: %d", r.status)
	}
	form := url.Values{"company": {"Acme"}, "slug": {"acme"}, "admin_name": {"Ann"}, "admin_email": {"ann@acme.test"}, "admin_password": {"secret123"}}
	r := do(t, c, "POST", e.base+"/signup", form)
	if r.status != 303 || r.header.Get("Location") != "/acme/" {
		t.Fatalf("signup: %d %s", r.status, r.header.Get("Location"))
	}
	if r := do(t, c, "GET", e.base+"/acme/", nil); r.status != 200 || !strings.Contains(r.body, "Welcome, Ann") || !strings.Contains(r.body, e.base+"/acme/") {
		t.Fatalf("portal home after signup: %d %s", r.status, r.body)
	}
	// A validation error keeps what was typed, except the password.
	form.Set("slug", "API")
	form.Set("company", "Acme & Sons")
	r = do(t, client(), "POST", e.base+"/signup", form)
	if r.status != 422 || !strings.Contains(r.body, `value="Acme &amp; Sons"`) || !strings.Contains(r.body, "lowercase") || strings.Contains(r.body, "secret123") {
		t.Fatalf("invalid signup form: %d", r.status)
	}
	// Log out, log in again.
	if r := do(t, c, "POST", e.base+"/acme/logout", nil); r.status != 303 {
		t.Fatalf("logout: %d", r.status)
	}
	if r := do(t, c, "GET", e.base+"/acme/", nil); r.status != 303 || !strings.HasPrefix(r.header.Get("Location"), "/acme/login") {
		t.Fatalf("after logout: %d %s", r.status, r.header.Get("Location"))
	}
	if r := do(t, c, "GET", e.base+"/acme/login", nil); r.status != 200 || !strings.Contains(r.body, "Sign in to Acme") {
		t.Fatalf("login page: %d", r.status)
	}
	if r := do(t, c, "POST", e.base+"/acme/login", url.Values{"email": {"ann@acme.test"}, "password": {"wrong-pass"}}); r.status != 401 || !strings.Contains(r.body, "Wrong email or password") || !strings.Contains(r.body, `value="ann@acme.test"`) {
		t.Fatalf("wrong password: %d", r.status)
	}
	r = do(t, c, "POST", e.base+"/acme/login", url.Values{"email": {"ann@acme.test"}, "password": {"secret123"}, "next": {"/acme/"}})
	if r.status != 303 || r.header.Get("Location") != "/acme/" {
		t.Fatalf("login: %d %s", r.status, r.header.Get("Location"))
	}
	if r := do(t, c, "GET", e.base+"/acme/", nil); r.status != 200 {
		t.Fatalf("home after login: %d", r.status)
	}
	// A cross-site form post is refused.
	if r := do(t, c, "POST", e.base+"/acme/logout", nil, "Sec-Fetch-Site", "cross-site"); r.status != 403 {
		t.Fatalf("cross-site post: %d", r.status)
	}
}

func TestProvisioningIsAtomic(t *testing.T) {
	for _, step := range []string{stepCatalog, stepFiles, stepDatabase, stepRename, stepAdmin, stepCommit} {
		t.Run(step, func(t *testing.T) {
			e := newEnv(t, Config{})
			boom := errors.New("injected failure at " + step)
			e.svc.failAt = func(s string) error {
				if s == step {
					return boom
				}
				return nil
			}
			_, err := e.svc.Provision(context.Background(), SignupInput{Company: "Acme", Slug: "acme", AdminName: "A", AdminEmail: "a@acme.test", AdminPassword: "password1"})
			if !errors.Is(err, boom) {
				t.Fatalf("want the injected failure, got %v", err)
			}
			var n int
			e.svc.catalog.db.R.QueryRow("SELECT COUNT(*) FROM portals").Scan(&n)
			entries, _ := os.ReadDir(filepath.Join(e.dir, "portals"))
			if n != 0 || len(entries) != 0 {
				t.Fatalf("left behind: %d catalog rows, %d entries in portals/", n, len(entries))
			}
			if e.svc.registry.Open() != 0 {
				t.Fatalf("a failed portal stays open")
			}
			e.svc.failAt = nil
			e.create(t, "acme")
			if r := do(t, nil, "POST", e.base+"/acme/api/v1/login", map[string]string{"email": "admin@acme.test", "password": "password1"}); r.status != 200 {
				t.Fatalf("after retry: %d", r.status)
			}
		})
	}
}

func TestConcurrentSignupsForOneSlug(t *testing.T) {
	e := newEnv(t, Config{})
	const n = 12
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := do(t, nil, "POST", e.base+"/api/v1/portals", map[string]string{"company": fmt.Sprint("Racer ", i), "slug": "race",
				"admin_name": "R", "admin_email": fmt.Sprintf("r%d@race.test", i), "admin_password": "password1"})
			codes <- r.status
		}(i)
	}
	wg.Wait()
	close(codes)
	won, lost := 0, 0
	for c := range codes {
		switch c {
		case 201:
			won++
		case 409:
			lost++
		default:
			t.Errorf("unexpected status %d", c)
		}
	}
	if won != 1 || lost != n-1 {
		t.Fatalf("won %d, lost %d", won, lost)
	}
	list, _ := e.svc.catalog.Portals(context.Background())
	if len(list) != 1 {
		t.Fatalf("%d catalog rows", len(list))
	}
}

func TestTokensAndCookiesStayOnTheirPortal(t *testing.T) {
	e := newEnv(t, Config{})
	e.create(t, "alpha")
	e.create(t, "beta")
	tok := e.login(t, "alpha", "admin@alpha.test", "password1")
	if r := do(t, nil, "GET", e.base+"/alpha/api/v1/me", nil, "Authorization", "Bearer "+tok); r.status != 200 {
		t.Fatalf("own portal: %d", r.status)
	}
	if r := do(t, nil, "GET", e.base+"/beta/api/v1/me", nil, "Authorization", "Bearer "+tok); r.status != 401 {
		t.Fatalf("token on another portal: %d %s", r.status, r.body)
	}
	// alpha's admin credentials do not work on beta.
	if r := do(t, nil, "POST", e.base+"/beta/api/v1/login", map[string]string{"email": "admin@alpha.test", "password": "password1"}); r.status != 401 {
		t.Fatalf("login with another portal's account: %d", r.status)
	}
	// A session cookie of alpha, replayed on beta's path, is worthless there.
	c := client()
	if r := do(t, c, "POST", e.base+"/alpha/login", url.Values{"email": {"admin@alpha.test"}, "password": {"password1"}}); r.status != 303 {
		t.Fatalf("login: %d", r.status)
	}
	u, _ := url.Parse(e.base + "/alpha/")
	var cookie string
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "pd_session" {
			cookie = ck.Name + "=" + ck.Value
		}
	}
	if cookie == "" {
		t.Fatal("no session cookie")
	}
	if r := do(t, nil, "GET", e.base+"/alpha/api/v1/me", nil, "Cookie", cookie); r.status != 200 {
		t.Fatalf("cookie on its portal: %d", r.status)
	}
	if r := do(t, nil, "GET", e.base+"/beta/api/v1/me", nil, "Cookie", cookie); r.status != 401 {
		t.Fatalf("cookie on another portal: %d", r.status)
	}
	if r := do(t, nil, "GET", e.base+"/beta/", nil, "Cookie", cookie); r.status != 303 {
		t.Fatalf("cookie on another portal's page: %d", r.status)
	}
	// The cookie is scoped to the portal's path.
	for _, ck := range c.Jar.Cookies(mustURL(e.base + "/beta/")) {
		if ck.Name == "pd_session" {
			t.Fatal("alpha's cookie is sent to beta")
		}
	}
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

func TestUnknownSuspendedDeleted(t *testing.T) {
	e := newEnv(t, Config{})
	e.create(t, "acme")
	if r := do(t, nil, "GET", e.base+"/nosuch/", nil); r.status != 404 || !strings.Contains(r.body, "There is no portal") {
		t.Fatalf("unknown: %d", r.status)
	}
	if r := do(t, nil, "GET", e.base+"/nosuch/api/v1/me", nil); r.status != 404 || r.json(t)["error"] == nil {
		t.Fatalf("unknown api: %d %s", r.status, r.body)
	}
	ctx := context.Background()
	if err := e.svc.Suspend(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if r := do(t, nil, "GET", e.base+"/acme/login", nil); r.status != 403 || !strings.Contains(r.body, "suspended") {
		t.Fatalf("suspended: %d %s", r.status, r.body)
	}
	if err := e.svc.Resume(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if r := do(t, nil, "GET", e.base+"/acme/login", nil); r.status != 200 {
		t.Fatalf("resumed: %d", r.status)
	}
	dst, err := e.svc.Delete(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dst, "portal.db")); err != nil || !strings.HasPrefix(dst, filepath.Join(e.dir, "trash")) {
		t.Fatalf("trash: %s %v", dst, err)
	}
	if r := do(t, nil, "GET", e.base+"/acme/login", nil); r.status != 404 {
		t.Fatalf("deleted: %d", r.status)
	}
	// The address is free again, and the old cookie key is not the new one.
	e.create(t, "acme")
}

func TestSuspendFromAnotherProcessReachesTheService(t *testing.T) {
	e := newEnv(t, Config{})
	e.create(t, "acme")
	if r := do(t, nil, "GET", e.base+"/acme/login", nil); r.status != 200 {
		t.Fatal(r.status)
	}
	// What `portaldesk portals suspend` does from the shell: a second Service on the same directory.
	other, err := Open(context.Background(), Config{DataDir: e.dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Suspend(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	other.Close()
	e.svc.registry.mu.Lock()
	for _, en := range e.svc.registry.entries {
		en.planAt.Store(0) // as if a second had passed
	}
	e.svc.registry.mu.Unlock()
	if r := do(t, nil, "GET", e.base+"/acme/login", nil); r.status != 403 {
		t.Fatalf("suspended elsewhere: %d", r.status)
	}
}

func TestCustomDomain(t *testing.T) {
	e := newEnv(t, Config{})
	e.create(t, "acme")
	if err := e.svc.catalog.AddDomain(context.Background(), "acme", "support.acme.test"); err != nil {
		t.Fatal(err)
	}
	e.app.Router.InvalidateDomains()
	r := do(t, nil, "GET", e.base+"/login", nil, "Host", "support.acme.test")
	if r.status != 200 || !strings.Contains(r.body, "Sign in to Acme Ltd") || !strings.Contains(r.body, `action="/login"`) {
		t.Fatalf("custom domain: %d %s", r.status, r.body)
	}
	tok := e.login(t, "acme", "admin@acme.test", "password1")
	if r := do(t, nil, "GET", e.base+"/api/v1/me", nil, "Host", "support.acme.test", "Authorization", "Bearer "+tok); r.status != 200 {
		t.Fatalf("api on custom domain: %d", r.status)
	}
	c := client()
	r = do(t, c, "POST", e.base+"/login", url.Values{"email": {"admin@acme.test"}, "password": {"password1"}}, "Host", "support.acme.test")
	if r.status != 303 || r.header.Get("Location") != "/" || !strings.Contains(r.header.Get("Set-Cookie"), "Path=/;") {
		t.Fatalf("login on custom domain: %d %v", r.status, r.header)
	}
}

func TestLoginIsRateLimited(t *testing.T) {
	e := newEnv(t, Config{})
	e.create(t, "acme")
	e.create(t, "other")
	var last int
	for i := 0; i < 12; i++ {
		last = do(t, nil, "POST", e.base+"/acme/api/v1/login", map[string]string{"email": "admin@acme.test", "password": "guess" + fmt.Sprint(i)}).status
	}
	if last != 429 {
		t.Fatalf("after 12 failures: %d", last)
	}
	if r := do(t, nil, "POST", e.base+"/acme/api/v1/login", map[string]string{"email": "admin@acme.test", "password": "password1"}); r.status != 429 {
		t.Fatalf("right password while limited: %d", r.status)
	}
	// Another portal is not affected.
	e.login(t, "other", "admin@other.test", "password1")
}

func TestRestartKeepsEveryPortal(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, Config{DataDir: dir})
	for i := 0; i < 5; i++ {
		e.create(t, fmt.Sprintf("shop-%d", i))
	}
	tok := e.login(t, "shop-3", "admin@shop-3.test", "password1")
	e.close()
	e2 := newEnv(t, Config{DataDir: dir})
	for i := 0; i < 5; i++ {
		e2.login(t, fmt.Sprintf("shop-%d", i), fmt.Sprintf("admin@shop-%d.test", i), "password1")
	}
	if r := do(t, nil, "GET", e2.base+"/shop-3/api/v1/me", nil, "Authorization", "Bearer "+tok); r.status != 200 {
		t.Fatalf("token after restart: %d", r.status)
	}
}

func TestRegistryEvictsUnderConcurrentRequests(t *testing.T) {
	e := newEnv(t, Config{OpenLimit: 3})
	const portals = 10
	toks := make([]string, portals)
	for i := range toks {
		slug := fmt.Sprintf("lru-%d", i)
		e.create(t, slug)
		toks[i] = e.login(t, slug, "admin@"+slug+".test", "password1")
	}
	var wg sync.WaitGroup
	errs := make(chan string, 1000)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rnd := rand.New(rand.NewSource(int64(g)))
			for i := 0; i < 40; i++ {
				k := rnd.Intn(portals)
				r := do(t, nil, "GET", fmt.Sprintf("%s/lru-%d/api/v1/me", e.base, k), nil, "Authorization", "Bearer "+toks[k])
				if r.status != 200 || !strings.Contains(r.body, fmt.Sprintf("admin@lru-%d.test", k)) {
					errs <- fmt.Sprintf("lru-%d: %d %s", k, r.status, r.body)
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	if n := e.svc.registry.Open(); n > 3 {
		t.Fatalf("%d portals open, limit 3", n)
	}
	if e.svc.registry.Evictions.Load() == 0 {
		t.Fatal("no evictions")
	}
}

func TestOperatorsBeyondTheTariffCannotSignIn(t *testing.T) {
	e := newEnv(t, Config{})
	e.create(t, "acme")
	h, err := e.svc.registry.Acquire(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	p := h.Portal
	hash, _ := portal.HashPassword("password1")
	op := &portal.User{Email: "op@acme.test", Name: "Op", Role: portal.RoleOperator}
	if err := portal.InsertUser(context.Background(), p.DB.W, op, hash, p.Now()); err != nil {
		t.Fatal(err)
	}
	h.Release()
	if r := do(t, nil, "POST", e.base+"/acme/api/v1/login", map[string]string{"email": "op@acme.test", "password": "password1"}); r.status != 403 {
		t.Fatalf("second operator on the free tariff: %d %s", r.status, r.body)
	}
	e.login(t, "acme", "admin@acme.test", "password1")
}
