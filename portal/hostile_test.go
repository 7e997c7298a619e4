package portal_test

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/html"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
	"portaldesk/provisioner"
)

// hostile is what an attacker types into every field: markup that would
// run, an attribute break-out, template actions, a right-to-left override
// that turns a name around, and bytes that are not UTF-8. short fits the
// fields limited to 60 characters.
const (
	hostile = `<script>alert(1)</script>"><img src=x onerror=alert(2)>{{.Name}}` + "\u202egpj.exe\xff\xfe"
	short   = `<script>x</script>"><b onmouseover=y>{{.X}}` + "\u202e\xff"
)

// russianLeaks are English that once showed on Russian pages; none may
// come back.
var russianLeaks = []string{"(s)", "Кто operator", "Кто client", "Кто period", "Кто work", "<td>operator</td>", "<td>client</td>", "<td>admin</td>",
	"Amount, ", "At most ", "by ops", "daily charge", "Tickets created, resolved and open", "<td>tariff", "<td>payment", "<td>charge", " min<", " hour<", " hour)", " piece"}

// unescaped are the hostile strings as a browser would run them.
var unescaped = []string{"<script>alert(1)", "<img src=x", "<script>x<", "<b onmouseover", "\u202e"}

// TestHostileStringsAreEscapedOnEveryPage puts hostile strings into every
// field a person can set — company, names, questionnaire, statuses, price
// list, ticket, answers, messages, notes, file names, work, rating, token,
// mail template, sender — and renders every page of the portal (each GET
// route, for admin, operator and client, in English and Russian, and the
// forms that come back with errors) and of the ops console. No page may
// carry any of them unescaped, every page is valid UTF-8, and the template
// actions typed into a subject are shown, never run.
func TestHostileStringsAreEscapedOnEveryPage(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{})
	ctx := context.Background()
	res, err := e.Svc.Provision(ctx, provisioner.SignupInput{Company: hostile, Slug: "evil", AdminName: hostile, AdminEmail: "admin@evil.test", AdminPassword: pdtest.Password})
	if err != nil {
		t.Fatal(err)
	}
	res.Handle.Release()
	e.SetPlan(t, "evil", "business", 5, 0, 0)
	admin := e.Login(t, "evil", "admin@evil.test")
	api := func(tok, method, path string, body any, want int) pdtest.Resp {
		t.Helper()
		r := e.API(t, tok, method, "evil", path, body)
		if r.Status != want {
			t.Fatalf("%s %s: %d %s", method, path, r.Status, r.Body)
		}
		return r
	}
	api(admin, "POST", "/users", map[string]string{"name": hostile, "surname": hostile, "email": "invited@evil.test", "role": "client"}, 201)
	api("", "POST", "/register", map[string]string{"name": hostile, "surname": hostile, "email": "registered@evil.test"}, 202)
	// The people the test signs in as (their mailed passwords are random)
	// name themselves in their profiles.
	e.AddUser(t, "evil", "op@evil.test", "Op", portal.RoleOperator)
	e.AddUser(t, "evil", "client@evil.test", "Client", portal.RoleClient)
	op, client := e.Login(t, "evil", "op@evil.test"), e.Login(t, "evil", "client@evil.test")
	for _, tok := range []string{op, client} {
		api(tok, "PUT", "/profile", map[string]any{"name": hostile, "surname": hostile}, 200)
	}

	api(admin, "PUT", "/settings", map[string]any{"preamble": hostile}, 200)
	api(admin, "PUT", "/form", map[string]any{"fields": []map[string]any{
		{"id": 1}, {"id": 2},
		{"label": hostile, "help": hostile, "type": "text"},
		{"label": hostile, "type": "select", "options": []string{hostile, "plain"}},
	}}, 200)
	closed := api(admin, "POST", "/statuses", map[string]any{"name": short, "color": "#aa00aa", "closed": true}, 201).JSON(t)["id"]
	api(admin, "POST", "/work-types", map[string]any{"name": hostile, "unit": "hour", "price": 100_00}, 201)
	form := api(admin, "GET", "/form", nil, 200).JSON(t)["fields"].([]any)
	fields := map[string]any{"subject": hostile, "description": hostile}
	for _, f := range form[2:] {
		fields[f.(map[string]any)["name"].(string)] = hostile
	}
	n := int64(api(client, "POST", "/tickets", map[string]any{"fields": fields}, 201).JSON(t)["number"].(float64))
	tp := fmt.Sprintf("/tickets/%d", n)
	api(client, "POST", tp+"/messages", map[string]any{"body": hostile}, 201)
	api(op, "POST", tp+"/messages", map[string]any{"body": hostile}, 201)
	api(op, "POST", tp+"/messages", map[string]any{"body": hostile, "internal": true}, 201)
	api(client, "POST", tp+"/attachments", pdtest.Multipart{Files: map[string][]pdtest.File{"file": {{Name: hostile + ".txt", Data: []byte("x")}}}}, 201)
	api(op, "POST", tp+"/work", map[string]any{"work_type": 1, "quantity": "1", "comment": hostile, "visible": true}, 201)
	api(op, "PATCH", tp, map[string]any{"status": fmt.Sprint(closed), "assignee": "me"}, 200)
	api(client, "POST", tp+"/rating", map[string]any{"score": 5, "comment": hostile}, 200)
	api(admin, "POST", "/tokens", map[string]any{"name": hostile[:70]}, 201)
	api(admin, "PUT", "/mail/templates/status/en", map[string]string{"subject": hostile, "body": hostile}, 200)
	api(admin, "PUT", "/mail/smtp", map[string]any{"host": "smtp.evil.test", "port": 587, "security": "starttls", "from": "help@evil.test", "from_name": hostile}, 200)
	inv := api(admin, "POST", "/subscription/topup", map[string]any{"amount": 1000_00, "payer": hostile}, 201).JSON(t)["invoice"].(string)

	check := func(what string, r pdtest.Resp) {
		t.Helper()
		checkPolicy(t, what, r)
		if !utf8.ValidString(r.Body) {
			t.Errorf("%s: the page is not valid UTF-8", what)
		}
		for _, bad := range unescaped {
			if i := strings.Index(r.Body, bad); i >= 0 {
				t.Errorf("%s: %q unescaped: …%s…", what, bad, r.Body[max(0, i-80):min(len(r.Body), i+80)])
			}
		}
	}
	vars := strings.NewReplacer("{n:[0-9]+}", fmt.Sprint(n), "{number}", inv, "{kind}", "status", "{lang}", "en")
	people := map[string]string{"admin": "admin@evil.test", "operator": "op@evil.test", "client": "client@evil.test"}
	pages := 0
	for who, email := range people {
		browser := e.SignIn(t, "evil", email)
		for _, rt := range e.App.Portals.Routes() {
			if rt.Method != "GET" || strings.HasPrefix(rt.Path, "/api/") || strings.Contains(rt.Path, "{id") ||
				strings.Contains(rt.Path, "{ext") || strings.HasSuffix(rt.Path, "/events") || rt.Path == "/logo" {
				continue // the API, files, live streams: not pages
			}
			for _, q := range []string{"", "?lang=ru", "?all=1&q=" + url.QueryEscape(hostile)} {
				u := e.URL + "/evil" + vars.Replace(rt.Path) + q
				r := pdtest.Do(t, browser, "GET", u, nil)
				if r.Status >= 500 {
					t.Errorf("%s %s: %d", who, u, r.Status)
				}
				if strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
					pages++
					check(who+" "+rt.Path+q, r)
					if q == "?lang=ru" {
						for _, leak := range russianLeaks {
							if strings.Contains(r.Body, leak) {
								t.Errorf("%s %s in Russian shows %q", who, rt.Path, leak)
							}
						}
					}
				}
			}
		}
		page := pdtest.Do(t, browser, "GET", e.URL+"/evil"+tp, nil).Body
		if !strings.Contains(page, "{{.Name}}") {
			t.Errorf("%s: the template action typed into the subject is not shown as typed", who)
		}
	}
	if pages < 60 {
		t.Fatalf("only %d pages rendered: is the walk right?", pages)
	}
	// Forms that come back with errors show what was typed, escaped.
	anon := pdtest.Browser()
	check("register with errors", pdtest.Do(t, anon, "POST", e.URL+"/evil/register", url.Values{"name": {hostile}, "surname": {hostile}, "email": {hostile}}))
	check("sign-in with errors", pdtest.Do(t, anon, "POST", e.URL+"/evil/login", url.Values{"email": {hostile}, "password": {"x"}}))
	ab := e.SignIn(t, "evil", "admin@evil.test")
	check("invite with errors", pdtest.Do(t, ab, "POST", e.URL+"/evil/people", url.Values{"name": {hostile}, "email": {hostile}, "role": {"client"}}))
	check("new ticket with errors", pdtest.Do(t, ab, "POST", e.URL+"/evil/tickets", url.Values{"subject": {hostile}}))
	check("field with errors", pdtest.Do(t, ab, "POST", e.URL+"/evil/admin/form/fields", url.Values{"label": {hostile}, "type": {hostile}}))
	check("reply with errors", pdtest.Do(t, ab, "POST", e.URL+"/evil"+tp+"/messages", url.Values{"body": {""}, "x": {hostile}}))

	// The ops console shows the company and the payer.
	ob := pdtest.Browser()
	e.OpsSignIn(t, ob, e.AddOpsUser(t, "ops@vendor.test", pdtest.Password))
	for _, p := range []string{"/ops", "/ops/portals/evil", "/ops?q=" + url.QueryEscape(hostile)} {
		r := pdtest.Do(t, ob, "GET", e.URL+p, nil)
		if r.Status != 200 || !regexp.MustCompile(`evil`).MatchString(r.Body) {
			t.Fatalf("%s: %d", p, r.Status)
		}
		check(p, r)
	}
	// The service's own pages.
	for _, p := range []string{"/", "/signup", "/ops/login", "/no-such-page"} {
		checkPolicy(t, p, pdtest.Do(t, nil, "GET", e.URL+p, nil))
	}
}

