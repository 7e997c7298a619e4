package portal_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/provisioner"
)

// TestSLA: working hours and policies set through the API (errors at their
// fields); a ticket's clocks follow its life — the first answer stops the
// first one, waiting for the client pauses resolution, the client's reply
// resumes it with the time left; a priority change picks another policy;
// the minute's job marks each passed target once, with an event, a mail
// and (where the policy says) a higher priority; only portals with
// policies are visited.
func TestSLA(t *testing.T) {
	msk := time.FixedZone("MSK", 3*3600)
	clk := &clock{t: time.Date(2026, 11, 30, 10, 0, 0, 0, msk)} // a Monday
	e := pdtest.New(t, provisioner.Config{})
	e.Svc.SetClock(clk.Now)
	w := worldOn(t, e)
	api := func(tok, method, path string, body any) pdtest.Resp { return w.api(t, tok, method, path, body) }
	at := func(day, hour, min int) int64 { return time.Date(2026, 11, 30+day, hour, min, 0, 0, msk).Unix() }

	for _, c := range []struct {
		path  string
		body  map[string]any
		field string
	}{
		{"/business-hours", map[string]any{"hours": map[string]any{"time_zone": "Moon/Base", "week": map[string]any{"mon": []any{map[string]any{"from": "09:00", "to": "18:00"}}}}}, "time_zone"},
		{"/business-hours", map[string]any{"hours": map[string]any{"time_zone": "Europe/Moscow", "week": map[string]any{"mon": []any{map[string]any{"from": "18:00", "to": "09:00"}}}}}, "week.mon"},
		{"/sla-policies", map[string]any{"name": "Nothing"}, "first_response_minutes"},
		{"/sla-policies", map[string]any{"name": "Odd", "priorities": []string{"asap"}, "first_response_minutes": 60}, "priorities"},
		{"/sla-policies", map[string]any{"name": "", "first_response_minutes": 60}, "name"},
	} {
		method := "POST"
		if c.path == "/business-hours" {
			method = "PUT"
		}
		if r := api(w.admin, method, c.path, c.body); r.Status != 422 || !strings.Contains(r.Body, `"`+c.field+`"`) {
			t.Errorf("%s %v: %d %s", c.path, c.body, r.Status, r.Body)
		}
	}
	nine := []any{map[string]any{"from": "09:00", "to": "18:00"}}
	week := map[string]any{"mon": nine, "tue": nine, "wed": nine, "thu": nine, "fri": nine}
	if r := api(w.admin, "PUT", "/business-hours", map[string]any{"time_zone": "Europe/Moscow", "week": week}); r.Status != 200 || r.JSON(t)["time_zone"] != "Europe/Moscow" || r.JSON(t)["set"] != true {
		t.Fatalf("hours: %d %s", r.Status, r.Body)
	}
	if r := api(w.op, "PUT", "/business-hours", map[string]any{"hours": nil}); r.Status != 403 {
		t.Errorf("an operator changed the hours: %d", r.Status)
	}
	if r := api(w.admin, "POST", "/business-hours/import", map[string]any{"year": 2030}); r.Status != 422 || !strings.Contains(r.Body, `"year"`) {
		t.Errorf("a year the calendar lacks: %d %s", r.Status, r.Body)
	}
	if r := api(w.admin, "POST", "/business-hours/import", map[string]any{"year": 2026}); r.Status != 200 || !strings.Contains(r.Body, "2026-01-07") {
		t.Errorf("the production calendar: %d %s", r.Status, r.Body)
	}
	for _, p := range []map[string]any{
		{"name": "Urgent", "priorities": []string{"urgent"}, "first_response_minutes": 60, "resolution_minutes": 240},
		{"name": "Standard", "first_response_minutes": 240, "next_response_minutes": 120, "resolution_minutes": 960, "escalate": true},
	} {
		if r := api(w.admin, "POST", "/sla-policies", p); r.Status != 201 {
			t.Fatalf("policy: %d %s", r.Status, r.Body)
		}
	}
	sla := func(n int64) map[string]any {
		tk := api(w.admin, "GET", fmt.Sprintf("/tickets/%d", n), nil).JSON(t)
		s, _ := tk["sla"].(map[string]any)
		return s
	}
	unix := func(v any) int64 { f, _ := v.(float64); return int64(f) }

	// A ticket at 10:00 on Monday: first answer by 14:00, resolution in 16
	// working hours — 8 on Monday, 8 on Tuesday: 17:00 on Tuesday.
	n := int64(api(w.ca, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "Scanner", "description": "Dead"}}).JSON(t)["number"].(float64))
	tp := fmt.Sprintf("/tickets/%d", n)
	s := sla(n)
	if unix(s["first_response_due"]) != at(0, 14, 0) || unix(s["resolution_due"]) != at(1, 17, 0) {
		t.Fatalf("the new ticket's clocks: %v", s)
	}
	api(w.op, "PATCH", tp, map[string]any{"assignee": "me"})
	clk.Add(time.Hour)
	api(w.op, "POST", tp+"/messages", map[string]any{"body": "Looking at it."})
	if s := sla(n); s["first_response_due"] != nil || unix(s["resolution_due"]) != at(1, 17, 0) {
		t.Errorf("after the first answer: %v", s)
	}
	// Waiting for the client from 12:00 (2 working hours spent): paused.
	clk.Add(time.Hour)
	api(w.op, "PATCH", tp, map[string]any{"status": "Waiting for client"})
	if s := sla(n); s["resolution_due"] != nil || s["paused"] != true {
		t.Errorf("waiting for the client: %v", s)
	}
	// The client answers on Wednesday at 12:00: 14 hours left — 6 on
	// Wednesday, 8 on Thursday: 17:00 on Thursday.
	clk.Add(48 * time.Hour)
	api(w.ca, "POST", tp+"/messages", map[string]any{"body": "Here are the photos."})
	if s := sla(n); unix(s["resolution_due"]) != at(3, 17, 0) || s["paused"] == true {
		t.Errorf("resumed: %v (want %d)", s, at(3, 17, 0))
	}
	// Her message after the first answer waits for the next one: two
	// working hours, 14:00; staff answering stops that clock.
	if s := sla(n); unix(s["next_response_due"]) != at(2, 14, 0) {
		t.Errorf("the next response clock: %v (want %d)", s, at(2, 14, 0))
	}
	api(w.op, "POST", tp+"/messages", map[string]any{"body": "Thanks, looking."})
	if s := sla(n); s["next_response_due"] != nil {
		t.Errorf("answered, the next response clock still runs: %v", s)
	}

	// Friday 17:00: a ticket made urgent gets the urgent policy — first
	// answer by 18:00 the same day.
	clk.Add(53 * time.Hour)
	m := int64(api(w.ca, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "Server down", "description": "All of it"}}).JSON(t)["number"].(float64))
	api(w.admin, "PATCH", fmt.Sprintf("/tickets/%d", m), map[string]any{"priority": "urgent"})
	if s := sla(m); unix(s["first_response_due"]) != at(4, 18, 0) {
		t.Errorf("the urgent ticket: %v (want %d)", s, at(4, 18, 0))
	}

	// The urgent ticket waits in a group with nobody in it but a lead.
	opID := api(w.op, "GET", "/me", nil).JSON(t)["id"]
	desk := api(w.admin, "POST", "/groups", map[string]any{"name": "Desk", "lead": opID}).JSON(t)["id"]
	api(w.admin, "PATCH", fmt.Sprintf("/tickets/%d", m), map[string]any{"group": desk})

	// Monday 10:00 next week: the urgent ticket's first answer is late,
	// the scanner's resolution (Thursday 17:00) too, and both targets of
	// the world's first ticket, never answered.
	clk.Add(65 * time.Hour)
	portals, breaches, err := e.Svc.CheckClocks(t.Context())
	if err != nil || portals != 1 || breaches != 4 {
		t.Fatalf("the job: %d portals, %d breaches, %v", portals, breaches, err)
	}
	if _, again, _ := e.Svc.CheckClocks(t.Context()); again != 0 {
		t.Errorf("the job run again marked %d more", again)
	}
	tk := api(w.admin, "GET", tp, nil).JSON(t)
	if tk["priority"] != "high" || tk["sla"].(map[string]any)["breached"] != true {
		t.Errorf("the scanner after its breach: priority %v, sla %v", tk["priority"], tk["sla"])
	}
	if c := conversation(t, w, n); !strings.Contains(c, "The resolution target passed") || !strings.Contains(c, "raised the priority from normal to high") {
		t.Errorf("the scanner's history: %s", c)
	}
	if api(w.admin, "GET", fmt.Sprintf("/tickets/%d", m), nil).JSON(t)["priority"] != "urgent" {
		t.Error("a policy without escalation raised the priority")
	}
	var toOp, toAdmin, toLead bool
	for _, mail := range e.Mails(t, "alpha") {
		toOp = toOp || strings.Contains(mail, "op@alpha.test") && strings.Contains(mail, "resolution target")
		toAdmin = toAdmin || strings.Contains(mail, "admin@alpha.test") && strings.Contains(mail, fmt.Sprintf("#%d (Printer jams)", w.ticket))
		toLead = toLead || strings.Contains(mail, "op@alpha.test") && strings.Contains(mail, fmt.Sprintf("#%d (Server down)", m))
	}
	if !toOp || !toAdmin || !toLead {
		t.Errorf("breach mail: to the assignee %v, to the admin of an unassigned ticket %v, to the group's lead %v", toOp, toAdmin, toLead)
	}
	if page := pdtest.Do(t, e.SignIn(t, "alpha", "op@alpha.test"), "GET", e.URL+"/alpha/tickets", nil).Body; !strings.Contains(page, `class="due late"`) {
		t.Error("the table does not mark the late tickets")
	}

	// Clients see no clocks until the portal shows its promises, and then
	// only the due times.
	if c := api(w.ca, "GET", tp, nil).JSON(t); c["sla"] != nil {
		t.Errorf("a client sees the clocks: %v", c["sla"])
	}
	api(w.admin, "PATCH", "/settings", map[string]any{"sla_to_clients": true})
	if c := api(w.cb, "GET", fmt.Sprintf("/tickets/%d", m), nil); c.Status != 404 {
		t.Errorf("another client reads the urgent ticket: %d", c.Status)
	}
	urgent := api(w.ca, "GET", fmt.Sprintf("/tickets/%d", m), nil).JSON(t)["sla"].(map[string]any)
	if unix(urgent["resolution_due"]) == 0 || urgent["policy"] != float64(0) || urgent["breached"] == true {
		t.Errorf("what a client sees of the clocks: %v", urgent)
	}
	if page := pdtest.Do(t, e.SignIn(t, "alpha", "ca@alpha.test"), "GET", fmt.Sprintf("%s/alpha/tickets/%d", e.URL, m), nil).Body; !strings.Contains(page, "We aim to resolve it by") {
		t.Error("the client's page does not show the promised time")
	}

	// Statistics count what was kept: the urgent policy's one ticket late,
	// the standard policy's two (the world's and the scanner) late too.
	stats := api(w.admin, "GET", "/stats?from=2026-11-30&to=2026-12-07", nil)
	if !strings.Contains(stats.Body, `{"by":"policy","name":"Standard","tickets":2,"breached":2,"met_percent":0}`) ||
		!strings.Contains(stats.Body, `{"by":"policy","name":"Urgent","tickets":1,"breached":1,"met_percent":0}`) {
		t.Errorf("SLA compliance: %s", stats.Body)
	}
	if csv := api(w.admin, "GET", "/stats?from=2026-11-30&to=2026-12-07&format=csv&table=sla", nil).Body; !strings.Contains(csv, "policy,Standard,2,2,0.0") {
		t.Errorf("SLA compliance CSV: %s", csv)
	}

	// Without policies the portal is not visited.
	for _, p := range api(w.admin, "GET", "/sla-policies", nil).JSON(t)["policies"].([]any) {
		api(w.admin, "DELETE", fmt.Sprintf("/sla-policies/%v", p.(map[string]any)["id"]), nil)
	}
	if portals, _, _ := e.Svc.CheckClocks(t.Context()); portals != 0 {
		t.Errorf("with no policies the job still visits %d portals", portals)
	}
	if s := sla(n); s != nil {
		t.Errorf("with no policies the ticket keeps clocks: %v", s)
	}
}

