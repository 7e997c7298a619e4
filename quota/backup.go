package quota

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"portaldesk/portal"
	"portaldesk/portal/objstore"
	"portaldesk/provisioner"
	"portaldesk/provisioner/catalog"
)

// Manifest describes a snapshot: what it holds and how to check it.
type Manifest struct {
	Slug          string          `json:"slug"`
	CreatedAt     time.Time       `json:"created_at"`
	SchemaVersion int             `json:"schema_version"`
	Portal        *catalog.Portal `json:"portal"`
	Database      FileEntry       `json:"database"`
	Files         []FileEntry     `json:"files"`
	Linked        int             `json:"linked"` // attachments hard-linked from the previous snapshot
	Bytes         int64           `json:"bytes"`
	Verified      bool            `json:"verified"`
	// Stored: the files (and a copy of the whole snapshot) are in object
	// storage, under backups/SLUG/STAMP/ (objstore.Store.BackupKey).
	Stored bool `json:"stored,omitempty"`
}

// FileEntry is one file of a snapshot.
type FileEntry struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
	ETag   string `json:"etag,omitempty"` // a file in object storage: its copy's ETag
	// Fingerprint is the live database's size and modification times when
	// it was copied; an unchanged fingerprint lets the next snapshot link
	// this copy instead of making another.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// fingerprint stats (never opens) the live database and its WAL.
func fingerprint(dir string) string {
	var parts []string
	for _, f := range []string{portal.DBFile, portal.DBFile + "-wal"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err == nil {
			parts = append(parts, fmt.Sprintf("%d@%d", fi.Size(), fi.ModTime().UnixNano()))
		} else {
			parts = append(parts, "-")
		}
	}
	return strings.Join(parts, "/")
}

// BackupDir is where a portal's snapshots live.
func BackupDir(dataDir, slug string) string { return filepath.Join(dataDir, "backups", slug) }

// Progress reports a long job's advance: done and total items, bytes so far.
type Progress func(done, total int, bytes int64)

// sha256File sums a snapshot or attachment file, never a live database.
func sha256File(path string) (string, int64, error) { return provisioner.FileSHA256(path) }

