package portal_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
	"portaldesk/provisioner"
)

// dumpPortal is what a portal's database holds that a restore must bring
// back exactly: its tickets, messages and people.
func dumpPortal(t *testing.T, e *pdtest.Env, slug string) string {
	t.Helper()
	var b strings.Builder
	e.Portal(t, slug, func(p *portal.Portal) {
		for _, q := range []string{
			"SELECT id || '|' || subject || '|' || status_id || '|' || priority || '|' || updated_at FROM tickets ORDER BY id",
			"SELECT id || '|' || ticket_id || '|' || kind || '|' || body FROM messages ORDER BY id",
			"SELECT id || '|' || email || '|' || name || '|' || role FROM users ORDER BY id",
		} {
			rows, err := p.DB.Writer().QueryContext(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var s string
				_ = rows.Scan(&s)
				b.WriteString(s + "\n")
			}
			rows.Close()
		}
	})
	return b.String()
}

// TestReplicationPointInTime: with --replicate, a portal's database
// streams to a real S3-compatible server with Litestream; restored as of
// a moment, it is exactly the database of that moment, and as of now,
// exactly the database now — both as new portals beside the live one.
func TestReplicationPointInTime(t *testing.T) {
	s3 := pdtest.StartS3(t)
	e := pdtest.New(t, provisioner.Config{Replicate: s3.URL("r"), ReplicateSync: 100 * time.Millisecond})
	w := worldOn(t, e)
	ctx := context.Background()
	for i := range 5 {
		w.api(t, w.op, "POST", "/tickets", map[string]any{"client": 0, "fields": map[string]any{"subject": fmt.Sprintf("Before %d", i), "description": "x"}})
	}
	w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/messages", w.ticket), map[string]any{"body": "Kept"})
	if err := e.Svc.SyncReplica(ctx, "alpha"); err != nil {
		t.Fatal(err)
	}
	then := dumpPortal(t, e, "alpha")
	time.Sleep(1100 * time.Millisecond) // the moment lies between two seconds of writes
	at := time.Now()
	time.Sleep(1100 * time.Millisecond)
	for i := range 5 {
		w.api(t, w.op, "POST", "/tickets", map[string]any{"client": 0, "fields": map[string]any{"subject": fmt.Sprintf("After %d", i), "description": "y"}})
	}
	w.api(t, w.op, "PATCH", fmt.Sprintf("/tickets/%d", w.ticket), map[string]any{"priority": "urgent"})
	if err := e.Svc.SyncReplica(ctx, "alpha"); err != nil {
		t.Fatal(err)
	}
	now := dumpPortal(t, e, "alpha")
	if then == now {
		t.Fatal("nothing changed between the moments")
	}
	if _, err := e.Svc.RestoreAt(ctx, "alpha", at, "alpha-then"); err != nil {
		t.Fatal(err)
	}
	if got := dumpPortal(t, e, "alpha-then"); got != then {
		t.Fatalf("restored as of the moment:\n%s\nwant:\n%s", got, then)
	}
	if _, err := e.Svc.RestoreAt(ctx, "alpha", time.Time{}, "alpha-now"); err != nil {
		t.Fatal(err)
	}
	if got := dumpPortal(t, e, "alpha-now"); got != now {
		t.Fatal("restored as of now differs from the database now")
	}
	// The restored portal works: its admin signs in and reads its tickets.
	tok := e.Login(t, "alpha-then", "admin@alpha.test")
	if list := e.API(t, tok, "GET", "alpha-then", "/tickets?q=After", nil).JSON(t)["tickets"].([]any); len(list) != 0 {
		t.Fatal("the restored portal has tickets from after its moment")
	}
}
