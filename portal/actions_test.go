package portal_test

import (
	"fmt"
	"portaldesk/cmd/server/pdtest"
	"strings"
	"testing"
)

// TestWorkflowActions: an admin's action is offered exactly in its
// statuses, to its roles and groups — elsewhere it is not found; it asks
// for a required comment and its own fields (errors at the field, nothing
// changed), leads to its status, keeps an internal comment internal,
// sends its mail with the fields filled (no note to the client), and the
// table finds tickets by action, field and performer.
func TestWorkflowActions(t *testing.T) {
	g := newGroupsWorld(t) // Service: Oleg, Pavel; Line 2: Rita
	n := g.ticket
	tp := fmt.Sprintf("/tickets/%d", n)
	var inProgress, waiting float64
	for _, st := range g.api(t, g.admin, "GET", "/statuses", nil).JSON(t)["statuses"].([]any) {
		s := st.(map[string]any)
		switch s["name"] {
		case "In progress":
			inProgress = s["id"].(float64)
		case "Waiting for client":
			waiting = s["id"].(float64)
		}
	}
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"name": ""}, "name"},
		{map[string]any{"name": "X", "roles": []string{"robot"}}, "roles"},
		{map[string]any{"name": "X", "roles": []string{"client"}, "internal": true}, "internal"},
		{map[string]any{"name": "X", "fields": []any{map[string]any{"name": "Bad Name", "label": "x", "type": "text"}}}, "fields.0"},
		{map[string]any{"name": "X", "mail": map[string]any{"to": []string{"client"}}}, "mail.templates"},
	} {
		if r := g.api(t, g.admin, "POST", "/actions", c.body); r.Status != 422 || !strings.Contains(r.Body, `"`+c.field+`"`) {
			t.Errorf("action %v: %d %s", c.body, r.Status, r.Body)
		}
	}
	r := g.api(t, g.admin, "POST", "/actions", map[string]any{
		"name": "Send to the service centre", "statuses": []float64{inProgress}, "to_status": waiting, "groups": []int64{g.service},
		"comment": "required", "internal": true,
		"fields": []any{map[string]any{"name": "serial", "label": "Serial number", "type": "text", "required": true},
			map[string]any{"name": "centre", "label": "Centre", "type": "select", "options": []string{"North", "South"}}},
		"mail": map[string]any{"to": []string{"client", "service@centre.test"}, "templates": map[string]any{
			"en": map[string]any{"subject": "#{ticket.number} went to the {field.centre} centre", "body": "Serial {field.serial}. Note: {comment}."}}},
	})
	if r.Status != 201 {
		t.Fatalf("action: %d %s", r.Status, r.Body)
	}
	id := r.JSON(t)["id"]
	perform := func(tok string, body map[string]any) (int, string) {
		r := g.api(t, tok, "POST", fmt.Sprintf("%s/actions/%v", tp, id), body)
		return r.Status, r.Body
	}
	offered := func(tok string) bool {
		return strings.Contains(g.api(t, tok, "GET", tp+"/actions", nil).Body, "Send to the service centre")
	}
	// The ticket is New: not offered, not found.
	if offered(g.op) {
		t.Error("offered in a status it is not for")
	}
	if st, _ := perform(g.op, map[string]any{"comment": "x", "fields": map[string]any{"serial": "A1"}}); st != 404 {
		t.Errorf("performed in another status: %d", st)
	}
	g.api(t, g.op, "PATCH", tp, map[string]any{"status": inProgress})
	// Rita is not in Service, Carol is a client: neither is offered it.
	if offered(g.rita) || offered(g.ca) {
		t.Error("offered to someone outside its groups or roles")
	}
	if st, _ := perform(g.rita, map[string]any{"comment": "x", "fields": map[string]any{"serial": "A1"}}); st != 404 {
		t.Errorf("Rita performed it: %d", st)
	}
	if !offered(g.op) {
		t.Fatal("not offered to Oleg in In progress")
	}
	before := g.api(t, g.admin, "GET", tp, nil).JSON(t)["status"].(map[string]any)["name"]
	st, body := perform(g.op, map[string]any{"fields": map[string]any{"centre": "East"}})
	if st != 422 || !strings.Contains(body, `"comment"`) || !strings.Contains(body, `"fields.serial"`) || !strings.Contains(body, `"fields.centre"`) {
		t.Errorf("a bad performance: %d %s", st, body)
	}
	if now := g.api(t, g.admin, "GET", tp, nil).JSON(t)["status"].(map[string]any)["name"]; now != before {
		t.Error("a refused action changed the status")
	}
	st, body = perform(g.op, map[string]any{"comment": "Under warranty till May", "fields": map[string]any{"serial": "SN-4411", "centre": "North"}})
	if st != 200 || !strings.Contains(body, `"Waiting for client"`) {
		t.Fatalf("performed: %d %s", st, body)
	}
	c := conversation(t, g.world, n)
	if !strings.Contains(c, "Oleg: Send to the service centre") || !strings.Contains(c, "Serial number: SN-4411") {
		t.Errorf("the history: %s", c)
	}
	if cl := g.api(t, g.ca, "GET", tp+"/messages", nil).Body; strings.Contains(cl, "Under warranty") {
		t.Error("the client sees the internal comment")
	}
	var toClient, toCentre string
	for _, m := range g.e.Mails(t, "alpha") {
		if strings.Contains(m, "went to the North centre") {
			if strings.Contains(m, "ca@alpha.test") {
				toClient = m
			}
			if strings.Contains(m, "service@centre.test") {
				toCentre = m
			}
		}
	}
	if !strings.Contains(toClient, "Serial SN-4411") || strings.Contains(toClient, "Under warranty") {
		t.Errorf("the client's mail:\n%s", toClient)
	}
	if toCentre == "" {
		t.Error("no mail to the centre's address")
	}
	// The table finds it by action, field and performer.
	for _, q := range []string{fmt.Sprintf("action=%v", id), "action_field=serial=sn-4411", fmt.Sprintf("action_by=%d", g.olegID)} {
		if l := g.api(t, g.op, "GET", "/tickets?"+q, nil).JSON(t); l["total"] != float64(1) {
			t.Errorf("?%s: %v", q, l["total"])
		}
	}
	if l := g.api(t, g.op, "GET", fmt.Sprintf("/tickets?action_by=%d", g.pavelID), nil).JSON(t); l["total"] != float64(0) {
		t.Errorf("performed by Pavel: %v", l["total"])
	}
	// PATCH changes what is sent; retired, it is offered to nobody.
	g.api(t, g.admin, "PATCH", fmt.Sprintf("/actions/%v", id), map[string]any{"active": false})
	if all := g.api(t, g.admin, "GET", "/actions", nil).Body; !strings.Contains(all, `"label":"Serial number"`) {
		t.Error("PATCH lost the fields")
	}
	g.api(t, g.op, "PATCH", tp, map[string]any{"status": inProgress})
	if offered(g.op) {
		t.Error("a retired action is offered")
	}
}

