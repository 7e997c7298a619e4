package provisioner_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
	"portaldesk/provisioner"
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
		msg := provisioner.ValidateSlug(c.slug)
		if (msg == "") != c.ok {
			t.Errorf("provisioner.ValidateSlug(%q) = %q, want ok=%v", c.slug, msg, c.ok)
		}
	}
}

func TestSignupAPI(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{})
	body := map[string]string{"company": "Acme", "slug": "acme", "admin_name": "Ann", "admin_email": "ann@acme.test", "admin_password": "amber-lantern-57"}
	r := pdtest.Do(t, nil, "POST", e.URL+"/api/v1/portals", body)
	if r.Status != 201 || r.JSON(t)["slug"] != "acme" || r.JSON(t)["url"] != e.URL+"/acme/" {
		t.Fatalf("signup: %d %s", r.Status, r.Body)
	}
	if r := pdtest.Do(t, nil, "POST", e.URL+"/api/v1/portals", body); r.Status != 409 {
		t.Fatalf("second signup: %d %s", r.Status, r.Body)
	}
	bad := map[string]string{"company": "", "slug": "-x", "admin_name": "", "admin_email": "nope", "admin_password": "short"}
	r = pdtest.Do(t, nil, "POST", e.URL+"/api/v1/portals", bad)
	if r.Status != 422 {
		t.Fatalf("invalid signup: %d %s", r.Status, r.Body)
	}
	fields := r.JSON(t)["error"].(map[string]any)["fields"].(map[string]any)
	for _, f := range []string{"company", "slug", "admin_name", "admin_email", "admin_password"} {
		if fields[f] == nil || fields[f] == "" {
			t.Errorf("no error for field %s in %s", f, r.Body)
		}
	}
	for _, p := range []string{"control.db", "portals/acme/portal.db", "portals/acme/files"} {
		if _, err := os.Stat(filepath.Join(e.Dir, p)); err != nil {
			t.Errorf("data layout: %v", err)
		}
	}
	tok := e.Login(t, "acme", "ann@acme.test")
	me := pdtest.Do(t, nil, "GET", e.URL+"/acme/api/v1/me", nil, "Authorization", "Bearer "+tok).JSON(t)
	if me["email"] != "ann@acme.test" || me["role"] != "admin" || me["name"] != "Ann" || me["id"] == nil {
		t.Fatalf("me: %v", me)
	}
}

