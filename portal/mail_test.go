package portal_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"mime"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
	"portaldesk/provisioner"
)

// clock is a settable time for retries and expiry.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// mailWorld is alpha with an admin, an operator and a client, mailing
// through a real SMTP server with STARTTLS and AUTH.
type mailWorld struct {
	e              *pdtest.Env
	smtp           *pdtest.SMTPServer
	clk            *clock
	admin, op, cli string
}

func newMailWorld(t *testing.T) *mailWorld {
	srv := pdtest.StartSMTP(t)
	clk := &clock{t: time.Now()}
	e := pdtest.New(t, provisioner.Config{SMTPURL: srv.URL(), MailFrom: "support@portaldesk.test", SMTPRootCAs: trustAll(srv)})
	e.Svc.SetClock(clk.Now)
	e.Create(t, "alpha")
	e.SetPlan(t, "alpha", "business", 5, 0, 0)
	e.AddUser(t, "alpha", "op@alpha.test", "Oleg", portal.RoleOperator)
	e.AddUser(t, "alpha", "cli@alpha.test", "Carol", portal.RoleClient)
	return &mailWorld{e: e, smtp: srv, clk: clk,
		admin: e.Login(t, "alpha", "admin@alpha.test"), op: e.Login(t, "alpha", "op@alpha.test"), cli: e.Login(t, "alpha", "cli@alpha.test")}
}

func (w *mailWorld) deliver(t *testing.T) {
	t.Helper()
	if err := w.e.Svc.Mailer().Deliver(context.Background(), "alpha"); err != nil {
		t.Fatal(err)
	}
}

func (w *mailWorld) api(t *testing.T, tok, method, path string, body any) pdtest.Resp {
	t.Helper()
	return w.e.API(t, tok, method, "alpha", path, body)
}

func (w *mailWorld) outbox(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, m := range w.api(t, w.admin, "GET", "/outbox", nil).JSON(t)["mail"].([]any) {
		out = append(out, m.(map[string]any))
	}
	return out
}

func TestEachEventMailsTheRightPeople(t *testing.T) {
	w := newMailWorld(t)
	count := func(addr string) int { return len(w.smtp.To(addr)) }
	r := w.api(t, w.cli, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "Printer jams", "description": "Every morning."}})
	n := int64(r.JSON(t)["number"].(float64))
	w.deliver(t)
	if count("admin@alpha.test") != 1 || count("op@alpha.test") != 1 || count("cli@alpha.test") != 0 {
		t.Fatalf("new ticket: admin %d, operator %d, client %d", count("admin@alpha.test"), count("op@alpha.test"), count("cli@alpha.test"))
	}
	first := pdtest.Parse(t, w.smtp.To("op@alpha.test")[0].Data)
	if !strings.Contains(first.Subject, fmt.Sprintf("[#%d]", n)) || !strings.Contains(first.Text, "Every morning.") {
		t.Fatalf("new ticket mail: %q %q", first.Subject, first.Text)
	}
	// The admin assigns it to the operator: the operator hears of it.
	ops := w.api(t, w.admin, "GET", "/users?role=operator", nil).JSON(t)["users"].([]any)
	opID := ops[0].(map[string]any)["id"]
	w.api(t, w.admin, "PATCH", fmt.Sprintf("/tickets/%d", n), map[string]any{"assignee": opID})
	w.deliver(t)
	if count("op@alpha.test") != 2 {
		t.Fatalf("assignment: operator has %d mails", count("op@alpha.test"))
	}
	// An internal note reaches nobody; a reply reaches the client.
	w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/messages", n), map[string]any{"body": "NOTE-TEXT the client is on old firmware", "internal": true})
	w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/messages", n), map[string]any{"body": "Please update the firmware."})
	w.deliver(t)
	// The client heard that the taken ticket is in progress, then the reply.
	if count("cli@alpha.test") != 2 || count("admin@alpha.test") != 1 {
		t.Fatalf("reply: client %d, admin %d", count("cli@alpha.test"), count("admin@alpha.test"))
	}
	for _, m := range w.smtp.Received() {
		if strings.Contains(pdtest.Parse(t, m.Data).Text, "NOTE-TEXT") {
			t.Fatalf("an internal note was mailed to %v", m.To)
		}
	}
	reply := pdtest.Parse(t, w.smtp.To("cli@alpha.test")[1].Data) // after the "in progress" one
	if !strings.Contains(reply.Text, "Please update the firmware.") || reply.Header.Get("In-Reply-To") == "" ||
		!strings.HasSuffix(reply.Header.Get("References"), reply.Header.Get("In-Reply-To")) || reply.Header.Get("Message-Id") == "" {
		t.Fatalf("reply mail: %v", reply.Header)
	}
	// The client answers: the assignee hears, not the other staff.
	w.api(t, w.cli, "POST", fmt.Sprintf("/tickets/%d/messages", n), map[string]any{"body": "Done, thanks."})
	// Status change: the client hears.
	w.api(t, w.op, "PATCH", fmt.Sprintf("/tickets/%d", n), map[string]any{"status": "Resolved"})
	w.deliver(t)
	if count("op@alpha.test") != 3 || count("admin@alpha.test") != 1 || count("cli@alpha.test") != 3 {
		t.Fatalf("after the client's answer and the status: op %d, admin %d, client %d", count("op@alpha.test"), count("admin@alpha.test"), count("cli@alpha.test"))
	}
	if s := pdtest.Parse(t, w.smtp.To("cli@alpha.test")[2].Data); !strings.Contains(s.Text, "Resolved") {
		t.Fatalf("status mail: %s", s.Text)
	}
	// Every message reached the server authenticated, over STARTTLS, from the configured sender.
	for _, m := range w.smtp.Received() {
		if m.From != "support@portaldesk.test" {
			t.Fatalf("from %q", m.From)
		}
	}
}