// Snapshots lists a portal's snapshot directories, oldest first.
func Snapshots(dataDir, slug string) ([]string, error) {
	entries, err := os.ReadDir(BackupDir(dataDir, slug))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasSuffix(e.Name(), ".partial") {
			out = append(out, filepath.Join(BackupDir(dataDir, slug), e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// ReadManifest loads a snapshot's manifest.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", dir, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("snapshot %s: manifest: %w", dir, err)
	}
	return &m, nil
}

// Backup takes a consistent snapshot of one portal while it keeps serving:
// the database through VACUUM INTO on a connection of its own (never a copy
// of the live file), the attachments hard-linked from the previous snapshot
// when unchanged (they never change: each has a generated name) and copied
// otherwise, and a manifest with sizes and SHA-256. The snapshot is written
// under a .partial name, verified, and only then renamed into place.
func (j *Jobs) Backup(ctx context.Context, slug string, now time.Time) (string, *Manifest, error) {
	rec, err := j.svc.Catalog().PortalBySlug(ctx, slug)
	if err != nil {
		return "", nil, fmt.Errorf("backup %s: %w", slug, err)
	}
	base := BackupDir(j.svc.Config().DataDir, slug)
	unlock, err := lockBackups(base)
	if err != nil {
		return "", nil, fmt.Errorf("backup %s: %w", slug, err)
	}
	defer unlock()
	final := filepath.Join(base, now.UTC().Format("20060102T150405.000Z"))
	tmp := final + ".partial"
	if err := os.MkdirAll(filepath.Join(tmp, portal.FilesDir), 0o750); err != nil {
		return "", nil, err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	var prev *Manifest
	prevDir := ""
	if snaps, _ := Snapshots(j.svc.Config().DataDir, slug); len(snaps) > 0 {
		prevDir = snaps[len(snaps)-1]
		prev, _ = ReadManifest(prevDir)
	}
	live := j.svc.PortalDir(slug)
	m := &Manifest{Slug: slug, CreatedAt: now.UTC(), SchemaVersion: portal.SchemaVersion, Portal: rec}
	fp := fingerprint(live)
	dbLinked := false
	if prev != nil && prev.Verified && prev.Database.Fingerprint == fp &&
		os.Link(filepath.Join(prevDir, portal.DBFile), filepath.Join(tmp, portal.DBFile)) == nil {
		// Nothing was written since the last snapshot: its verified copy serves.
		m.Database, dbLinked = prev.Database, true
	} else {
		// The database: its own connection, so the portal's writer is not held.
		if err := portal.CopyDatabase(ctx, live, filepath.Join(tmp, portal.DBFile)); err != nil {
			return "", nil, fmt.Errorf("backup %s: database: %w", slug, err)
		}
		sum, size, err := sha256File(filepath.Join(tmp, portal.DBFile))
		if err != nil {
			return "", nil, err
		}
		m.Database = FileEntry{Path: portal.DBFile, Size: size, SHA256: sum, Fingerprint: fp}
		m.Bytes += size
	}
	prevFiles := map[string]FileEntry{}
	if prev != nil {
		for _, f := range prev.Files {
			prevFiles[f.Path] = f
		}
	}
	store := j.svc.Files()
	stamp := filepath.Base(final)
	if store != nil {
		if err := backupStored(ctx, store, slug, stamp, m); err != nil {
			return "", nil, fmt.Errorf("backup %s: files: %w", slug, err)
		}
	}
	filesRoot := filepath.Join(live, portal.FilesDir)
	if store == nil { // on disk (in object storage they were copied above)
		err = filepath.WalkDir(filesRoot, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(filesRoot, path)
			if d.IsDir() {
				if rel == "tmp" {
					return filepath.SkipDir
				}
				return os.MkdirAll(filepath.Join(tmp, portal.FilesDir, rel), 0o750)
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			dst := filepath.Join(tmp, portal.FilesDir, rel)
			if pf, ok := prevFiles[rel]; ok && pf.Size == info.Size() {
				if err := os.Link(filepath.Join(prevDir, portal.FilesDir, rel), dst); err == nil {
					m.Files = append(m.Files, pf)
					m.Linked++
					return nil
				}
			}
			sum, n, err := copyHashed(path, dst)
			if err != nil {
				return err
			}
			m.Files = append(m.Files, FileEntry{Path: rel, Size: n, SHA256: sum})
			m.Bytes += n
			return nil
		})
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", nil, fmt.Errorf("backup %s: files: %w", slug, err)
	}
	if err := verify(tmp, m, !dbLinked, false); err != nil {
		return "", nil, fmt.Errorf("backup %s: the new snapshot does not verify: %w", slug, err)
	}
	m.Verified = true
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, "manifest.json"), b, 0o640); err != nil {
		return "", nil, err
	}
	if store != nil {
		// The whole snapshot in the store too: a lost disk loses no backup.
		for _, name := range []string{portal.DBFile, "manifest.json"} {
			if err := store.UploadFile(ctx, store.BackupKey(slug, stamp, name), filepath.Join(tmp, name)); err != nil {
				return "", nil, fmt.Errorf("backup %s: %w", slug, err)
			}
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", nil, err
	}
	ok = true
	if err := j.svc.Catalog().RecordBackup(ctx, rec.ID, m.CreatedAt); err != nil {
		return final, m, fmt.Errorf("backup %s: the snapshot is taken, but not recorded in the catalog: %w", slug, err)
	}
	return final, m, nil
}

// backupStored copies a portal's files in object storage into its
// snapshot there (server-side copies), each checked against the
// original's size, and lists them in the manifest.
func backupStored(ctx context.Context, store *objstore.Store, slug, stamp string, m *Manifest) error {
	m.Stored = true
	files, err := store.PortalFiles(ctx, slug)
	if err != nil {
		return err
	}
	for _, f := range files {
		if strings.HasPrefix(f.Name, "tmp/") {
			continue // uploads under way
		}
		cp, err := store.CopyKey(ctx, store.Key(slug, f.Name), store.BackupKey(slug, stamp, "files/"+f.Name))
		if err != nil {
			return err
		}
		if cp.Size != f.Size {
			return fmt.Errorf("%s: the copy has %d bytes, the file %d", f.Name, cp.Size, f.Size)
		}
		m.Files = append(m.Files, FileEntry{Path: f.Name, Size: cp.Size, ETag: cp.ETag})
		m.Bytes += cp.Size
	}
	return nil
}

// verifyStored checks that every file of a stored snapshot is in the
// store with its size and ETag.
func verifyStored(ctx context.Context, store *objstore.Store, slug, stamp string, m *Manifest) error {
	for _, f := range m.Files {
		o, err := store.StatKey(ctx, store.BackupKey(slug, stamp, "files/"+f.Path))
		if err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
		if o.Size != f.Size || f.ETag != "" && o.ETag != f.ETag {
			return fmt.Errorf("%s: size or ETag differs from the manifest", f.Path)
		}
	}
	return nil
}

func copyHashed(src, dst string) (string, int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", 0, err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return "", 0, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// Verify checks a snapshot against its manifest: every file's size and
// SHA-256, and SQLite's integrity check of the database.
func Verify(dir string, m *Manifest) error { return verify(dir, m, true, true) }

// verify checks the database (when db) and the files; a new snapshot's
// files are checked by size only when they were just hashed while copied or
// linked from a verified snapshot (files false).
func verify(dir string, m *Manifest, db, files bool) error {
	check := func(rel string, want FileEntry) error {
		sum, n, err := sha256File(filepath.Join(dir, rel))
		if err != nil {
			return err
		}
		if n != want.Size || sum != want.SHA256 {
			return fmt.Errorf("%s: size or checksum differs from the manifest", rel)
		}
		return nil
	}
	for _, f := range m.Files {
		if m.Stored {
			break // in object storage: verifyStored
		}
		p := filepath.Join(dir, portal.FilesDir, f.Path)
		if !files {
			if fi, err := os.Stat(p); err != nil || fi.Size() != f.Size {
				return fmt.Errorf("%s: missing or of the wrong size", f.Path)
			}
			continue
		}
		if err := check(filepath.Join(portal.FilesDir, f.Path), f); err != nil {
			return err
		}
	}
	if !db {
		return nil
	}
	if err := check(portal.DBFile, m.Database); err != nil {
		return err
	}
	return portal.CheckSnapshot(filepath.Join(dir, portal.DBFile))
}

// BackupAll snapshots every live portal, reporting progress.
func (j *Jobs) BackupAll(ctx context.Context, now time.Time, progress Progress) ([]string, error) {
	list, err := j.svc.Catalog().Portals(ctx)
	if err != nil {
		return nil, err
	}
	var dirs []string
	var bytes int64
	var errs []error
	for i, rec := range list {
		if !j.svc.ServesHere(rec) {
			continue // its node backs it up
		}
		dir, m, err := j.Backup(ctx, rec.Slug, now)
		if err != nil {
			errs = append(errs, err)
		} else {
			dirs = append(dirs, dir)
			bytes += m.Bytes
			if err := j.Prune(rec.Slug, j.Retention); err != nil {
				errs = append(errs, err)
			}
		}
		if progress != nil {
			progress(i+1, len(list), bytes)
		}
	}
	return dirs, errors.Join(errs...)
}

// Retention is how many snapshots to keep: the newest of each of the last
// Daily days and of each of the last Weekly weeks.
type Retention struct{ Daily, Weekly int }

// Prune removes snapshots beyond the retention, but never the newest
// verified one, and only when a newer verified snapshot exists.
func (j *Jobs) Prune(slug string, r Retention) error {
	snaps, err := Snapshots(j.svc.Config().DataDir, slug)
	if err != nil || len(snaps) <= 1 {
		return err
	}
	keep := map[string]bool{}
	newestVerified := ""
	days, weeks := map[string]bool{}, map[string]bool{}
	for i := len(snaps) - 1; i >= 0; i-- {
		m, err := ReadManifest(snaps[i])
		if err != nil || !m.Verified {
			continue
		}
		if newestVerified == "" {
			newestVerified = snaps[i]
			keep[snaps[i]] = true
		}
		day := m.CreatedAt.Format(time.DateOnly)
		y, w := m.CreatedAt.ISOWeek()
		week := fmt.Sprintf("%d-%d", y, w)
		if !days[day] && len(days) < r.Daily {
			days[day] = true
			keep[snaps[i]] = true
		}
		if !weeks[week] && len(weeks) < r.Weekly {
			weeks[week] = true
			keep[snaps[i]] = true
		}
	}
	if newestVerified == "" {
		return nil // nothing verified: keep everything
	}
	for _, s := range snaps {
		if !keep[s] && s < newestVerified {
			if store := j.svc.Files(); store != nil {
				if m, err := ReadManifest(s); err == nil && m.Stored {
					if err := store.RemoveBackup(context.Background(), slug, filepath.Base(s)); err != nil {
						return err
					}
				}
			}
			if err := os.RemoveAll(s); err != nil {
				return err
			}
		}
	}
	return nil
}

// Restore brings a portal back from a snapshot — as itself, or as a new
// portal with --as. The snapshot is verified before anything is replaced;
// the data it replaces is moved to the trash, not erased; a deleted portal
// gets its catalog entry back.
func (j *Jobs) Restore(ctx context.Context, slug, from, as string) (string, error) {
	m, err := ReadManifest(from)
	if err != nil {
		return "", err
	}
	store := j.svc.Files()
	stamp := filepath.Base(from)
	if m.Stored && store == nil {
		return "", fmt.Errorf("restore: the snapshot's files are in object storage: run the command with --storage")
	}
	if err := Verify(from, m); err != nil {
		return "", fmt.Errorf("restore: the snapshot is damaged, nothing was changed: %w", err)
	}
	if m.Stored {
		if err := verifyStored(ctx, store, m.Slug, stamp, m); err != nil {
			return "", fmt.Errorf("restore: the snapshot's files in object storage are damaged, nothing was changed: %w", err)
		}
	}
	if m.Slug != slug {
		return "", fmt.Errorf("restore: the snapshot is of %q, not %q", m.Slug, slug)
	}
	target := slug
	if as != "" {
		target = as
	}
	return target, j.svc.RestorePortal(ctx, target, m.Portal, func(dir string) error {
		if err := os.MkdirAll(filepath.Join(dir, portal.FilesDir), 0o750); err != nil {
			return err
		}
		if _, _, err := copyHashed(filepath.Join(from, portal.DBFile), filepath.Join(dir, portal.DBFile)); err != nil {
			return err
		}
		if m.Stored {
			// Copied back by the store, under the restored portal's name.
			for _, f := range m.Files {
				if _, err := store.CopyKey(ctx, store.BackupKey(m.Slug, stamp, "files/"+f.Path), store.Key(target, f.Path)); err != nil {
					return err
				}
			}
			return nil
		}
		for _, f := range m.Files {
			dst := filepath.Join(dir, portal.FilesDir, f.Path)
			if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
				return err
			}
			if _, _, err := copyHashed(filepath.Join(from, portal.FilesDir, f.Path), dst); err != nil {
				return err
			}
		}
		return nil
	})
}

// TakeSnapshot backs up one portal now and prunes its old snapshots by
// the retention (the ops console's "Back up now").
func (j *Jobs) TakeSnapshot(ctx context.Context, slug string) (string, error) {
	dir, _, err := j.Backup(ctx, slug, time.Now())
	if err != nil {
		return "", err
	}
	return dir, j.Prune(slug, j.Retention)
}

// Snapshots lists a portal's snapshot directories, oldest first.
func (j *Jobs) Snapshots(slug string) ([]string, error) {
	return Snapshots(j.svc.Config().DataDir, slug)
}

// lockBackups takes the lock on a portal's backup directory — a file lock,
// so a backup run from the shell and the service's nightly job wait for
// each other — and, holding it, removes the .partial directories that
// backups killed midway left behind: nobody else can be writing them.
func lockBackups(base string) (unlock func(), err error) {
	if err := os.MkdirAll(base, 0o750); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(base, ".lock"), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	entries, _ := os.ReadDir(base)
	for _, e := range entries {
		if e.IsDir() && strings.HasSuffix(e.Name(), ".partial") {
			os.RemoveAll(filepath.Join(base, e.Name()))
		}
	}
	return func() { f.Close() }, nil // closing the file drops the lock
}
