package portal_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"portaldesk/cmd/server/pdtest"
)

// TestHelpDesign: the admin designs the public help — title, intro, who
// reads it, a colour of its own, the categories its front page lists — and
// a change with one bad part keeps nothing (API and page); the sitemap
// lists what someone not signed in may read and nothing else.
func TestHelpDesign(t *testing.T) {
	w := newWorld(t)
	e := w.e
	anon := func(path string) pdtest.Resp { return pdtest.Do(t, nil, "GET", e.URL+"/alpha"+path, nil) }
	printers := w.api(t, w.op, "POST", "/kb/categories", map[string]any{"name": "Printers"}).JSON(t)["id"]
	billing := w.api(t, w.op, "POST", "/kb/categories", map[string]any{"name": "Billing"}).JSON(t)["id"]
	for _, a := range []map[string]any{
		{"title": "Paper jams", "body": "Open tray 2.", "published": true, "category": printers},
		{"title": "Invoices", "body": "Monthly invoices.", "published": true, "category": billing},
		{"title": "Secret draft", "body": "Not yet."},
		{"title": "Members prices", "body": "For clients.", "published": true, "audience": "clients"},
	} {
		if r := w.api(t, w.op, "POST", "/kb/articles", a); r.Status != 201 {
			t.Fatalf("article: %d %s", r.Status, r.Body)
		}
	}

	bad := map[string]any{"title": "Справка", "colour": "blue", "categories": []any{printers, 999}, "visibility": "all"}
	if r := w.api(t, w.admin, "PUT", "/kb/design", bad); r.Status != 422 || !strings.Contains(r.Body, `"colour"`) || !strings.Contains(r.Body, `"categories"`) || !strings.Contains(r.Body, `"visibility"`) {
		t.Errorf("a bad design: %d %s", r.Status, r.Body)
	}
	if d := w.api(t, w.admin, "GET", "/kb/design", nil).JSON(t); d["title"] != "" || d["colour"] != "" {
		t.Errorf("a refused design was kept: %v", d)
	}
	if r := w.api(t, w.op, "PUT", "/kb/design", map[string]any{"title": "Mine"}); r.Status != 403 {
		t.Errorf("an operator designs the help: %d", r.Status)
	}
	// The page: an error at the colour, the ticks kept, nothing saved.
	admin := e.SignIn(t, "alpha", "admin@alpha.test")
	r := pdtest.Do(t, admin, "POST", e.URL+"/alpha/kb/settings", url.Values{"kb_title": {"Справка"}, "visibility": {"public"}, "own_colour": {"1"}, "colour": {"red"},
		"categories": {fmt.Sprint(billing)}})
	if r.Status != 422 || !strings.Contains(r.Body, "Choose a colour") || !strings.Contains(r.Body, fmt.Sprintf(`value="%v" checked`, billing)) {
		t.Errorf("the design page's error: %d", r.Status)
	}
	if d := w.api(t, w.admin, "GET", "/kb/design", nil).JSON(t); d["title"] != "" {
		t.Errorf("a refused page change was kept: %v", d)
	}

	good := map[string]any{"title": "Справка «Ромашки»", "intro": "Ответы на частые вопросы.", "colour": "#AA3300", "categories": []any{printers}}
	if r := w.api(t, w.admin, "PUT", "/kb/design", good); r.Status != 200 || !strings.Contains(r.Body, `"#aa3300"`) {
		t.Fatalf("design: %d %s", r.Status, r.Body)
	}
	index := anon("/help").Body
	if !strings.Contains(index, "Справка «Ромашки»") || !strings.Contains(index, "Paper jams") || strings.Contains(index, "Invoices") {
		t.Errorf("the front page lists other categories: %s", index)
	}
	if !strings.Contains(index, "--brand:#aa3300") || !strings.Contains(anon("/help/paper-jams").Body, "--brand:#aa3300") {
		t.Error("the help's colour is not on its pages")
	}
	if !strings.Contains(anon("/help/search?q=invoices").Body, "Invoices") || anon("/help/invoices").Status != 200 {
		t.Error("an article of an unlisted category is not found by search or link")
	}
	if strings.Contains(pdtest.Do(t, admin, "GET", e.URL+"/alpha/tickets", nil).Body, "--brand:") {
		t.Error("the help's colour reaches the rest of the portal")
	}

	// The sitemap: public and published only.
	sm := anon("/help/sitemap.xml")
	if sm.Status != 200 || !strings.Contains(sm.Header.Get("Content-Type"), "xml") || !strings.Contains(sm.Body, e.URL+"/alpha/help/paper-jams") ||
		!strings.Contains(sm.Body, "/alpha/help/invoices") || strings.Contains(sm.Body, "secret") || strings.Contains(sm.Body, "members") {
		t.Errorf("sitemap: %d %s", sm.Status, sm.Body)
	}
	w.api(t, w.admin, "PUT", "/kb/design", map[string]any{"visibility": "clients"})
	if r := anon("/help/sitemap.xml"); r.Status != 404 {
		t.Errorf("a closed help's sitemap: %d", r.Status)
	}
	if r := pdtest.Do(t, nil, "GET", e.URL+"/beta/help/sitemap.xml", nil); strings.Contains(r.Body, "paper-jams") {
		t.Error("beta's sitemap lists alpha's article")
	}
}