func TestSignupFormLogsTheAdminIn(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{})
	c := pdtest.Browser()
	if r := pdtest.Do(t, c, "GET", e.URL+"/", nil); r.Status != 200 || !strings.Contains(r.Body, `name="slug"`) {
		t.Fatalf("landing: %d", r.Status)
	}
	form := url.Values{"company": {"Acme"}, "slug": {"acme"}, "admin_name": {"Ann"}, "admin_email": {"ann@acme.test"}, "admin_password": {"amber-lantern-57"}}
	r := pdtest.Do(t, c, "POST", e.URL+"/signup", form)
	if r.Status != 303 || r.Header.Get("Location") != "/acme/" {
		t.Fatalf("signup: %d %s", r.Status, r.Header.Get("Location"))
	}
	if r := pdtest.Do(t, c, "GET", e.URL+"/acme/", nil); r.Status != 303 || r.Header.Get("Location") != "/acme/tickets" {
		t.Fatalf("portal home after signup: %d %s", r.Status, r.Header.Get("Location"))
	}
	if r := pdtest.Do(t, c, "GET", e.URL+"/acme/tickets", nil); r.Status != 200 || !strings.Contains(r.Body, "Your portal is ready") || !strings.Contains(r.Body, e.URL+"/acme/") {
		t.Fatalf("tickets after signup: %d %s", r.Status, r.Body)
	}
	// A validation error keeps what was typed, except the password.
	form.Set("slug", "API")
	form.Set("company", "Acme & Sons")
	r = pdtest.Do(t, pdtest.Browser(), "POST", e.URL+"/signup", form)
	if r.Status != 422 || !strings.Contains(r.Body, `value="Acme &amp; Sons"`) || !strings.Contains(r.Body, "lowercase") || strings.Contains(r.Body, "amber-lantern-57") {
		t.Fatalf("invalid signup form: %d", r.Status)
	}
	// Log out, log in again.
	if r := pdtest.Do(t, c, "POST", e.URL+"/acme/logout", nil); r.Status != 303 {
		t.Fatalf("logout: %d", r.Status)
	}
	if r := pdtest.Do(t, c, "GET", e.URL+"/acme/", nil); r.Status != 303 || !strings.HasPrefix(r.Header.Get("Location"), "/acme/login") {
		t.Fatalf("after logout: %d %s", r.Status, r.Header.Get("Location"))
	}
	if r := pdtest.Do(t, c, "GET", e.URL+"/acme/login", nil); r.Status != 200 || !strings.Contains(r.Body, "Sign in to Acme") {
		t.Fatalf("login page: %d", r.Status)
	}
	if r := pdtest.Do(t, c, "POST", e.URL+"/acme/login", url.Values{"email": {"ann@acme.test"}, "password": {"wrong-pass"}}); r.Status != 401 || !strings.Contains(r.Body, "Wrong email or password") || !strings.Contains(r.Body, `value="ann@acme.test"`) {
		t.Fatalf("wrong password: %d", r.Status)
	}
	r = pdtest.Do(t, c, "POST", e.URL+"/acme/login", url.Values{"email": {"ann@acme.test"}, "password": {"amber-lantern-57"}, "next": {"/acme/"}})
	if r.Status != 303 || r.Header.Get("Location") != "/acme/" {
		t.Fatalf("login: %d %s", r.Status, r.Header.Get("Location"))
	}
	if r := pdtest.Do(t, c, "GET", e.URL+"/acme/tickets", nil); r.Status != 200 {
		t.Fatalf("tickets after login: %d", r.Status)
	}
	// A cross-site form post is refused.
	if r := pdtest.Do(t, c, "POST", e.URL+"/acme/logout", nil, "Sec-Fetch-Site", "cross-site"); r.Status != 403 {
		t.Fatalf("cross-site post: %d", r.Status)
	}
}

func TestProvisioningIsAtomic(t *testing.T) {
	for _, step := range provisioner.ProvisionSteps {
		t.Run(step, func(t *testing.T) {
			e := pdtest.New(t, provisioner.Config{})
			boom := errors.New("injected failure at " + step)
			provisioner.SetFailAt(e.Svc, func(s string) error {
				if s == step {
					return boom
				}
				return nil
			})
			_, err := e.Svc.Provision(context.Background(), provisioner.SignupInput{Company: "Acme", Slug: "acme", AdminName: "A", AdminEmail: "a@acme.test", AdminPassword: "amber-lantern-57"})
			if !errors.Is(err, boom) {
				t.Fatalf("want the injected failure, got %v", err)
			}
			n := provisioner.CatalogRows(e.Svc)
			entries, _ := os.ReadDir(filepath.Join(e.Dir, "portals"))
			if n != 0 || len(entries) != 0 {
				t.Fatalf("left behind: %d catalog rows, %d entries in portals/", n, len(entries))
			}
			if e.Svc.Registry().Open() != 0 {
				t.Fatalf("a failed portal stays open")
			}
			provisioner.SetFailAt(e.Svc, nil)
			e.Create(t, "acme")
			if r := pdtest.Do(t, nil, "POST", e.URL+"/acme/api/v1/login", map[string]string{"email": "admin@acme.test", "password": "amber-lantern-57"}); r.Status != 200 {
				t.Fatalf("after retry: %d", r.Status)
			}
		})
	}
}