func TestOptOutsAreHonoured(t *testing.T) {
	w := newMailWorld(t)
	if r := w.api(t, w.cli, "PUT", "/profile", map[string]any{"notify": map[string]bool{"message": false, "status": true}}); r.Status != 200 {
		t.Fatal(r.Status, r.Body)
	}
	n := w.api(t, w.cli, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "S", "description": "D"}}).JSON(t)["number"]
	w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%v/messages", n), map[string]any{"body": "A reply the client opted out of"})
	w.api(t, w.op, "PATCH", fmt.Sprintf("/tickets/%v", n), map[string]any{"status": "Closed"})
	w.deliver(t)
	got := w.smtp.To("cli@alpha.test")
	if len(got) != 1 || !strings.Contains(pdtest.Parse(t, got[0].Data).Text, "Closed") {
		t.Fatalf("client got %d mails", len(got))
	}
}

func TestOutageLosesNothing(t *testing.T) {
	w := newMailWorld(t)
	stateOf := func(id float64) map[string]any {
		for _, m := range w.outbox(t) {
			if m["id"] == id {
				return m
			}
		}
		t.Fatal("no such mail")
		return nil
	}
	w.smtp.Close() // down
	if r := w.api(t, w.admin, "POST", "/users", map[string]any{"name": "Dora", "email": "dora@example.com", "role": "client"}); r.Status != 201 {
		t.Fatal(r.Status)
	}
	w.deliver(t)
	m := w.outbox(t)[0]
	id := m["id"].(float64)
	if m["state"] != "pending" || m["attempts"].(float64) != 1 || m["last_error"] == "" {
		t.Fatalf("while down: %v", m)
	}
	// Not due yet: nothing happens; the first retry comes within seconds.
	w.deliver(t)
	if stateOf(id)["attempts"].(float64) != 1 {
		t.Fatal("retried before its time")
	}
	w.smtp.Restart(t)
	w.smtp.FailWith(451) // back, but busy: try again later
	w.clk.Add(3 * time.Second)
	w.deliver(t)
	if s := stateOf(id); s["state"] != "pending" || s["attempts"].(float64) != 2 || !strings.Contains(s["last_error"].(string), "451") {
		t.Fatalf("after 451: %v", s)
	}
	w.smtp.FailWith(0)
	w.clk.Add(10 * time.Second)
	w.deliver(t)
	if s := stateOf(id); s["state"] != "sent" || len(w.smtp.To("dora@example.com")) != 1 {
		t.Fatalf("after recovery: %v, %d delivered", s, len(w.smtp.To("dora@example.com")))
	}
	// A permanent refusal ends in failed at once; the admin can retry it.
	w.smtp.FailWith(550)
	w.api(t, w.admin, "POST", "/users", map[string]any{"name": "Eve", "email": "eve@example.com", "role": "client"})
	w.deliver(t)
	m = w.outbox(t)[0]
	if m["state"] != "failed" || !strings.Contains(m["last_error"].(string), "550") {
		t.Fatalf("after 550: %v", m)
	}
	page := pdtest.Do(t, w.e.SignIn(t, "alpha", "admin@alpha.test"), "GET", w.e.URL+"/alpha/admin/mail", nil)
	if !strings.Contains(page.Body, "eve@example.com") || !strings.Contains(page.Body, "failed") {
		t.Fatal("the admin's mail log does not show the failure")
	}
	w.smtp.FailWith(0)
	if r := w.api(t, w.admin, "POST", "/outbox/retry", map[string]any{"id": m["id"]}); r.Status != 200 {
		t.Fatal(r.Status)
	}
	w.deliver(t)
	if stateOf(m["id"].(float64))["state"] != "sent" || len(w.smtp.To("eve@example.com")) != 1 {
		t.Fatal("retry by the admin did not deliver")
	}
	// Backoff: seconds first, never more than minutes.
	if portal.RetryDelay(1) > 5*time.Second || portal.RetryDelay(30) > 10*time.Minute {
		t.Fatalf("backoff %v … %v", portal.RetryDelay(1), portal.RetryDelay(30))
	}
}

