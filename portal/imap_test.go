package portal_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
	"portaldesk/provisioner"
)

// imapServer is a real IMAP server on loopback (go-imap's in-memory one)
// with one mailbox, support@romashka.test / its password.
func imapServer(t *testing.T) (addr string, user *imapmemserver.User) {
	mem := imapmemserver.New()
	user = imapmemserver.NewUser("support@romashka.test", "mailbox-secret")
	if err := user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(user)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		InsecureAuth: true, // loopback, no TLS in the test
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), user
}

func appendMail(t *testing.T, u *imapmemserver.User, raw string) {
	t.Helper()
	raw = strings.ReplaceAll(raw, "\n", "\r\n")
	if _, err := u.Append("INBOX", literal{strings.NewReader(raw), int64(len(raw))}, &imap.AppendOptions{Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

type literal struct {
	*strings.Reader
	n int64
}

func (l literal) Size() int64 { return l.n }

// TestMailboxFetching: the portal fetches the business's own mailbox:
// messages that arrive after it is connected become tickets, each once —
// across runs and a restart; a wrong password is shown to the admin in the
// server's words and retried later.
func TestMailboxFetching(t *testing.T) {
	addr, box := imapServer(t)
	host, port, _ := net.SplitHostPort(addr)
	appendMail(t, box, "From: old@mail.test\nSubject: Before the portal\n\nAn old message.\n")

	dir := t.TempDir()
	e := pdtest.New(t, provisioner.Config{DataDir: dir})
	w := worldOn(t, e)
	// A wrong password: saved, and the server's answer shown.
	var p int
	fmt.Sscan(port, &p)
	r := w.api(t, w.admin, "PUT", "/mail/inbound", map[string]any{"imap": map[string]any{"host": host, "port": p, "security": "none", "user": "support@romashka.test", "password": "wrong"}})
	st := r.JSON(t)["imap_state"].(map[string]any)
	if r.Status != 200 || st["error"] == nil || !strings.Contains(st["error"].(string), "signing in as support@romashka.test") {
		t.Fatalf("a wrong password is not shown: %d %s", r.Status, r.Body)
	}
	if strings.Contains(r.Body, "wrong") {
		t.Error("the password is shown")
	}
	r = w.api(t, w.admin, "PUT", "/mail/inbound", map[string]any{"imap": map[string]any{"host": host, "port": p, "security": "none", "user": "support@romashka.test", "password": "mailbox-secret"}})
	if st := r.JSON(t)["imap_state"].(map[string]any); st["error"] != nil || st["ok_at"] == nil {
		t.Fatalf("the right password: %s", r.Body)
	}

	// Mail that arrives now is fetched, once.
	before := len(ticketsOf(t, w))
	appendMail(t, box, "From: Lena <lena@mail.test>\nSubject: Delivery is late\nMessage-ID: <m1@mail.test>\n\nOrder 1042 has not come.\n")
	appendMail(t, box, "From: max@mail.test\nSubject: Invoice copy\nMessage-ID: <m2@mail.test>\n\nPlease send the invoice again.\n")
	fetch := func(env *pdtest.Env) int {
		var n int
		env.Portal(t, "alpha", func(pt *portal.Portal) {
			var err error
			if n, err = env.Svc.FetchMailbox(context.Background(), pt); err != nil {
				t.Fatal(err)
			}
		})
		return n
	}
	if n := fetch(e); n != 2 {
		t.Fatalf("fetched %d, want 2", n)
	}
	eventually(t, "the fetched mail's tickets", func() bool { return len(ticketsOf(t, w)) == before+2 })
	if n := fetch(e); n != 0 {
		t.Errorf("fetched %d again", n)
	}
	for _, tk := range ticketsOf(t, w) {
		if tk["subject"] == "Before the portal" {
			t.Error("a message from before the mailbox was connected became a ticket")
		}
	}
	// Across a restart: the position is in the portal's database.
	e.Close()
	e2 := pdtest.New(t, provisioner.Config{DataDir: dir})
	if n := fetch(e2); n != 0 {
		t.Errorf("fetched %d again after a restart", n)
	}
	appendMail(t, box, "From: lena@mail.test\nSubject: Re: Delivery is late\nIn-Reply-To: <m1@mail.test>\n\nIt came, thanks.\n")
	if n := fetch(e2); n != 1 {
		t.Errorf("fetched %d, want the one new message", n)
	}
	tok := e2.Login(t, "alpha", "admin@alpha.test")
	eventually(t, "the reply in its ticket", func() bool {
		for _, x := range e2.API(t, tok, "GET", "alpha", "/tickets", nil).JSON(t)["tickets"].([]any) {
			tk := x.(map[string]any)
			if tk["subject"] == "Delivery is late" {
				return strings.Contains(e2.API(t, tok, "GET", "alpha", fmt.Sprintf("/tickets/%v/messages", tk["number"]), nil).Body, "It came, thanks.")
			}
		}
		return false
	})
}

// TestMailboxIdle: a mailbox whose server supports IDLE is kept open once
// the minute's poll has seen it: new mail there becomes a ticket at once,
// without another poll — once, though the poll reads the mailbox too.
func TestMailboxIdle(t *testing.T) {
	addr, box := imapServer(t)
	host, port, _ := net.SplitHostPort(addr)
	e := pdtest.New(t, provisioner.Config{})
	w := worldOn(t, e)
	var p int
	fmt.Sscan(port, &p)
	r := w.api(t, w.admin, "PUT", "/mail/inbound", map[string]any{"imap": map[string]any{"host": host, "port": p, "security": "none", "user": "support@romashka.test", "password": "mailbox-secret"}})
	if st := r.JSON(t)["imap_state"].(map[string]any); r.Status != 200 || st["error"] != nil {
		t.Fatalf("the mailbox: %d %s", r.Status, r.Body)
	}
	if _, _, _, err := e.Svc.FetchDueMailboxes(context.Background()); err != nil { // the minute's job
		t.Fatal(err)
	}
	before := len(ticketsOf(t, w))
	for i := 1; i <= 3; i++ {
		time.Sleep(50 * time.Millisecond) // one at a time, as mail comes
		appendMail(t, box, fmt.Sprintf("From: nina@mail.test\nSubject: Idle %d\nMessage-ID: <idle%d@mail.test>\n\nMessage %d.\n", i, i, i))
	}
	eventually(t, "the mail fetched without a poll", func() bool { return len(ticketsOf(t, w)) == before+3 })
	// The poll reads the mailbox as well; nothing is taken twice.
	if _, _, _, err := e.Svc.FetchDueMailboxes(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.Portal(t, "alpha", func(pt *portal.Portal) {
		if n, err := e.Svc.FetchMailbox(context.Background(), pt); err != nil || n != 0 {
			t.Errorf("fetched %d again: %v", n, err)
		}
	})
	time.Sleep(100 * time.Millisecond)
	if got := len(ticketsOf(t, w)); got != before+3 {
		t.Errorf("%d tickets from 3 messages", got-before)
	}
}