func TestConcurrentSignupsForOneSlug(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{})
	const n = 12
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := pdtest.Do(t, nil, "POST", e.URL+"/api/v1/portals", map[string]string{"company": fmt.Sprint("Racer ", i), "slug": "race",
				"admin_name": "R", "admin_email": fmt.Sprintf("r%d@race.test", i), "admin_password": "amber-lantern-57"})
			codes <- r.Status
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
	list, _ := e.Svc.Catalog().Portals(context.Background())
	if len(list) != 1 {
		t.Fatalf("%d catalog rows", len(list))
	}
}

func TestTokensAndCookiesStayOnTheirPortal(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{})
	e.Create(t, "alpha")
	e.Create(t, "beta")
	tok := e.Login(t, "alpha", "admin@alpha.test")
	if r := pdtest.Do(t, nil, "GET", e.URL+"/alpha/api/v1/me", nil, "Authorization", "Bearer "+tok); r.Status != 200 {
		t.Fatalf("own portal: %d", r.Status)
	}
	if r := pdtest.Do(t, nil, "GET", e.URL+"/beta/api/v1/me", nil, "Authorization", "Bearer "+tok); r.Status != 401 {
		t.Fatalf("token on another portal: %d %s", r.Status, r.Body)
	}
	// alpha's admin credentials do not work on beta.
	if r := pdtest.Do(t, nil, "POST", e.URL+"/beta/api/v1/login", map[string]string{"email": "admin@alpha.test", "password": "amber-lantern-57"}); r.Status != 401 {
		t.Fatalf("login with another portal's account: %d", r.Status)
	}
	// A session cookie of alpha, replayed on beta's path, is worthless there.
	c := pdtest.Browser()
	if r := pdtest.Do(t, c, "POST", e.URL+"/alpha/login", url.Values{"email": {"admin@alpha.test"}, "password": {"amber-lantern-57"}}); r.Status != 303 {
		t.Fatalf("login: %d", r.Status)
	}
	u, _ := url.Parse(e.URL + "/alpha/")
	var cookie string
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "pd_session" {
			cookie = ck.Name + "=" + ck.Value
		}
	}
	if cookie == "" {
		t.Fatal("no session cookie")
	}
	if r := pdtest.Do(t, nil, "GET", e.URL+"/alpha/api/v1/me", nil, "Cookie", cookie); r.Status != 200 {
		t.Fatalf("cookie on its portal: %d", r.Status)
	}
	if r := pdtest.Do(t, nil, "GET", e.URL+"/beta/api/v1/me", nil, "Cookie", cookie); r.Status != 401 {
		t.Fatalf("cookie on another portal: %d", r.Status)
	}
	if r := pdtest.Do(t, nil, "GET", e.URL+"/beta/", nil, "Cookie", cookie); r.Status != 303 {
		t.Fatalf("cookie on another portal's page: %d", r.Status)
	}
	// The cookie is scoped to the portal's path.
	for _, ck := range c.Jar.Cookies(mustURL(e.URL + "/beta/")) {
		if ck.Name == "pd_session" {
			t.Fatal("alpha's cookie is sent to beta")
		}
	}
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

func TestUnknownSuspendedDeleted(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{})
	e.Create(t, "acme")
	if r := pdtest.Do(t, nil, "GET", e.URL+"/nosuch/", nil); r.Status != 404 || !strings.Contains(r.Body, "There is no portal") {
		t.Fatalf("unknown: %d", r.Status)
	}
	if r := pdtest.Do(t, nil, "GET", e.URL+"/nosuch/api/v1/me", nil); r.Status != 404 || r.JSON(t)["error"] == nil {
		t.Fatalf("unknown api: %d %s", r.Status, r.Body)
	}
	ctx := context.Background()
	if err := e.Svc.Suspend(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if r := pdtest.Do(t, nil, "GET", e.URL+"/acme/login", nil); r.Status != 403 || !strings.Contains(r.Body, "suspended") {
		t.Fatalf("suspended: %d %s", r.Status, r.Body)
	}
	if err := e.Svc.Resume(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if r := pdtest.Do(t, nil, "GET", e.URL+"/acme/login", nil); r.Status != 200 {
		t.Fatalf("resumed: %d", r.Status)
	}
	dst, err := e.Svc.Delete(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dst, "portal.db")); err != nil || !strings.HasPrefix(dst, filepath.Join(e.Dir, "trash")) {
		t.Fatalf("trash: %s %v", dst, err)
	}
	if r := pdtest.Do(t, nil, "GET", e.URL+"/acme/login", nil); r.Status != 404 {
		t.Fatalf("deleted: %d", r.Status)
	}
	// The address is free again, and the old cookie key is not the new one.
	e.Create(t, "acme")
}