func TestMailQueuedBeforeACrashIsDeliveredAfter(t *testing.T) {
	srv := pdtest.StartSMTP(t)
	dir := t.TempDir()
	e := pdtest.New(t, provisioner.Config{DataDir: dir, SMTPURL: srv.URL()})
	e.Create(t, "alpha")
	e.Svc.Mailer().Stop() // the process dies right after the commit, before sending
	r := pdtest.Do(t, nil, "POST", e.URL+"/alpha/api/v1/register", map[string]string{"name": "Fay", "surname": "F", "email": "fay@example.com"})
	if r.Status != 202 {
		t.Fatal(r.Status)
	}
	e.Close()
	if len(srv.Received()) != 0 {
		t.Fatal("sent before the crash")
	}
	pdtest.New(t, provisioner.Config{DataDir: dir, SMTPURL: srv.URL()}) // start again: the sweep delivers
	deadline := time.Now().Add(10 * time.Second)
	for len(srv.To("fay@example.com")) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(srv.To("fay@example.com")); n != 1 {
		t.Fatalf("delivered %d times after the restart", n)
	}
}

func TestCyrillicTemplatesRoundTrip(t *testing.T) {
	w := newMailWorld(t)
	subject := "Заявка №{{.Number}}: {{.Subject}}"
	body := "Здравствуйте, {{.Name}}! Новый статус: «{{.Status}}»."
	if r := w.api(t, w.admin, "PUT", "/mail/templates/status/ru", map[string]string{"subject": subject, "body": body}); r.Status != 200 {
		t.Fatalf("save: %d %s", r.Status, r.Body)
	}
	if r := w.api(t, w.admin, "PUT", "/mail/templates/status/ru", map[string]string{"subject": "{{.Nope}}", "body": "x"}); r.Status != 422 {
		t.Fatalf("broken template accepted: %d", r.Status)
	}
	w.api(t, w.cli, "PUT", "/profile", map[string]any{"name": "Карина", "lang": "ru", "notify": map[string]bool{"status": true}})
	n := w.api(t, w.cli, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "Не печатает", "description": "Совсем"}}).JSON(t)["number"]
	w.api(t, w.op, "PATCH", fmt.Sprintf("/tickets/%v", n), map[string]any{"status": "In progress"})
	w.deliver(t)
	got := w.smtp.To("cli@alpha.test")
	if len(got) != 1 {
		t.Fatalf("%d mails", len(got))
	}
	m := pdtest.Parse(t, got[0].Data)
	if m.Subject != fmt.Sprintf("Заявка №%v: Не печатает", n) || !strings.Contains(m.Text, "Здравствуйте, Карина! Новый статус: «In progress».") {
		t.Fatalf("subject %q text %q", m.Subject, m.Text)
	}
	if to, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("To")); err != nil || !strings.Contains(to, "Карина") {
		t.Fatalf("To: %q", m.Header.Get("To"))
	}
	// A template that breaks at sending time falls back to the default and tells the admin.
	w.e.Portal(t, "alpha", func(p *portal.Portal) {
		p.DB.Writer().Exec("UPDATE mail_templates SET body = '{{.Message.Nope}}' WHERE kind = 'status' AND lang = 'ru'")
	})
	w.api(t, w.op, "PATCH", fmt.Sprintf("/tickets/%v", n), map[string]any{"status": "Resolved"})
	w.deliver(t)
	if got := w.smtp.To("cli@alpha.test"); len(got) != 2 || !strings.Contains(pdtest.Parse(t, got[1].Data).Text, "Статус вашей заявки") {
		t.Fatal("no fallback to the default template")
	}
	page := pdtest.Do(t, w.e.SignIn(t, "alpha", "admin@alpha.test"), "GET", w.e.URL+"/alpha/admin/mail", nil)
	if !strings.Contains(page.Body, "failed and the default was sent instead") {
		t.Fatal("the admin is not told about the broken template")
	}
}

