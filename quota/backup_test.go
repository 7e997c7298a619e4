package quota_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
	"portaldesk/provisioner"
	"portaldesk/quota"
)

func count(t *testing.T, dbPath, q string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestBackupUnderWritesThenRestore(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{})
	e.Create(t, "acme")
	tok := e.Login(t, "acme", "admin@acme.test")
	j := quota.New(e.Svc)
	ctx := context.Background()
	// Some tickets with files first.
	for i := 0; i < 5; i++ {
		n := e.API(t, tok, "POST", "acme", "/tickets", map[string]any{"fields": map[string]any{"subject": fmt.Sprint("T", i), "description": "D"}}).JSON(t)["number"]
		e.API(t, tok, "POST", "acme", fmt.Sprintf("/tickets/%v/attachments", n), pdtest.Multipart{Files: map[string][]pdtest.File{"file": {{Name: "f.txt", Data: []byte(fmt.Sprint("file ", i))}}}})
	}
	// Writes keep coming while the snapshot is taken.
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			e.API(t, tok, "POST", "acme", "/tickets", map[string]any{"fields": map[string]any{"subject": fmt.Sprint("W", i), "description": "during the backup"}})
		}
	}()
	time.Sleep(50 * time.Millisecond)
	dir, m, err := j.Backup(ctx, "acme", time.Now())
	time.Sleep(50 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !m.Verified || len(m.Files) != 5 || m.SchemaVersion != portal.SchemaVersion || m.Portal.Slug != "acme" {
		t.Fatalf("manifest: %+v", m)
	}
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err != nil {
		t.Fatal(err)
	}
	snapTickets := count(t, filepath.Join(dir, "portal.db"), "SELECT COUNT(*) FROM tickets")
	liveTickets := 0
	e.Portal(t, "acme", func(p *portal.Portal) { p.DB.Readers().QueryRow("SELECT COUNT(*) FROM tickets").Scan(&liveTickets) })
	if snapTickets < 5 || snapTickets >= liveTickets {
		t.Fatalf("snapshot has %d tickets, live %d: the snapshot is not a moment during the writes", snapTickets, liveTickets)
	}
	// Restore as a new portal: every row and file as at the snapshot — the
	// restored database is byte for byte the snapshot's.
	if _, err := j.Restore(ctx, "acme", dir, "acme-copy"); err != nil {
		t.Fatal(err)
	}
	restored := filepath.Join(e.Dir, "portals", "acme-copy")
	if err := quota.Verify(restored, m); err != nil {
		t.Fatalf("the restored portal differs from the snapshot: %v", err)
	}
	copyTok := e.Login(t, "acme-copy", "admin@acme.test")
	list := e.API(t, copyTok, "GET", "acme-copy", "/tickets?page=1", nil).JSON(t)
	if list["tickets"] == nil {
		t.Fatal("no tickets in the copy")
	}
	got := count(t, filepath.Join(e.Dir, "portals", "acme-copy", "portal.db"), "SELECT COUNT(*) FROM tickets")
	if got != snapTickets {
		t.Fatalf("restored %d tickets, the snapshot had %d", got, snapTickets)
	}
	r := e.API(t, copyTok, "GET", "acme-copy", "/attachments/1", nil)
	if r.Status != 200 || r.Body != "file 0" {
		t.Fatalf("restored file: %d %q", r.Status, r.Body)
	}
	// A second snapshot of the unchanged files links them.
	_, m2, err := j.Backup(ctx, "acme", time.Now().Add(time.Second))
	if err != nil || m2.Linked != 5 {
		t.Fatalf("incremental: linked %d, %v", m2.Linked, err)
	}
}

func TestDamagedSnapshotIsRefused(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{})
	e.Create(t, "acme")
	tok := e.Login(t, "acme", "admin@acme.test")
	e.API(t, tok, "POST", "acme", "/tickets", map[string]any{"fields": map[string]any{"subject": "Keep", "description": "me"}})
	j := quota.New(e.Svc)
	dir, _, err := j.Backup(context.Background(), "acme", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(filepath.Join(dir, "portal.db"), os.O_WRONLY, 0)
	f.WriteAt([]byte("garbage garbage garbage"), 5000)
	f.Close()
	if _, err := j.Restore(context.Background(), "acme", dir, ""); err == nil {
		t.Fatal("a damaged snapshot was restored")
	}
	if r := e.API(t, tok, "GET", "acme", "/tickets/1", nil); r.Status != 200 {
		t.Fatalf("the live portal was touched: %d", r.Status)
	}
}

func TestRestoreBringsBackADeletedPortal(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{})
	e.Create(t, "acme")
	j := quota.New(e.Svc)
	ctx := context.Background()
	dir, _, err := j.Backup(ctx, "acme", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Svc.Delete(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Restore(ctx, "acme", dir, ""); err != nil {
		t.Fatal(err)
	}
	e.Login(t, "acme", "admin@acme.test")
	if rec, err := e.Svc.Catalog().PortalBySlug(ctx, "acme"); err != nil || rec.Company != "Acme Ltd" {
		t.Fatalf("catalog entry: %v %v", rec, err)
	}
}

func TestRetentionKeepsTheLastGoodSnapshot(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{})
	e.Create(t, "acme")
	j := quota.New(e.Svc)
	ctx := context.Background()
	day := time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC)
	var dirs []string
	for i := 0; i < 20; i++ {
		d, _, err := j.Backup(ctx, "acme", day.AddDate(0, 0, i))
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	// The newest two are unverified (as if a backup broke half-way): they never count as good.
	for _, d := range dirs[18:] {
		m, _ := quota.ReadManifest(d)
		m.Verified = false
		b, _ := jsonMarshal(m)
		os.WriteFile(filepath.Join(d, "manifest.json"), b, 0o640)
	}
	if err := j.Prune("acme", quota.Retention{Daily: 3, Weekly: 2}); err != nil {
		t.Fatal(err)
	}
	left, _ := quota.Snapshots(e.Dir, "acme")
	have := map[string]bool{}
	for _, d := range left {
		have[d] = true
	}
	if !have[dirs[17]] {
		t.Fatal("the newest verified snapshot was removed")
	}
	if !have[dirs[18]] || !have[dirs[19]] {
		t.Fatal("newer snapshots were removed")
	}
	if len(left) > 2+3+2 {
		t.Fatalf("%d snapshots left", len(left))
	}
	if have[dirs[0]] {
		t.Fatal("old snapshots were kept")
	}
}

func jsonMarshal(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") }

// TestKilledBackupLeavesNothingBehind: a backup killed midway (here, the
// directory it was writing) is cleaned up by the next backup of the
// portal; the .partial name never counts as a snapshot.
func TestKilledBackupLeavesNothingBehind(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{})
	e.Create(t, "acme")
	j := quota.New(e.Svc)
	base := quota.BackupDir(e.Dir, "acme")
	killed := filepath.Join(base, "20260101T000000.000Z.partial")
	if err := os.MkdirAll(filepath.Join(killed, "files", "ab"), 0o750); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(killed, "portal.db"), []byte("half a copy"), 0o640)
	if snaps, _ := quota.Snapshots(e.Dir, "acme"); len(snaps) != 0 {
		t.Fatalf("a .partial directory counts as a snapshot: %v", snaps)
	}
	dir, _, err := j.Backup(context.Background(), "acme", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(killed); !os.IsNotExist(err) {
		t.Fatalf("the killed backup's directory is still there: %v", err)
	}
	if snaps, _ := quota.Snapshots(e.Dir, "acme"); len(snaps) != 1 || snaps[0] != dir {
		t.Fatalf("snapshots: %v", snaps)
	}
}
