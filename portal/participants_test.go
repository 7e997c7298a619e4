package portal_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
	"portaldesk/provisioner"
)

// TestEmailCopy: clients of the portal in CC of a mail are put in copy of
// its ticket — they see it and its public replies (never a note), write in
// it and get its mail; an address that is nobody's is not registered; a
// reply-all makes one message, not a second ticket; "[#N]" with a From
// anyone can forge never lets the people in its CC in; staff add and
// remove people in copy, and someone in copy can leave.
func TestEmailCopy(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{MailDomain: mailDomain})
	w := worldOn(t, e)
	before := len(ticketsOf(t, w))

	err := sendMail(t, e, "dora@mail.test", []string{"alpha@" + mailDomain}, `From: Dora Smith <dora@mail.test>
To: alpha@support.test
Cc: Boris <CB@alpha.test>, stranger@else.test
Subject: The office printer
Message-ID: <copy1@mail.test>
Content-Type: text/plain; charset=utf-8

Boris from accounts is in copy: he uses it too.
`)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	eventually(t, "the ticket", func() bool {
		if list := ticketsOf(t, w); len(list) > before {
			n = int64(list[0]["number"].(float64))
		}
		return n != 0
	})
	path := fmt.Sprintf("/tickets/%d", n)
	tk := w.api(t, w.admin, "GET", path, nil).JSON(t)
	parts, _ := tk["participants"].([]any)
	if len(parts) != 1 || parts[0].(map[string]any)["email"] != "cb@alpha.test" {
		t.Fatalf("in copy: %v", tk["participants"])
	}
	if users := w.api(t, w.admin, "GET", "/users?q=stranger", nil).Body; strings.Contains(users, "stranger@else.test") {
		t.Error("an address in CC that is nobody's was registered")
	}

	// Boris sees the ticket, in his list too, and its public conversation.
	if r := w.api(t, w.cb, "GET", path, nil); r.Status != 200 {
		t.Fatalf("the participant reads the ticket: %d", r.Status)
	}
	if list := w.api(t, w.cb, "GET", "/tickets", nil).Body; !strings.Contains(list, "The office printer") {
		t.Errorf("the participant's list lacks the ticket: %s", list)
	}
	w.api(t, w.op, "POST", path+"/messages", map[string]any{"body": "Dora's printer is under warranty", "internal": true})
	w.api(t, w.op, "POST", path+"/messages", map[string]any{"body": "A technician comes on Monday."})
	if c := w.api(t, w.cb, "GET", path+"/messages", nil).Body; strings.Contains(c, "under warranty") || !strings.Contains(c, "on Monday") {
		t.Errorf("the participant's conversation: %s", c)
	}
	boris := e.SignIn(t, "alpha", "cb@alpha.test")
	if r := pdtest.Do(t, boris, "GET", e.URL+"/alpha"+path, nil); r.Status != 200 || strings.Contains(r.Body, "under warranty") || !strings.Contains(r.Body, "Leave the copy") {
		t.Errorf("the participant's ticket page: %d", r.Status)
	}
	// The operator's reply goes to both, each with their own reply address.
	var toDora, toBoris string
	eventually(t, "the reply's mail to the client and to the one in copy", func() bool {
		for _, m := range e.Mails(t, "alpha") {
			if strings.Contains(m, "on Monday") {
				if regexp.MustCompile(`(?m)^To: .*<dora@mail\.test>`).MatchString(m) {
					toDora = m
				}
				if regexp.MustCompile(`(?m)^To: .*<cb@alpha\.test>`).MatchString(m) {
					toBoris = m
				}
			}
		}
		return toDora != "" && toBoris != ""
	})
	if strings.Contains(toBoris, "under warranty") {
		t.Error("a note went out by mail")
	}

	// Boris answers all: to the reply address and the portal, Dora in CC.
	replyTo := regexp.MustCompile(`(?m)^Reply-To: .*<(alpha\+t\d+\.[0-9a-f]+@support\.test)>`).FindStringSubmatch(toBoris)
	if replyTo == nil {
		t.Fatalf("no reply address:\n%s", toBoris)
	}
	err = sendMail(t, e, "cb@alpha.test", []string{replyTo[1], "alpha@" + mailDomain}, `From: Boris <cb@alpha.test>
To: `+replyTo[1]+`, alpha@support.test
Cc: dora@mail.test
Subject: Re: [#`+fmt.Sprint(n)+`] The office printer
Message-ID: <copy2@mail.test>
Content-Type: text/plain

Monday suits us, the office opens at nine.
`)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the reply-all", func() bool { return strings.Contains(conversation(t, w, n), "opens at nine") })
	if c := conversation(t, w, n); strings.Count(c, "opens at nine") != 1 {
		t.Errorf("the reply-all made %d messages", strings.Count(c, "opens at nine"))
	}
	if got := len(ticketsOf(t, w)); got != before+1 {
		t.Errorf("%d tickets from one conversation", got-before)
	}

	// "[#N]" from Dora's address (anyone can write that From) is posted,
	// but Carol in its CC is not let in.
	sendMail(t, e, "dora@mail.test", []string{"alpha@" + mailDomain}, `From: dora@mail.test
Cc: ca@alpha.test
Subject: About [#`+fmt.Sprint(n)+`]
Message-ID: <copy3@mail.test>

And the toner, please.
`)
	eventually(t, "the [#N] mail", func() bool { return strings.Contains(conversation(t, w, n), "toner") })
	if r := w.api(t, w.ca, "GET", path, nil); r.Status != 404 {
		t.Errorf("a CC of a mail threaded by its subject alone let Carol in: %d", r.Status)
	}

	// Staff put people in copy by address, with errors at the field.
	for _, c := range []struct{ email, want string }{
		{"", "Enter the address"}, {"not an address", "email"}, {"op@alpha.test", "Only clients"}, {"dora@mail.test", "own client"},
	} {
		r := w.api(t, w.op, "POST", path+"/participants", map[string]any{"email": c.email})
		if r.Status != 422 || !strings.Contains(r.Body, `"email"`) || !strings.Contains(r.Body, c.want) {
			t.Errorf("put %q in copy: %d %s", c.email, r.Status, r.Body)
		}
	}
	if r := w.api(t, w.cb, "POST", path+"/participants", map[string]any{"email": "ca@alpha.test"}); r.Status != 403 {
		t.Errorf("someone in copy added another: %d", r.Status)
	}
	// Dora, the ticket's client, adds a colleague herself.
	var dora string
	e.Portal(t, "alpha", func(p *portal.Portal) {
		u, err := p.UserByEmail(t.Context(), "dora@mail.test")
		if err != nil {
			t.Fatal(err)
		}
		if dora, err = p.IssueToken(t.Context(), u.ID, portal.TokenLogin, "test", time.Hour); err != nil {
			t.Fatal(err)
		}
	})
	r := w.api(t, dora, "POST", path+"/participants", map[string]any{"email": "ca@alpha.test"})
	if r.Status != 201 {
		t.Fatalf("Dora puts Carol in copy: %d %s", r.Status, r.Body)
	}
	carol := int64(r.JSON(t)["id"].(float64))
	// A colleague with no account yet is invited: in copy at once, mailed a
	// link that sets their password; a client may not put staff in copy,
	// and is not told who they are.
	if r := w.api(t, dora, "POST", path+"/participants", map[string]any{"email": "op@alpha.test"}); r.Status != 422 || !strings.Contains(r.Body, "cannot be put in copy") {
		t.Errorf("Dora puts the operator in copy: %d %s", r.Status, r.Body)
	}
	if r := w.api(t, dora, "POST", path+"/participants", map[string]any{"email": "Eve.New@colleague.test"}); r.Status != 201 {
		t.Fatalf("Dora invites a colleague: %d %s", r.Status, r.Body)
	}
	var link []string
	eventually(t, "the invitation to the copy", func() bool {
		for _, m := range e.Mails(t, "alpha") {
			if strings.Contains(m, "Eve.New@colleague.test") && strings.Contains(m, "put you in copy") {
				link = regexp.MustCompile(`reset\?token=(\S+)`).FindStringSubmatch(pdtest.Parse(t, m).Text)
				return true
			}
		}
		return false
	})
	if link == nil {
		t.Fatal("the invitation has no link to set a password")
	}
	if r := w.api(t, "", "POST", "/password/reset", map[string]string{"token": link[1], "password": pdtest.Password}); r.Status != 204 {
		t.Fatalf("the colleague sets a password: %d %s", r.Status, r.Body)
	}
	if r := w.api(t, e.Login(t, "alpha", "Eve.New@colleague.test"), "GET", path, nil); r.Status != 200 {
		t.Errorf("the invited colleague reads the ticket: %d", r.Status)
	}
	if r := w.api(t, w.ca, "GET", path, nil); r.Status != 200 {
		t.Fatalf("Carol in copy reads the ticket: %d", r.Status)
	}
	if r := w.api(t, w.cb, "DELETE", fmt.Sprintf("%s/participants/%d", path, carol), nil); r.Status != 403 {
		t.Errorf("someone in copy took another out: %d", r.Status)
	}
	// Carol leaves; the page of the ticket is no longer hers.
	if r := pdtest.Do(t, e.SignIn(t, "alpha", "ca@alpha.test"), "POST", fmt.Sprintf("%s/alpha%s/participants/%d/remove", e.URL, path, carol), nil); r.Status != 303 {
		t.Fatalf("Carol leaves: %d %s", r.Status, r.Body)
	}
	if r := w.api(t, w.ca, "GET", path, nil); r.Status != 404 {
		t.Errorf("after leaving Carol reads the ticket: %d", r.Status)
	}
	if c := conversation(t, w, n); !strings.Contains(c, "Dora Smith put Carol") || !strings.Contains(c, "left the copy") {
		t.Errorf("the history lacks the copy's changes: %s", c)
	}
	// The other portal never hears of it.
	if r := e.API(t, w.betaAdmin, "GET", "beta", path, nil); r.Status != 404 {
		t.Errorf("beta reads alpha's ticket: %d", r.Status)
	}
}

