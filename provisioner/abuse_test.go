package provisioner_test

import (
	"fmt"
	"io"
	"mime/quotedprintable"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/provisioner"
)

// TestWebSignupsAreGuarded: the signup form refuses a post quicker than
// a person types and one whose hidden field is filled; one address gets
// a few signups, then 429; nothing refused leaves a portal behind. A
// portal signed up on the web mails no one but its admin until the
// admin follows the link mailed to them; then the held mail goes.
func TestWebSignupsAreGuarded(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{SignupBurst: 2, FormMinFill: 300 * time.Millisecond})
	exists := func(slug string) bool { _, err := e.Svc.Catalog().PortalBySlug(t.Context(), slug); return err == nil }
	form := func(slug string) url.Values {
		return url.Values{"company": {"Acme"}, "slug": {slug}, "admin_name": {"Ann"}, "admin_email": {"ann@" + slug + ".test"}, "admin_password": {"amber-lantern-57"}}
	}
	c := pdtest.Browser()
	if r := pdtest.Do(t, c, "POST", e.URL+"/signup", form("quick")); r.Status != 422 || !strings.Contains(r.Body, "quicker than anyone types") || exists("quick") {
		t.Fatalf("a form sent at once: %d", r.Status)
	}
	time.Sleep(350 * time.Millisecond)
	bot := form("bot")
	bot.Set("website", "http://spam.test")
	if r := pdtest.Do(t, c, "POST", e.URL+"/signup", bot); r.Status != 422 || exists("bot") {
		t.Fatalf("the hidden field filled: %d", r.Status)
	}
	r := pdtest.Do(t, c, "GET", e.URL+"/", nil)
	shown := regexp.MustCompile(`name="_shown" value="([^"]+)"`).FindStringSubmatch(r.Body)
	time.Sleep(350 * time.Millisecond)
	ok := form("acme")
	ok.Set("_shown", shown[1])
	if r := pdtest.Do(t, c, "POST", e.URL+"/signup", ok); r.Status != 303 || !exists("acme") {
		t.Fatalf("a person's signup: %d %s", r.Status, r.Body)
	}
	api := func(slug string) pdtest.Resp {
		m := map[string]string{}
		for k, v := range form(slug) {
			m[k] = v[0]
		}
		return pdtest.Do(t, nil, "POST", e.URL+"/api/v1/portals", m)
	}
	if r := api("second"); r.Status != 201 {
		t.Fatalf("the second signup from the address: %d %s", r.Status, r.Body)
	}
	if r := api("third"); r.Status != 429 || r.Header.Get("Retry-After") == "" || exists("third") {
		t.Fatalf("the third signup from the address: %d %s", r.Status, r.Body)
	}

	// acme's admin invites a client: the invitation waits.
	if r := pdtest.Do(t, c, "POST", e.URL+"/acme/people", url.Values{"name": {"Carl"}, "email": {"carl@client.test"}, "role": {"client"}}); r.Status != 303 {
		t.Fatalf("invite: %d %s", r.Status, r.Body)
	}
	mails := e.Mails(t, "acme")
	if len(mails) != 1 || !strings.Contains(mails[0], "ann@acme.test") || strings.Contains(strings.Join(mails, ""), "carl@client.test") {
		t.Fatalf("before the confirmation %d mails went: %v", len(mails), mails)
	}
	if r := pdtest.Do(t, c, "GET", e.URL+"/acme/admin/mail", nil); !strings.Contains(r.Body, "waits until you confirm your address") {
		t.Fatal("the outbox does not say the invitation waits")
	}
	if r := pdtest.Do(t, c, "GET", e.URL+"/acme/tickets", nil); !strings.Contains(r.Body, "Confirm your address") {
		t.Fatal("no banner asks the admin to confirm")
	}
	if r := pdtest.Do(t, c, "GET", e.URL+"/acme/confirm?token=forged", nil); r.Status != 422 {
		t.Fatalf("a forged link: %d", r.Status)
	}
	text, _ := io.ReadAll(quotedprintable.NewReader(strings.NewReader(mails[0])))
	link := regexp.MustCompile(`http://\S+/acme/confirm\?token=[\w-]+`).FindString(string(text))
	if link == "" {
		t.Fatalf("no link in %s", mails[0])
	}
	for i := 0; i < 2; i++ { // followed twice: both fine
		if r := pdtest.Do(t, c, "GET", link, nil); r.Status != 303 {
			t.Fatalf("the link, time %d: %d", i+1, r.Status)
		}
	}
	if all := strings.Join(e.Mails(t, "acme"), ""); !strings.Contains(all, "carl@client.test") {
		t.Fatal("the held invitation did not go after the confirmation")
	}
	// A portal made by ops from the shell is confirmed from the start.
	e.Create(t, "shell")
	if r := e.API(t, e.Login(t, "shell", "admin@shell.test"), "POST", "shell", "/users", map[string]string{"name": "D", "email": "d@client.test", "role": "client"}); r.Status != 201 {
		t.Fatal(r.Status)
	}
	if !strings.Contains(strings.Join(e.Mails(t, "shell"), ""), "d@client.test") {
		t.Fatal("a shell-made portal's mail was held")
	}
}

