package portal_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/provisioner"
)

// listen opens a live-update stream as client c and returns the events'
// lines as they come.
func listen(t *testing.T, c *http.Client, u string) (<-chan string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("%s: %d %s", u, res.StatusCode, res.Header.Get("Content-Type"))
	}
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data:") {
				lines <- sc.Text()
			}
		}
	}()
	return lines, func() { cancel(); res.Body.Close() }
}

func expectEvent(t *testing.T, lines <-chan string, want bool, what string) {
	t.Helper()
	select {
	case l := <-lines:
		if !want {
			t.Errorf("%s: unexpected event %s", what, l)
		}
	case <-time.After(300 * time.Millisecond):
		if want {
			t.Errorf("%s: no event", what)
		}
	}
}

// TestLiveUpdates: an open ticket hears replies, status and assignee
// changes; its client never hears of an internal note; another client
// cannot listen to it; the operators' table hears of every ticket.
func TestLiveUpdates(t *testing.T) {
	w := newWorld(t)
	e := w.e
	ca := e.SignIn(t, "alpha", "ca@alpha.test")
	cb := e.SignIn(t, "alpha", "cb@alpha.test")
	op := e.SignIn(t, "alpha", "op@alpha.test")
	path := fmt.Sprintf("/alpha/tickets/%d/events", w.ticket)
	if r := pdtest.Do(t, cb, "GET", e.URL+path, nil); r.Status != 404 {
		t.Fatalf("another client's ticket stream: %d", r.Status)
	}
	if r := pdtest.Do(t, nil, "GET", e.URL+path, nil); r.Status != 303 && r.Status != 401 {
		t.Fatalf("anonymous stream: %d", r.Status)
	}
	client, stop1 := listen(t, ca, e.URL+path)
	defer stop1()
	table, stop2 := listen(t, op, e.URL+"/alpha/events")
	defer stop2()
	other, stop3 := listen(t, cb, e.URL+"/alpha/events")
	defer stop3()
	time.Sleep(50 * time.Millisecond)

	w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/messages", w.ticket), map[string]any{"body": "We are on it."})
	expectEvent(t, client, true, "a reply")
	expectEvent(t, table, true, "the table, a reply")
	expectEvent(t, other, false, "another client's table, a reply")

	w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/messages", w.ticket), map[string]any{"body": "secret", "internal": true})
	expectEvent(t, client, false, "an internal note")
	expectEvent(t, table, true, "the table, an internal note")

	w.api(t, w.op, "PATCH", fmt.Sprintf("/tickets/%d", w.ticket), map[string]any{"assignee": "me", "status": "In progress"})
	expectEvent(t, client, true, "a status change")
	expectEvent(t, table, true, "the table, a status change")

	w.api(t, w.cb, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "Other", "description": "B's"}})
	expectEvent(t, table, true, "the table, a new ticket")
	expectEvent(t, client, false, "client A, B's new ticket")
	expectEvent(t, other, true, "client B's table, B's own new ticket")
}