// TestSLAConditions: a policy's conditions besides priority and group —
// the client's address, words, given as an object or as a trigger's list
// — choose the policy; a bad one answers at "conditions".
func TestSLAConditions(t *testing.T) {
	w := newWorld(t)
	for _, c := range []any{map[string]any{"mood": "bad"}, []any{map[string]any{"field": "priority", "op": "is", "value": "asap"}}} {
		if r := w.api(t, w.admin, "POST", "/sla-policies", map[string]any{"name": "X", "first_response_minutes": 30, "conditions": c}); r.Status != 422 || !strings.Contains(r.Body, `"conditions`) {
			t.Errorf("conditions %v: %d %s", c, r.Status, r.Body)
		}
	}
	for _, p := range []map[string]any{
		{"name": "Refunds", "first_response_minutes": 15, "conditions": []any{map[string]any{"field": "subject", "op": "contains", "value": "refund"}}},
		{"name": "Carol", "first_response_minutes": 30, "conditions": map[string]any{"client_email": "ca@alpha.test", "priority": []string{"normal", "high"}}},
		{"name": "Everyone", "first_response_minutes": 240},
	} {
		if r := w.api(t, w.admin, "POST", "/sla-policies", p); r.Status != 201 {
			t.Fatalf("policy %v: %d %s", p["name"], r.Status, r.Body)
		}
	}
	names := map[float64]string{}
	for _, p := range w.api(t, w.admin, "GET", "/sla-policies", nil).JSON(t)["policies"].([]any) {
		names[p.(map[string]any)["id"].(float64)] = p.(map[string]any)["name"].(string)
	}
	policyOf := func(tok, subject string) string {
		n := w.api(t, tok, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": subject, "description": "…"}}).JSON(t)["number"]
		s := w.api(t, w.admin, "GET", fmt.Sprintf("/tickets/%v", n), nil).JSON(t)["sla"].(map[string]any)
		return names[s["policy"].(float64)]
	}
	for _, c := range []struct{ tok, subject, want string }{
		{w.cb, "A refund, please", "Refunds"}, {w.ca, "Printer", "Carol"}, {w.cb, "Printer", "Everyone"},
	} {
		if got := policyOf(c.tok, c.subject); got != c.want {
			t.Errorf("%q: policy %q, want %q", c.subject, got, c.want)
		}
	}
}