func TestPasswordReset(t *testing.T) {
	w := newMailWorld(t)
	if r := w.api(t, "", "POST", "/password/forgot", map[string]string{"email": "nobody@alpha.test"}); r.Status != 202 {
		t.Fatal(r.Status)
	}
	if r := w.api(t, "", "POST", "/password/forgot", map[string]string{"email": "cli@alpha.test"}); r.Status != 202 {
		t.Fatal(r.Status)
	}
	w.deliver(t)
	if len(w.smtp.Received()) != 1 {
		t.Fatalf("%d mails", len(w.smtp.Received()))
	}
	text := pdtest.Parse(t, w.smtp.To("cli@alpha.test")[0].Data).Text
	tok := regexp.MustCompile(`reset\?token=(\S+)`).FindStringSubmatch(text)
	if tok == nil {
		t.Fatalf("no link: %s", text)
	}
	if r := w.api(t, "", "POST", "/password/reset", map[string]string{"token": tok[1], "password": "brand-new-pass"}); r.Status != 204 {
		t.Fatalf("reset: %d %s", r.Status, r.Body)
	}
	if r := w.api(t, w.cli, "GET", "/me", nil); r.Status != 401 {
		t.Fatal("the old token still works")
	}
	if r := pdtest.Do(t, nil, "POST", w.e.URL+"/alpha/api/v1/login", map[string]string{"email": "cli@alpha.test", "password": "brand-new-pass"}); r.Status != 200 {
		t.Fatal("cannot sign in with the new password")
	}
	if r := w.api(t, "", "POST", "/password/reset", map[string]string{"token": tok[1], "password": "another-pass"}); r.Status != 422 {
		t.Fatalf("a used link works again: %d", r.Status)
	}
	// Links expire.
	w.api(t, "", "POST", "/password/forgot", map[string]string{"email": "op@alpha.test"})
	w.deliver(t)
	tok = regexp.MustCompile(`reset\?token=(\S+)`).FindStringSubmatch(pdtest.Parse(t, w.smtp.To("op@alpha.test")[0].Data).Text)
	w.clk.Add(2 * time.Hour)
	if r := w.api(t, "", "POST", "/password/reset", map[string]string{"token": tok[1], "password": "another-pass"}); r.Status != 422 {
		t.Fatalf("an expired link works: %d", r.Status)
	}
}

// trustAll makes one pool of the test servers' certificates.
func trustAll(srvs ...*pdtest.SMTPServer) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, s := range srvs {
		for _, c := range s.Certs {
			pool.AddCert(c)
		}
	}
	return pool
}

