package portal_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"golang.org/x/text/encoding/charmap"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
	"portaldesk/provisioner"
)

const mailDomain = "support.test"

// sendMail delivers a raw mail to the service's SMTP server over loopback,
// as a mail server would.
func sendMail(t *testing.T, e *pdtest.Env, from string, to []string, raw string) error {
	t.Helper()
	c, err := smtp.Dial(e.SMTPAddr) // loopback: no TLS, as a local relay would
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail(from, to, strings.NewReader(strings.ReplaceAll(raw, "\n", "\r\n"))); err != nil {
		return err
	}
	return c.Quit()
}

// eventually waits (up to 3 s) until ok holds: mail is applied just after
// the SMTP 250.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("%s: not within 3 s", what)
}

func ticketsOf(t *testing.T, w *world) []map[string]any {
	var out []map[string]any
	for _, x := range w.api(t, w.admin, "GET", "/tickets", nil).JSON(t)["tickets"].([]any) {
		out = append(out, x.(map[string]any))
	}
	return out
}

func conversation(t *testing.T, w *world, n int64) string {
	return w.api(t, w.admin, "GET", fmt.Sprintf("/tickets/%d/messages", n), nil).Body
}

// TestEmailIn: a mail from a new address becomes a ticket (the sender a
// client); the notification's Reply-To, In-Reply-To and "[#N]" each bring
// a reply back into its ticket, quoted history cut; staff answer by mail,
// "#note" making a note; Russian charsets and HTML-only mail read right;
// automatic mail and bounces make nothing; unknown recipients are refused.
func TestEmailIn(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{MailDomain: mailDomain})
	w := worldOn(t, e)
	before := len(ticketsOf(t, w))

	// 1. A new conversation from a new address.
	err := sendMail(t, e, "dora@mail.test", []string{"alpha@" + mailDomain}, `From: Dora Smith <dora@mail.test>
To: alpha@support.test
Subject: The scanner stopped
Message-ID: <first@mail.test>
Content-Type: text/plain; charset=utf-8

It shows error E42 since this morning.
`)
	if err != nil {
		t.Fatal(err)
	}
	var ticket map[string]any
	eventually(t, "the mail's ticket", func() bool {
		list := ticketsOf(t, w)
		if len(list) > before {
			ticket = list[0]
		}
		return ticket != nil
	})
	n := int64(ticket["number"].(float64))
	if ticket["subject"] != "The scanner stopped" || ticket["source"] != "email" || ticket["client"].(map[string]any)["name"] != "Dora Smith" {
		t.Fatalf("the ticket: %v", ticket)
	}
	if d := w.api(t, w.admin, "GET", fmt.Sprintf("/tickets/%d", n), nil).Body; !strings.Contains(d, "error E42") {
		t.Fatalf("the description: %s", d)
	}

	// The new client has no password: the mail that says the request is
	// received carries a link to set one.
	var welcome string
	eventually(t, "the new client's mail", func() bool {
		for _, m := range e.Mails(t, "alpha") {
			if strings.Contains(m, "dora@mail.test") && strings.Contains(m, "reset?token=") {
				welcome = m
			}
		}
		return welcome != ""
	})
	// The same mail again (a reply-all, a retry after a lost 250) and a mail
	// from the service's own domain (a loop) make nothing.
	again := `From: Dora Smith <dora@mail.test>
Subject: The scanner stopped
Message-ID: <first@mail.test>

It shows error E42 since this morning.
`
	sendMail(t, e, "dora@mail.test", []string{"alpha@" + mailDomain}, again)
	sendMail(t, e, "beta@"+mailDomain, []string{"alpha@" + mailDomain}, "From: beta@"+mailDomain+"\nSubject: [#1] Ping\n\nPing.\n")
	eventually(t, "the copy and the loop ignored", func() bool {
		in := w.api(t, w.admin, "GET", "/mail/inbound", nil).Body
		return strings.Contains(in, "a copy of a mail already received") && strings.Contains(in, "service's own address")
	})
	if got := len(ticketsOf(t, w)); got != before+1 {
		t.Fatalf("%d tickets from one conversation", got-before)
	}

	// 2. The operator answers; the client's notification carries a signed
	// Reply-To, threading headers, the reply marker and Auto-Submitted.
	w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/messages", n), map[string]any{"body": "Please restart it while holding the blue button."})
	var note string
	eventually(t, "the client's notification", func() bool {
		for _, m := range e.Mails(t, "alpha") {
			if strings.Contains(m, "dora@mail.test") && strings.Contains(m, "blue button") {
				note = m
			}
		}
		return note != ""
	})
	replyTo := regexp.MustCompile(`(?m)^Reply-To: .*<(alpha\+t\d+\.[0-9a-f]+@support\.test)>`).FindStringSubmatch(note)
	msgID := regexp.MustCompile(`(?m)^Message-ID: (<[^>]+>)`).FindStringSubmatch(note)
	if replyTo == nil || msgID == nil || !strings.Contains(note, "Auto-Submitted: auto-generated") || !strings.Contains(note, "Write your reply above this line") {
		t.Fatalf("the notification lacks Reply-To, Message-ID, Auto-Submitted or the marker:\n%s", note)
	}
	err = sendMail(t, e, "dora@mail.test", []string{replyTo[1]}, `From: Dora Smith <dora@mail.test>
To: `+replyTo[1]+`
Subject: Re: [#`+fmt.Sprint(n)+`] The scanner stopped
Message-ID: <second@mail.test>
Content-Type: text/plain; charset=utf-8

Done, it works again. Thank you!

On Tue, 1 Dec 2026 at 15:00, Alpha Ltd <noreply@portaldesk.localhost> wrote:
> — Write your reply above this line —
> Please restart it while holding the blue button.
`)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the reply by Reply-To", func() bool { return strings.Contains(conversation(t, w, n), "it works again") })
	if c := conversation(t, w, n); strings.Contains(c, "wrote:") || strings.Contains(c, "> Please restart") {
		t.Errorf("the quoted history was kept: %s", c)
	}

	// 3. A reply found by In-Reply-To, sent to the portal's plain address.
	err = sendMail(t, e, "dora@mail.test", []string{"alpha@" + mailDomain}, `From: dora@mail.test
To: alpha@support.test
Subject: Re: scanner
In-Reply-To: `+msgID[1]+`
Content-Type: text/plain; charset=utf-8

One more thing: the paper tray squeaks.
`)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the reply by In-Reply-To", func() bool { return strings.Contains(conversation(t, w, n), "tray squeaks") })

	// 4. "[#N]" in the subject from the ticket's client.
	sendMail(t, e, "dora@mail.test", []string{"alpha@" + mailDomain}, `From: dora@mail.test
Subject: About [#`+fmt.Sprint(n)+`]
Content-Type: text/plain

Also the lid.
`)
	eventually(t, "the reply by [#N]", func() bool { return strings.Contains(conversation(t, w, n), "Also the lid.") })

	// The next answer threads in the client's own mail program: it refers
	// to the mails she wrote in, the last of them as In-Reply-To.
	w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/messages", n), map[string]any{"body": "We will send a new lid."})
	var threaded string
	eventually(t, "the next notification", func() bool {
		for _, m := range e.Mails(t, "alpha") {
			if strings.Contains(m, "new lid") && strings.Contains(m, "dora@mail.test") {
				threaded = m
			}
		}
		return threaded != ""
	})
	refs := regexp.MustCompile(`(?m)^References: (.*(?:\r?\n[ \t].*)*)`).FindStringSubmatch(threaded)
	if refs == nil || !strings.Contains(refs[1], "<second@mail.test>") || !strings.Contains(refs[1], msgID[1]) {
		t.Errorf("the thread's references: %v\n%s", refs, threaded)
	}

	// 5. Staff answer by mail; "#note" on the first line makes a note.
	sendMail(t, e, "op@alpha.test", []string{replyTo[1]}, `From: Oleg <op@alpha.test>
Subject: Re: [#`+fmt.Sprint(n)+`]
Content-Type: text/plain

#note
She is a long-time customer: replace the lid for free.
`)
	eventually(t, "the staff's note by mail", func() bool { return strings.Contains(conversation(t, w, n), "replace the lid for free") })
	if c := w.api(t, w.ca, "GET", "/tickets", nil).Body; strings.Contains(c, "lid for free") {
		t.Error("a client sees the note")
	}
	for _, m := range w.api(t, w.admin, "GET", fmt.Sprintf("/tickets/%d/messages", n), nil).JSON(t)["messages"].([]any) {
		if mm := m.(map[string]any); strings.Contains(fmt.Sprint(mm["body"]), "lid for free") && mm["kind"] != "note" {
			t.Errorf("the #note mail is a %v", mm["kind"])
		}
	}

	// 6. Windows-1251 text, a KOI8-R name in RFC 2047, and HTML with a script.
	body1251, _ := charmap.Windows1251.NewEncoder().String("Принтер печатает полосы, помогите.")
	sendMail(t, e, "ivan@mail.test", []string{"alpha@" + mailDomain}, "From: =?koi8-r?B?"+koi8b64("Иван Петров")+"?= <ivan@mail.test>\nSubject: =?windows-1251?B?"+cp1251b64("Полосы")+"?=\nContent-Type: text/plain; charset=windows-1251\nContent-Transfer-Encoding: 8bit\n\n"+body1251+"\n")
	sendMail(t, e, "html@mail.test", []string{"alpha@" + mailDomain}, `From: html@mail.test
Subject: HTML only
Content-Type: text/html; charset=utf-8

<html><body><p>Hello <b>support</b>,</p><script>alert(1)</script><p>the screen is black &amp; warm.</p></body></html>
`)
	eventually(t, "the Russian and the HTML mail", func() bool {
		var ru, h bool
		for _, tk := range ticketsOf(t, w) {
			ru = ru || tk["subject"] == "Полосы" && tk["client"].(map[string]any)["name"] == "Иван Петров"
			h = h || tk["subject"] == "HTML only"
		}
		return ru && h
	})
	for _, tk := range ticketsOf(t, w) {
		d := w.api(t, w.admin, "GET", fmt.Sprintf("/tickets/%v", tk["number"]), nil).Body
		if tk["subject"] == "Полосы" && !strings.Contains(d, "Принтер печатает полосы") {
			t.Errorf("the Windows-1251 text: %s", d)
		}
		if tk["subject"] == "HTML only" && (strings.Contains(d, "alert") || strings.Contains(d, "<b>") || !strings.Contains(d, `black \u0026 warm`)) {
			t.Errorf("the HTML mail's text: %s", d)
		}
	}

	// 7. An auto-reply and a bounce make nothing; the bounce marks the address.
	count := len(ticketsOf(t, w))
	sendMail(t, e, "away@mail.test", []string{"alpha@" + mailDomain}, `From: away@mail.test
Subject: Out of office
Auto-Submitted: auto-replied

I am away until Monday.
`)
	sendMail(t, e, "", []string{"alpha@" + mailDomain}, `From: MAILER-DAEMON@mail.test
Subject: Undelivered Mail Returned to Sender
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

The mail could not be delivered.
--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.test

Final-Recipient: rfc822; cb@alpha.test
Action: failed
Status: 5.1.1
--b--
`)
	eventually(t, "the automatic mail handled", func() bool {
		var n int
		e.Portal(t, "alpha", func(p *portal.Portal) {
			log, _ := p.InboundLog(context.Background(), 2)
			for _, m := range log {
				if m.State == "ignored" {
					n++
				}
			}
		})
		return n == 2
	})
	if got := len(ticketsOf(t, w)); got != count {
		t.Errorf("automatic mail made %d tickets", got-count)
	}
	if people := w.api(t, w.admin, "GET", "/users", nil).Body; !regexp.MustCompile(`"email":"cb@alpha.test"[^}]*"bounced_at":\d+`).MatchString(people) {
		t.Errorf("the bounce is not on the person: %s", people)
	}

	// The admin sees the address and what each mail became; with new
	// clients by mail off, a stranger's mail makes nothing.
	in := w.api(t, w.admin, "GET", "/mail/inbound", nil)
	if !strings.Contains(in.Body, `"address":"alpha@support.test"`) || !strings.Contains(in.Body, "new ticket #") || !strings.Contains(in.Body, "a bounce for cb@alpha.test") {
		t.Errorf("mail in: %s", in.Body)
	}
	if r := w.api(t, w.admin, "PUT", "/mail/inbound", map[string]any{"new_clients": "maybe"}); r.Status != 422 {
		t.Errorf("a bad choice: %d", r.Status)
	}
	w.api(t, w.admin, "PUT", "/mail/inbound", map[string]any{"new_clients": "reject"})
	count = len(ticketsOf(t, w))
	sendMail(t, e, "stranger@mail.test", []string{"alpha@" + mailDomain}, "From: stranger@mail.test\nSubject: Hi\n\nHello.\n")
	eventually(t, "the stranger's mail handled", func() bool {
		return strings.Contains(w.api(t, w.admin, "GET", "/mail/inbound", nil).Body, "new clients by mail are off")
	})
	if got := len(ticketsOf(t, w)); got != count {
		t.Error("a stranger's mail made a ticket with new clients off")
	}

	// 8. Unknown recipients are refused at RCPT; a forged reply address too.
	for _, to := range []string{"nosuch@" + mailDomain, "alpha@elsewhere.test", fmt.Sprintf("alpha+t%d.0000000000@%s", n, mailDomain)} {
		err := sendMail(t, e, "x@mail.test", []string{to}, "Subject: hi\n\nhi\n")
		if strings.Contains(to, "+t") {
			continue // accepted at RCPT; the forged signature only threads nowhere
		}
		var se *smtp.SMTPError
		if err == nil || !errorsAs(err, &se) || se.Code != 550 {
			t.Errorf("mail to %s: %v", to, err)
		}
	}
}

