package portal_test

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
	"portaldesk/provisioner"
	"portaldesk/quota"
)

// TestWorkflowMovesTicketsByThemselves: taking a new ticket puts it in
// progress; a client's reply brings a resolved or waiting ticket back to
// work; a ticket that waits for its client past the set days is resolved
// by the hourly job, with an event and a mail to the client; a reply
// before then cancels it; each part can be switched off, and a wrong
// setting is refused at its field.
func TestWorkflowMovesTicketsByThemselves(t *testing.T) {
	clk := &clock{t: time.Now()}
	e := pdtest.New(t, provisioner.Config{})
	e.Svc.SetClock(clk.Now)
	e.Create(t, "alpha")
	e.AddUser(t, "alpha", "ca@alpha.test", "Carol", portal.RoleClient)
	admin, ca := e.Login(t, "alpha", "admin@alpha.test"), e.Login(t, "alpha", "ca@alpha.test")
	api := func(tok, method, path string, body any) pdtest.Resp {
		return e.API(t, tok, method, "alpha", path, body)
	}
	n := int64(api(ca, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "Printer", "description": "Jams"}}).JSON(t)["number"].(float64))
	tp := fmt.Sprintf("/tickets/%d", n)
	status := func() string {
		return api(admin, "GET", tp, nil).JSON(t)["status"].(map[string]any)["name"].(string)
	}
	api(admin, "PATCH", tp, map[string]any{"assignee": "me"})
	if s := status(); s != "In progress" {
		t.Fatalf("a taken ticket is %q", s)
	}
	api(admin, "PATCH", tp, map[string]any{"status": "Resolved"})
	api(ca, "POST", tp+"/messages", map[string]any{"body": "It jams again"})
	if s := status(); s != "In progress" {
		t.Fatalf("after the client's reply on a resolved ticket: %q", s)
	}
	if tl := api(admin, "GET", tp+"/messages", nil).Body; !strings.Contains(tl, "The client's reply moved the ticket from Resolved to In progress") {
		t.Fatal("no event says the reply reopened it")
	}
	// Waiting for the client: a reply cancels the wait; silence resolves it.
	jobs := quota.New(e.Svc)
	api(admin, "PATCH", tp, map[string]any{"status": "Waiting for client"})
	clk.Add(3 * 24 * time.Hour)
	api(ca, "POST", tp+"/messages", map[string]any{"body": "Still there?"})
	api(admin, "PATCH", tp, map[string]any{"status": "Waiting for client"})
	clk.Add(6 * 24 * time.Hour)
	if c, err := jobs.Run(context.Background(), "autoclose", clk.Now()); err != nil || c["closed"] != 0 {
		t.Fatalf("six days after the last word: %v %v", c, err)
	}
	clk.Add(2 * 24 * time.Hour)
	if c, err := jobs.Run(context.Background(), "autoclose", clk.Now()); err != nil || c["closed"] != 1 {
		t.Fatalf("eight days after the last word: %v %v", c, err)
	}
	if s := status(); s != "Resolved" {
		t.Fatalf("after the wait: %q", s)
	}
	mails := strings.Join(e.Mails(t, "alpha"), "\n")
	if !strings.Contains(mails, "is now: Resolved") {
		t.Fatal("the client was not told")
	}
	if tl := api(admin, "GET", tp+"/messages", nil).Body; !strings.Contains(tl, "no answer from the client for 7 days") {
		t.Fatal("no event says why it was resolved")
	}
	// Switched off: a reply leaves a resolved ticket resolved.
	if r := api(admin, "PUT", "/workflow", map[string]any{"reopen_status": 0}); r.Status != 200 {
		t.Fatalf("workflow: %d %s", r.Status, r.Body)
	}
	api(ca, "POST", tp+"/messages", map[string]any{"body": "Thanks"})
	if s := status(); s != "Resolved" {
		t.Fatalf("with reopening off: %q", s)
	}
	wf := api(admin, "GET", "/workflow", nil).JSON(t)
	r := api(admin, "PUT", "/workflow", map[string]any{"auto_close_status": wf["take_status"], "auto_close_days": 400})
	fields := r.JSON(t)["error"].(map[string]any)["fields"].(map[string]any)
	if r.Status != 422 || fields["auto_close_status"] == nil || fields["auto_close_days"] == nil {
		t.Fatalf("a wrong workflow: %d %s", r.Status, r.Body)
	}
	if got := api(admin, "GET", "/workflow", nil).JSON(t); got["auto_close_days"] != float64(7) {
		t.Fatalf("a refused change changed the workflow: %v", got)
	}
}