func TestOwnSMTPAccountAndTestButton(t *testing.T) {
	own := pdtest.StartSMTP(t)
	srv := pdtest.StartSMTP(t)
	clk := &clock{t: time.Now()}
	e := pdtest.New(t, provisioner.Config{SMTPURL: srv.URL(), SMTPRootCAs: trustAll(srv, own)})
	e.Svc.SetClock(clk.Now)
	e.Create(t, "alpha")
	e.SetPlan(t, "alpha", "business", 5, 0, 0)
	w := &mailWorld{e: e, smtp: srv, clk: clk, admin: e.Login(t, "alpha", "admin@alpha.test")}
	port := 0
	fmt.Sscan(own.Port, &port)
	acct := map[string]any{"host": own.Host, "port": port, "security": "none", "user": own.User, "password": "wrong", "from": "help@alpha.test", "from_name": "Alpha Help"}
	if r := w.api(t, w.admin, "PUT", "/mail/smtp", acct); r.Status != 200 || strings.Contains(r.Body, "wrong") {
		t.Fatalf("save: %d %s", r.Status, r.Body)
	}
	w.e.Portal(t, "alpha", func(p *portal.Portal) {
		if v := p.Setting(context.Background(), "smtp_password", ""); v == "" || strings.Contains(v, "wrong") {
			t.Fatalf("the password is stored as %q", v)
		}
	})
	// go-smtp refuses AUTH without TLS unless allowed; the test server has STARTTLS, so use it.
	acct["security"] = "starttls"
	w.api(t, w.admin, "PUT", "/mail/smtp", acct)
	r := w.api(t, w.admin, "POST", "/mail/test", nil)
	if r.Status != 502 || !strings.Contains(r.Body, "535") && !strings.Contains(strings.ToLower(r.Body), "auth") {
		t.Fatalf("wrong password: %d %s", r.Status, r.Body)
	}
	acct["password"] = own.Password
	w.api(t, w.admin, "PUT", "/mail/smtp", acct)
	r = w.api(t, w.admin, "POST", "/mail/test", nil)
	if r.Status != 200 || !strings.Contains(r.Body, own.Host) || len(own.To("admin@alpha.test")) != 1 {
		t.Fatalf("test mail: %d %s", r.Status, r.Body)
	}
	// Mail now goes through the portal's own account.
	w.api(t, w.admin, "POST", "/users", map[string]any{"name": "Gus", "email": "gus@example.com", "role": "client"})
	w.deliver(t)
	if len(own.To("gus@example.com")) != 1 || len(w.smtp.To("gus@example.com")) != 0 || own.To("gus@example.com")[0].From != "help@alpha.test" {
		t.Fatal("mail did not go through the portal's own account")
	}
}

func TestAdminSetsNotificationDefaults(t *testing.T) {
	w := newMailWorld(t)
	if r := w.api(t, w.admin, "PUT", "/settings", map[string]any{"notify_defaults": map[string]bool{"new_ticket": true, "message": false, "status": true, "assignment": true}}); r.Status != 200 {
		t.Fatal(r.Status, r.Body)
	}
	n := w.api(t, w.cli, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "S", "description": "D"}}).JSON(t)["number"]
	w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%v/messages", n), map[string]any{"body": "reply"})
	w.deliver(t)
	if got := len(w.smtp.To("cli@alpha.test")); got != 0 {
		t.Fatalf("the default 'no message mail' is ignored: %d", got)
	}
	// A person's own choice wins over the default.
	w.api(t, w.cli, "PUT", "/profile", map[string]any{"notify": map[string]bool{"message": true}})
	w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%v/messages", n), map[string]any{"body": "second reply"})
	w.deliver(t)
	if got := len(w.smtp.To("cli@alpha.test")); got != 1 {
		t.Fatalf("the client's own choice is ignored: %d", got)
	}
}

