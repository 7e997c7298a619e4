package portal_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
	"portaldesk/portal/twofactor"
	"portaldesk/provisioner"
)

// TestTwoStepSignIn: an operator sets up two-step sign-in from the
// profile (a QR code and the key; a wrong first code is refused and the
// same key offered again); their other sessions end; signing in then
// takes the password and a code; a code is never taken twice; a recovery
// code works once; the API asks for the code; wrong codes are throttled
// like passwords. A portal that requires it sends staff without it to
// their profile, and their tokens get 403; clients are not asked.
func TestTwoStepSignIn(t *testing.T) {
	clk := &clock{t: time.Now()}
	e := pdtest.New(t, provisioner.Config{})
	e.Svc.SetClock(clk.Now)
	e.Create(t, "alpha")
	e.SetPlan(t, "alpha", "business", 5, 0, 0)
	e.AddUser(t, "alpha", "op@alpha.test", "Oleg", portal.RoleOperator)
	e.AddUser(t, "alpha", "op2@alpha.test", "Olga", portal.RoleOperator)
	e.AddUser(t, "alpha", "ca@alpha.test", "Carol", portal.RoleClient)
	base := e.URL + "/alpha"
	signedIn := func(c *http.Client) bool { return pdtest.Do(t, c, "GET", base+"/tickets", nil).Status == 200 }

	other := e.SignIn(t, "alpha", "op@alpha.test")
	c := e.SignIn(t, "alpha", "op@alpha.test")
	page := pdtest.Do(t, c, "POST", base+"/profile/two-factor/start", nil).Body
	key := regexp.MustCompile(`<code>([A-Z2-7]{16,})</code>`).FindStringSubmatch(page)
	pending := regexp.MustCompile(`name="pending" value="([^"]+)"`).FindStringSubmatch(page)
	if key == nil || pending == nil || !strings.Contains(page, "<svg") {
		t.Fatalf("the set-up shows no key, QR code or form")
	}
	secret, sealed := key[1], html.UnescapeString(pending[1])
	r := pdtest.Do(t, c, "POST", base+"/profile/two-factor/enable", url.Values{"pending": {sealed}, "code": {"000000"}})
	if r.Status != 422 || !strings.Contains(r.Body, "<code>"+secret+"</code>") {
		t.Fatalf("a wrong first code: %d", r.Status)
	}
	r = pdtest.Do(t, c, "POST", base+"/profile/two-factor/enable", url.Values{"pending": {sealed}, "code": {twofactor.Code(secret, clk.Now())}})
	codes := regexp.MustCompile(`\b[a-z2-7]{5}-[a-z2-7]{5}\b`).FindAllString(r.Body, -1)
	if r.Status != 200 || len(codes) != portal.RecoveryCodeCount {
		t.Fatalf("enable: %d, %d recovery codes", r.Status, len(codes))
	}
	if !signedIn(c) || signedIn(other) {
		t.Fatal("turning it on did not keep this browser alone")
	}

	// Signing in: the password leads to the code, not into the portal.
	password := func() *http.Client {
		b := pdtest.Browser()
		r := pdtest.Do(t, b, "POST", base+"/login", url.Values{"email": {"op@alpha.test"}, "password": {pdtest.Password}})
		if r.Status != 200 || !strings.Contains(r.Body, "Two-step sign-in") || signedIn(b) {
			t.Fatalf("after the password: %d", r.Status)
		}
		return b
	}
	code := func(b *http.Client, code string) int {
		return pdtest.Do(t, b, "POST", base+"/login/code", url.Values{"code": {code}}).Status
	}
	b1 := password()
	if s := code(b1, twofactor.Code(secret, clk.Now())); s != 422 { // the enrolment took this step
		t.Fatalf("the code used to turn it on, again: %d", s)
	}
	clk.Add(30 * time.Second)
	now := twofactor.Code(secret, clk.Now())
	if s := code(b1, now); s != http.StatusSeeOther || !signedIn(b1) {
		t.Fatalf("a fresh code: %d", s)
	}
	if s := code(password(), now); s != 422 {
		t.Fatalf("the same code in another browser: %d", s)
	}
	b3 := password()
	if s := code(b3, strings.ToUpper(codes[0])); s != http.StatusSeeOther || !signedIn(b3) {
		t.Fatalf("a recovery code: %d", s)
	}
	if s := code(password(), codes[0]); s != 422 {
		t.Fatalf("a recovery code used twice: %d", s)
	}
	// The second step cannot be skipped, or done with no password.
	if s := code(pdtest.Browser(), twofactor.Code(secret, clk.Now().Add(30*time.Second))); s != http.StatusSeeOther {
		t.Fatalf("a code with no password first: %d", s)
	}

	// The API.
	login := func(code string) pdtest.Resp {
		return pdtest.Do(t, nil, "POST", base+"/api/v1/login", map[string]string{"email": "op@alpha.test", "password": pdtest.Password, "code": code})
	}
	if r := login(""); r.Status != 401 || r.JSON(t)["error"].(map[string]any)["code"] != "code_required" {
		t.Fatalf("API without the code: %d %s", r.Status, r.Body)
	}
	clk.Add(30 * time.Second)
	if r := login(twofactor.Code(secret, clk.Now())); r.Status != 200 {
		t.Fatalf("API with the code: %d %s", r.Status, r.Body)
	}
	// Wrong codes: a few, then the account waits.
	got429 := false
	for range 8 {
		got429 = got429 || login("123456").Status == 429
	}
	if !got429 {
		t.Fatal("eight wrong codes and no wait")
	}

	// The portal requires it of staff.
	admin := e.Login(t, "alpha", "admin@alpha.test")
	if r := e.API(t, admin, "PUT", "alpha", "/settings", map[string]any{"require_two_factor": true}); r.Status != 200 {
		t.Fatal(r.Status)
	}
	olga := e.SignIn(t, "alpha", "op2@alpha.test")
	if r := pdtest.Do(t, olga, "GET", base+"/tickets", nil); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/alpha/profile") {
		t.Fatalf("staff without it: %d %s", r.Status, r.Header.Get("Location"))
	}
	if r := pdtest.Do(t, olga, "GET", base+"/profile", nil); r.Status != 200 || !strings.Contains(r.Body, "requires it of its staff") {
		t.Fatalf("their profile: %d", r.Status)
	}
	if r := e.API(t, e.Login(t, "alpha", "op2@alpha.test"), "GET", "alpha", "/tickets", nil); r.Status != 403 || !strings.Contains(r.Body, "two_factor_required") {
		t.Fatalf("their token: %d", r.Status)
	}
	if !signedIn(e.SignIn(t, "alpha", "ca@alpha.test")) {
		t.Fatal("a client was asked for two-step sign-in")
	}
	// Turning it off takes the password.
	clk.Add(20 * time.Minute) // the wait after the wrong codes is over
	if r := pdtest.Do(t, b1, "POST", base+"/profile/two-factor/disable", url.Values{"password": {"wrong-password-9"}}); r.Status != 422 {
		t.Fatalf("off with a wrong password: %d", r.Status)
	}
	e.Portal(t, "alpha", func(p *portal.Portal) {
		u, _ := p.UserByEmail(context.Background(), "op@alpha.test")
		if !u.TwoFactor || p.RecoveryCodesLeft(context.Background(), u) != portal.RecoveryCodeCount-1 {
			t.Fatal("the account's two-step state is wrong")
		}
	})
}

// BenchmarkSecondFactor is what the second step of a sign-in adds beyond
// the password: reading the sealed secret, checking the code over three
// time steps, and claiming the step in the database.
func BenchmarkSecondFactor(b *testing.B) {
	clk := &clock{t: time.Now()}
	e := pdtest.New(b, provisioner.Config{})
	e.Svc.SetClock(clk.Now)
	e.Create(b, "alpha")
	e.Portal(b, "alpha", func(p *portal.Portal) {
		ctx := context.Background()
		u, _ := p.UserByEmail(ctx, "admin@alpha.test")
		setup, err := p.StartTwoFactor(ctx, u)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.EnableTwoFactor(ctx, u, setup.Pending, twofactor.Code(setup.Secret, clk.Now()), ""); err != nil {
			b.Fatal(err)
		}
		u, _ = p.UserByEmail(ctx, "admin@alpha.test")
		codes := make([]string, b.N)
		for i := range codes {
			codes[i] = twofactor.Code(setup.Secret, clk.Now().Add(time.Duration(i+1)*30*time.Second))
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			clk.Add(30 * time.Second)
			if err := p.SecondFactor(ctx, u, codes[i]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
