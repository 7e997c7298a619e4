package portal_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/provisioner"
)

// TestIncrementalSync: tickets, people and organisations read from a
// moment, page by page with a cursor, each row once; a row changed
// during the read comes again at its end; the next read from the largest
// updated_at seen brings only what changed; a bad moment or cursor is
// refused at its parameter; a ticket's ETag answers 304 until it changes.
func TestIncrementalSync(t *testing.T) {
	// Ahead of the wall clock, which stamps people's changes the portal's
	// code does not stamp itself.
	clk := &clock{t: time.Now().Add(time.Hour).Truncate(time.Second)}
	e := pdtest.New(t, provisioner.Config{})
	e.Svc.SetClock(clk.Now)
	w := worldOn(t, e)
	for i := range 230 {
		clk.Add(time.Duration(i%3) * time.Second) // some share a second: the cursor tells them apart
		if r := w.api(t, w.op, "POST", "/tickets", map[string]any{"client": 0, "fields": map[string]any{"subject": fmt.Sprintf("T%d", i), "description": "x"}}); r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
	}
	read := func(path string, key string, change func(page int)) (map[float64]int, float64) {
		t.Helper()
		seen, latest := map[float64]int{}, 0.0
		next := path
		for page := 0; ; page++ {
			body := w.api(t, w.admin, "GET", next, nil).JSON(t)
			rows := body[key].([]any)
			for _, r := range rows {
				m := r.(map[string]any)
				id := m["id"]
				if id == nil {
					id = m["number"]
				}
				seen[id.(float64)]++
				latest = max(latest, m["updated_at"].(float64))
			}
			if change != nil {
				change(page)
			}
			cur, _ := body["next_cursor"].(string)
			if cur == "" {
				return seen, latest
			}
			if len(rows) != 100 {
				t.Fatalf("a page of %d before the last", len(rows))
			}
			next = path + "&cursor=" + cur
		}
	}
	// The whole read, the first ticket changed after the first page: it
	// comes again at the end, and nothing else twice.
	seen, latest := read("/tickets?updated_since=0", "tickets", func(page int) {
		if page == 0 {
			clk.Add(time.Second)
			w.api(t, w.admin, "PATCH", "/tickets/1", map[string]any{"priority": "high"})
		}
	})
	if len(seen) != 231 {
		t.Fatalf("read %d tickets of 231", len(seen))
	}
	for id, n := range seen {
		if n > 1 && id != 1 {
			t.Fatalf("ticket %v read %d times", id, n)
		}
	}
	if seen[1] != 2 {
		t.Fatalf("the ticket changed during the read came %d times", seen[1])
	}
	// The next read, from the largest updated_at seen: what changed since.
	clk.Add(time.Second)
	w.api(t, w.admin, "PATCH", "/tickets/17", map[string]any{"priority": "urgent"})
	again, _ := read(fmt.Sprintf("/tickets?updated_since=%d", int64(latest)), "tickets", nil)
	if again[17] != 1 || len(again) > 2 {
		t.Fatalf("the next read: %v", again)
	}
	// RFC 3339 works as well as unix seconds; bad ones are refused.
	if n := len(w.api(t, w.admin, "GET", "/tickets?updated_since="+clk.Now().Format(time.RFC3339), nil).JSON(t)["tickets"].([]any)); n != 1 {
		t.Fatalf("from now: %d", n)
	}
	fieldErr(t, "a bad moment", w.api(t, w.admin, "GET", "/tickets?updated_since=yesterday", nil), "updated_since")
	fieldErr(t, "a bad cursor", w.api(t, w.admin, "GET", "/users?cursor=bogus", nil), "cursor")

	// People: each once; a change brings the person back.
	people, latestPerson := read("/users?updated_since=0", "users", nil)
	if len(people) != 4 {
		t.Fatalf("people: %d", len(people))
	}
	ca := w.api(t, w.admin, "GET", "/users?role=client", nil).JSON(t)["users"].([]any)[0].(map[string]any)["id"]
	clk.Add(time.Second)
	w.api(t, w.op, "PATCH", fmt.Sprintf("/users/%v", ca), map[string]any{"external_id": "crm-9"})
	if changed, _ := read(fmt.Sprintf("/users?updated_since=%d", int64(latestPerson)+1), "users", nil); len(changed) != 1 || changed[ca.(float64)] != 1 {
		t.Fatalf("the person changed: %v", changed)
	}
	for i := range 120 {
		w.api(t, w.op, "POST", "/organizations", map[string]any{"name": fmt.Sprintf("Org %03d", i)})
	}
	orgs, _ := read("/organizations?updated_since=0", "organizations", nil)
	if len(orgs) != 120 {
		t.Fatalf("organisations: %d", len(orgs))
	}
	for _, n := range orgs {
		if n != 1 {
			t.Fatal("an organisation read twice")
		}
	}
	// A client reads only their own tickets this way too.
	clientRead := w.api(t, w.ca, "GET", "/tickets?updated_since=0", nil).JSON(t)["tickets"].([]any)
	if len(clientRead) != 1 {
		t.Fatalf("a client's incremental read: %d tickets", len(clientRead))
	}

	// ETags: 304 while unchanged, 200 with a new tag after a change.
	r := pdtest.Do(t, nil, "GET", e.URL+"/alpha/api/v1/tickets/5", nil, "Authorization", "Bearer "+w.admin)
	tag := r.Header.Get("ETag")
	if r.Status != 200 || tag == "" {
		t.Fatalf("no ETag: %d", r.Status)
	}
	if r := pdtest.Do(t, nil, "GET", e.URL+"/alpha/api/v1/tickets/5", nil, "Authorization", "Bearer "+w.admin, "If-None-Match", tag); r.Status != http.StatusNotModified || r.Body != "" {
		t.Fatalf("unchanged: %d", r.Status)
	}
	w.api(t, w.admin, "PATCH", "/tickets/5", map[string]any{"priority": "low"})
	if r := pdtest.Do(t, nil, "GET", e.URL+"/alpha/api/v1/tickets/5", nil, "Authorization", "Bearer "+w.admin, "If-None-Match", tag); r.Status != 200 || r.Header.Get("ETag") == tag {
		t.Fatalf("changed: %d", r.Status)
	}
}
