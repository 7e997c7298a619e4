package portal_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
	"portaldesk/portal/objstore"
	"portaldesk/provisioner"
	"portaldesk/quota"
)

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// attach uploads data as a file of ticket number.
func attach(t *testing.T, w *world, tok string, number int64, name string, data []byte) pdtest.Resp {
	t.Helper()
	return pdtest.Do(t, nil, "POST", w.e.URL+fmt.Sprintf("/alpha/api/v1/tickets/%d/attachments", number),
		pdtest.Multipart{Files: map[string][]pdtest.File{"file": {{Name: name, Data: data}}}}, "Authorization", "Bearer "+tok)
}

// objects lists the files kept for alpha in the store (key → size).
func objects(t *testing.T, s3 *pdtest.S3Server, prefix string) map[string]int64 {
	out := map[string]int64{}
	root := filepath.Join(s3.Dir, s3.Bucket, prefix, "portals", "alpha", "files")
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			info, _ := d.Info()
			rel, _ := filepath.Rel(root, p)
			out[rel] = info.Size()
		}
		return nil
	})
	return out
}

// TestObjectStorage: with --storage, a ticket's files live in a real
// S3-compatible server (versitygw on loopback), not in the portal's
// directory: uploaded, downloaded whole and by range, refused past the
// portal's quota with nothing left behind, deleted with their ticket;
// with presign, a download is a redirect to a short-lived address, after
// the same checks (another client gets 404, not an address).
func TestObjectStorage(t *testing.T) {
	s3 := pdtest.StartS3(t)
	e := pdtest.New(t, provisioner.Config{Storage: s3.URL("pd")})
	w := worldOn(t, e)
	data := randomBytes(3<<20 + 17)
	r := attach(t, w, w.ca, w.ticket, "scan.bin", data)
	if r.Status != 201 {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	id := r.JSON(t)["id"]
	objs := objects(t, s3, "pd")
	if len(objs) != 1 {
		t.Fatalf("objects in the store: %v", objs)
	}
	for _, size := range objs {
		if size != int64(len(data)) {
			t.Fatalf("the object's size: %d", size)
		}
	}
	local := 0
	_ = filepath.WalkDir(filepath.Join(e.Dir, "portals", "alpha", portal.FilesDir), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			local++
		}
		return nil
	})
	if local != 0 {
		t.Fatalf("%d files on the portal's disk", local)
	}
	get := func(tok string, hdr ...string) pdtest.Resp {
		return pdtest.Do(t, nil, "GET", w.e.URL+fmt.Sprintf("/alpha/api/v1/attachments/%v", id), nil, append([]string{"Authorization", "Bearer " + tok}, hdr...)...)
	}
	if got := get(w.ca); got.Status != 200 || got.Body != string(data) {
		t.Fatalf("download: %d, %d bytes", got.Status, len(got.Body))
	}
	if got := get(w.op, "Range", "bytes=1000000-1000099"); got.Status != 206 || got.Body != string(data[1000000:1000100]) {
		t.Fatalf("a range: %d, %d bytes", got.Status, len(got.Body))
	}
	if got := get(w.cb); got.Status != 404 {
		t.Fatalf("another client's download: %d", got.Status)
	}
	// The quota still counts: a file past it is refused and nothing stays.
	e.SetPlan(t, "alpha", "business", 5, 0, 4)
	if r := attach(t, w, w.ca, w.ticket, "big.bin", randomBytes(2<<20)); r.Status != 507 && r.Status != 413 {
		t.Fatalf("past the quota: %d %s", r.Status, r.Body)
	}
	if n := len(objects(t, s3, "pd")); n != 1 {
		t.Fatalf("a refused upload left %d objects", n)
	}
	if r := w.api(t, w.admin, "DELETE", fmt.Sprintf("/tickets/%d", w.ticket), nil); r.Status != 204 {
		t.Fatalf("delete: %d", r.Status)
	}
	if n := len(objects(t, s3, "pd")); n != 0 {
		t.Fatalf("the deleted ticket's file stayed: %d", n)
	}

	// Presigned downloads.
	e2 := pdtest.New(t, provisioner.Config{Storage: s3.URL("pd2", "presign=5m")})
	w2 := worldOn(t, e2)
	r = attach(t, w2, w2.ca, w2.ticket, "photo.png", append([]byte("\x89PNG\r\n\x1a\n"), randomBytes(5000)...))
	id = r.JSON(t)["id"]
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res := pdtest.Do(t, noFollow, "GET", e2.URL+fmt.Sprintf("/alpha/api/v1/attachments/%v", id), nil, "Authorization", "Bearer "+w2.ca)
	loc := res.Header.Get("Location")
	if res.Status != 302 || !strings.Contains(loc, "X-Amz-Signature") || !strings.Contains(loc, s3.Endpoint) {
		t.Fatalf("a presigned download: %d %q", res.Status, loc)
	}
	obj, err := http.Get(loc)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if obj.StatusCode != 200 || !bytes.HasPrefix(body, []byte("\x89PNG")) || len(body) != 5008 || !strings.Contains(obj.Header.Get("Content-Disposition"), "photo.png") {
		t.Fatalf("the presigned address: %d, %d bytes, %q", obj.StatusCode, len(body), obj.Header.Get("Content-Disposition"))
	}
	if got := pdtest.Do(t, noFollow, "GET", e2.URL+fmt.Sprintf("/alpha/api/v1/attachments/%v", id), nil, "Authorization", "Bearer "+w2.cb); got.Status != 404 || got.Header.Get("Location") != "" {
		t.Fatalf("another client got %d %q", got.Status, got.Header.Get("Location"))
	}
}