// TestMacros: an action used as a macro answers with its canned text
// (placeholders filled) and makes its changes — priority, group, tags,
// status — in one click; a bad macro answers at its fields.
func TestMacros(t *testing.T) {
	g := newGroupsWorld(t)
	tp := fmt.Sprintf("/tickets/%d", g.ticket)
	if r := g.api(t, g.admin, "POST", "/actions", map[string]any{"name": "X", "macro": map[string]any{"priority": "asap", "add_tags": []string{"a,b"}}}); r.Status != 422 ||
		!strings.Contains(r.Body, `"macro.priority"`) || !strings.Contains(r.Body, `"macro.add_tags"`) {
		t.Errorf("a bad macro: %d %s", r.Status, r.Body)
	}
	r := g.api(t, g.admin, "POST", "/actions", map[string]any{"name": "Hardware fault",
		"macro": map[string]any{"text": "Dear {client.name}, ticket #{ticket.number} goes to our engineers.", "priority": "high", "group": g.line2, "add_tags": []string{"hardware"}}})
	if r.Status != 201 {
		t.Fatalf("macro: %d %s", r.Status, r.Body)
	}
	done := g.api(t, g.op, "POST", fmt.Sprintf("%s/actions/%v", tp, r.JSON(t)["id"]), map[string]any{})
	if done.Status != 200 {
		t.Fatalf("applied: %d %s", done.Status, done.Body)
	}
	tk := g.api(t, g.admin, "GET", tp, nil).JSON(t)
	if tk["priority"] != "high" || tk["group"].(map[string]any)["name"] != "Line 2" || tagsOf(tk) != "hardware" {
		t.Errorf("after the macro: priority %v, group %v, tags %q", tk["priority"], tk["group"], tagsOf(tk))
	}
	if c := g.api(t, g.ca, "GET", tp+"/messages", nil).Body; !strings.Contains(c, fmt.Sprintf("Dear Carol, ticket #%d goes to our engineers.", g.ticket)) {
		t.Errorf("the canned text: %s", c)
	}
	// A trigger performs it on new tickets that say "broken".
	id := r.JSON(t)["id"]
	if r := g.api(t, g.admin, "POST", "/triggers", map[string]any{"name": "Broken", "event": "create",
		"conditions": []any{map[string]any{"field": "subject", "op": "contains", "value": "broken"}},
		"actions":    []any{map[string]any{"type": "perform_action", "value": fmt.Sprint(id)}}}); r.Status != 201 {
		t.Fatalf("trigger: %d %s", r.Status, r.Body)
	}
	tk = g.newTicket(t, "The kettle is broken")
	if tk["priority"] != "high" || tk["group"].(map[string]any)["name"] != "Line 2" || tagsOf(tk) != "hardware" {
		t.Errorf("the trigger's action: priority %v, group %v, tags %q", tk["priority"], tk["group"], tagsOf(tk))
	}
	if c := conversation(t, g.world, int64(tk["number"].(float64))); !strings.Contains(c, "Trigger Broken: Hardware fault") || !strings.Contains(c, "goes to our engineers") {
		t.Errorf("the trigger's action in the history: %s", c)
	}
}