// TestTourAndQRCode: the tour shows until dismissed and comes back from
// the help menu; the portal's QR code is a real PNG and an SVG.
func TestTourAndQRCode(t *testing.T) {
	w := newWorld(t)
	e := w.e
	admin := e.SignIn(t, "alpha", "admin@alpha.test")
	if b := pdtest.Do(t, admin, "GET", e.URL+"/alpha/tickets", nil).Body; !strings.Contains(b, `data-tour`) || !strings.Contains(b, "Questionnaire: design the form") {
		t.Fatal("no admin tour on first login")
	}
	client := e.SignIn(t, "alpha", "ca@alpha.test")
	if b := pdtest.Do(t, client, "GET", e.URL+"/alpha/tickets", nil).Body; !strings.Contains(b, "My tickets: everything you asked") || strings.Contains(b, "Questionnaire: design") {
		t.Fatal("the client's tour is not the client's")
	}
	if r := pdtest.Do(t, admin, "POST", e.URL+"/alpha/tour", url.Values{"next": {"/alpha/tickets"}}); r.Status != 303 {
		t.Fatalf("dismissing the tour: %d", r.Status)
	}
	if b := pdtest.Do(t, admin, "GET", e.URL+"/alpha/tickets", nil).Body; strings.Contains(b, `data-tour`) {
		t.Error("the tour is back after Don't show again")
	}
	if b := pdtest.Do(t, admin, "GET", e.URL+"/alpha/tickets?tour=1", nil).Body; !strings.Contains(b, `data-tour`) {
		t.Error("the help menu cannot bring the tour back")
	}
	if b := pdtest.Do(t, client, "GET", e.URL+"/alpha/tickets", nil).Body; !strings.Contains(b, `data-tour`) {
		t.Error("one person's choice hid another's tour")
	}

	r := pdtest.Do(t, admin, "GET", e.URL+"/alpha/admin/qr.png", nil)
	if r.Status != 200 || r.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("QR PNG: %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	img, err := png.Decode(bytes.NewReader([]byte(r.Body)))
	if err != nil || img.Bounds().Dx() < 256 {
		t.Fatalf("QR PNG does not decode: %v", err)
	}
	r = pdtest.Do(t, admin, "GET", e.URL+"/alpha/admin/qr.svg", nil)
	if r.Status != 200 || !strings.HasPrefix(r.Body, "<svg") {
		t.Fatalf("QR SVG: %d", r.Status)
	}
	if r := pdtest.Do(t, client, "GET", e.URL+"/alpha/admin/qr.png", nil); r.Status != 403 {
		t.Errorf("a client reached the admin's QR code: %d", r.Status)
	}
	if b := pdtest.Do(t, admin, "GET", e.URL+"/alpha/admin/settings", nil).Body; !strings.Contains(b, "qr.svg") || !strings.Contains(b, "Copy the code") {
		t.Error("the settings do not show the QR code and the snippet's copy button")
	}
}

// TestPortalLogo: the admin's logo shows in the portal's header (also to
// visitors), is served as an image with a long cache, and bad files are
// refused at the field with nothing stored.
func TestPortalLogo(t *testing.T) {
	w := newWorld(t)
	e := w.e
	admin := e.SignIn(t, "alpha", "admin@alpha.test")
	var img bytes.Buffer
	m := image.NewRGBA(image.Rect(0, 0, 40, 20))
	m.Set(3, 3, color.RGBA{200, 0, 0, 255})
	png.Encode(&img, m)
	up := func(name string, data []byte) pdtest.Resp {
		return pdtest.Do(t, admin, "POST", e.URL+"/alpha/admin/logo", pdtest.Multipart{Files: map[string][]pdtest.File{"logo": {{Name: name, Data: data}}}})
	}
	if r := up("notes.txt", []byte("just text")); r.Status != 422 || !strings.Contains(r.Body, "Use a PNG, JPEG, GIF or WebP image.") {
		t.Fatalf("a text file as logo: %d", r.Status)
	}
	if r := up("evil.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)); r.Status != 422 {
		t.Fatalf("an SVG logo: %d", r.Status)
	}
	if r := up("huge.png", append(img.Bytes(), make([]byte, 600<<10)...)); r.Status != 422 || !strings.Contains(r.Body, "512 KB") {
		t.Fatalf("a huge logo: %d", r.Status)
	}
	if b := pdtest.Do(t, nil, "GET", e.URL+"/alpha/login", nil).Body; strings.Contains(b, "/alpha/logo") {
		t.Fatal("a refused logo was kept")
	}
	if r := up("logo.png", img.Bytes()); r.Status != 303 {
		t.Fatalf("a good logo: %d %s", r.Status, r.Body)
	}
	b := pdtest.Do(t, nil, "GET", e.URL+"/alpha/login", nil).Body
	i := strings.Index(b, "/alpha/logo?v=")
	if i < 0 {
		t.Fatal("the header does not show the portal's logo")
	}
	src := b[i : i+strings.IndexByte(b[i:], '"')]
	r := pdtest.Do(t, nil, "GET", e.URL+src, nil)
	if r.Status != 200 || r.Header.Get("Content-Type") != "image/png" || r.Body != img.String() || !strings.Contains(r.Header.Get("Cache-Control"), "immutable") || r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("serving the logo: %d %v", r.Status, r.Header)
	}
	if b := pdtest.Do(t, nil, "GET", e.URL+"/beta/login", nil).Body; strings.Contains(b, "/logo?v=") {
		t.Fatal("another portal shows this portal's logo")
	}
	if r := pdtest.Do(t, admin, "POST", e.URL+"/alpha/admin/logo", url.Values{"remove": {"1"}}); r.Status != 303 {
		t.Fatalf("removing the logo: %d", r.Status)
	}
	if r := pdtest.Do(t, nil, "GET", e.URL+"/alpha/logo", nil); r.Status != 404 {
		t.Fatalf("a removed logo is still served: %d", r.Status)
	}
}

// TestLiveStreamsDoNotHoldPortalsOpen: pages listening on many portals do
// not keep those portals open beyond the registry's limit.
func TestLiveStreamsDoNotHoldPortalsOpen(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{OpenLimit: 2})
	var stops []func()
	for i := 0; i < 5; i++ {
		slug := fmt.Sprintf("live-%d", i)
		e.Create(t, slug)
		c := e.SignIn(t, slug, "admin@"+slug+".test")
		_, stop := listen(t, c, e.URL+"/"+slug+"/events")
		stops = append(stops, stop)
	}
	defer func() {
		for _, s := range stops {
			s()
		}
	}()
	e.Svc.Registry().WaitClosed()
	if n := e.Svc.Registry().Live(); n > 2 {
		t.Fatalf("%d portals open with a limit of 2: streams hold them", n)
	}
	if n := e.Svc.Hubs().For("live-0").Listeners(); n != 1 {
		t.Fatalf("the first portal's page stopped listening: %d", n)
	}
}
