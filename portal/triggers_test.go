package portal_test

import (
	"fmt"
	"portaldesk/cmd/server/pdtest"
	"portaldesk/provisioner"
	"strings"
	"testing"
	"time"
)

// TestTagsAndTriggers: tags set on a ticket (made when new, errors at the
// field) and filtered by; triggers run in order on creation, change and
// message, "stop" ending the run; their notes stay internal, their mail
// fills its placeholders; an inactive one does nothing; a trigger tried on
// a ticket says which conditions hold and changes nothing.
func TestTagsAndTriggers(t *testing.T) {
	g := newGroupsWorld(t) // Service (round-robin) and Line 2
	api := func(tok, method, path string, body any) map[string]any {
		t.Helper()
		r := g.api(t, tok, method, path, body)
		if r.Status >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, r.Status, r.Body)
		}
		if r.Body == "" {
			return nil
		}
		return r.JSON(t)
	}

	// Tags by hand.
	n := g.ticket
	tp := fmt.Sprintf("/tickets/%d", n)
	if tk := api(g.op, "PATCH", tp, map[string]any{"tags": []string{"vip", "Refund", "vip"}}); tagsOf(tk) != "Refund,vip" {
		t.Errorf("tags: %v", tk["tags"])
	}
	for _, bad := range [][]string{{"a,b"}, {strings.Repeat("x", 41)}} {
		if r := g.api(t, g.op, "PATCH", tp, map[string]any{"tags": bad}); r.Status != 422 || !strings.Contains(r.Body, `"tags"`) {
			t.Errorf("tag %q: %d %s", bad, r.Status, r.Body)
		}
	}
	if r := g.api(t, g.ca, "PATCH", tp, map[string]any{"tags": []string{"mine"}}); r.Status != 403 {
		t.Errorf("a client tagged: %d", r.Status)
	}
	if l := api(g.op, "GET", "/tickets?tag=VIP", nil); l["total"] != float64(1) {
		t.Errorf("filtered by tag: %v", l["total"])
	}
	if c := conversation(t, g.world, n); !strings.Contains(c, "Oleg added the tag vip") {
		t.Errorf("the tags' history: %s", c)
	}

	// Bad triggers answer at their fields.
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"name": "X", "event": "create", "conditions": []any{map[string]any{"field": "mood", "op": "is", "value": "bad"}}, "actions": []any{map[string]any{"type": "add_tag", "value": "x"}}}, "conditions.0"},
		{map[string]any{"name": "X", "event": "create", "actions": []any{map[string]any{"type": "explode"}}}, "actions.0"},
		{map[string]any{"name": "X", "event": "create"}, "actions"},
		{map[string]any{"name": "X", "event": "sometimes", "actions": []any{map[string]any{"type": "add_tag", "value": "x"}}}, "event"},
		{map[string]any{"name": "X", "event": "create", "actions": []any{map[string]any{"type": "set_group", "value": "Nowhere"}}}, "actions.0"},
	} {
		if r := g.api(t, g.admin, "POST", "/triggers", c.body); r.Status != 422 || !strings.Contains(r.Body, `"`+c.field+`"`) {
			t.Errorf("trigger %v: %d %s", c.body, r.Status, r.Body)
		}
	}
	if r := g.api(t, g.op, "POST", "/triggers", map[string]any{}); r.Status != 403 {
		t.Errorf("an operator made a trigger: %d", r.Status)
	}

	billing := map[string]any{"name": "Billing", "event": "create", "stop": true,
		"conditions": []any{map[string]any{"field": "subject", "op": "contains", "value": "invoice"}},
		"actions": []any{map[string]any{"type": "set_group", "value": "Line 2"}, map[string]any{"type": "add_tag", "value": "billing"},
			map[string]any{"type": "send_mail", "value": "client", "subject": "About {ticket.subject}", "body": "Dear {client.name}, accounts answer #{ticket.number} within a day."}}}
	api(g.admin, "POST", "/triggers", billing)
	api(g.admin, "POST", "/triggers", map[string]any{"name": "Everything", "event": "create", "actions": []any{map[string]any{"type": "add_tag", "value": "triaged"}}})
	api(g.admin, "POST", "/triggers", map[string]any{"name": "Off", "event": "create", "active": false, "actions": []any{map[string]any{"type": "add_tag", "value": "never"}}})
	api(g.admin, "POST", "/triggers", map[string]any{"name": "Shouting", "event": "message",
		"conditions": []any{map[string]any{"field": "author", "op": "is", "value": "client"}, map[string]any{"field": "body", "op": "contains", "value": "URGENT"}},
		"actions":    []any{map[string]any{"type": "set_priority", "value": "urgent"}, map[string]any{"type": "add_note", "value": "The client asks for speed: call them."}}})
	api(g.admin, "POST", "/triggers", map[string]any{"name": "Closing", "event": "update",
		"conditions": []any{map[string]any{"field": "status", "op": "is", "value": "Closed"}},
		"actions":    []any{map[string]any{"type": "add_tag", "value": "done"}}})

	inv := g.newTicket(t, "Need an invoice copy")
	if grp, _ := inv["group"].(map[string]any); grp == nil || grp["name"] != "Line 2" || tagsOf(inv) != "billing" || assigneeOf(inv) != "" {
		t.Errorf("the invoice ticket: group %v, tags %q, assignee %q", inv["group"], tagsOf(inv), assigneeOf(inv))
	}
	other := g.newTicket(t, "Printer is slow")
	if tagsOf(other) != "triaged" || other["group"].(map[string]any)["name"] != "Service" {
		t.Errorf("the other ticket: tags %q, group %v", tagsOf(other), other["group"])
	}
	var mailed string
	for _, m := range g.e.Mails(t, "alpha") {
		if strings.Contains(m, "About Need an invoice copy") {
			mailed = m
		}
	}
	if !strings.Contains(mailed, "ca@alpha.test") || !strings.Contains(mailed, fmt.Sprintf("Dear Carol, accounts answer #%v within a day.", inv["number"])) {
		t.Errorf("the trigger's mail:\n%s", mailed)
	}

	// A client's shouting message: urgent, with a note the client never sees.
	op := fmt.Sprintf("/tickets/%v", other["number"])
	api(g.ca, "POST", op+"/messages", map[string]any{"body": "This is URGENT, the shop opens soon"})
	if tk := api(g.admin, "GET", op, nil); tk["priority"] != "urgent" {
		t.Errorf("after the shouting message: %v", tk["priority"])
	}
	if c := g.api(t, g.ca, "GET", op+"/messages", nil).Body; strings.Contains(c, "call them") {
		t.Error("the client sees the trigger's note")
	}
	if c := conversation(t, g.world, int64(other["number"].(float64))); !strings.Contains(c, "call them") {
		t.Errorf("the trigger's note is missing: %s", c)
	}
	api(g.op, "POST", op+"/messages", map[string]any{"body": "URGENT is noted"}) // staff: no trigger
	// Closing tags it.
	if tk := api(g.op, "PATCH", op, map[string]any{"status": "Closed"}); !strings.Contains(tagsOf(tk), "done") {
		t.Errorf("after closing: %q", tagsOf(tk))
	}

	// Tried on a ticket: which conditions hold, nothing changed.
	before := g.api(t, g.admin, "GET", op, nil).Body
	res := api(g.admin, "POST", "/triggers/test", map[string]any{"ticket": inv["number"], "trigger": billing})
	if res["matches"] != true || res["conditions"].([]any)[0].(map[string]any)["holds"] != true {
		t.Errorf("tried on the invoice ticket: %v", res)
	}
	if res := api(g.admin, "POST", "/triggers/test", map[string]any{"ticket": other["number"], "trigger": billing}); res["matches"] != false {
		t.Errorf("tried on the printer ticket: %v", res)
	}
	if r := g.api(t, g.admin, "POST", "/triggers/test", map[string]any{"ticket": 9999, "trigger": billing}); r.Status != 422 || !strings.Contains(r.Body, `"ticket"`) {
		t.Errorf("tried on no ticket: %d %s", r.Status, r.Body)
	}
	if after := g.api(t, g.admin, "GET", op, nil).Body; after != before {
		t.Error("trying a trigger changed the ticket")
	}
}