func tagsOf(tk map[string]any) string {
	var names []string
	for _, x := range tk["tags"].([]any) {
		names = append(names, x.(map[string]any)["name"].(string))
	}
	return strings.Join(names, ",")
}

// TestBuiltinSteps: reply, internal note, forward, close and delete are
// actions an admin renames, restricts and retires — checked on every way
// to take them (API and page) — and cannot delete.
func TestBuiltinSteps(t *testing.T) {
	g := newGroupsWorld(t)
	tp := fmt.Sprintf("/tickets/%d", g.ticket)
	ids := map[string]any{}
	for _, a := range g.api(t, g.admin, "GET", "/actions", nil).JSON(t)["actions"].([]any) {
		if b := a.(map[string]any)["builtin"]; b != nil {
			ids[b.(string)] = a.(map[string]any)["id"]
		}
	}
	if len(ids) != 5 {
		t.Fatalf("built-in steps: %v", ids)
	}
	if r := g.api(t, g.admin, "DELETE", fmt.Sprintf("/actions/%v", ids["note"]), nil); r.Status != 404 {
		t.Errorf("a built-in step deleted: %d", r.Status)
	}
	patch := func(step string, body map[string]any) {
		t.Helper()
		if r := g.api(t, g.admin, "PATCH", fmt.Sprintf("/actions/%v", ids[step]), body); r.Status != 200 {
			t.Fatalf("PATCH %s: %d %s", step, r.Status, r.Body)
		}
	}
	var inProgress float64
	for _, st := range g.api(t, g.admin, "GET", "/statuses", nil).JSON(t)["statuses"].([]any) {
		if s := st.(map[string]any); s["name"] == "In progress" {
			inProgress = s["id"].(float64)
		}
	}
	patch("note", map[string]any{"name": "Whisper", "roles": []string{"admin"}, "comment": "none", "fields": []any{map[string]any{"name": "x", "label": "X", "type": "text"}}})
	patch("close", map[string]any{"active": false})
	patch("reply", map[string]any{"statuses": []float64{inProgress}})
	patch("assign", map[string]any{"groups": []int64{g.service}})
	patch("delete", map[string]any{"active": false})

	page := func(email string) string {
		return pdtest.Do(t, g.e.SignIn(t, "alpha", email), "GET", fmt.Sprintf("%s/alpha%s", g.e.URL, tp), nil).Body
	}
	if p := page("ca@alpha.test"); strings.Contains(p, `id="reply"`) {
		t.Error("the client's page offers a reply where replies are not open")
	}
	if r := g.api(t, g.op, "POST", tp+"/messages", map[string]any{"body": "psst", "internal": true}); r.Status != 422 || !strings.Contains(r.Body, `"body"`) {
		t.Errorf("an operator's note when notes are the admin's: %d %s", r.Status, r.Body)
	}
	if r := g.api(t, g.admin, "POST", tp+"/messages", map[string]any{"body": "psst", "internal": true}); r.Status != 201 {
		t.Errorf("the admin's note: %d %s", r.Status, r.Body)
	}
	if r := g.api(t, g.ca, "POST", tp+"/messages", map[string]any{"body": "hello?"}); r.Status != 422 {
		t.Errorf("a reply in a status replies are not open in: %d", r.Status)
	}
	if r := g.api(t, g.op, "PATCH", tp, map[string]any{"status": "Closed"}); r.Status != 422 || !strings.Contains(r.Body, `"status"`) {
		t.Errorf("closing when closing is retired: %d %s", r.Status, r.Body)
	}
	if r := g.api(t, g.rita, "PATCH", tp, map[string]any{"assignee": g.olegID}); r.Status != 422 || !strings.Contains(r.Body, `"assignee"`) {
		t.Errorf("forwarding by someone outside the step's group: %d %s", r.Status, r.Body)
	}
	if r := g.api(t, g.op, "PATCH", tp, map[string]any{"assignee": g.pavelID}); r.Status != 200 {
		t.Errorf("forwarding by a member: %d %s", r.Status, r.Body)
	}
	if r := g.api(t, g.admin, "DELETE", tp, nil); r.Status != 403 {
		t.Errorf("deleting when deleting is retired: %d", r.Status)
	}
	// The pages offer what is open: Oleg has no note and no Closed; the
	// admin's note is called Whisper.
	if p := page("op@alpha.test"); strings.Contains(p, `name="internal" value="1"`) || strings.Contains(p, ">Closed</option>") || strings.Contains(p, "/delete") {
		t.Error("the operator's page offers a note, closing or deleting")
	}
	if p := page("admin@alpha.test"); !strings.Contains(p, "Whisper") {
		t.Error("the admin's page does not use the step's new name")
	}
	g.api(t, g.op, "PATCH", tp, map[string]any{"status": inProgress})
	if r := g.api(t, g.ca, "POST", tp+"/messages", map[string]any{"body": "hello?"}); r.Status != 201 {
		t.Errorf("a reply in progress: %d %s", r.Status, r.Body)
	}
	// What a built-in step is does not change: its name, where and by whom only.
	if all := g.api(t, g.admin, "GET", "/actions", nil).Body; strings.Contains(all, `"label":"X"`) {
		t.Error("a built-in step took fields")
	}
}