func TestSuspendFromAnotherProcessReachesTheService(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{})
	e.Create(t, "acme")
	if r := pdtest.Do(t, nil, "GET", e.URL+"/acme/login", nil); r.Status != 200 {
		t.Fatal(r.Status)
	}
	// What `portaldesk portals suspend` does from the shell: a second Service on the same directory.
	other, err := provisioner.Open(context.Background(), provisioner.Config{DataDir: e.Dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Suspend(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	other.Close()
	provisioner.ExpirePlans(e.Svc) // as if a second had passed
	if r := pdtest.Do(t, nil, "GET", e.URL+"/acme/login", nil); r.Status != 403 {
		t.Fatalf("suspended elsewhere: %d", r.Status)
	}
}

func TestCustomDomain(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{})
	e.Create(t, "acme")
	if err := e.Svc.AddDomain(context.Background(), "acme", "support.acme.test", true); err != nil {
		t.Fatal(err)
	}
	e.App.Router.InvalidateDomains()
	r := pdtest.Do(t, nil, "GET", e.URL+"/login", nil, "Host", "support.acme.test")
	if r.Status != 200 || !strings.Contains(r.Body, "Sign in to Acme Ltd") || !strings.Contains(r.Body, `action="/login"`) {
		t.Fatalf("custom domain: %d %s", r.Status, r.Body)
	}
	tok := e.Login(t, "acme", "admin@acme.test")
	if r := pdtest.Do(t, nil, "GET", e.URL+"/api/v1/me", nil, "Host", "support.acme.test", "Authorization", "Bearer "+tok); r.Status != 200 {
		t.Fatalf("api on custom domain: %d", r.Status)
	}
	c := pdtest.Browser()
	r = pdtest.Do(t, c, "POST", e.URL+"/login", url.Values{"email": {"admin@acme.test"}, "password": {"amber-lantern-57"}}, "Host", "support.acme.test")
	if r.Status != 303 || r.Header.Get("Location") != "/" || !strings.Contains(r.Header.Get("Set-Cookie"), "Path=/;") {
		t.Fatalf("login on custom domain: %d %v", r.Status, r.Header)
	}
}

func TestLoginIsRateLimited(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{})
	e.Create(t, "acme")
	e.Create(t, "other")
	var last int
	for i := 0; i < 12; i++ {
		last = pdtest.Do(t, nil, "POST", e.URL+"/acme/api/v1/login", map[string]string{"email": "admin@acme.test", "password": "guess" + fmt.Sprint(i)}).Status
	}
	if last != 429 {
		t.Fatalf("after 12 failures: %d", last)
	}
	if r := pdtest.Do(t, nil, "POST", e.URL+"/acme/api/v1/login", map[string]string{"email": "admin@acme.test", "password": "amber-lantern-57"}); r.Status != 429 {
		t.Fatalf("right password while limited: %d", r.Status)
	}
	// Another portal is not affected.
	e.Login(t, "other", "admin@other.test")
}