// TestTimeRules: a time rule acts on a ticket once its condition has held
// long enough — in working time — and once only, though the minute's job
// runs again; something happening on the ticket re-arms it. A time rule
// without a time condition is refused.
func TestTimeRules(t *testing.T) {
	msk := time.FixedZone("MSK", 3*3600)
	clk := &clock{t: time.Date(2026, 11, 30, 10, 0, 0, 0, msk)} // Monday
	e := pdtest.New(t, provisioner.Config{})
	e.Svc.SetClock(clk.Now)
	w := worldOn(t, e)
	nine := []any{map[string]any{"from": "09:00", "to": "18:00"}}
	if r := w.api(t, w.admin, "PUT", "/business-hours", map[string]any{"hours": map[string]any{"time_zone": "Europe/Moscow",
		"week": map[string]any{"mon": nine, "tue": nine, "wed": nine, "thu": nine, "fri": nine}}}); r.Status != 200 {
		t.Fatalf("hours: %d %s", r.Status, r.Body)
	}
	if r := w.api(t, w.admin, "POST", "/triggers", map[string]any{"name": "Nudge", "event": "time", "actions": []any{map[string]any{"type": "add_tag", "value": "x"}}}); r.Status != 422 || !strings.Contains(r.Body, `"conditions"`) {
		t.Errorf("a time rule without time: %d %s", r.Status, r.Body)
	}
	if r := w.api(t, w.admin, "POST", "/triggers", map[string]any{"name": "Nudge", "event": "time",
		"conditions": []any{map[string]any{"field": "idle", "op": "more_than", "value": "soon"}}, "actions": []any{map[string]any{"type": "add_tag", "value": "x"}}}); r.Status != 422 || !strings.Contains(r.Body, `"conditions.0"`) {
		t.Errorf("a time rule with a bad span: %d %s", r.Status, r.Body)
	}
	// Waiting for the client for a working day (9 h) → remind them.
	if r := w.api(t, w.admin, "POST", "/triggers", map[string]any{"name": "Remind", "event": "time",
		"conditions": []any{map[string]any{"field": "status", "op": "is", "value": "Waiting for client"}, map[string]any{"field": "idle", "op": "more_than", "value": "1d"}},
		"actions": []any{map[string]any{"type": "add_tag", "value": "reminded"},
			map[string]any{"type": "send_mail", "value": "client", "subject": "Any news on #{ticket.number}?", "body": "We are waiting for your answer on {ticket.subject}."}}}); r.Status != 201 {
		t.Fatalf("time rule: %d %s", r.Status, r.Body)
	}
	n := w.ticket
	tp := fmt.Sprintf("/tickets/%d", n)
	w.api(t, w.op, "PATCH", tp, map[string]any{"status": "Waiting for client"}) // Monday 10:00
	run := func() int {
		_, acted, err := e.Svc.CheckClocks(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return acted
	}
	reminders := func() int {
		k := 0
		for _, m := range e.Mails(t, "alpha") {
			if strings.Contains(m, fmt.Sprintf("Any news on #%d?", n)) {
				k++
			}
		}
		return k
	}
	clk.Add(20 * time.Hour) // Tuesday 06:00: 8 working hours
	if run() != 0 {
		t.Error("acted before a working day passed")
	}
	clk.Add(4*time.Hour + 5*time.Minute) // Tuesday 10:05: over 9 working hours
	if run() != 1 || run() != 0 {
		t.Error("the rule did not act exactly once")
	}
	if reminders() != 1 {
		t.Errorf("%d reminders", reminders())
	}
	// The client answers (back to work), the operator asks again: re-armed.
	w.api(t, w.ca, "POST", tp+"/messages", map[string]any{"body": "Still broken."})
	w.api(t, w.op, "PATCH", tp, map[string]any{"status": "Waiting for client"})
	clk.Add(26 * time.Hour) // Wednesday 12:00
	if run() != 1 || reminders() != 2 {
		t.Errorf("after new activity: %d reminders", reminders())
	}
}
