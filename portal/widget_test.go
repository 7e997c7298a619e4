package portal_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"portaldesk/cmd/server/pdtest"
)

// TestWidget: the embeddable widget is off until the admin turns it on;
// its settings save whole or not at all; its calls answer only the sites
// the admin allows (with the header that lets their pages read them); its
// search finds published public articles only; a request makes a ticket
// of a new client (mailed a link to set a password) or of the client with
// that address (mailed the number); a refused request keeps nothing, not
// even the new client; the hidden field and a stamp nobody signed make
// nothing; staff addresses are refused; another portal knows nothing of it.
func TestWidget(t *testing.T) {
	w := newWorld(t)
	e := w.e
	shop := "https://shop.example"
	call := func(method, slug, path, origin string, body any) pdtest.Resp {
		t.Helper()
		var hdr []string
		if origin != "" {
			hdr = []string{"Origin", origin, "Sec-Fetch-Site", "cross-site", "Accept-Language", "ru"}
		}
		return pdtest.Do(t, nil, method, e.URL+"/"+slug+"/api/v1/widget"+path, body, hdr...)
	}

	// The script is served to any site; the calls answer nothing while it is off.
	js := pdtest.Do(t, nil, "GET", e.URL+"/alpha/widget.js", nil)
	if js.Status != 200 || !strings.Contains(js.Header.Get("Content-Type"), "javascript") || !strings.Contains(js.Body, "attachShadow") {
		t.Fatalf("widget.js: %d %q", js.Status, js.Header.Get("Content-Type"))
	}
	if r := call("GET", "alpha", "", shop, nil); r.Status != 404 {
		t.Errorf("the widget answers while off: %d", r.Status)
	}

	// Settings: a bad part changes nothing; the admin only.
	bad := map[string]any{"enabled": true, "sites": []string{shop, "not a site/with spaces"}, "colour": "red", "form": "nope", "label": "Помощь"}
	if r := w.api(t, w.admin, "PUT", "/widget/settings", bad); r.Status != 422 || !strings.Contains(r.Body, `"sites"`) || !strings.Contains(r.Body, `"colour"`) || !strings.Contains(r.Body, `"form"`) {
		t.Errorf("bad settings: %d %s", r.Status, r.Body)
	}
	if r := w.api(t, w.admin, "GET", "/widget/settings", nil).JSON(t); r["enabled"] != false || r["label"] != "" {
		t.Errorf("a refused change was kept: %v", r)
	}
	if r := w.api(t, w.op, "PUT", "/widget/settings", map[string]any{"enabled": true}); r.Status != 403 {
		t.Errorf("an operator changed the widget: %d", r.Status)
	}
	good := map[string]any{"enabled": true, "sites": []string{"HTTPS://Shop.Example/contacts", "*.romashka.test"}, "colour": "#AA3300", "label": "Помощь"}
	if r := w.api(t, w.admin, "PUT", "/widget/settings", good); r.Status != 200 || !strings.Contains(r.Body, `"https://shop.example"`) || !strings.Contains(r.Body, `"#aa3300"`) {
		t.Fatalf("settings: %d %s", r.Status, r.Body)
	}

	// Only the sites allowed; they get the header that lets them read.
	setup := call("GET", "alpha", "", shop, nil)
	if setup.Status != 200 || setup.Header.Get("Access-Control-Allow-Origin") != shop {
		t.Fatalf("setup from the shop: %d %q %s", setup.Status, setup.Header.Get("Access-Control-Allow-Origin"), setup.Body)
	}
	s := setup.JSON(t)
	if s["label"] != "Помощь" || s["lang"] != "ru" || s["texts"].(map[string]any)["Send"] != "Отправить" || s["shown"] == "" {
		t.Errorf("setup: %v", s)
	}
	if forms := s["forms"].([]any); len(forms) != 1 || !strings.Contains(setup.Body, `"subject"`) {
		t.Errorf("the widget's form: %s", setup.Body)
	}
	if r := call("GET", "alpha", "", "https://blog.romashka.test", nil); r.Status != 200 {
		t.Errorf("a subdomain allowed by *.: %d", r.Status)
	}
	for _, o := range []string{"https://evil.example", "http://shop.example", "https://romashka.test.evil.example"} {
		if r := call("GET", "alpha", "", o, nil); r.Status != 403 || r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s uses the widget: %d %q", o, r.Status, r.Header.Get("Access-Control-Allow-Origin"))
		}
	}

	// Search: published, public articles only.
	for _, a := range []map[string]any{
		{"title": "Paper jams", "body": "Open tray 2 and pull the paper.", "published": true},
		{"title": "Paper secrets", "body": "Draft about paper."},
		{"title": "Paper for members", "body": "Members' paper.", "published": true, "audience": "clients"},
	} {
		if r := w.api(t, w.op, "POST", "/kb/articles", a); r.Status != 201 {
			t.Fatalf("article: %d %s", r.Status, r.Body)
		}
	}
	found := call("GET", "alpha", "/search?q=paper", shop, nil)
	if found.Status != 200 || !strings.Contains(found.Body, "Paper jams") || strings.Contains(found.Body, "secrets") || strings.Contains(found.Body, "members") {
		t.Errorf("search: %d %s", found.Status, found.Body)
	}
	if !strings.Contains(found.Body, e.URL+"/alpha/help/paper-jams") {
		t.Errorf("an article's address: %s", found.Body)
	}

	users := func() string { return w.api(t, w.admin, "GET", "/users?role=client", nil).Body }
	before := len(ticketsOf(t, w))
	send := func(body map[string]any) pdtest.Resp {
		t.Helper()
		body["shown"] = s["shown"]
		return call("POST", "alpha", "/tickets", shop, body)
	}
	// Everything wrong at once: each field says so, and nothing is kept.
	r := send(map[string]any{"name": "", "email": "nina@", "fields": map[string]any{"subject": "", "description": "Help"}})
	if r.Status != 422 || !strings.Contains(r.Body, `"name"`) || !strings.Contains(r.Body, `"email"`) || !strings.Contains(r.Body, `"subject"`) {
		t.Errorf("a wrong request: %d %s", r.Status, r.Body)
	}
	r = send(map[string]any{"name": "Nina Petrova", "email": "nina@visitor.test", "fields": map[string]any{"subject": "", "description": "Help"}})
	if r.Status != 422 || !strings.Contains(r.Body, `"subject"`) || r.Header.Get("Access-Control-Allow-Origin") != shop {
		t.Errorf("a request without a subject: %d %s", r.Status, r.Body)
	}
	if strings.Contains(users(), "nina@visitor.test") || len(ticketsOf(t, w)) != before {
		t.Fatal("a refused request kept the new client or a ticket")
	}
	// The hidden field, or a stamp nobody signed: nothing made.
	if r := send(map[string]any{"name": "Bot", "email": "bot@visitor.test", "website": "http://spam", "fields": map[string]any{"subject": "Buy", "description": "Now"}}); r.Status != 201 {
		t.Errorf("the honeypot: %d %s", r.Status, r.Body)
	}
	if r := call("POST", "alpha", "/tickets", shop, map[string]any{"name": "Bot", "email": "bot@visitor.test", "shown": "x.y", "fields": map[string]any{"subject": "Buy", "description": "Now"}}); r.Status != 422 || !strings.Contains(r.Body, "too_fast") {
		t.Errorf("a forged stamp: %d %s", r.Status, r.Body)
	}
	if strings.Contains(users(), "bot@visitor.test") || len(ticketsOf(t, w)) != before {
		t.Fatal("a script's request made something")
	}
	// Staff addresses are not taken from the widget.
	if r := send(map[string]any{"name": "Oleg", "email": "op@alpha.test", "fields": map[string]any{"subject": "Hi", "description": "Hi"}}); r.Status != 422 || !strings.Contains(r.Body, `"email"`) {
		t.Errorf("a staff address: %d %s", r.Status, r.Body)
	}

	// A new visitor: a ticket of a new client, who is mailed a link.
	r = send(map[string]any{"name": "Nina Petrova", "email": "nina@visitor.test", "fields": map[string]any{"subject": "Where is my order?", "description": "Order 1234 is late."}})
	if r.Status != 201 {
		t.Fatalf("a new visitor's request: %d %s", r.Status, r.Body)
	}
	n := int64(r.JSON(t)["number"].(float64))
	tk := w.api(t, w.admin, "GET", "/tickets/"+strconv.FormatInt(n, 10), nil).JSON(t)
	if tk["source"] != "widget" || tk["client"].(map[string]any)["name"] != "Nina Petrova" {
		t.Errorf("the widget's ticket: %v", tk)
	}
	eventually(t, "Nina's mail with a link", func() bool {
		for _, m := range e.Mails(t, "alpha") {
			if strings.Contains(m, "nina@visitor.test") && regexp.MustCompile(`reset\?token=`).MatchString(m) {
				return true
			}
		}
		return false
	})
	// A client's own address: the ticket is theirs, and they are told.
	r = send(map[string]any{"name": "Carol", "email": "ca@alpha.test", "fields": map[string]any{"subject": "Toner from the site", "description": "Two boxes."}})
	if r.Status != 201 {
		t.Fatalf("a client's request: %d %s", r.Status, r.Body)
	}
	if list := w.api(t, w.ca, "GET", "/tickets", nil).Body; !strings.Contains(list, "Toner from the site") {
		t.Errorf("Carol's list lacks the widget's ticket")
	}
	eventually(t, "Carol's mail with the number", func() bool {
		for _, m := range e.Mails(t, "alpha") {
			if strings.Contains(m, "ca@alpha.test") && strings.Contains(m, "Toner from the site") && strings.Contains(m, "Auto-Submitted") {
				return true
			}
		}
		return false
	})

	// Another portal's widget is its own, and off.
	if r := call("GET", "beta", "", shop, nil); r.Status != 404 {
		t.Errorf("beta's widget: %d", r.Status)
	}
	if r := call("GET", "beta", "/search?q=paper", shop, nil); r.Status != 404 {
		t.Errorf("beta's search: %d %s", r.Status, r.Body)
	}
}