func TestRestartKeepsEveryPortal(t *testing.T) {
	dir := t.TempDir()
	e := pdtest.New(t, provisioner.Config{DataDir: dir})
	for i := 0; i < 5; i++ {
		e.Create(t, fmt.Sprintf("shop-%d", i))
	}
	tok := e.Login(t, "shop-3", "admin@shop-3.test")
	e.Close()
	e2 := pdtest.New(t, provisioner.Config{DataDir: dir})
	for i := 0; i < 5; i++ {
		e2.Login(t, fmt.Sprintf("shop-%d", i), fmt.Sprintf("admin@shop-%d.test", i))
	}
	if r := pdtest.Do(t, nil, "GET", e2.URL+"/shop-3/api/v1/me", nil, "Authorization", "Bearer "+tok); r.Status != 200 {
		t.Fatalf("token after restart: %d", r.Status)
	}
}

func TestRegistryEvictsUnderConcurrentRequests(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{OpenLimit: 3})
	const portals = 10
	toks := make([]string, portals)
	for i := range toks {
		slug := fmt.Sprintf("lru-%d", i)
		e.Create(t, slug)
		toks[i] = e.Login(t, slug, "admin@"+slug+".test")
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
				r := pdtest.Do(t, nil, "GET", fmt.Sprintf("%s/lru-%d/api/v1/me", e.URL, k), nil, "Authorization", "Bearer "+toks[k])
				if r.Status != 200 || !strings.Contains(r.Body, fmt.Sprintf("admin@lru-%d.test", k)) {
					errs <- fmt.Sprintf("lru-%d: %d %s", k, r.Status, r.Body)
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	if n := e.Svc.Registry().Open(); n > 3 {
		t.Fatalf("%d portals open, limit 3", n)
	}
	if e.Svc.Registry().Evictions.Load() == 0 {
		t.Fatal("no evictions")
	}
}

// TestOnlyShortRequestsAreShort: the router opens a passing portal
// exclusively only for a request without a large body (or one of unknown
// length, which an upload may be).
func TestOnlyShortRequestsAreShort(t *testing.T) {
	for _, tc := range []struct {
		r    *http.Request
		want bool
	}{
		{httptest.NewRequest("GET", "/rare-c/tickets", nil), true},
		{httptest.NewRequest("POST", "/rare-c/api/v1/tickets", strings.NewReader(`{"subject":"Printer"}`)), true},
		{httptest.NewRequest("POST", "/rare-c/tickets/1/files", strings.NewReader(strings.Repeat("x", 1<<20))), false},
		{httptest.NewRequest("POST", "/rare-c/tickets/1/files", io.MultiReader(strings.NewReader("x"))), false}, // length unknown
	} {
		if got := provisioner.Short(tc.r); got != tc.want {
			t.Errorf("%s %s with %d bytes: short %v, want %v", tc.r.Method, tc.r.URL, tc.r.ContentLength, got, tc.want)
		}
	}
}

func TestOperatorsBeyondTheTariffCannotSignIn(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{})
	e.Create(t, "acme")
	e.AddUser(t, "acme", "op@acme.test", "Op", portal.RoleOperator)
	if r := pdtest.Do(t, nil, "POST", e.URL+"/acme/api/v1/login", map[string]string{"email": "op@acme.test", "password": "amber-lantern-57"}); r.Status != 403 {
		t.Fatalf("second operator on the free tariff: %d %s", r.Status, r.Body)
	}
	e.Login(t, "acme", "admin@acme.test")
}

// TestRegistryKeepsPopularPortalsOpen: a portal asked for once does not
// push a popular one out of a full registry; it is served, then closed. A
// portal that becomes popular is let in.
// popularAndRare makes a service that keeps two portals open, with two
// portals asked for often (pop-a, pop-b) and one not yet (rare-c), and
// returns a function that asks for one of them.
func popularAndRare(t *testing.T) (e *pdtest.Env, get func(slug string)) {
	e = pdtest.New(t, provisioner.Config{OpenLimit: 2})
	toks := map[string]string{}
	for _, slug := range []string{"pop-a", "pop-b", "rare-c"} {
		e.Create(t, slug)
		toks[slug] = e.Login(t, slug, "admin@"+slug+".test")
	}
	get = func(slug string) {
		t.Helper()
		if r := pdtest.Do(t, nil, "GET", e.URL+"/"+slug+"/api/v1/me", nil, "Authorization", "Bearer "+toks[slug]); r.Status != 200 {
			t.Fatalf("%s: %d", slug, r.Status)
		}
	}
	for i := 0; i < 5; i++ {
		get("pop-a")
		get("pop-b")
	}
	return e, get
}

