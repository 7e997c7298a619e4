package portal_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
)

// groupsWorld is alpha with three operators (Oleg, Pavel, Rita), groups
// Service (round-robin: Oleg, Pavel) and Line 2 (by hand: Rita), new
// tickets going to Service.
type groupsWorld struct {
	*world
	pavel, rita             string // tokens
	olegID, pavelID, ritaID int64
	service, line2          int64
}

func newGroupsWorld(t *testing.T) *groupsWorld {
	w := newWorld(t)
	g := &groupsWorld{world: w}
	g.pavelID = w.e.AddUser(t, "alpha", "pavel@alpha.test", "Pavel", portal.RoleOperator).ID
	g.ritaID = w.e.AddUser(t, "alpha", "rita@alpha.test", "Rita", portal.RoleOperator).ID
	g.pavel, g.rita = w.e.Login(t, "alpha", "pavel@alpha.test"), w.e.Login(t, "alpha", "rita@alpha.test")
	g.olegID = int64(w.api(t, w.op, "GET", "/me", nil).JSON(t)["id"].(float64))
	mk := func(body map[string]any) int64 {
		r := w.api(t, w.admin, "POST", "/groups", body)
		if r.Status != 201 {
			t.Fatalf("group %v: %d %s", body, r.Status, r.Body)
		}
		return int64(r.JSON(t)["id"].(float64))
	}
	g.service = mk(map[string]any{"name": "Service", "assignment": "round_robin", "members": []int64{g.olegID, g.pavelID}})
	g.line2 = mk(map[string]any{"name": "Line 2", "members": []int64{g.ritaID}})
	if r := w.api(t, w.admin, "PATCH", "/settings", map[string]any{"default_group": g.service}); r.Status != 200 {
		t.Fatalf("default group: %d %s", r.Status, r.Body)
	}
	return g
}