// TestEmailAnswers: the portal answers a mail by itself — a client's new
// ticket with its number, a stranger (when new clients by mail are off)
// with how to register — marked auto-replied, and at most the admin's
// number of times an hour to one address; past it the mail is still
// taken, silently. A change of the mail-in settings with one bad part
// changes nothing.
func TestEmailAnswers(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{MailDomain: mailDomain})
	w := worldOn(t, e)
	answers := func(to, marker string) int {
		n := 0
		for _, m := range e.Mails(t, "alpha") {
			if regexp.MustCompile(`(?m)^To: .*<`+regexp.QuoteMeta(to)+`>`).MatchString(m) && strings.Contains(m, marker) {
				if !strings.Contains(m, "Auto-Submitted: auto-replied") {
					t.Errorf("an answer not marked auto-replied:\n%s", m)
				}
				n++
			}
		}
		return n
	}
	for _, c := range []struct {
		in    map[string]any
		field string
	}{
		{map[string]any{"answers_per_hour": -1}, "answers_per_hour"},
		{map[string]any{"answers_per_hour": 101}, "answers_per_hour"},
		// A good part beside a bad one is not kept either.
		{map[string]any{"answers_per_hour": 2, "block": "spam.test", "imap": map[string]any{"host": "imap.mail.test", "port": 0, "security": "tls", "user": "u", "password": "p"}}, "imap.port"},
	} {
		r := w.api(t, w.admin, "PUT", "/mail/inbound", c.in)
		if r.Status != 422 || !strings.Contains(r.Body, `"`+c.field+`"`) {
			t.Errorf("PUT %v: %d %s", c.in, r.Status, r.Body)
		}
	}
	if in := w.api(t, w.admin, "GET", "/mail/inbound", nil).JSON(t); in["answers_per_hour"] != float64(portal.DefaultAnswersPerHour) || in["block"] != "" {
		t.Fatalf("a refused change was kept: %v %v", in["answers_per_hour"], in["block"])
	}
	if r := w.api(t, w.admin, "PUT", "/mail/inbound", map[string]any{"answers_per_hour": 2}); r.Status != 200 {
		t.Fatalf("answers per hour: %d %s", r.Status, r.Body)
	}

	// Carol writes three new conversations: the first two are answered
	// with their numbers, the third only taken.
	for i := 1; i <= 3; i++ {
		sendMail(t, e, "ca@alpha.test", []string{"alpha@" + mailDomain}, fmt.Sprintf("From: ca@alpha.test\nSubject: Question %d\nMessage-ID: <q%d@alpha.test>\n\nA question.\n", i, i))
	}
	eventually(t, "three tickets", func() bool {
		n := 0
		for _, tk := range ticketsOf(t, w) {
			if strings.HasPrefix(tk["subject"].(string), "Question ") {
				n++
			}
		}
		return n == 3
	})
	if n := answers("ca@alpha.test", "is received as ticket #"); n != 2 {
		t.Errorf("%d notices of receipt to one sender, want 2", n)
	}

	// New clients by mail off: a stranger is told how to register, once
	// an hour at most twice, and no ticket is made.
	if r := w.api(t, w.admin, "PUT", "/mail/inbound", map[string]any{"new_clients": "reject"}); r.Status != 200 {
		t.Fatalf("reject: %d %s", r.Status, r.Body)
	}
	before := len(ticketsOf(t, w))
	for i := 1; i <= 3; i++ {
		sendMail(t, e, "zoe@mail.test", []string{"alpha@" + mailDomain}, fmt.Sprintf("From: Zoe <zoe@mail.test>\nSubject: Hello %d\n\nHi.\n", i))
	}
	eventually(t, "the stranger's mails handled", func() bool {
		return strings.Count(w.api(t, w.admin, "GET", "/mail/inbound", nil).Body, "new clients by mail are off") == 3
	})
	if n := answers("zoe@mail.test", "/register"); n != 2 {
		t.Errorf("%d requests to register to one stranger, want 2", n)
	}
	if len(ticketsOf(t, w)) != before {
		t.Error("a stranger's mail made a ticket")
	}
}