// checkPolicy checks that a page's Content-Security-Policy has a nonce of
// its own and lets no inline script or style run, and that the page needs
// none: every script and style element carries the nonce, and no element
// has an event handler or a style attribute (read by an HTML parser, so
// hostile text shown in a value is not taken for markup).
func checkPolicy(t *testing.T, what string, r pdtest.Resp) {
	t.Helper()
	if r.Status >= 300 && r.Status < 400 {
		return // a redirect's few words, never shown
	}
	csp := r.Header.Get("Content-Security-Policy")
	m := regexp.MustCompile(`script-src 'nonce-([A-Za-z0-9+/]{22})'`).FindStringSubmatch(csp)
	if m == nil || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "style-src 'self' 'nonce-"+m[1]+"'") ||
		!strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "object-src 'none'") {
		t.Errorf("%s: %d, policy %q", what, r.Status, csp)
		return
	}
	z := html.NewTokenizer(strings.NewReader(r.Body))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		nonce := ""
		for _, a := range tok.Attr {
			switch {
			case a.Key == "nonce":
				nonce = a.Val
			case a.Key == "style", strings.HasPrefix(a.Key, "on"):
				t.Errorf("%s: <%s %s=%q>", what, tok.Data, a.Key, a.Val)
			}
		}
		if (tok.Data == "script" || tok.Data == "style") && nonce != m[1] {
			t.Errorf("%s: a <%s> without the page's nonce", what, tok.Data)
		}
		if tok.Data == "input" {
			name, value := "", ""
			for _, a := range tok.Attr {
				switch a.Key {
				case "name":
					name = a.Val
				case "value":
					value = a.Val
				}
			}
			if name == "_csrf" && value == "" {
				t.Errorf("%s: a form without its token", what)
			}
		}
	}
}