func (g *groupsWorld) newTicket(t *testing.T, subject string) map[string]any {
	r := g.api(t, g.ca, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": subject, "description": "Details."}})
	if r.Status != 201 {
		t.Fatalf("ticket: %d %s", r.Status, r.Body)
	}
	return g.api(t, g.admin, "GET", fmt.Sprintf("/tickets/%v", r.JSON(t)["number"]), nil).JSON(t)
}

func assigneeOf(tk map[string]any) string {
	if a, ok := tk["assignee"].(map[string]any); ok {
		return a["name"].(string)
	}
	return ""
}

// TestGroups: groups are made with errors at their fields; a new ticket
// enters the default group and is given in turn to its present members,
// never past their limit; going away hands tickets back; PATCH with a
// group moves a ticket and assigns it in the new group.
func TestGroups(t *testing.T) {
	g := newGroupsWorld(t)
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"name": " "}, "name"},
		{map[string]any{"name": "service"}, "name"}, // the same name in other letters
		{map[string]any{"name": "X", "assignment": "random"}, "assignment"},
		{map[string]any{"name": "X", "max_open": -1}, "max_open"},
		{map[string]any{"name": "X", "members": []int64{999}}, "members"},
	} {
		if r := g.api(t, g.admin, "POST", "/groups", c.body); r.Status != 422 || !strings.Contains(r.Body, `"`+c.field+`"`) {
			t.Errorf("POST /groups %v: %d %s", c.body, r.Status, r.Body)
		}
	}
	if r := g.api(t, g.op, "POST", "/groups", map[string]any{"name": "Mine"}); r.Status != 403 {
		t.Errorf("an operator made a group: %d", r.Status)
	}
	if r := g.api(t, g.admin, "PATCH", "/settings", map[string]any{"default_group": 999}); r.Status != 422 {
		t.Errorf("an unknown default group: %d", r.Status)
	}

	// Round-robin: Oleg, Pavel, Oleg, Pavel.
	var got []string
	for i := 1; i <= 4; i++ {
		tk := g.newTicket(t, fmt.Sprintf("Round %d", i))
		if grp, _ := tk["group"].(map[string]any); grp == nil || grp["name"] != "Service" {
			t.Fatalf("the ticket's group: %v", tk["group"])
		}
		got = append(got, assigneeOf(tk))
	}
	if strings.Join(got, ",") != "Oleg,Pavel,Oleg,Pavel" {
		t.Errorf("round-robin gave %v", got)
	}
	var mailed bool
	for _, m := range g.e.Mails(t, "alpha") {
		mailed = mailed || strings.Contains(m, "pavel@alpha.test") && strings.Contains(m, "Service assigned ticket")
	}
	if !mailed {
		t.Error("Pavel was not told the group gave him a ticket")
	}

	// Pavel goes away handing his tickets back: they go to Oleg, the one
	// member at work, and so does the next new one.
	r := g.api(t, g.pavel, "PUT", fmt.Sprintf("/users/%d/presence", g.pavelID), map[string]any{"present": false, "hand_back": true})
	if r.Status != 200 || r.JSON(t)["handed_back"] != float64(2) {
		t.Fatalf("away: %d %s", r.Status, r.Body)
	}
	if r := g.api(t, g.pavel, "PUT", fmt.Sprintf("/users/%d/presence", g.olegID), map[string]any{"present": false}); r.Status != 403 {
		t.Errorf("an operator set someone else away: %d", r.Status)
	}
	list := g.api(t, g.admin, "GET", fmt.Sprintf("/tickets?group=%d&assignee=%d", g.service, g.olegID), nil).JSON(t)
	if list["total"] != float64(4) {
		t.Errorf("Oleg has %v of Service's 4 tickets", list["total"])
	}
	if a := assigneeOf(g.newTicket(t, "While Pavel is away")); a != "Oleg" {
		t.Errorf("a new ticket went to %q while Pavel is away", a)
	}
	// At the group's limit nobody is free: the ticket waits unassigned.
	g.api(t, g.admin, "PATCH", fmt.Sprintf("/groups/%d", g.service), map[string]any{"max_open": 5})
	if a := assigneeOf(g.newTicket(t, "Over the limit")); a != "" {
		t.Errorf("a ticket over everyone's limit went to %q", a)
	}

	// Moved to Line 2 (by hand): Oleg's ticket leaves Service, keeps no
	// one from Service; moved back to Service, a member takes it.
	first := g.newTicket(t, "To be moved")
	n := first["number"]
	r = g.api(t, g.op, "PATCH", fmt.Sprintf("/tickets/%v", n), map[string]any{"group": "Line 2"})
	if r.Status != 200 || r.JSON(t)["group"].(map[string]any)["name"] != "Line 2" {
		t.Fatalf("move to Line 2: %d %s", r.Status, r.Body)
	}
	if r := g.api(t, g.op, "PATCH", fmt.Sprintf("/tickets/%v", n), map[string]any{"group": "Nowhere"}); r.Status != 422 || !strings.Contains(r.Body, `"group"`) {
		t.Errorf("an unknown group: %d %s", r.Status, r.Body)
	}
	g.api(t, g.admin, "PATCH", fmt.Sprintf("/groups/%d", g.service), map[string]any{"max_open": 0})
	g.api(t, g.pavel, "PUT", fmt.Sprintf("/users/%d/presence", g.pavelID), map[string]any{"present": true})
	g.api(t, g.op, "PATCH", fmt.Sprintf("/tickets/%v", n), map[string]any{"assignee": g.ritaID})
	r = g.api(t, g.admin, "PATCH", fmt.Sprintf("/tickets/%v", n), map[string]any{"group": g.service})
	if a := assigneeOf(r.JSON(t)); a != "Oleg" && a != "Pavel" {
		t.Errorf("moved into Service from Rita, it went to %q", a)
	}
	if c := conversation(t, g.world, int64(n.(float64))); !strings.Contains(c, "moved the ticket to the group Line 2") || !strings.Contains(c, "The group Service assigned the ticket to") {
		t.Errorf("the history: %s", c)
	}
}