// TestSearchFindsAnswers: a ticket is found by what its client answered
// in the questionnaire — a serial number, a phone — by staff and by that
// client, never by another client.
func TestSearchFindsAnswers(t *testing.T) {
	w := newWorld(t)
	w.api(t, w.admin, "PUT", "/form", map[string]any{"fields": []map[string]any{{"id": 1}, {"id": 2}, {"label": "Serial number", "type": "text"}, {"label": "Phone", "type": "phone"}}})
	form := w.api(t, w.admin, "GET", "/form", nil).JSON(t)["fields"].([]any)
	fields := map[string]any{"subject": "Dead screen", "description": "Black since Monday"}
	fields[form[2].(map[string]any)["name"].(string)] = "SN-77X41Q"
	fields[form[3].(map[string]any)["name"].(string)] = "+7 912 345-67-89"
	n := int64(w.api(t, w.ca, "POST", "/tickets", map[string]any{"fields": fields}).JSON(t)["number"].(float64))
	has := func(tok, q string) bool {
		return strings.Contains(w.api(t, tok, "GET", "/tickets?q="+q, nil).Body, fmt.Sprintf(`"number":%d`, n))
	}
	for _, q := range []string{"SN-77X41Q", "77X41Q", "912"} {
		if !has(w.op, q) || !has(w.ca, q) {
			t.Errorf("%q does not find the ticket", q)
		}
	}
	if has(w.cb, "SN-77X41Q") {
		t.Error("another client finds the ticket by its answer")
	}
}

// TestUnreadOnlyFilter: an operator's table can show only the tickets with
// something new for them; opening one takes it off that list.
func TestUnreadOnlyFilter(t *testing.T) {
	w := newWorld(t)
	n2 := int64(w.api(t, w.cb, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "Scanner", "description": "Stuck"}}).JSON(t)["number"].(float64))
	numbers := func() string {
		var out []string
		for _, tk := range w.api(t, w.op, "GET", "/tickets?unread=1", nil).JSON(t)["tickets"].([]any) {
			out = append(out, fmt.Sprint(tk.(map[string]any)["number"]))
		}
		return strings.Join(out, ",")
	}
	if got, want := numbers(), fmt.Sprintf("%d,%d", n2, w.ticket); got != want {
		t.Fatalf("unread: %s, want %s", got, want)
	}
	op := w.e.SignIn(t, "alpha", "op@alpha.test")
	pdtest.Do(t, op, "GET", fmt.Sprintf("%s/alpha/tickets/%d", w.e.URL, n2), nil)
	if got := numbers(); got != fmt.Sprint(w.ticket) {
		t.Fatalf("after opening #%d: %s", n2, got)
	}
	if page := pdtest.Do(t, op, "GET", w.e.URL+"/alpha/tickets?unread=1", nil).Body; !strings.Contains(page, `name="unread" value="1" checked`) {
		t.Fatal("the page's filter does not show it is on")
	}
}