// TestRegistrationsAreGuarded: the registration form refuses a post
// quicker than a person types, pretends to take one whose hidden field
// is filled (and does nothing), and the API limits registrations per
// address they mail and per address they come from.
func TestRegistrationsAreGuarded(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{FormMinFill: 300 * time.Millisecond})
	e.Create(t, "acme")
	admin := e.Login(t, "acme", "admin@acme.test")
	people := func() int {
		return len(e.API(t, admin, "GET", "acme", "/users?role=client", nil).JSON(t)["users"].([]any))
	}
	c := pdtest.Browser()
	reg := url.Values{"name": {"Bo"}, "surname": {"T"}, "email": {"bo@client.test"}}
	if r := pdtest.Do(t, c, "POST", e.URL+"/acme/register", reg); r.Status != 422 || people() != 0 {
		t.Fatalf("a form sent at once: %d", r.Status)
	}
	time.Sleep(350 * time.Millisecond)
	reg.Set("website", "x")
	if r := pdtest.Do(t, c, "POST", e.URL+"/acme/register", reg); r.Status != 200 || !strings.Contains(r.Body, "Check your mail") || people() != 0 {
		t.Fatalf("the hidden field filled: %d, %d people", r.Status, people())
	}
	// One address mailed over and over: five, then it waits.
	for i := 0; i < 6; i++ {
		r := e.API(t, "", "POST", "acme", "/register", map[string]string{"name": "Vic", "surname": "T", "email": "vic@client.test"})
		if want := map[bool]int{true: 202, false: 429}[i < 5]; r.Status != want {
			t.Fatalf("registration %d of one address: %d, want %d", i+1, r.Status, want)
		}
	}
	// Many addresses from one: twenty, then it waits.
	for i := 0; i < 20; i++ {
		if r := e.API(t, "", "POST", "acme", "/register", map[string]string{"name": "P", "surname": "T", "email": fmt.Sprintf("p%d@client.test", i)}); r.Status != 202 {
			if i < 14 { // 6 made above
				t.Fatalf("registration %d: %d", i+1, r.Status)
			}
			if r.Status != 429 {
				t.Fatalf("registration %d: %d", i+1, r.Status)
			}
			return
		}
	}
	t.Fatal("twenty-six registrations from one address, none refused")
}

// TestCookiesAreSecureBehindATrustedProxy: behind a proxy named in the
// configuration, a request it forwarded over https gets Secure cookies and
// is known by the client's address; the same headers from anyone else
// are ignored.
func TestCookiesAreSecureBehindATrustedProxy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		proxies string
		secure  bool
		ip      string
	}{{"trusted", "127.0.0.1", true, "203.0.113.7"}, {"not trusted", "10.0.0.0/8", false, "127.0.0.1"}} {
		t.Run(tc.name, func(t *testing.T) {
			prefixes, err := provisioner.ParsePrefixes(tc.proxies)
			if err != nil {
				t.Fatal(err)
			}
			e := pdtest.New(t, provisioner.Config{TrustedProxies: prefixes})
			e.Create(t, "acme")
			r := pdtest.Do(t, pdtest.Browser(), "POST", e.URL+"/acme/login", url.Values{"email": {"admin@acme.test"}, "password": {pdtest.Password}},
				"X-Forwarded-Proto", "https", "X-Forwarded-For", "203.0.113.7")
			cookies := strings.Join(r.Header.Values("Set-Cookie"), "\n")
			if r.Status != 303 || !strings.Contains(cookies, "pd_session=") || strings.Contains(cookies, "Secure") != tc.secure {
				t.Fatalf("%d, cookies %s", r.Status, cookies)
			}
			log := e.API(t, e.Login(t, "acme", "admin@acme.test"), "GET", "acme", "/audit?action=sign_in", nil).Body
			if !strings.Contains(log, `"ip":"`+tc.ip+`"`) {
				t.Fatalf("the sign-in is known by %s", log)
			}
		})
	}
}

// TestSignupAPISpeaksTheCallersLanguage: the service's own API answers in
// the language of Accept-Language, as every portal's does.
func TestSignupAPISpeaksTheCallersLanguage(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{})
	r := pdtest.Do(t, nil, "POST", e.URL+"/api/v1/portals", map[string]string{"company": "", "slug": "x", "admin_name": "A", "admin_email": "a@b.test", "admin_password": "amber-lantern-57"}, "Accept-Language", "ru-RU,ru;q=0.9")
	if r.Status != 422 || !strings.Contains(r.Body, "Введите название") {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
}