// TestGroupAccess: an operator limited to Line 2 and kept from a status
// sees exactly Line 2's tickets not in that status — ticket, page, files,
// table, search, live updates and mail answer as if the others did not
// exist; they cannot be given a ticket they may not see; a change that
// moves a ticket out of their sight is still answered.
func TestGroupAccess(t *testing.T) {
	g := newGroupsWorld(t)
	service := g.newTicket(t, "Kettle descaling")        // Service
	line2 := g.newTicket(t, "Firmware rollback")         // → Line 2
	hidden := g.newTicket(t, "Escalated warranty claim") // → Line 2, Escalated
	for _, tk := range []map[string]any{line2, hidden} {
		if r := g.api(t, g.admin, "PATCH", fmt.Sprintf("/tickets/%v", tk["number"]), map[string]any{"group": g.line2}); r.Status != 200 {
			t.Fatalf("move: %d %s", r.Status, r.Body)
		}
	}
	esc := g.api(t, g.admin, "POST", "/statuses", map[string]any{"name": "Escalated", "color": "#dc2626"})
	if esc.Status != 201 {
		t.Fatalf("status: %d %s", esc.Status, esc.Body)
	}
	escID := int64(esc.JSON(t)["id"].(float64))
	g.api(t, g.admin, "PATCH", fmt.Sprintf("/tickets/%v", hidden["number"]), map[string]any{"status": escID})
	g.api(t, g.ca, "POST", fmt.Sprintf("/tickets/%v/attachments", service["number"]), pdtest.Multipart{Files: map[string][]pdtest.File{"file": {{Name: "kettle.txt", Data: []byte("scale")}}}})

	// Bad limits answer at their fields and change nothing.
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"access_groups": []int64{999}}, "access_groups"},
		{map[string]any{"hidden_statuses": []int64{999}}, "hidden_statuses"},
	} {
		if r := g.api(t, g.admin, "PUT", fmt.Sprintf("/users/%d/access", g.ritaID), c.body); r.Status != 422 || !strings.Contains(r.Body, `"`+c.field+`"`) {
			t.Errorf("access %v: %d %s", c.body, r.Status, r.Body)
		}
	}
	if r := g.api(t, g.admin, "PUT", fmt.Sprintf("/users/%d/access", g.ritaID), map[string]any{"access_groups": []int64{g.line2}, "hidden_statuses": []int64{escID}}); r.Status != 200 {
		t.Fatalf("access: %d %s", r.Status, r.Body)
	}
	if r := g.api(t, g.rita, "PUT", fmt.Sprintf("/users/%d/access", g.ritaID), map[string]any{}); r.Status != 403 {
		t.Errorf("an operator lifted her own limits: %d", r.Status)
	}

	rita := g.e.SignIn(t, "alpha", "rita@alpha.test")
	num := func(tk map[string]any) string { return fmt.Sprint(tk["number"]) }
	var serviceFile string
	for _, f := range g.api(t, g.admin, "GET", "/tickets/"+num(service), nil).JSON(t)["attachments"].([]any) {
		serviceFile = fmt.Sprint(f.(map[string]any)["id"])
	}
	for _, c := range []struct {
		what, method, path string
		want               int
		ui                 bool
	}{
		{"Line 2's ticket", "GET", "/tickets/" + num(line2), 200, false},
		{"Service's ticket", "GET", "/tickets/" + num(service), 404, false},
		{"a hidden status's ticket", "GET", "/tickets/" + num(hidden), 404, false},
		{"Service's conversation", "GET", "/tickets/" + num(service) + "/messages", 404, false},
		{"Service's file", "GET", "/attachments/" + serviceFile, 404, false},
		{"a reply on Service's ticket", "POST", "/tickets/" + num(service) + "/messages", 404, false},
		{"a change of Service's ticket", "PATCH", "/tickets/" + num(service), 404, false},
		{"Line 2's page", "GET", "/alpha/tickets/" + num(line2), 200, true},
		{"Service's page", "GET", "/alpha/tickets/" + num(service), 404, true},
		{"the hidden ticket's page", "GET", "/alpha/tickets/" + num(hidden), 404, true},
		{"Service's live updates", "GET", "/alpha/tickets/" + num(service) + "/events", 404, true},
	} {
		var status int
		if c.ui {
			status = pdtest.Do(t, rita, c.method, g.e.URL+c.path, nil).Status
		} else {
			status = g.api(t, g.rita, c.method, c.path, map[string]any{"body": "Hello", "status": "Closed"}).Status
		}
		if status != c.want {
			t.Errorf("Rita, %s: %d, want %d", c.what, status, c.want)
		}
	}
	list := g.api(t, g.rita, "GET", "/tickets", nil).JSON(t)
	if list["total"] != float64(1) || !strings.Contains(fmt.Sprint(list["tickets"]), "Firmware rollback") {
		t.Errorf("Rita's table: %v", list)
	}
	for _, q := range []string{"Kettle", "warranty"} {
		if b := g.api(t, g.rita, "GET", "/tickets?q="+q, nil).Body; strings.Contains(b, `"number"`) {
			t.Errorf("Rita's search for %q found %s", q, b)
		}
	}
	if page := pdtest.Do(t, rita, "GET", g.e.URL+"/alpha/tickets", nil).Body; strings.Contains(page, "Kettle") || strings.Contains(page, "warranty") {
		t.Error("Rita's table page shows a ticket she may not see")
	}
	// Rita cannot be given Service's ticket.
	if r := g.api(t, g.admin, "PATCH", "/tickets/"+num(service), map[string]any{"assignee": g.ritaID}); r.Status != 422 || !strings.Contains(r.Body, `"assignee"`) {
		t.Errorf("Rita given a ticket she may not see: %d %s", r.Status, r.Body)
	}

	// Live: her ticket's page hears only of her ticket (and who else is
	// on it), never of Service's.
	events, stop := sseEvents(t, rita, g.e.URL+"/alpha/tickets/"+num(line2)+"/events")
	g.api(t, g.op, "POST", "/tickets/"+num(service)+"/messages", map[string]any{"body": "Descaled."})
	quiet := time.After(300 * time.Millisecond)
	for done := false; !done; {
		select {
		case ev := <-events:
			if strings.HasPrefix(ev, "ticket:") {
				t.Errorf("Rita's page heard of Service's ticket: %q", ev)
			}
		case <-quiet:
			done = true
		}
	}
	stop()

	// Mail: the client's reply on Service's unassigned ticket goes to the
	// staff who may see it, not to Rita.
	g.api(t, g.admin, "PATCH", "/tickets/"+num(service), map[string]any{"assignee": 0})
	g.api(t, g.ca, "POST", "/tickets/"+num(service)+"/messages", map[string]any{"body": "Is it done yet?"})
	var toOleg, toRita bool
	for _, m := range g.e.Mails(t, "alpha") {
		if strings.Contains(m, "Is it done yet?") {
			toOleg = toOleg || strings.Contains(m, "op@alpha.test")
			toRita = toRita || strings.Contains(m, "rita@alpha.test")
		}
	}
	if !toOleg || toRita {
		t.Errorf("the reply's mail: to Oleg %v, to Rita %v", toOleg, toRita)
	}

	// Rita moves her ticket to Service: the change is answered, and then
	// the ticket is gone from her sight.
	r := g.api(t, g.rita, "PATCH", "/tickets/"+num(line2), map[string]any{"group": "Service"})
	if r.Status != 200 || r.JSON(t)["group"].(map[string]any)["name"] != "Service" {
		t.Fatalf("Rita moves her ticket: %d %s", r.Status, r.Body)
	}
	if r := g.api(t, g.rita, "GET", "/tickets/"+num(line2), nil); r.Status != 404 {
		t.Errorf("after moving it away Rita reads it: %d", r.Status)
	}
	// Deleting Line 2 leaves Rita limited to nothing, not to everything.
	g.api(t, g.admin, "DELETE", fmt.Sprintf("/groups/%d", g.line2), nil)
	if l := g.api(t, g.rita, "GET", "/tickets", nil).JSON(t); l["total"] != float64(0) {
		t.Errorf("with her only group deleted Rita sees %v tickets", l["total"])
	}
}
