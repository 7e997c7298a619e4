package portal_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
	"portaldesk/provisioner"
)

// TestAuditLogRecordsWhoDidWhat: sign-ins and a failure, settings, an
// invitation and a role change, the form, a token made and revoked, a
// deleted ticket and an export, through the pages and the API, are each
// in the log with who, from where and on what; a refused change is not;
// the admin filters it and downloads it; an operator cannot read it.
func TestAuditLogRecordsWhoDidWhat(t *testing.T) {
	w := newWorld(t)
	e := w.e
	pdtest.Do(t, nil, "POST", e.URL+"/alpha/login", url.Values{"email": {"op@alpha.test"}, "password": {"not-the-password"}}, "X-Forwarded-For", "203.0.113.9")
	admin := e.SignIn(t, "alpha", "admin@alpha.test")
	if r := w.api(t, w.admin, "PUT", "/settings", map[string]any{"max_files": 999}); r.Status != 422 {
		t.Fatalf("a refused change: %d", r.Status)
	}
	w.api(t, w.admin, "PUT", "/settings", map[string]any{"max_files": 7})
	pdtest.Do(t, admin, "POST", e.URL+"/alpha/people", url.Values{"name": {"Nina"}, "email": {"nina@alpha.test"}, "role": {"operator"}})
	var nina any
	for _, u := range w.api(t, w.admin, "GET", "/users?role=operator", nil).JSON(t)["users"].([]any) {
		if u.(map[string]any)["email"] == "nina@alpha.test" {
			nina = u.(map[string]any)["id"]
		}
	}
	w.api(t, w.admin, "PATCH", fmt.Sprintf("/users/%v", nina), map[string]any{"role": "client"})
	w.api(t, w.admin, "PUT", "/form", map[string]any{"fields": []map[string]any{{"id": 1}, {"id": 2}, {"label": "Order", "type": "text"}}})
	tok := w.api(t, w.op, "POST", "/tokens", map[string]string{"name": "CRM"}).JSON(t)
	w.api(t, w.op, "DELETE", fmt.Sprintf("/tokens/%v", tok["id"]), nil)
	w.api(t, w.admin, "DELETE", fmt.Sprintf("/tickets/%d", w.ticket), nil)
	w.api(t, w.admin, "GET", "/stats?from=2026-01-01&to=2026-12-31&format=csv", nil)

	log := pdtest.Do(t, admin, "GET", e.URL+"/alpha/admin/audit", nil)
	if log.Status != 200 {
		t.Fatalf("the log: %d", log.Status)
	}
	for _, want := range []string{"Failed sign-in", "op@alpha.test", "Signed in", "Settings changed", "Person invited", "Person&#39;s role or access changed",
		"Questionnaire changed", "API token created", "API token revoked", "Ticket deleted", fmt.Sprintf("#%d", w.ticket), "Report exported", "Oleg &lt;op@alpha.test&gt;", "127.0.0.1"} {
		if !strings.Contains(log.Body, want) {
			t.Errorf("the log lacks %q", want)
		}
	}
	entries := w.api(t, w.admin, "GET", "/audit?action=settings", nil).JSON(t)["entries"].([]any)
	if len(entries) != 1 {
		t.Fatalf("%d settings entries, want 1 (the refused change is not one)", len(entries))
	}
	failed := w.api(t, w.admin, "GET", "/audit?action=sign_in_failed", nil).JSON(t)["entries"].([]any)
	if len(failed) != 1 || failed[0].(map[string]any)["target"] != "op@alpha.test" || failed[0].(map[string]any)["actor_id"] != nil {
		t.Fatalf("the failed sign-in: %v", failed)
	}
	c := pdtest.Do(t, admin, "GET", e.URL+"/alpha/admin/audit?action=user_invited&format=csv", nil)
	rows, err := csv.NewReader(strings.NewReader(c.Body)).ReadAll()
	if err != nil || len(rows) != 2 || !strings.Contains(strings.Join(rows[1], " "), "nina@alpha.test") {
		t.Fatalf("the CSV: %v %v", err, rows)
	}
	if r := w.api(t, w.op, "GET", "/audit", nil); r.Status != 403 {
		t.Fatalf("an operator reads the log: %d", r.Status)
	}
}

// BenchmarkAudit is what the audit log adds to a recorded request: one
// row written in a transaction of its own, after the request's.
func BenchmarkAudit(b *testing.B) {
	e := pdtest.New(b, provisioner.Config{})
	e.Create(b, "alpha")
	e.Portal(b, "alpha", func(p *portal.Portal) {
		ctx := context.Background()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := p.Audit(ctx, portal.AuditEntry{ActorID: 1, Actor: "Anna <admin@alpha.test>", IP: "192.0.2.1", Action: "settings", Target: "settings"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestRussianCSVOpensInExcel: a CSV downloaded from a page in Russian has
// the byte-order mark, ";" between cells and decimal commas that Excel
// expects with a Russian locale; the API's CSV stays plain RFC 4180.
func TestRussianCSVOpensInExcel(t *testing.T) {
	w := newWorld(t)
	admin := w.e.SignIn(t, "alpha", "admin@alpha.test")
	page := pdtest.Do(t, admin, "GET", w.e.URL+"/alpha/admin/audit?format=csv&lang=ru", nil).Body
	if !strings.HasPrefix(page, "\ufeff") || !strings.Contains(page, "Когда (UTC);Кто;") {
		t.Fatalf("the Russian page's CSV: %.80q", page)
	}
	api := w.api(t, w.admin, "GET", "/audit?format=csv", nil).Body
	if strings.HasPrefix(api, "\ufeff") || !strings.HasPrefix(api, "When (UTC),Who,") {
		t.Fatalf("the API's CSV: %.80q", api)
	}
}