func errorsAs(err error, se **smtp.SMTPError) bool {
	for err != nil {
		if s, ok := err.(*smtp.SMTPError); ok {
			*se = s
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func koi8b64(s string) string {
	b, _ := charmap.KOI8R.NewEncoder().String(s)
	return b64(b)
}

func cp1251b64(s string) string {
	b, _ := charmap.Windows1251.NewEncoder().String(s)
	return b64(b)
}

// TestEmailInAppliedOnceAfterACrash: a mail stored but not applied (the
// process died between) is applied on the next start, exactly once.
func TestEmailInAppliedOnceAfterACrash(t *testing.T) {
	dir := t.TempDir()
	e := pdtest.New(t, provisioner.Config{DataDir: dir, MailDomain: mailDomain, NoSweep: true})
	e.Create(t, "alpha")
	e.Portal(t, "alpha", func(p *portal.Portal) {
		if _, err := p.ReceiveMail(context.Background(), "zoe@mail.test", "alpha@"+mailDomain, []byte("From: zoe@mail.test\r\nSubject: Stored, not applied\r\n\r\nHello.\r\n")); err != nil {
			t.Fatal(err)
		}
	})
	e.Close() // as if killed: the mail is stored, nothing made of it
	e2 := pdtest.New(t, provisioner.Config{DataDir: dir, MailDomain: mailDomain})
	tok := e2.Login(t, "alpha", "admin@alpha.test")
	count := func() int {
		n := 0
		for _, x := range e2.API(t, tok, "GET", "alpha", "/tickets", nil).JSON(t)["tickets"].([]any) {
			if x.(map[string]any)["subject"] == "Stored, not applied" {
				n++
			}
		}
		return n
	}
	eventually(t, "the stored mail applied on start", func() bool { return count() == 1 })
	e2.Portal(t, "alpha", func(p *portal.Portal) {
		if n, err := p.ProcessInbound(context.Background()); err != nil || n != 0 {
			t.Errorf("processed again: %d, %v", n, err)
		}
	})
	if c := count(); c != 1 {
		t.Errorf("%d tickets from one mail", c)
	}
}

// BenchmarkInboundSMTP sends 10 KB mails from new addresses through the
// service's SMTP server on loopback, one connection, and waits until every
// one is a ticket: mails/s end to end, and how long after its 250 the last
// mail became a ticket.
func BenchmarkInboundSMTP(b *testing.B) {
	text := strings.Repeat("The printer on the second floor prints every page twice.\r\n", 180) // ~10 KB
	b.Run("10KB", func(b *testing.B) { benchInbound(b, "Content-Type: text/plain\r\n\r\n"+text) })
	// A 1 MB attachment, base64 in 76-column lines as mail carries it.
	enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("scan of a contract page ", 1<<20/24)))
	var att strings.Builder
	for len(enc) > 76 {
		att.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	att.WriteString(enc)
	b.Run("1MB-attachment", func(b *testing.B) {
		benchInbound(b, "Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n--m\r\nContent-Type: text/plain\r\n\r\nThe signed contract.\r\n--m\r\n"+
			"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"contract.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"+att.String()+"\r\n--m--\r\n")
	})
}

func benchInbound(b *testing.B, body string) {
	e := pdtest.New(b, provisioner.Config{MailDomain: mailDomain})
	e.Create(b, "alpha")
	e.SetPlan(b, "alpha", "enterprise", 3, 0, 100000)
	// Clients who write: a portal takes only so many new senders an hour.
	e.Portal(b, "alpha", func(p *portal.Portal) {
		if err := portal.Seed(context.Background(), p, portal.SeedOptions{Clients: 1000, Operators: 1}, pdtest.Password); err != nil {
			b.Fatal(err)
		}
	})
	c, err := smtp.Dial(e.SMTPAddr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		from := fmt.Sprintf("seed-client-%d@example.test", i%1000+1)
		raw := fmt.Sprintf("From: %s\r\nSubject: Printer %d\r\nMessage-ID: <b%d@mail.test>\r\n%s\r\n", from, i, i, body)
		if err := c.SendMail(from, []string{"alpha@" + mailDomain}, strings.NewReader(raw)); err != nil {
			b.Fatal(err)
		}
	}
	sent := time.Now()
	var done int
	for done < b.N {
		e.Portal(b, "alpha", func(p *portal.Portal) {
			_ = p.DB.QueryRow(context.Background(), "SELECT COUNT(*) FROM inbound WHERE state = 'done'").Scan(&done)
		})
		if time.Since(sent) > time.Minute {
			b.Fatalf("%d of %d applied after a minute", done, b.N)
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "mails/s")
	b.ReportMetric(float64(time.Since(sent).Microseconds())/1000, "last-250-to-ticket-ms")
}

// BenchmarkInboundLatency sends one mail at a time and waits until it is a
// ticket: the time from the SMTP 250 to the ticket, median and p99.
func BenchmarkInboundLatency(b *testing.B) {
	e := pdtest.New(b, provisioner.Config{MailDomain: mailDomain})
	e.Create(b, "alpha")
	c, err := smtp.Dial(e.SMTPAddr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		raw := fmt.Sprintf("From: c%d@mail.test\r\nSubject: Question %d\r\nContent-Type: text/plain\r\n\r\nHow do I reset the router?\r\n", i, i)
		if err := c.SendMail(fmt.Sprintf("c%d@mail.test", i), []string{"alpha@" + mailDomain}, strings.NewReader(raw)); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		for done := 0; done <= i; time.Sleep(200 * time.Microsecond) {
			e.Portal(b, "alpha", func(p *portal.Portal) {
				_ = p.DB.QueryRow(context.Background(), "SELECT COUNT(*) FROM inbound WHERE state <> 'new'").Scan(&done)
			})
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// TestEmailInLimits: a file over the portal's limit is left out of the
// ticket, which names it; a portal whose database quota is full answers
// 552 and keeps nothing; a notification of one portal sent to another's
// address is automatic mail there, so two portals cannot answer each
// other for ever.
func TestEmailInLimits(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{MailDomain: mailDomain})
	w := worldOn(t, e)
	if r := w.api(t, w.admin, "PATCH", "/settings", map[string]any{"max_file_mb": 1}); r.Status != 200 {
		t.Fatalf("settings: %d %s", r.Status, r.Body)
	}
	big := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", 1500<<10)))
	var wrapped strings.Builder
	for len(big) > 76 {
		wrapped.WriteString(big[:76] + "\n")
		big = big[76:]
	}
	wrapped.WriteString(big)
	err := sendMail(t, e, "ca@alpha.test", []string{"alpha@" + mailDomain}, `From: ca@alpha.test
Subject: Photos of the damage
Content-Type: multipart/mixed; boundary="m"

--m
Content-Type: text/plain

The box arrived crushed, see the photos.
--m
Content-Type: image/jpeg
Content-Disposition: attachment; filename="small.jpg"
Content-Transfer-Encoding: base64

/9j/4AAQSkZJRgABAQ==
--m
Content-Type: application/octet-stream
Content-Disposition: attachment; filename="huge.bin"
Content-Transfer-Encoding: base64

`+wrapped.String()+`
--m--
`)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	eventually(t, "the ticket with one file", func() bool {
		for _, tk := range ticketsOf(t, w) {
			if tk["subject"] == "Photos of the damage" {
				n = int64(tk["number"].(float64))
			}
		}
		return n != 0
	})
	d := w.api(t, w.admin, "GET", fmt.Sprintf("/tickets/%d", n), nil).Body
	if !strings.Contains(d, `"name":"small.jpg"`) || strings.Contains(d, `"name":"huge.bin"`) || !strings.Contains(d, "Not kept from the mail: huge.bin") {
		t.Errorf("the files: %s", d)
	}

	// A portal whose database is full takes no mail: 552, nothing kept.
	e.Create(t, "full")
	e.SetPlan(t, "full", "free", 1, 1, 0) // a 1 MB database
	err = sendMail(t, e, "x@mail.test", []string{"full@" + mailDomain}, "From: x@mail.test\nSubject: Big\n\n"+strings.Repeat("A long line of text to fill the database quota.\n", 40000))
	var se *smtp.SMTPError
	if err == nil || !errorsAs(err, &se) || se.Code != 552 {
		t.Errorf("mail to a full portal: %v", err)
	}
	e.Portal(t, "full", func(p *portal.Portal) {
		if log, _ := p.InboundLog(context.Background(), 5); len(log) != 0 {
			t.Errorf("a full portal kept %d mails", len(log))
		}
	})

	// The block list and the size limit, as the admin sets them.
	if r := w.api(t, w.admin, "PUT", "/mail/inbound", map[string]any{"block": "good@example.com\nnot an address"}); r.Status != 422 || !strings.Contains(r.Body, `"block"`) {
		t.Errorf("a bad block list: %d %s", r.Status, r.Body)
	}
	if r := w.api(t, w.admin, "PUT", "/mail/inbound", map[string]any{"block": "spam.test\nboss@mail.test", "max_mb": 1}); r.Status != 200 || !strings.Contains(r.Body, `"block":"spam.test\nboss@mail.test"`) {
		t.Fatalf("block list: %d %s", r.Status, r.Body)
	}
	sendMail(t, e, "x@news.spam.test", []string{"alpha@" + mailDomain}, "From: x@news.spam.test\nSubject: Offer\n\nBuy.\n")
	eventually(t, "the blocked sender ignored", func() bool {
		return strings.Contains(w.api(t, w.admin, "GET", "/mail/inbound", nil).Body, "the sender is on the block list")
	})
	if err := sendMail(t, e, "y@mail.test", []string{"alpha@" + mailDomain}, "From: y@mail.test\nSubject: Big\n\n"+strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n", 20000)); err == nil || !errorsAs(err, &se) || se.Code != 552 {
		t.Errorf("a mail over the portal's size limit: %v", err)
	}
	// One sender may not flood the portal.
	for i := 0; i <= portal.MaxMailsPerSenderHour; i++ {
		sendMail(t, e, "ca@alpha.test", []string{"alpha@" + mailDomain}, fmt.Sprintf("From: ca@alpha.test\nSubject: Flood %d\n\nAgain.\n", i))
	}
	eventually(t, "the flood stopped", func() bool {
		return strings.Contains(w.api(t, w.admin, "GET", "/mail/inbound", nil).Body, "too many mails from this sender this hour")
	})

	// A loop: beta's mail address is a client of alpha.
	ticket := w.api(t, w.admin, "POST", "/users", map[string]any{"name": "Beta", "email": "beta@" + mailDomain, "role": "client"})
	if ticket.Status != 201 {
		t.Fatalf("invite: %d %s", ticket.Status, ticket.Body)
	}
	var invitation string
	for _, m := range e.Mails(t, "alpha") {
		if strings.Contains(m, "beta@"+mailDomain) {
			invitation = m
		}
	}
	if invitation == "" {
		t.Fatal("no mail to beta's address")
	}
	// The mail alpha sent arrives at beta, as the mail system would carry it.
	if err := sendMail(t, e, "noreply@portaldesk.localhost", []string{"beta@" + mailDomain}, strings.ReplaceAll(invitation, "\r\n", "\n")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "beta handled alpha's mail", func() bool {
		var log []portal.Inbound
		e.Portal(t, "beta", func(p *portal.Portal) { log, _ = p.InboundLog(context.Background(), 5) })
		return len(log) == 1 && log[0].State == "ignored" && strings.Contains(log[0].Outcome, "automatic mail")
	})
	tok := e.Login(t, "beta", "admin@beta.test")
	if list := e.API(t, tok, "GET", "beta", "/tickets", nil).JSON(t)["tickets"].([]any); len(list) != 0 {
		t.Error("beta made a ticket of alpha's automatic mail")
	}
}

// TestEmailReplyLongAfterClosing: a reply to a ticket closed long ago is a
// new ticket naming the old one; a reply to one closed lately reopens it.
func TestEmailReplyLongAfterClosing(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{MailDomain: mailDomain})
	w := worldOn(t, e)
	w.api(t, w.op, "PATCH", fmt.Sprintf("/tickets/%d", w.ticket), map[string]any{"status": "Closed"})
	reply := func(text string) {
		sendMail(t, e, "ca@alpha.test", []string{"alpha@" + mailDomain}, fmt.Sprintf("From: ca@alpha.test\nSubject: Re: [#%d] Printer jams\n\n%s\n", w.ticket, text))
	}
	reply("It jams again.")
	eventually(t, "the reply reopens", func() bool {
		tk := w.api(t, w.admin, "GET", fmt.Sprintf("/tickets/%d", w.ticket), nil).JSON(t)
		return !tk["status"].(map[string]any)["closed"].(bool)
	})
	w.api(t, w.op, "PATCH", fmt.Sprintf("/tickets/%d", w.ticket), map[string]any{"status": "Closed"})
	e.Portal(t, "alpha", func(p *portal.Portal) {
		// Closed two months ago.
		if _, err := p.DB.Exec(context.Background(), "UPDATE tickets SET closed_at = closed_at - 60*86400 WHERE id = ?", w.ticket); err != nil {
			t.Fatal(err)
		}
	})
	before := len(ticketsOf(t, w))
	reply("Hello again, a new problem with the printer.")
	eventually(t, "a new ticket", func() bool { return len(ticketsOf(t, w)) == before+1 })
	n := ticketsOf(t, w)[0]["number"]
	if d := w.api(t, w.admin, "GET", fmt.Sprintf("/tickets/%v", n), nil).Body; !strings.Contains(d, fmt.Sprintf("Follow-up to #%d", w.ticket)) {
		t.Errorf("the new ticket does not name the old one: %s", d)
	}
}

// TestOwnAddresses: a business's own address (its domain's MX pointing at
// the service) is the portal's; another portal cannot take it.
func TestOwnAddresses(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{MailDomain: mailDomain})
	w := worldOn(t, e)
	if err := sendMail(t, e, "x@mail.test", []string{"help@alpha-shop.test"}, "Subject: hi\n\nhi\n"); err == nil {
		t.Fatal("mail for an address nobody has was taken")
	}
	if r := w.api(t, w.admin, "PUT", "/mail/inbound", map[string]any{"addresses": []string{"Help@Alpha-Shop.test", "not-an-address"}}); r.Status != 422 || !strings.Contains(r.Body, `"addresses"`) {
		t.Fatalf("a bad address: %d %s", r.Status, r.Body)
	}
	r := w.api(t, w.admin, "PUT", "/mail/inbound", map[string]any{"addresses": []string{"Help@Alpha-Shop.test"}})
	if r.Status != 200 || !strings.Contains(r.Body, `"addresses":["help@alpha-shop.test"]`) {
		t.Fatalf("addresses: %d %s", r.Status, r.Body)
	}
	if r := e.API(t, w.betaAdmin, "PUT", "beta", "/mail/inbound", map[string]any{"addresses": []string{"help@alpha-shop.test"}}); r.Status != 422 || !strings.Contains(r.Body, "another portal") {
		t.Errorf("another portal took the address: %d %s", r.Status, r.Body)
	}
	before := len(ticketsOf(t, w))
	if err := sendMail(t, e, "zed@mail.test", []string{"help@alpha-shop.test"}, "From: zed@mail.test\nSubject: Via our own address\n\nHello.\n"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the mail to the own address", func() bool { return len(ticketsOf(t, w)) == before+1 })
}

// TestMailPageWithMailIn renders the admin's mail page of a service that
// takes mail, with received mail (one held as spam) listed, in both languages.
func TestMailPageWithMailIn(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{MailDomain: mailDomain})
	w := worldOn(t, e)
	e.Portal(t, "alpha", func(p *portal.Portal) {
		if _, err := p.ReceiveMailChecked(context.Background(), "x@bad.test", "alpha@"+mailDomain, []byte("From: x@bad.test\r\nSubject: Win\r\n\r\nWin.\r\n"), "spf=fail dkim=none dmarc=fail(reject)", true); err != nil {
			t.Fatal(err)
		}
	})
	admin := w.e.SignIn(t, "alpha", "admin@alpha.test")
	for _, lang := range []string{"en", "ru"} {
		r := pdtest.Do(t, admin, "GET", e.URL+"/alpha/admin/mail?lang="+lang, nil)
		if r.Status != 200 || !strings.Contains(r.Body, "alpha@support.test") || !strings.Contains(r.Body, "dmarc=fail(reject)") {
			t.Fatalf("the mail page (%s): %d %.500s", lang, r.Status, r.Body)
		}
	}
	// Held as spam: no ticket until someone lets it through.
	before := len(ticketsOf(t, w))
	var id int64
	e.Portal(t, "alpha", func(p *portal.Portal) {
		log, _ := p.InboundLog(context.Background(), 1)
		id = log[0].ID
		if log[0].State != "spam" {
			t.Fatalf("not held: %+v", log[0])
		}
	})
	// Operators see it on the table and in the spam list.
	op := w.e.SignIn(t, "alpha", "op@alpha.test")
	if p := pdtest.Do(t, op, "GET", e.URL+"/alpha/tickets", nil).Body; !strings.Contains(p, "/alpha/spam") || !strings.Contains(p, "held as spam: 1") {
		t.Error("the table does not say a mail is held as spam")
	}
	for _, lang := range []string{"en", "ru"} {
		if p := pdtest.Do(t, op, "GET", e.URL+"/alpha/spam?lang="+lang, nil); p.Status != 200 || !strings.Contains(p.Body, "x@bad.test") || !strings.Contains(p.Body, "Win") {
			t.Errorf("the spam list (%s): %d", lang, p.Status)
		}
	}
	if p := pdtest.Do(t, w.e.SignIn(t, "alpha", "ca@alpha.test"), "GET", e.URL+"/alpha/spam", nil); p.Status != 403 && p.Status != 404 {
		t.Errorf("a client opened the spam list: %d", p.Status)
	}
	if r := w.api(t, w.ca, "POST", fmt.Sprintf("/mail/inbound/%d/release", id), nil); r.Status != 403 {
		t.Errorf("a client released spam: %d", r.Status)
	}
	if r := w.api(t, w.op, "POST", fmt.Sprintf("/mail/inbound/%d/release", id), nil); r.Status != 204 {
		t.Fatalf("release: %d %s", r.Status, r.Body)
	}
	eventually(t, "the released mail applied", func() bool { return len(ticketsOf(t, w)) == before+1 })
}

// BenchmarkInboundSpread sends 10 KB mails round the portals of a service
// that holds many (PORTALDESK_BENCH_PORTALS, 1,000 by default; the
// registry keeps 256 open), over 4 SMTP connections, until each is a
// ticket: mails/s.
func BenchmarkInboundSpread(b *testing.B) {
	portals := envInt("PORTALDESK_BENCH_PORTALS", 1000)
	e := pdtest.New(b, provisioner.Config{MailDomain: mailDomain})
	for i := 0; i < portals; i++ {
		e.Create(b, fmt.Sprintf("p%04d", i))
	}
	text := strings.Repeat("The printer on the second floor prints every page twice.\r\n", 180)
	b.ResetTimer()
	t0 := time.Now()
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := smtp.Dial(e.SMTPAddr)
			if err != nil {
				b.Error(err)
				return
			}
			defer c.Close()
			for i := range next {
				// Someone new writes each time: registered, a ticket made,
				// the staff told — the whole path (a portal takes 50 new
				// senders an hour; the round spreads them).
				slug := fmt.Sprintf("p%04d", i%portals)
				raw := fmt.Sprintf("From: c%d@mail.test\r\nSubject: Question %d\r\nContent-Type: text/plain\r\n\r\n%s\r\n", i, i, text)
				if err := c.SendMail("x@mail.test", []string{slug + "@" + mailDomain}, strings.NewReader(raw)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	for i := 0; i < b.N; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	for done := 0; done < b.N; { // every mail applied
		done = 0
		for i := 0; i < min(b.N, portals); i++ {
			e.Portal(b, fmt.Sprintf("p%04d", i), func(p *portal.Portal) {
				var n int
				_ = p.DB.QueryRow(context.Background(), "SELECT COUNT(*) FROM inbound WHERE state = 'done'").Scan(&n)
				done += n
			})
		}
		if time.Since(t0) > 3*time.Minute {
			b.Fatalf("%d of %d applied", done, b.N)
		}
		if done < b.N {
			time.Sleep(20 * time.Millisecond) // counting opens every portal: not too often
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "mails/s")
}