func TestFilesOfAMessageTravelWithItsMail(t *testing.T) {
	w := newMailWorld(t)
	n := w.api(t, w.cli, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "Scan", "description": "attached"}}).JSON(t)["number"]
	w.deliver(t)
	op := w.e.SignIn(t, "alpha", "op@alpha.test")
	r := pdtest.Do(t, op, "POST", fmt.Sprintf("%s/alpha/tickets/%v/messages", w.e.URL, n), pdtest.Multipart{
		Fields: map[string]string{"body": "Here is the manual."}, Files: map[string][]pdtest.File{"files": {{Name: "manual.txt", Data: []byte("Step 1: unplug it.")}}}})
	if r.Status != 303 {
		t.Fatalf("reply with a file: %d %s", r.Status, r.Body)
	}
	w.deliver(t)
	got := w.smtp.To("cli@alpha.test")
	if len(got) != 1 {
		t.Fatalf("%d mails to the client", len(got))
	}
	if m := pdtest.Parse(t, got[0].Data); m.Files["manual.txt"] != "Step 1: unplug it." || !strings.Contains(m.Text, "Here is the manual.") {
		t.Fatalf("the file did not travel with the mail: %v", m.Files)
	}
	// An internal note's file never leaves.
	pdtest.Do(t, op, "POST", fmt.Sprintf("%s/alpha/tickets/%v/messages", w.e.URL, n), pdtest.Multipart{
		Fields: map[string]string{"body": "note", "internal": "1"}, Files: map[string][]pdtest.File{"files": {{Name: "secret.txt", Data: []byte("x")}}}})
	w.deliver(t)
	for _, m := range w.smtp.Received() {
		if _, ok := pdtest.Parse(t, m.Data).Files["secret.txt"]; ok {
			t.Fatal("a note's file was mailed")
		}
	}
}

// TestNamesOfEveryShapeGetTheirMail: people whose names hold quotes,
// colons, commas, semicolons, parentheses, angle brackets, backslashes,
// line breaks or non-Latin letters register and get their password mail
// from a real SMTP server, addressed to their name.
func TestNamesOfEveryShapeGetTheirMail(t *testing.T) {
	w := newMailWorld(t)
	names := []string{`Ivan "Dept: Sales"`, `Doe, John; Jr.`, `Anna (Support) <boss>`, `back\slash`, "Line\r\nBcc: x@evil.test", "Пётр Ильич Чайковский", `"`, `:`}
	for i, name := range names {
		email := fmt.Sprintf("person%d@alpha.test", i)
		if r := w.api(t, "", "POST", "/register", map[string]string{"name": name, "surname": "Ok", "email": email}); r.Status/100 != 2 {
			t.Fatalf("register %q: %d %s", name, r.Status, r.Body)
		}
	}
	w.deliver(t)
	for _, m := range w.outbox(t) {
		if m["state"] != "sent" {
			t.Errorf("mail to %v (%v) is %v: %v", m["to"], m["to_name"], m["state"], m["last_error"])
		}
	}
	dec := mime.WordDecoder{}
	for i, name := range names {
		got := w.smtp.To(fmt.Sprintf("person%d@alpha.test", i))
		if len(got) != 1 {
			t.Fatalf("%q: %d mails", name, len(got))
		}
		p := pdtest.Parse(t, got[0].Data)
		to, err := p.Header.AddressList("To")
		if err != nil || len(to) != 1 {
			t.Fatalf("%q: To %q: %v", name, p.Header.Get("To"), err)
		}
		want := strings.Join(strings.Fields(strings.ReplaceAll(strings.ReplaceAll(name, "\r", " "), "\n", " ")), " ") + " Ok"
		if n, _ := dec.DecodeHeader(to[0].Name); strings.Join(strings.Fields(n), " ") != want || to[0].Address != fmt.Sprintf("person%d@alpha.test", i) {
			t.Errorf("%q: To is %q <%s>", name, n, to[0].Address)
		}
		if p.Header.Get("Bcc") != "" || len(got[0].To) != 1 {
			t.Errorf("%q: a name added a recipient", name)
		}
	}
}

// TestOnePersonsChoicesStayTheirs: an operator who switches a notification
// off does not switch it off for people who kept the portal's defaults.
func TestOnePersonsChoicesStayTheirs(t *testing.T) {
	w := newWorld(t)
	prof := w.api(t, w.op, "GET", "/profile", nil).JSON(t)
	notify := prof["notify"].(map[string]any)
	notify["new_ticket"] = false
	if r := w.api(t, w.op, "PUT", "/profile", map[string]any{"name": "Oleg", "notify": notify}); r.Status != 200 {
		t.Fatalf("profile: %d %s", r.Status, r.Body)
	}
	for i := 0; i < 3; i++ { // the operator's choices read, again and again
		w.api(t, w.op, "GET", "/profile", nil)
	}
	admin := w.api(t, w.admin, "GET", "/profile", nil).JSON(t)["notify"].(map[string]any)
	if admin["new_ticket"] != true {
		t.Errorf("the admin's default changed with the operator's choice: %v", admin)
	}
}
