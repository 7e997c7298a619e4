package portal_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"portaldesk/cmd/server/pdtest"
)

// TestListModes: each person chooses how the tickets list is shown — a
// table, a compact list, or a list beside the open ticket — and it is
// remembered; a wrong mode changes nothing; the list beside a ticket keeps
// the filters the table last showed, marks the open ticket, escapes what
// people typed, and holds only what its reader may see.
func TestListModes(t *testing.T) {
	w := newWorld(t)
	e := w.e
	if r := w.api(t, w.op, "PUT", "/me/list-mode", map[string]any{"mode": "tiles"}); r.Status != 422 || !strings.Contains(r.Body, `"mode"`) {
		t.Errorf("a wrong mode: %d %s", r.Status, r.Body)
	}
	if m := w.api(t, w.op, "GET", "/me", nil).JSON(t)["list_mode"]; m != "table" {
		t.Errorf("the mode after a refused change: %v", m)
	}
	hostile := w.api(t, w.cb, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": `<script>alert(1)</script> Boris's`, "description": "x"}}).JSON(t)["number"]

	op := e.SignIn(t, "alpha", "op@alpha.test")
	r := pdtest.Do(t, op, "POST", e.URL+"/alpha/tickets/mode", url.Values{"mode": {"compact"}, "back": {"status=open"}})
	if r.Status != 303 || r.Header.Get("Location") != "/alpha/tickets?status=open" {
		t.Fatalf("compact: %d %q", r.Status, r.Header.Get("Location"))
	}
	if page := pdtest.Do(t, op, "GET", e.URL+"/alpha/tickets", nil).Body; !strings.Contains(page, `id="list" class="compact"`) {
		t.Errorf("the compact list: %s", page)
	}
	pdtest.Do(t, op, "POST", e.URL+"/alpha/tickets/mode", url.Values{"mode": {"split"}, "back": {"status=open"}})
	page := pdtest.Do(t, op, "GET", e.URL+"/alpha/tickets?status=open", nil).Body
	if !strings.Contains(page, `class="split split-index"`) || !strings.Contains(page, fmt.Sprintf(`/alpha/tickets/%d"`, w.ticket)) {
		t.Fatalf("the split list: %s", page)
	}
	page = pdtest.Do(t, op, "GET", fmt.Sprintf("%s/alpha/tickets/%d", e.URL, w.ticket), nil).Body
	if !strings.Contains(page, `<div class="split">`) || !strings.Contains(page, fmt.Sprintf(`/alpha/tickets/%d" aria-current="page"`, w.ticket)) ||
		!strings.Contains(page, "Every morning.") {
		t.Errorf("the ticket beside its list: %s", page)
	}
	if strings.Contains(page, "<script>alert(1)") || !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt; Boris&#39;s") {
		t.Errorf("a subject in the list beside the ticket is not escaped")
	}
	if m := w.api(t, w.op, "GET", "/me", nil).JSON(t)["list_mode"]; m != "split" {
		t.Errorf("the mode is not remembered: %v", m)
	}
	// A client's list beside their ticket holds their tickets only.
	carol := e.SignIn(t, "alpha", "ca@alpha.test")
	pdtest.Do(t, carol, "POST", e.URL+"/alpha/tickets/mode", url.Values{"mode": {"split"}})
	pdtest.Do(t, carol, "GET", e.URL+"/alpha/tickets", nil)
	page = pdtest.Do(t, carol, "GET", fmt.Sprintf("%s/alpha/tickets/%d", e.URL, w.ticket), nil).Body
	if !strings.Contains(page, `class="split-list"`) || strings.Contains(page, "Boris&#39;s") || strings.Contains(page, fmt.Sprintf("/alpha/tickets/%v\"", hostile)) {
		t.Errorf("Carol's list beside her ticket shows another's ticket")
	}
}
