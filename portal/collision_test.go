package portal_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"portaldesk/cmd/server/pdtest"
)

// sseEvents reads a live stream's events ("name: data") into a channel.
func sseEvents(t *testing.T, c *http.Client, u string) (<-chan string, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	res, err := c.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("stream %s: %v %v", u, err, res)
	}
	out := make(chan string, 32)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(res.Body)
		var name string
		for sc.Scan() {
			switch l := sc.Text(); {
			case strings.HasPrefix(l, "event: "):
				name = strings.TrimPrefix(l, "event: ")
			case strings.HasPrefix(l, "data: "):
				out <- name + ": " + strings.TrimPrefix(l, "data: ")
			}
		}
	}()
	return out, func() { cancel(); res.Body.Close() }
}

// next waits for the next event of a kind that satisfies ok.
func next(t *testing.T, ch <-chan string, what string, ok func(string) bool) {
	t.Helper()
	deadline := time.After(3 * time.Second)
	for {
		select {
		case e := <-ch:
			if ok(e) {
				return
			}
		case <-deadline:
			t.Fatalf("%s: not within 3 s", what)
		}
	}
}

// TestCollisions: staff on a ticket's page see who else is there and who
// is writing (a client never does); a reply sent after someone else wrote
// is held back once — the page and the API say so, posting nothing — and
// goes when sent again.
func TestCollisions(t *testing.T) {
	w := newWorld(t)
	e := w.e
	n := w.ticket
	page := fmt.Sprintf("%s/alpha/tickets/%d", e.URL, n)
	anna, oleg, carol := e.SignIn(t, "alpha", "admin@alpha.test"), e.SignIn(t, "alpha", "op@alpha.test"), e.SignIn(t, "alpha", "ca@alpha.test")

	annaSees, stopA := sseEvents(t, anna, page+"/events")
	defer stopA()
	next(t, annaSees, "Anna's first list", func(s string) bool { return s == "viewers: []" })
	carolSees, stopC := sseEvents(t, carol, page+"/events")
	defer stopC()
	_, stopO := sseEvents(t, oleg, page+"/events")
	next(t, annaSees, "Oleg on the page", func(s string) bool { return strings.Contains(s, `"name":"Oleg","writing":false`) })
	if r := pdtest.Do(t, oleg, "POST", page+"/writing", url.Values{}); r.Status != 204 {
		t.Fatalf("writing: %d", r.Status)
	}
	next(t, annaSees, "Oleg writing", func(s string) bool { return strings.Contains(s, `"name":"Oleg","writing":true`) })
	if r := pdtest.Do(t, carol, "POST", page+"/writing", url.Values{}); r.Status != 403 {
		t.Errorf("a client said she writes: %d", r.Status)
	}
	stopO()
	next(t, annaSees, "Oleg gone", func(s string) bool { return s == "viewers: []" })
	select {
	case s := <-carolSees:
		if strings.HasPrefix(s, "viewers") {
			t.Errorf("the client hears who is on the page: %s", s)
		}
	case <-time.After(200 * time.Millisecond):
	}

	// Anna opens the page, Oleg answers meanwhile: her reply is held back.
	last := regexp.MustCompile(`name="last" value="(\d+)"`).FindStringSubmatch(pdtest.Do(t, anna, "GET", page, nil).Body)
	if last == nil {
		t.Fatal("the reply form does not say what the writer has seen")
	}
	w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/messages", n), map[string]any{"body": "I have it, calling now."})
	r := pdtest.Do(t, anna, "POST", page+"/messages", pdtest.Multipart{Fields: map[string]string{"body": "Let me call them.", "last": last[1]}})
	if r.Status != 409 || !strings.Contains(r.Body, "A new message arrived while you were writing") || !strings.Contains(r.Body, "Let me call them.") {
		t.Fatalf("a reply after someone else's: %d", r.Status)
	}
	if c := conversation(t, w, n); strings.Contains(c, "Let me call them.") {
		t.Fatal("the held-back reply was posted")
	}
	fresh := regexp.MustCompile(`name="last" value="(\d+)"`).FindStringSubmatch(r.Body)
	if r := pdtest.Do(t, anna, "POST", page+"/messages", pdtest.Multipart{Fields: map[string]string{"body": "Let me call them.", "last": fresh[1]}}); r.Status != 303 {
		t.Fatalf("sent again: %d", r.Status)
	}
	// The API alike, with "after".
	msgs := w.api(t, w.admin, "GET", fmt.Sprintf("/tickets/%d/messages", n), nil).JSON(t)["messages"].([]any)
	newest := msgs[len(msgs)-1].(map[string]any)["id"]
	w.api(t, w.ca, "POST", fmt.Sprintf("/tickets/%d/messages", n), map[string]any{"body": "Thank you!"})
	if r := w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/messages", n), map[string]any{"body": "Bye", "after": newest}); r.Status != 409 || !strings.Contains(r.Body, "newer_message") {
		t.Errorf("the API after a newer message: %d %s", r.Status, r.Body)
	}
}