// TestStorageMigration: files kept on disk are copied into the store with
// their checksums; a second run copies nothing; a missing object and one
// whose bytes differ are copied again; then the service serves them from
// the store.
func TestStorageMigration(t *testing.T) {
	s3 := pdtest.StartS3(t)
	e := pdtest.New(t, provisioner.Config{})
	w := worldOn(t, e)
	files := map[string][]byte{}
	for i := range 5 {
		data := randomBytes(100000 + i)
		r := attach(t, w, w.ca, w.ticket, fmt.Sprintf("f%d.bin", i), data)
		files[fmt.Sprint(r.JSON(t)["id"])] = data
	}
	cfg, err := objstore.Parse(s3.URL("m"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := objstore.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var seen int
	s, err := provisioner.MigrateStorage(ctx, e.Dir, st, func(string, provisioner.MigrateStats) { seen++ })
	if err != nil || s.Copied < 5 || s.Skipped != 0 || seen != s.Files {
		t.Fatalf("the migration: %+v %v (told %d times)", s, err, seen)
	}
	s, err = provisioner.MigrateStorage(ctx, e.Dir, st, func(string, provisioner.MigrateStats) {})
	if err != nil || s.Copied != 0 || s.Skipped != s.Files {
		t.Fatalf("run again: %+v %v", s, err)
	}
	// One object lost, one changed behind the service's back: copied again.
	objs := objects(t, s3, "m")
	n := 0
	for rel := range objs {
		p := filepath.Join(s3.Dir, s3.Bucket, "m", "portals", "alpha", "files", rel)
		switch n {
		case 0:
			_ = os.Remove(p)
		case 1:
			_ = os.WriteFile(p, []byte("not the file"), 0o644)
		}
		n++
	}
	s, err = provisioner.MigrateStorage(ctx, e.Dir, st, func(string, provisioner.MigrateStats) {})
	if err != nil || s.Copied != 2 {
		t.Fatalf("resumed: %+v %v", s, err)
	}
	// The service, switched to the store, serves them from there.
	e.Close()
	e2 := pdtest.New(t, provisioner.Config{DataDir: e.Dir, Storage: s3.URL("m")})
	tok := e2.Login(t, "alpha", "ca@alpha.test")
	for id, data := range files {
		got := pdtest.Do(t, nil, "GET", e2.URL+"/alpha/api/v1/attachments/"+id, nil, "Authorization", "Bearer "+tok)
		if got.Status != 200 || got.Body != string(data) {
			t.Fatalf("attachment %s after the switch: %d, %d bytes", id, got.Status, len(got.Body))
		}
	}
}

// TestBackupsInObjectStorage: with --storage, a snapshot copies the
// portal's files inside the store (and keeps its database and manifest
// there too); a file deleted since comes back with a restore; pruning a
// snapshot removes its objects.
func TestBackupsInObjectStorage(t *testing.T) {
	s3 := pdtest.StartS3(t)
	e := pdtest.New(t, provisioner.Config{Storage: s3.URL("bk")})
	w := worldOn(t, e)
	data := randomBytes(1<<20 + 5)
	r := attach(t, w, w.ca, w.ticket, "scan.bin", data)
	if r.Status != 201 {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	id := r.JSON(t)["id"]
	ctx := context.Background()
	first, m, err := e.Jobs.Backup(ctx, "alpha", time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !m.Stored || len(m.Files) != 1 || m.Files[0].Size != int64(len(data)) {
		t.Fatalf("the manifest: stored %v, files %+v", m.Stored, m.Files)
	}
	stored := func(stamp string, slug ...string) map[string]int64 {
		out := map[string]int64{}
		root := filepath.Join(s3.Dir, s3.Bucket, "bk", "backups", append(slug, "alpha")[0], stamp)
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				info, _ := d.Info()
				rel, _ := filepath.Rel(root, p)
				out[filepath.ToSlash(rel)] = info.Size()
			}
			return nil
		})
		return out
	}
	got := stored(filepath.Base(first))
	if got["portal.db"] == 0 || got["manifest.json"] == 0 || len(got) != 3 {
		t.Fatalf("the snapshot in the store: %v", got)
	}
	// The ticket goes, and its file with it; the snapshot still has it.
	if r := w.api(t, w.admin, "DELETE", fmt.Sprintf("/tickets/%d", w.ticket), nil); r.Status != 204 {
		t.Fatalf("delete: %d", r.Status)
	}
	if n := len(objects(t, s3, "bk")); n != 0 {
		t.Fatalf("the deleted ticket's file stayed: %d", n)
	}
	if _, err := e.Jobs.Restore(ctx, "alpha", first, "alpha-back"); err != nil {
		t.Fatal(err)
	}
	back := pdtest.Do(t, nil, "GET", w.e.URL+fmt.Sprintf("/alpha-back/api/v1/attachments/%v", id), nil, "Authorization", "Bearer "+w.ca)
	if back.Status != 200 || back.Body != string(data) {
		t.Fatalf("the restored portal's file: %d, %d bytes", back.Status, len(back.Body))
	}
	// A damaged copy in the store is found before anything is replaced.
	second, _, err := e.Jobs.Backup(ctx, "alpha-back", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for name := range stored(filepath.Base(first)) {
		if strings.HasPrefix(name, "files/") {
			os.WriteFile(filepath.Join(s3.Dir, s3.Bucket, "bk", "backups", "alpha", filepath.Base(first), filepath.FromSlash(name)), []byte("damaged"), 0o644)
		}
	}
	if _, err := e.Jobs.Restore(ctx, "alpha", first, "alpha-2"); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("a restore from a damaged snapshot: %v", err)
	}
	// Pruning the older of two snapshots removes its objects.
	if _, _, err := e.Jobs.Backup(ctx, "alpha", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := e.Jobs.Prune("alpha", quota.Retention{Daily: 1}); err != nil {
		t.Fatal(err)
	}
	if left := stored(filepath.Base(first)); len(left) != 0 {
		t.Fatalf("a pruned snapshot left %v in the store", left)
	}
	if len(stored(filepath.Base(second), "alpha-back")) == 0 {
		t.Fatal("alpha-back's snapshot is gone")
	}
}

// TestRestoreAtWithStoredFiles: restoring a portal as of a moment, as a
// new portal, with files in object storage: it gets the files the portal
// has now, and one deleted since the moment from a snapshot taken after it.
func TestRestoreAtWithStoredFiles(t *testing.T) {
	s3 := pdtest.StartS3(t)
	e := pdtest.New(t, provisioner.Config{Storage: s3.URL("f"), Replicate: s3.URL("r"), ReplicateSync: 100 * time.Millisecond})
	w := worldOn(t, e)
	ctx := context.Background()
	kept, gone := randomBytes(70_001), randomBytes(90_003)
	other := w.api(t, w.ca, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "Another", "description": "x"}}).JSON(t)
	otherNum := int64(other["number"].(float64))
	rk := attach(t, w, w.ca, otherNum, "kept.bin", kept)
	rg := attach(t, w, w.ca, w.ticket, "gone.bin", gone)
	if rk.Status != 201 || rg.Status != 201 {
		t.Fatalf("uploads: %d %d", rk.Status, rg.Status)
	}
	if err := e.Svc.SyncReplica(ctx, "alpha"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	at := time.Now()
	time.Sleep(1100 * time.Millisecond)
	if _, _, err := e.Jobs.Backup(ctx, "alpha", time.Now()); err != nil {
		t.Fatal(err)
	}
	if r := w.api(t, w.admin, "DELETE", fmt.Sprintf("/tickets/%d", w.ticket), nil); r.Status != 204 {
		t.Fatalf("delete: %d", r.Status)
	}
	if err := e.Svc.SyncReplica(ctx, "alpha"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Svc.RestoreAt(ctx, "alpha", at, "alpha-then"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id   any
		data []byte
	}{{rk.JSON(t)["id"], kept}, {rg.JSON(t)["id"], gone}} {
		got := pdtest.Do(t, nil, "GET", w.e.URL+fmt.Sprintf("/alpha-then/api/v1/attachments/%v", c.id), nil, "Authorization", "Bearer "+w.ca)
		if got.Status != 200 || got.Body != string(c.data) {
			t.Fatalf("attachment %v on the portal restored as of the moment: %d, %d bytes", c.id, got.Status, len(got.Body))
		}
	}
}