func TestRegistryKeepsPopularPortalsOpen(t *testing.T) {
	e, get := popularAndRare(t)
	reg := e.Svc.Registry()
	passing := reg.Passing.Load()
	get("rare-c")
	if reg.Passing.Load() != passing+1 {
		t.Fatal("a rarely asked portal pushed a popular one out")
	}
	for _, slug := range []string{"pop-a", "pop-b"} {
		h := reg.Peek(slug)
		if h == nil {
			t.Fatalf("%s was closed for a portal asked for once", slug)
		}
		h.Release()
	}
	if h := reg.Peek("rare-c"); h != nil {
		h.Release()
		t.Fatal("the passing portal stayed open")
	}
	// A passing portal is open for this process alone; a kept one is not.
	// (Once the ordinary instance that signup opened has closed: while the
	// process has a file open the ordinary way, it is opened that way.)
	reg.WaitClosed()
	h, err := reg.Acquire(context.Background(), "rare-c")
	if err != nil {
		t.Fatal(err)
	}
	if !h.Portal.DB.Exclusive() {
		t.Error("a passing portal was opened the ordinary way")
	}
	h.Release()
	// Not for a request that brings a large body: an upload may take long.
	reg.WaitClosed()
	passing = reg.Passing.Load()
	if h, err = reg.Acquire(provisioner.OrdinaryOpen(context.Background()), "rare-c"); err != nil {
		t.Fatal(err)
	}
	if reg.Passing.Load() != passing+1 {
		t.Error("rare-c was let in; the check below proves nothing")
	}
	if h.Portal.DB.Exclusive() {
		t.Error("a passing portal was opened exclusively for a large request")
	}
	h.Release()
	if h := reg.Peek("pop-a"); h == nil || h.Portal.DB.Exclusive() {
		t.Error("a kept portal is missing or open exclusively")
	} else {
		h.Release()
	}
	for i := 0; i < 12; i++ {
		get("rare-c")
	}
	if h := reg.Peek("rare-c"); h == nil {
		t.Fatal("a portal that became popular is still kept out")
	} else {
		h.Release()
	}
	if reg.Open() > 2 {
		t.Fatalf("%d open, limit 2", reg.Open())
	}
}

// A rarely visited portal that a request queues mail on stays open until
// the mailer has sent it, instead of closing after the request and opening
// again for delivery.
func TestMailGoesOutOnTheRequestsOpen(t *testing.T) {
	e, _ := popularAndRare(t)
	reg := e.Svc.Registry()
	reg.WaitClosed()
	release := provisioner.HoldMail(e.Svc)
	defer release()
	cold, passing := reg.ColdOpens.Load(), reg.Passing.Load()
	r := e.API(t, "", "POST", "rare-c", "/register", map[string]string{"name": "Vera", "surname": "Lind", "email": "vera@client.test"})
	if r.Status != 202 {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	if reg.Passing.Load() != passing+1 {
		t.Fatal("rare-c was let in; the check below proves nothing")
	}
	h := reg.Peek("rare-c")
	if h == nil {
		t.Fatal("the portal closed with its mail still queued")
	}
	h.Release()
	release()
	e.Svc.Mailer().Stop()
	reg.WaitClosed()
	if n := reg.ColdOpens.Load() - cold; n != 1 {
		t.Errorf("the request and its mail opened rare-c %d times, want once", n)
	}
	if reg.Peek("rare-c") != nil {
		t.Error("rare-c stayed open after its mail went out")
	}
	files, _ := filepath.Glob(filepath.Join(e.Dir, "mail", "rare-c", "*.eml"))
	if len(files) == 0 {
		t.Error("the password mail was not sent")
	}
}
