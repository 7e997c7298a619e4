package portal_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/provisioner"
)

// receiver is a webhook endpoint on loopback that keeps what it gets.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	got  []got
	fail bool
}

type got struct {
	path, event, id, sig string
	body                 []byte
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.got = append(rc.got, got{r.URL.Path, r.Header.Get("X-Portaldesk-Event"), r.Header.Get("X-Portaldesk-Delivery"), r.Header.Get("X-Portaldesk-Signature"), b})
		if rc.fail {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "thanks")
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) to(path string) []got {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []got
	for _, g := range rc.got {
		if g.path == path {
			out = append(out, g)
		}
	}
	return out
}

// verify checks a signature as a receiver would, written here from the
// documented scheme alone: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">.
func verify(sig string, body []byte, secret string) bool {
	var ts string
	var v1 []string
	for _, part := range strings.Split(sig, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			v1 = append(v1, v)
		}
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + string(body)))
	want := hex.EncodeToString(m.Sum(nil))
	for _, v := range v1 {
		if hmac.Equal([]byte(v), []byte(want)) {
			return true
		}
	}
	return false
}

// TestWebhooks: endpoints get the events they asked for, signed with their
// secret (checked by an independent verifier), carrying an idempotency id
// the same on every retry; an internal note reaches only an endpoint that
// asked for notes; a failing endpoint is retried with back-off, paused
// after a day with the admins told, and resumed by an admin; a test event,
// a resend and a rotated secret (the old one signing beside it) work;
// addresses off the public internet are refused; another portal sees none
// of it.
func TestWebhooks(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{WebhookAllow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	clk := &clock{t: time.Now()}
	e.Svc.SetClock(clk.Now) // before the portals open: they keep the clock they are given
	w := worldOn(t, e)
	rc := newReceiver(t)
	deliver := func() {
		t.Helper()
		if err := e.Svc.Mailer().Deliver(context.Background(), "alpha"); err != nil {
			t.Fatal(err)
		}
	}
	payload := func(g got) map[string]any {
		var m map[string]any
		if err := json.Unmarshal(g.body, &m); err != nil {
			t.Fatalf("payload: %v %s", err, g.body)
		}
		return m
	}

	for _, c := range []struct{ url, field string }{
		{"ftp://crm.example/x", "url"}, {"http://10.0.0.5/hook", "url"}, {"http://[::1]:9/hook", "url"}, {"http://localhost/hook", "url"},
		{"https://user:pw@crm.example/x", "url"},
	} {
		if r := w.api(t, w.admin, "POST", "/webhooks", map[string]any{"url": c.url, "events": []string{"ticket.created"}}); r.Status != 422 || !strings.Contains(r.Body, `"`+c.field+`"`) {
			t.Errorf("endpoint %s: %d %s", c.url, r.Status, r.Body)
		}
	}
	if r := w.api(t, w.admin, "POST", "/webhooks", map[string]any{"url": rc.URL + "/a", "events": []string{"ticket.exploded"}}); r.Status != 422 || !strings.Contains(r.Body, `"events"`) {
		t.Errorf("an unknown event: %d %s", r.Status, r.Body)
	}
	if r := w.api(t, w.op, "GET", "/webhooks", nil); r.Status != 403 {
		t.Errorf("an operator lists webhooks: %d", r.Status)
	}
	if r := e.API(t, w.betaAdmin, "POST", "beta", "/webhooks", map[string]any{"url": rc.URL + "/b", "events": []string{"ticket.created"}}); r.Status != 422 || !strings.Contains(r.Body, "tariff") {
		t.Errorf("a free tariff's webhook: %d %s", r.Status, r.Body)
	}
	a := w.api(t, w.admin, "POST", "/webhooks", map[string]any{"url": rc.URL + "/a", "events": []string{"ticket.created", "message.created", "ticket.status_changed"}})
	n := w.api(t, w.admin, "POST", "/webhooks", map[string]any{"url": rc.URL + "/n", "events": []string{"note.created"}})
	if a.Status != 201 || n.Status != 201 {
		t.Fatalf("endpoints: %d %s / %d %s", a.Status, a.Body, n.Status, n.Body)
	}
	aID, secretA := a.JSON(t)["id"], a.JSON(t)["secret"].(string)
	nID, secretN := n.JSON(t)["id"], n.JSON(t)["secret"].(string)
	if !strings.HasPrefix(secretA, "whsec_") || strings.Contains(w.api(t, w.admin, "GET", "/webhooks", nil).Body, secretA) {
		t.Errorf("the secret is not shown once: %q", secretA)
	}

	// A ticket: to /a only, signed, with its id and version.
	r := w.api(t, w.ca, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "Toner for the webhook", "description": "Two boxes."}})
	num := int64(r.JSON(t)["number"].(float64))
	deliver()
	ga := rc.to("/a")
	if len(ga) != 1 || ga[0].event != "ticket.created" || len(rc.to("/n")) != 0 {
		t.Fatalf("after a ticket: /a %d, /n %d", len(ga), len(rc.to("/n")))
	}
	if !verify(ga[0].sig, ga[0].body, secretA) || verify(ga[0].sig, ga[0].body, secretN) {
		t.Errorf("the signature %q does not verify", ga[0].sig)
	}
	p := payload(ga[0])
	if p["id"] != ga[0].id || p["version"] != float64(1) || p["portal"] != "alpha" || p["data"].(map[string]any)["ticket"].(map[string]any)["number"] != float64(num) {
		t.Errorf("the payload: %s", ga[0].body)
	}
	// A note reaches only the endpoint that asked for notes; a reply only /a.
	w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/messages", num), map[string]any{"body": "Secret supplier price: 42", "internal": true})
	w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/messages", num), map[string]any{"body": "The toner is on its way."})
	deliver()
	for _, g := range rc.to("/a") {
		if strings.Contains(string(g.body), "Secret supplier") {
			t.Error("an internal note reached an endpoint that did not ask for notes")
		}
	}
	if gn := rc.to("/n"); len(gn) != 1 || gn[0].event != "note.created" || !strings.Contains(string(gn[0].body), "Secret supplier") || !verify(gn[0].sig, gn[0].body, secretN) {
		t.Errorf("the note's endpoint: %v", gn)
	}
	if ga = rc.to("/a"); len(ga) != 2 || ga[1].event != "message.created" || !strings.Contains(string(ga[1].body), "on its way") {
		t.Errorf("the reply's delivery: %d", len(ga))
	}

	// Failing: tried again after the back-off with the same id, then taken.
	rc.mu.Lock()
	rc.fail = true
	rc.mu.Unlock()
	w.api(t, w.op, "PATCH", fmt.Sprintf("/tickets/%d", num), map[string]any{"status": "closed"})
	deliver()
	failed := rc.to("/a")[2]
	if failed.event != "ticket.status_changed" {
		t.Fatalf("the status change: %s", failed.event)
	}
	log := w.api(t, w.admin, "GET", fmt.Sprintf("/webhooks/%v/deliveries", aID), nil).JSON(t)["deliveries"].([]any)[0].(map[string]any)
	if log["state"] != "pending" || log["status"] != float64(503) || !strings.Contains(log["response"].(string), "down for maintenance") {
		t.Errorf("the failed delivery's log: %v", log)
	}
	deliver()
	if len(rc.to("/a")) != 3 {
		t.Error("retried before its back-off")
	}
	rc.mu.Lock()
	rc.fail = false
	rc.mu.Unlock()
	clk.Add(2 * time.Minute)
	deliver()
	ga = rc.to("/a")
	if len(ga) != 4 || ga[3].id != failed.id {
		t.Fatalf("the retry: %d deliveries, id %q vs %q", len(ga), ga[len(ga)-1].id, failed.id)
	}
	deliver()
	if len(rc.to("/a")) != 4 {
		t.Error("a delivered event was sent again")
	}

	// A test event, a resend (same id), a rotated secret.
	if r := w.api(t, w.admin, "POST", fmt.Sprintf("/webhooks/%v/test", aID), nil); r.Status != 202 {
		t.Fatalf("test: %d %s", r.Status, r.Body)
	}
	deliver()
	if ga = rc.to("/a"); ga[len(ga)-1].event != "ping" {
		t.Errorf("the test event: %s", ga[len(ga)-1].event)
	}
	first := w.api(t, w.admin, "GET", fmt.Sprintf("/webhooks/%v/deliveries", aID), nil).JSON(t)["deliveries"].([]any)
	oldest := first[len(first)-1].(map[string]any)
	rot := w.api(t, w.admin, "POST", fmt.Sprintf("/webhooks/%v/rotate", aID), nil).JSON(t)["secret"].(string)
	w.api(t, w.admin, "POST", fmt.Sprintf("/webhooks/%v/deliveries/%v/resend", aID, oldest["id"]), nil)
	deliver()
	ga = rc.to("/a")
	last := ga[len(ga)-1]
	if last.id != oldest["event_id"] || !verify(last.sig, last.body, rot) || !verify(last.sig, last.body, secretA) {
		t.Errorf("the resend after a rotation: id %q (want %v), new %v, old %v", last.id, oldest["event_id"], verify(last.sig, last.body, rot), verify(last.sig, last.body, secretA))
	}

	// A day of failures pauses the endpoint and tells the admins; what
	// happens meanwhile waits, and is sent once an admin switches it on.
	rc.mu.Lock()
	rc.fail = true
	rc.mu.Unlock()
	w.api(t, w.ca, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "During the outage", "description": "x"}})
	deliver()
	clk.Add(26 * time.Hour)
	deliver()
	hooks := w.api(t, w.admin, "GET", "/webhooks", nil).Body
	if !strings.Contains(hooks, `"paused":true`) {
		t.Fatalf("the failing endpoint is not paused: %s", hooks)
	}
	told := false
	for _, m := range e.Mails(t, "alpha") {
		told = told || (strings.Contains(m, "admin@alpha.test") && strings.Contains(m, rc.URL+"/a") && strings.Contains(m, "paused"))
	}
	if !told {
		t.Error("the admins are not told of the paused endpoint")
	}
	w.api(t, w.ca, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "While paused", "description": "x"}})
	deliver()
	rc.mu.Lock()
	rc.fail = false
	rc.mu.Unlock()
	before := len(rc.to("/a"))
	if r := w.api(t, w.admin, "PATCH", fmt.Sprintf("/webhooks/%v", aID), map[string]any{"active": true}); r.Status != 200 || strings.Contains(r.Body, `"paused":true`) {
		t.Fatalf("resume: %d %s", r.Status, r.Body)
	}
	deliver()
	if ga = rc.to("/a"); len(ga) == before || !strings.Contains(string(ga[len(ga)-1].body), "While paused") {
		t.Error("what came while the endpoint was paused was not sent once it was switched on")
	}

	// The page: an error at the address, nothing kept; a new endpoint's
	// secret shown once, on the page that answers.
	admin := e.SignIn(t, "alpha", "admin@alpha.test")
	count := len(w.api(t, w.admin, "GET", "/webhooks", nil).JSON(t)["webhooks"].([]any))
	page := pdtest.Do(t, admin, "POST", e.URL+"/alpha/admin/webhooks", url.Values{"url": {"http://192.168.1.10/hook"}, "events": {"ticket.created"}, "active": {"1"}})
	if page.Status != 422 || !strings.Contains(page.Body, "not on the public internet") || len(w.api(t, w.admin, "GET", "/webhooks", nil).JSON(t)["webhooks"].([]any)) != count {
		t.Errorf("a private address from the page: %d", page.Status)
	}
	page = pdtest.Do(t, admin, "POST", e.URL+"/alpha/admin/webhooks", url.Values{"url": {rc.URL + "/page"}, "events": {"ticket.created", "rating.created"}, "active": {"1"}})
	secret := regexp.MustCompile(`whsec_[0-9a-f]+`).FindString(page.Body)
	if page.Status != 200 || secret == "" {
		t.Fatalf("a new endpoint from the page: %d", page.Status)
	}
	if again := pdtest.Do(t, admin, "GET", e.URL+"/alpha/admin/webhooks", nil).Body; strings.Contains(again, secret) || !strings.Contains(again, rc.URL+"/page") {
		t.Error("the secret shows again, or the endpoint is not listed")
	}

	// Another portal knows nothing of alpha's endpoints.
	if r := e.API(t, w.betaAdmin, "GET", "beta", fmt.Sprintf("/webhooks/%v/deliveries", nID), nil); r.Status != 404 {
		t.Errorf("beta reads alpha's deliveries: %d", r.Status)
	}
}
