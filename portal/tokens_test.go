package portal_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/provisioner"
)

// TestTokenScopes: a personal token does what its scope says — read only;
// read and write but not the portal's set-up; everything its person may —
// never more than its person; it stops working when it expires; its last
// use and the address it came from are listed; bad choices are refused at
// their fields.
func TestTokenScopes(t *testing.T) {
	clk := &clock{t: time.Now()}
	e := pdtest.New(t, provisioner.Config{})
	e.Svc.SetClock(clk.Now)
	w := worldOn(t, e)
	make := func(tok string, body map[string]any) string {
		t.Helper()
		r := w.api(t, tok, "POST", "/tokens", body)
		if r.Status != 201 {
			t.Fatalf("token %v: %d %s", body, r.Status, r.Body)
		}
		return r.JSON(t)["token"].(string)
	}
	if r := w.api(t, w.admin, "POST", "/tokens", map[string]any{"name": "x", "scope": "god", "expires_in_days": 1000}); r.Status != 422 || !strings.Contains(r.Body, `"scope"`) || !strings.Contains(r.Body, `"expires_in_days"`) {
		t.Errorf("bad choices: %d %s", r.Status, r.Body)
	}
	read := make(w.admin, map[string]any{"name": "Reports", "scope": "read", "expires_in_days": 30})
	write := make(w.admin, map[string]any{"name": "CRM", "scope": "write"})
	full := make(w.admin, map[string]any{"name": "Ops", "scope": "admin"})
	opFull := make(w.op, map[string]any{"name": "Mine"})
	path := fmt.Sprintf("/tickets/%d", w.ticket)
	msg := map[string]any{"body": "From an integration."}

	if r := w.api(t, read, "GET", path, nil); r.Status != 200 {
		t.Errorf("a read token reads: %d", r.Status)
	}
	if r := w.api(t, read, "POST", path+"/messages", msg); r.Status != 403 || !strings.Contains(r.Body, "token_scope") {
		t.Errorf("a read token writes: %d %s", r.Status, r.Body)
	}
	if r := w.api(t, write, "POST", path+"/messages", msg); r.Status != 201 {
		t.Errorf("a write token writes a message: %d %s", r.Status, r.Body)
	}
	if r := w.api(t, write, "PUT", "/widget/settings", map[string]any{"enabled": true}); r.Status != 403 || !strings.Contains(r.Body, "token_scope") {
		t.Errorf("a write token changes the set-up: %d %s", r.Status, r.Body)
	}
	if r := w.api(t, full, "PUT", "/widget/settings", map[string]any{"enabled": true}); r.Status != 200 {
		t.Errorf("an admin token changes the set-up: %d %s", r.Status, r.Body)
	}
	if r := w.api(t, opFull, "PUT", "/widget/settings", map[string]any{"enabled": true}); r.Status != 403 || strings.Contains(r.Body, "token_scope") {
		t.Errorf("an operator's admin-scope token is more than its operator: %d %s", r.Status, r.Body)
	}
	// Listed with its scope, expiry, last use and address.
	list := w.api(t, w.admin, "GET", "/tokens", nil).JSON(t)["tokens"].([]any)
	var reports map[string]any
	for _, x := range list {
		if x.(map[string]any)["name"] == "Reports" {
			reports = x.(map[string]any)
		}
	}
	if reports == nil || reports["scope"] != "read" || reports["expires_at"] == nil || reports["last_used_at"] == nil || reports["last_ip"] != "127.0.0.1" {
		t.Errorf("the read token as listed: %v", reports)
	}
	// Expired, it is nobody.
	clk.Add(31 * 24 * time.Hour)
	if r := w.api(t, read, "GET", path, nil); r.Status != 401 {
		t.Errorf("an expired token: %d", r.Status)
	}
	if r := w.api(t, write, "GET", path, nil); r.Status != 200 {
		t.Errorf("a token without expiry after a month: %d", r.Status)
	}
}