// TestFlashIsSigned: the green confirmation banner shows only what the
// portal itself put in the link; a crafted link shows nothing.
func TestFlashIsSigned(t *testing.T) {
	w := newWorld(t)
	c := w.e.SignIn(t, "alpha", "admin@alpha.test")
	if p := pdtest.Do(t, c, "GET", w.e.URL+"/alpha/tickets?done=Your+account+is+blocked.+Call+%2B7+900+000-00-00", nil).Body; strings.Contains(p, "Your account is blocked") {
		t.Fatal("an unsigned flash message is shown")
	}
	r := pdtest.Do(t, c, "POST", w.e.URL+"/alpha/people", url.Values{"name": {"Ira"}, "email": {"ira@alpha.test"}, "role": {"client"}})
	loc := r.Header.Get("Location")
	if r.Status != 303 || !strings.Contains(loc, "ds=") {
		t.Fatalf("invite: %d %s", r.Status, loc)
	}
	if p := pdtest.Do(t, c, "GET", w.e.URL+loc, nil).Body; !strings.Contains(p, `class="banner ok"`) {
		t.Error("the portal's own flash message is not shown")
	}
	if p := pdtest.Do(t, c, "GET", w.e.URL+strings.Replace(loc, "done=", "done=X", 1), nil).Body; strings.Contains(p, `class="banner ok"`) {
		t.Error("an altered flash message is shown")
	}
}
