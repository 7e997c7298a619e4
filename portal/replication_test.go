package portal_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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

// TestRecoverFromReplica: a machine lost whole — its data directory gone
// — is rebuilt from the replicas (catalog and portals' databases) and its
// files from object storage; with the service secret brought along, the
// same people sign in and find their tickets and files.
func TestRecoverFromReplica(t *testing.T) {
	s3 := pdtest.StartS3(t)
	cfg := provisioner.Config{Replicate: s3.URL("dr"), Storage: s3.URL("drf"), ReplicateSync: 100 * time.Millisecond}
	e := pdtest.New(t, cfg)
	w := worldOn(t, e)
	data := randomBytes(50000)
	id := attach(t, w, w.ca, w.ticket, "contract.pdf", data).JSON(t)["id"]
	ctx := context.Background()
	for _, slug := range []string{"", "alpha", "beta"} {
		if err := e.Svc.SyncReplica(ctx, slug); err != nil {
			t.Fatal(slug, err)
		}
	}
	want := dumpPortal(t, e, "alpha")
	secret, err := os.ReadFile(filepath.Join(e.Dir, "secret"))
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	lost := e.Dir
	if err := os.RemoveAll(lost); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	st, err := provisioner.Recover(ctx, dir, cfg.Replicate)
	if err != nil || st.Portals != 2 || len(st.Failed) != 0 {
		t.Fatalf("recover: %+v %v", st, err)
	}
	cfg.DataDir, cfg.Secret = dir, string(secret)
	e2 := pdtest.New(t, cfg)
	if got := dumpPortal(t, e2, "alpha"); got != want {
		t.Fatal("the recovered portal differs")
	}
	tok := e2.Login(t, "alpha", "ca@alpha.test")
	if got := pdtest.Do(t, nil, "GET", e2.URL+fmt.Sprintf("/alpha/api/v1/attachments/%v", id), nil, "Authorization", "Bearer "+tok); got.Status != 200 || got.Body != string(data) {
		t.Fatalf("the file after recovery: %d", got.Status)
	}
	if n := len(e2.API(t, tok, "GET", "alpha", "/tickets", nil).JSON(t)["tickets"].([]any)); n != 1 {
		t.Fatalf("the client's tickets after recovery: %d", n)
	}
}

// TestRestoreInPlace: a portal restored in place to a moment goes on from
// there: what it writes next is replicated after that moment's history,
// and the latest restore has it, without what the in-place restore undid.
func TestRestoreInPlace(t *testing.T) {
	s3 := pdtest.StartS3(t)
	e := pdtest.New(t, provisioner.Config{Replicate: s3.URL("ip"), ReplicateSync: 100 * time.Millisecond})
	w := worldOn(t, e)
	ctx := context.Background()
	subject := func(s string) map[string]any {
		return map[string]any{"client": 0, "fields": map[string]any{"subject": s, "description": "x"}}
	}
	w.api(t, w.op, "POST", "/tickets", subject("Kept"))
	if err := e.Svc.SyncReplica(ctx, "alpha"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	at := time.Now()
	time.Sleep(1100 * time.Millisecond)
	w.api(t, w.op, "POST", "/tickets", subject("Undone"))
	if err := e.Svc.SyncReplica(ctx, "alpha"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Svc.RestoreAt(ctx, "alpha", at, ""); err != nil {
		t.Fatal(err)
	}
	op := e.Login(t, "alpha", "op@alpha.test")
	if r := e.API(t, op, "POST", "alpha", "/tickets", subject("Written after")); r.Status != 201 {
		t.Fatalf("a write after the restore: %d", r.Status)
	}
	if err := e.Svc.SyncReplica(ctx, "alpha"); err != nil {
		t.Fatalf("replication after an in-place restore: %v", err)
	}
	if _, err := e.Svc.RestoreAt(ctx, "alpha", time.Time{}, "alpha-latest"); err != nil {
		t.Fatal(err)
	}
	got := e.API(t, e.Login(t, "alpha-latest", "op@alpha.test"), "GET", "alpha-latest", "/tickets", nil).Body
	if !strings.Contains(got, "Kept") || !strings.Contains(got, "Written after") || strings.Contains(got, "Undone") {
		t.Fatalf("the latest after an in-place restore: %s", got)
	}
}
