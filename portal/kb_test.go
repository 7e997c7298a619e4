package portal_test

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"portaldesk/cmd/server/pdtest"
)

// TestKnowledgeBase: articles in Markdown are served sanitised; a draft
// or a clients-only article is never public — page, index, search or the
// API without a token; reserved addresses are refused; readers rate
// articles; a suggestion opened while writing a ticket counts as answered
// once, unless a ticket follows; a reply becomes a draft article; the
// whole help can be closed to all but signed-in clients.
func TestKnowledgeBase(t *testing.T) {
	w := newWorld(t)
	e := w.e
	anon := func(path string) pdtest.Resp { return pdtest.Do(t, nil, "GET", e.URL+"/alpha"+path, nil) }
	cat := w.api(t, w.op, "POST", "/kb/categories", map[string]any{"name": "Printers"}).JSON(t)["id"]
	mk := func(body map[string]any) map[string]any {
		t.Helper()
		r := w.api(t, w.op, "POST", "/kb/articles", body)
		if r.Status != 201 {
			t.Fatalf("article %v: %d %s", body["title"], r.Status, r.Body)
		}
		return r.JSON(t)
	}
	pub := mk(map[string]any{"title": "Paper jams", "category": cat, "published": true,
		"body": "# Clear a jam\n\nOpen **tray 2**.<script>alert(1)</script> [bad](javascript:alert(1)) [manual](https://example.com/m)"})
	draft := mk(map[string]any{"title": "Toner secrets", "body": "Unreleased toner trick.", "category": cat})
	club := mk(map[string]any{"title": "Club toner prices", "body": "Members pay less for toner.", "published": true, "audience": "clients"})
	if pub["slug"] != "paper-jams" || pub["id"] == nil {
		t.Errorf("the article's address: %v", pub["slug"])
	}
	if r := w.api(t, w.op, "POST", "/kb/articles", map[string]any{"title": "Api", "slug": "api"}); r.Status != 422 || !strings.Contains(r.Body, `"slug"`) {
		t.Errorf("a reserved address: %d %s", r.Status, r.Body)
	}
	if r := w.api(t, w.ca, "POST", "/kb/articles", map[string]any{"title": "Mine"}); r.Status != 403 {
		t.Errorf("a client wrote an article: %d", r.Status)
	}
	page := anon("/help/paper-jams")
	if page.Status != 200 || !strings.Contains(page.Body, "<strong>tray 2</strong>") || strings.Contains(page.Body, "<script>alert") || strings.Contains(page.Body, "javascript:") ||
		!strings.Contains(page.Body, `href="https://example.com/m"`) {
		t.Errorf("the public article: %d\n%s", page.Status, page.Body)
	}
	for _, path := range []string{"/help/" + draft["slug"].(string), "/help/" + club["slug"].(string)} {
		if r := anon(path); r.Status != 404 {
			t.Errorf("anonymous %s: %d", path, r.Status)
		}
	}
	idx := anon("/help").Body
	if !strings.Contains(idx, "Paper jams") || strings.Contains(idx, "Toner secrets") || strings.Contains(idx, "Club toner") {
		t.Error("the public index lists a draft or a clients-only article")
	}
	if s := anon("/help/search?q=toner").Body; strings.Contains(s, "Toner secrets") || strings.Contains(s, "Club toner") {
		t.Error("the public search finds a draft or a clients-only article")
	}
	if s := pdtest.Do(t, nil, "GET", e.URL+"/alpha/api/v1/kb/search?q=toner", nil).Body; strings.Contains(s, "Toner") || strings.Contains(s, "Club") {
		t.Errorf("the API without a token finds %s", s)
	}
	if s := w.api(t, w.ca, "GET", "/kb/search?q=toner", nil).Body; !strings.Contains(s, "Club toner") || strings.Contains(s, "Toner secrets") {
		t.Errorf("a client's search: %s", s)
	}
	if s := w.api(t, w.op, "GET", "/kb/search?q=toner", nil).Body; !strings.Contains(s, "Toner secrets") {
		t.Errorf("staff do not find the draft: %s", s)
	}
	carol := e.SignIn(t, "alpha", "ca@alpha.test")
	if r := pdtest.Do(t, carol, "GET", e.URL+"/alpha/help/"+club["slug"].(string), nil); r.Status != 200 {
		t.Errorf("a client reads the clients-only article: %d", r.Status)
	}

	// Rated helpful once.
	reader := pdtest.Browser()
	pdtest.Do(t, reader, "GET", e.URL+"/alpha/help/paper-jams", nil)
	if r := pdtest.Do(t, reader, "POST", e.URL+"/alpha/help/paper-jams/rate", url.Values{"helpful": {"1"}}); r.Status != 303 {
		t.Errorf("rate: %d %s", r.Status, r.Body)
	}
	if a := w.api(t, w.op, "GET", "/kb/articles", nil).Body; !strings.Contains(a, `"helpful":1`) {
		t.Errorf("the rating is not counted: %s", a)
	}

	// Suggestions while writing a ticket; the one Carol opened (twice)
	// answered her, the one Boris opened did not (he wrote anyway).
	if sug := pdtest.Do(t, carol, "GET", e.URL+"/alpha/help/suggest?q=jam", nil).Body; !strings.Contains(sug, "paper-jams?from=ticket") {
		t.Errorf("suggestions: %s", sug)
	}
	pdtest.Do(t, carol, "GET", e.URL+"/alpha/help/paper-jams?from=ticket", nil)
	pdtest.Do(t, carol, "GET", e.URL+"/alpha/help/paper-jams?from=ticket", nil)
	boris := e.SignIn(t, "alpha", "cb@alpha.test")
	pdtest.Do(t, boris, "GET", e.URL+"/alpha/help/paper-jams?from=ticket", nil)
	w.api(t, w.cb, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "Still jammed", "description": "Tried it."}})
	if st := w.api(t, w.admin, "GET", "/stats", nil).JSON(t); st["answered_by_kb"] != float64(1) {
		t.Errorf("answered by the knowledge base: %v", st["answered_by_kb"])
	}

	// A good reply becomes a draft article.
	msg := w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/messages", w.ticket), map[string]any{"body": "Turn it off and on, then open tray 2."}).JSON(t)["id"]
	r := pdtest.Do(t, e.SignIn(t, "alpha", "op@alpha.test"), "POST", fmt.Sprintf("%s/alpha/tickets/%d/messages/%v/article", e.URL, w.ticket, msg), nil)
	loc := regexp.MustCompile(`/alpha/kb/(\d+)`).FindStringSubmatch(r.Header.Get("Location"))
	if r.Status != 303 || loc == nil {
		t.Fatalf("article from a reply: %d %s", r.Status, r.Header.Get("Location"))
	}
	if a := w.api(t, w.op, "GET", "/kb/articles", nil).Body; !strings.Contains(a, "Turn it off and on") {
		t.Error("the draft from the reply is missing")
	}

	// The reply box's "#": only what anyone may follow, with its address and text.
	oleg := e.SignIn(t, "alpha", "op@alpha.test")
	if ins := pdtest.Do(t, oleg, "GET", e.URL+"/alpha/kb/insert?q=toner", nil).Body; strings.Contains(ins, "Toner secrets") || strings.Contains(ins, "Club toner") {
		t.Errorf("a draft or clients-only article offered for a reply: %s", ins)
	}
	if ins := pdtest.Do(t, oleg, "GET", e.URL+"/alpha/kb/insert?q=jam", nil).Body; !strings.Contains(ins, "/alpha/help/paper-jams") || !strings.Contains(ins, "Clear a jam") {
		t.Errorf("the article to insert: %s", ins)
	}
	if r := pdtest.Do(t, carol, "GET", e.URL+"/alpha/kb/insert?q=jam", nil); r.Status != 403 {
		t.Errorf("a client searched the reply box's articles: %d", r.Status)
	}

	// Closed to all but signed-in clients.
	if r := pdtest.Do(t, e.SignIn(t, "alpha", "admin@alpha.test"), "POST", e.URL+"/alpha/kb/settings", url.Values{"visibility": {"clients"}}); r.Status != 303 {
		t.Fatalf("closing the help: %d %s", r.Status, r.Body)
	}
	if r := anon("/help/paper-jams"); r.Status != 404 {
		t.Errorf("closed help served anonymously: %d", r.Status)
	}
	if r := pdtest.Do(t, carol, "GET", e.URL+"/alpha/help/paper-jams", nil); r.Status != 200 {
		t.Errorf("closed help to a client: %d", r.Status)
	}
	// Another portal has none of it.
	if r := pdtest.Do(t, nil, "GET", e.URL+"/beta/help/paper-jams", nil); r.Status != 404 {
		t.Errorf("beta serves alpha's article: %d", r.Status)
	}
}