// TestInfoPagesInTheMenu: published info pages are linked from every
// page's menu — for visitors and signed-in people, in their language, a
// clients-only page for signed-in people only — and a draft never.
func TestInfoPagesInTheMenu(t *testing.T) {
	w := newWorld(t)
	e := w.e
	for _, a := range []map[string]any{
		{"title": "Delivery", "kind": "page", "body": "We deliver.", "published": true},
		{"title": "Доставка по России", "kind": "page", "body": "Везём.", "published": true, "lang": "ru"},
		{"title": "Club rules", "kind": "page", "body": "Members.", "published": true, "audience": "clients"},
		{"title": "Unfinished terms", "kind": "page", "body": "Draft."},
	} {
		if r := w.api(t, w.op, "POST", "/kb/articles", a); r.Status != 201 {
			t.Fatalf("page: %d %s", r.Status, r.Body)
		}
	}
	visitor := pdtest.Do(t, nil, "GET", e.URL+"/alpha/login", nil).Body
	if !strings.Contains(visitor, `href="/alpha/help/delivery"`) || strings.Contains(visitor, "Club rules") || strings.Contains(visitor, "Unfinished") || strings.Contains(visitor, "Доставка") {
		t.Errorf("a visitor's menu: %s", visitor)
	}
	client := pdtest.Do(t, e.SignIn(t, "alpha", "ca@alpha.test"), "GET", e.URL+"/alpha/tickets", nil).Body
	if !strings.Contains(client, "Club rules") || !strings.Contains(client, "Delivery") {
		t.Error("a client's menu lacks the info pages")
	}
	ru := pdtest.Do(t, nil, "GET", e.URL+"/alpha/login?lang=ru", nil).Body
	if !strings.Contains(ru, "Доставка по России") {
		t.Error("the Russian page is not in the Russian menu")
	}
	if beta := pdtest.Do(t, nil, "GET", e.URL+"/beta/login", nil).Body; strings.Contains(beta, "Delivery") {
		t.Error("beta's menu links alpha's page")
	}
	// Unpublished, it leaves the menu.
	var id any
	for _, a := range w.api(t, w.op, "GET", "/kb/articles", nil).JSON(t)["articles"].([]any) {
		if a.(map[string]any)["title"] == "Delivery" {
			id = a.(map[string]any)["id"]
		}
	}
	w.api(t, w.op, "PATCH", fmt.Sprintf("/kb/articles/%v", id), map[string]any{"published": false})
	if strings.Contains(pdtest.Do(t, nil, "GET", e.URL+"/alpha/login", nil).Body, "/alpha/help/delivery") {
		t.Error("an unpublished page is still in the menu")
	}
}