// TestReplyAndSetStatusInOneGo: staff send a reply and set the ticket's
// status with one click; an unknown status refuses the whole post.
func TestReplyAndSetStatusInOneGo(t *testing.T) {
	w := newWorld(t)
	op := w.e.SignIn(t, "alpha", "op@alpha.test")
	u := fmt.Sprintf("%s/alpha/tickets/%d/messages", w.e.URL, w.ticket)
	count := func() int {
		return len(w.api(t, w.op, "GET", fmt.Sprintf("/tickets/%d/messages", w.ticket), nil).JSON(t)["messages"].([]any))
	}
	before := count()
	if r := pdtest.Do(t, op, "POST", u, url.Values{"body": {"Fixed"}, "then_status": {"999"}}); r.Status != 422 || count() != before {
		t.Fatalf("an unknown status: %d, %d entries added", r.Status, count()-before)
	}
	sts := w.api(t, w.admin, "GET", "/statuses", nil).JSON(t)["statuses"].([]any)
	var resolved any
	for _, st := range sts {
		if st.(map[string]any)["name"] == "Resolved" {
			resolved = st.(map[string]any)["id"]
		}
	}
	r := pdtest.Do(t, op, "POST", u, url.Values{"body": {"Fixed: a new cartridge"}, "then_status": {fmt.Sprint(resolved)}})
	if r.Status != 303 || !strings.Contains(r.Header.Get("Location"), "the+ticket+is+now+Resolved") {
		t.Fatalf("reply and resolve: %d %s", r.Status, r.Header.Get("Location"))
	}
	if st := w.api(t, w.op, "GET", fmt.Sprintf("/tickets/%d", w.ticket), nil).JSON(t)["status"].(map[string]any)["name"]; st != "Resolved" {
		t.Fatalf("status: %v", st)
	}
}

// TestTakeFromTheRow: an operator takes an unassigned ticket from its row
// of the table, and stays on the table.
func TestTakeFromTheRow(t *testing.T) {
	w := newWorld(t)
	op := w.e.SignIn(t, "alpha", "op@alpha.test")
	page := pdtest.Do(t, op, "GET", w.e.URL+"/alpha/tickets", nil).Body
	form := regexp.MustCompile(fmt.Sprintf(`<form method="post" action="/alpha/tickets/%d/update"><input type="hidden" name="_csrf" value="([^"]+)">`, w.ticket)).FindStringSubmatch(page)
	if form == nil {
		t.Fatal("no Take in the unassigned ticket's row")
	}
	r := pdtest.Do(t, op, "POST", fmt.Sprintf("%s/alpha/tickets/%d/update", w.e.URL, w.ticket), url.Values{"_csrf": {form[1]}, "assignee": {"me"}, "back": {"list"}})
	if r.Status != 303 || !strings.HasPrefix(r.Header.Get("Location"), "/alpha/tickets?done=") {
		t.Fatalf("take: %d %s", r.Status, r.Header.Get("Location"))
	}
	tk := w.api(t, w.op, "GET", fmt.Sprintf("/tickets/%d", w.ticket), nil).JSON(t)
	if tk["assignee"].(map[string]any)["name"] != "Oleg" || tk["status"].(map[string]any)["name"] != "In progress" {
		t.Fatalf("after Take: %v %v", tk["assignee"], tk["status"])
	}
	if page := pdtest.Do(t, w.e.SignIn(t, "alpha", "ca@alpha.test"), "GET", w.e.URL+"/alpha/tickets", nil).Body; strings.Contains(page, "/update") {
		t.Fatal("a client's list offers Take")
	}
}

// TestQuoteNamesTheTariff: the price of a change names the tariff as
// people know it, and counts operators in words.
func TestQuoteNamesTheTariff(t *testing.T) {
	w := newWorld(t)
	if q := w.api(t, w.admin, "GET", "/subscription/quote?tariff=start&operators=3", nil).JSON(t); q["tariff_name"] != "Start" {
		t.Fatalf("quote: %v", q)
	}
	admin := w.e.SignIn(t, "alpha", "admin@alpha.test")
	page := pdtest.Do(t, admin, "POST", w.e.URL+"/alpha/admin/subscription?lang=ru", url.Values{"tariff": {"start"}, "operators": {"3"}}).Body
	if !strings.Contains(page, "Start, 3 оператора") {
		t.Fatal("the Russian quote does not read as Russian")
	}
}

// TestRussianTemplatePreviewReadsRussian: the preview of a Russian mail
// template fills it with Russian sample values.
func TestRussianTemplatePreviewReadsRussian(t *testing.T) {
	w := newWorld(t)
	admin := w.e.SignIn(t, "alpha", "admin@alpha.test")
	page := pdtest.Do(t, admin, "GET", w.e.URL+"/alpha/admin/mail/templates/message/ru", nil).Body
	if !strings.Contains(page, "Олег Петров") || strings.Contains(page, "Oleg Petrov") {
		t.Fatal("the Russian preview is not filled with Russian samples")
	}
}
