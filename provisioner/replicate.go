package provisioner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/benbjohnson/litestream"
	lss3 "github.com/benbjohnson/litestream/s3"
	"github.com/superfly/ltx"

	"portaldesk/portal"
	"portaldesk/portal/objstore"
	"portaldesk/provisioner/catalog"
)

// Continuous replication: with --replicate, every open portal's database
// streams its changes to object storage with Litestream (its library
// mode, on modernc.org/sqlite like the service), so a dead disk loses at
// most the last sync interval, and a portal can be restored to any moment
// within the retention. A portal is registered when the registry opens it
// and synced and unregistered when it closes: what replication costs
// follows the open portals, not all of them.
type replicator struct {
	cfg       objstore.Config
	store     *litestream.Store
	interval  time.Duration
	retention time.Duration
	mu        sync.Mutex
	dbs       map[string]*walSeen // database path → its WAL as last synced
	refs      map[string]int      // database path → its instances open (a portal reopened while its last one closes)
	fences    sync.Map            // database path → func() bool: may its replica be written now (a cluster's lease)
	stop      chan struct{}
	done      chan struct{}
}

// walSeen is a database's WAL as the last sync saw it.
type walSeen struct {
	size    int64
	mod     time.Time
	syncing bool
}

func newReplicator(ctx context.Context, raw string, interval, retention time.Duration) (*replicator, error) {
	cfg, err := objstore.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("replicate: %w", err)
	}
	if os.Getenv("AWS_CA_BUNDLE") != "" {
		// Litestream's S3 client fails on it (with its own HTTP client).
		return nil, fmt.Errorf("replicate: unset AWS_CA_BUNDLE (add the authority to the system's store instead)")
	}
	levels := litestream.CompactionLevels{{Level: 0}, {Level: 1, Interval: 5 * time.Minute}, {Level: 2, Interval: time.Hour}}
	st := litestream.NewStore(nil, levels)
	st.SnapshotInterval = 24 * time.Hour
	st.SnapshotRetention = retention
	// Restores to a moment need the small files of that moment: they are
	// kept as long as the snapshots.
	st.L0Retention = retention
	if err := st.Open(ctx); err != nil {
		return nil, fmt.Errorf("replicate: %w", err)
	}
	r := &replicator{cfg: cfg, store: st, interval: interval, retention: retention, dbs: map[string]*walSeen{}, refs: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go r.watch()
	return r, nil
}

// watch syncs, every interval, the databases whose WAL changed since
// their last sync. Litestream's own monitor would sync every open
// database every interval, written to or not; with hundreds of portals
// open and most of them idle, a stat of each WAL is what that costs here.
func (r *replicator) watch() {
	defer close(r.done)
	tick := time.NewTicker(r.interval)
	defer tick.Stop()
	sem := make(chan struct{}, 4)
	for {
		select {
		case <-r.stop:
			return
		case <-tick.C:
		}
		r.mu.Lock()
		var due []string
		for p, w := range r.dbs {
			fi, err := os.Stat(p + "-wal")
			if err != nil || w.syncing || (fi.Size() == w.size && fi.ModTime().Equal(w.mod)) {
				continue
			}
			w.size, w.mod, w.syncing = fi.Size(), fi.ModTime(), true
			due = append(due, p)
		}
		r.mu.Unlock()
		for _, p := range due {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				if _, err := r.store.SyncDB(ctx, p, false); err != nil {
					r.mu.Lock()
					if w := r.dbs[p]; w != nil {
						w.size = -1 // try again next time
						slog.Warn("replication", "db", p, "err", err)
					} // else it closed meanwhile, its last sync done by its closing
					r.mu.Unlock()
				}
				cancel()
				r.mu.Lock()
				if w := r.dbs[p]; w != nil {
					w.syncing = false
				}
				r.mu.Unlock()
			}()
		}
	}
}

// client is where slug's database is replicated.
func (r *replicator) client(slug string) *lss3.ReplicaClient {
	return r.clientAt(path.Join("portals", slug, "db"))
}

// catalogReplica is where the catalog (control.db) is replicated.
const catalogReplica = "catalog"

// clientAt is a replica client for the database kept under sub.
func (r *replicator) clientAt(sub string) *lss3.ReplicaClient {
	c := lss3.NewReplicaClient()
	c.Bucket, c.Region = r.cfg.Bucket, r.cfg.Region
	c.Path = path.Join(r.cfg.Prefix, sub)
	scheme := "https://"
	if r.cfg.Insecure {
		scheme = "http://"
	}
	c.Endpoint, c.ForcePathStyle = scheme+r.cfg.Endpoint, true
	c.AccessKeyID, c.SecretAccessKey = os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	return c
}

// register starts replicating a portal's database file.
func (r *replicator) register(slug, dbPath string) error {
	return r.registerAt(path.Join("portals", slug, "db"), dbPath)
}

// registerAt starts replicating dbPath under sub.
func (r *replicator) registerAt(sub, dbPath string) error {
	r.mu.Lock()
	if r.refs[dbPath] > 0 {
		// Open already (an instance closing, one opening): one stream,
		// ended by the last to close.
		r.refs[dbPath]++
		r.mu.Unlock()
		return nil
	}
	r.mu.Unlock()
	db := litestream.NewDB(dbPath)
	db.MonitorInterval = 0 // watch() syncs it when its WAL changes
	db.Replica = litestream.NewReplicaWithClient(db, &fencedClient{r.clientAt(sub), func() bool {
		if f, ok := r.fences.Load(dbPath); ok {
			return f.(func() bool)()
		}
		return true
	}})
	if err := r.store.RegisterDB(db); err != nil {
		return err
	}
	r.mu.Lock()
	r.refs[dbPath]++
	if r.dbs[dbPath] == nil {
		r.dbs[dbPath] = &walSeen{size: -1}
	}
	r.mu.Unlock()
	return nil
}

// fence makes dbPath's replica writable only while may says so (a
// cluster node's lease on the database): a node that lost the lease must
// not write one more file into the replica its successor writes.
func (r *replicator) fence(dbPath string, may func() bool) { r.fences.Store(dbPath, may) }

// fencedClient is a replica client whose writes a fence may refuse.
type fencedClient struct {
	litestream.ReplicaClient
	may func() bool
}

// errFenced: the replica is another node's now.
var errFenced = errors.New("replication: this node no longer holds the database's lease")

func (c *fencedClient) WriteLTXFile(ctx context.Context, level int, minTXID, maxTXID ltx.TXID, rd io.Reader) (*ltx.FileInfo, error) {
	if !c.may() {
		return nil, errFenced
	}
	return c.ReplicaClient.WriteLTXFile(ctx, level, minTXID, maxTXID, rd)
}

func (c *fencedClient) DeleteLTXFiles(ctx context.Context, a []*ltx.FileInfo) error {
	if !c.may() {
		return errFenced
	}
	return c.ReplicaClient.DeleteLTXFiles(ctx, a)
}

func (c *fencedClient) DeleteAll(ctx context.Context) error {
	if !c.may() {
		return errFenced
	}
	return c.ReplicaClient.DeleteAll(ctx)
}

// Litestream's answers when a replica has nothing to restore yet.
var (
	litestreamNoSnapshots    = litestream.ErrNoSnapshots
	litestreamTxNotAvailable = litestream.ErrTxNotAvailable
)

// unregister syncs what is left and stops replicating dbPath.
func (r *replicator) unregister(dbPath string) error {
	r.mu.Lock()
	if r.refs[dbPath]--; r.refs[dbPath] > 0 {
		r.mu.Unlock()
		return nil // another instance of the database is open: it streams on
	}
	delete(r.refs, dbPath)
	delete(r.dbs, dbPath)
	r.mu.Unlock()
	defer r.fences.Delete(dbPath)
	if f, ok := r.fences.Load(dbPath); ok && !f.(func() bool)() {
		// Fenced: the last sync is refused at once, not retried.
		if db := r.store.FindDB(dbPath); db != nil {
			db.ShutdownSyncTimeout = 0
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return r.store.UnregisterDB(ctx, dbPath)
}

// sync pushes what dbPath has written to the replica now.
func (r *replicator) sync(ctx context.Context, dbPath string) error {
	_, err := r.store.SyncDB(ctx, dbPath, true)
	return err
}

// restore writes slug's database as it was at at (zero: the latest) to out.
func (r *replicator) restore(ctx context.Context, slug string, at time.Time, out string) error {
	return r.restoreAt(ctx, path.Join("portals", slug, "db"), at, out)
}

func (r *replicator) restoreAt(ctx context.Context, sub string, at time.Time, out string) error {
	rep := litestream.NewReplicaWithClient(nil, r.clientAt(sub))
	opt := litestream.NewRestoreOptions()
	opt.OutputPath, opt.Timestamp, opt.IntegrityCheck = out, at, litestream.IntegrityCheckQuick
	return rep.Restore(ctx, opt)
}

// follow restores slug's latest database into out and goes on applying
// what its replica receives until ctx ends (Litestream's follow mode):
// a move's target is ready but for the last writes before the move.
func (r *replicator) follow(ctx context.Context, slug, out string) error {
	rep := litestream.NewReplicaWithClient(nil, r.client(slug))
	opt := litestream.NewRestoreOptions()
	opt.OutputPath, opt.Follow, opt.FollowInterval, opt.IntegrityCheck = out, true, 25*time.Millisecond, litestream.IntegrityCheckQuick
	return rep.Restore(ctx, opt)
}

// latestTXID is the last transaction in slug's replica, looking from after.
func (r *replicator) latestTXID(ctx context.Context, slug string, after ltx.TXID) (ltx.TXID, error) {
	c := r.client(slug)
	last := after
	for _, level := range []int{0, litestream.SnapshotLevel} {
		itr, err := c.LTXFiles(ctx, level, after, false)
		if err != nil {
			return 0, err
		}
		for itr.Next() {
			last = max(last, itr.Item().MaxTXID)
		}
		if err := itr.Close(); err != nil {
			return 0, err
		}
	}
	return last, nil
}

func (r *replicator) close() error {
	close(r.stop)
	<-r.done
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return r.store.Close(ctx)
}

// SyncReplica pushes slug's latest writes to its replica now (tests, and
// before a planned stop); slug "" is the catalog.
func (s *Service) SyncReplica(ctx context.Context, slug string) error {
	if s.repl == nil {
		return fmt.Errorf("this service does not replicate")
	}
	if slug == "" {
		return s.repl.sync(ctx, filepath.Join(s.cfg.DataDir, "control.db"))
	}
	h, err := s.registry.Acquire(ctx, slug) // registered while open
	if err != nil {
		return err
	}
	defer h.Release()
	return s.repl.sync(ctx, filepath.Join(s.PortalDir(slug), portal.DBFile))
}

// RecoverStats is what Recover brought back.
type RecoverStats struct {
	Portals int
	Failed  []string // portals whose database could not be restored, with why
}

// Recover rebuilds a lost machine's data directory from the replicas: the
// catalog, then every portal's latest database. dataDir must hold no
// catalog yet. The portals' files come back only from object storage
// (--storage); the service secret (PORTALDESK_SECRET or DATA/secret) is
// not replicated and must be brought along, or sessions, sealed passwords
// and tokens are lost.
func Recover(ctx context.Context, dataDir, replicate string) (RecoverStats, error) {
	var st RecoverStats
	catPath := filepath.Join(dataDir, "control.db")
	if _, err := os.Stat(catPath); err == nil {
		return st, fmt.Errorf("recover: %s has a catalog already", dataDir)
	}
	if err := os.MkdirAll(filepath.Join(dataDir, "portals"), 0o750); err != nil {
		return st, err
	}
	r, err := newReplicator(ctx, replicate, time.Hour, 7*24*time.Hour)
	if err != nil {
		return st, err
	}
	defer r.close()
	if err := r.restoreAt(ctx, catalogReplica, time.Time{}, catPath); err != nil {
		return st, fmt.Errorf("recover: the catalog: %w", err)
	}
	cat, err := catalog.Open(ctx, catPath)
	if err != nil {
		return st, err
	}
	list, err := cat.Portals(ctx)
	cat.Close()
	if err != nil {
		return st, err
	}
	for _, p := range list {
		dir := filepath.Join(dataDir, "portals", p.Slug)
		if err := os.MkdirAll(filepath.Join(dir, portal.FilesDir), 0o750); err != nil {
			return st, err
		}
		if err := r.restore(ctx, p.Slug, time.Time{}, filepath.Join(dir, portal.DBFile)); err != nil {
			st.Failed = append(st.Failed, fmt.Sprintf("%s: %v", p.Slug, err))
			continue
		}
		st.Portals++
	}
	return st, nil
}

// RestoreAt restores slug's database as it was at at from its replica —
// as slug itself (what it replaces goes to the trash) or as a new portal
// as. Its files are the ones it has now (attachments are never changed in
// place, so those of that moment are among them) and, with object
// storage, any it has lost since that a backup taken at or after the
// moment still holds (see restoreStoredFiles).
func (s *Service) RestoreAt(ctx context.Context, slug string, at time.Time, as string) (string, error) {
	if s.repl == nil {
		return "", fmt.Errorf("restore: the service replicates nothing (--replicate)")
	}
	rec, err := s.catalog.PortalBySlug(ctx, slug)
	if err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	target := slug
	if as != "" {
		target = as
	}
	src := s.PortalDir(slug)
	err = s.RestorePortal(ctx, target, rec, func(dir string) error {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return err
		}
		if err := s.repl.restore(ctx, slug, at, filepath.Join(dir, portal.DBFile)); err != nil {
			return err
		}
		if s.files != nil {
			return s.restoreStoredFiles(ctx, slug, target, at)
		}
		return copyTree(filepath.Join(src, portal.FilesDir), filepath.Join(dir, portal.FilesDir))
	})
	return target, err
}

// restoreStoredFiles gives target, restored from slug as of at, its files
// in object storage: slug's as they are now (copied in the store when
// target is another portal), then those it no longer has from the
// snapshots taken at or after at, oldest first — a file deleted after the
// moment was still there in a snapshot taken between the two.
func (s *Service) restoreStoredFiles(ctx context.Context, slug, target string, at time.Time) error {
	have := map[string]bool{}
	now, err := s.files.PortalFiles(ctx, slug)
	if err != nil {
		return err
	}
	for _, f := range now {
		if target != slug {
			if _, err := s.files.CopyKey(ctx, s.files.Key(slug, f.Name), s.files.Key(target, f.Name)); err != nil {
				return err
			}
		}
		have[f.Name] = true
	}
	dirs, _ := filepath.Glob(filepath.Join(s.cfg.DataDir, "backups", slug, "*"))
	sort.Strings(dirs) // their names are their times
	for _, d := range dirs {
		var m struct {
			CreatedAt time.Time `json:"created_at"`
			Stored    bool      `json:"stored"`
			Files     []struct {
				Path string `json:"path"`
			} `json:"files"`
		}
		b, err := os.ReadFile(filepath.Join(d, "manifest.json"))
		if err != nil || json.Unmarshal(b, &m) != nil || !m.Stored || (!at.IsZero() && m.CreatedAt.Before(at)) {
			continue
		}
		for _, f := range m.Files {
			if have[f.Path] {
				continue
			}
			if _, err := s.files.CopyKey(ctx, s.files.BackupKey(slug, filepath.Base(d), "files/"+f.Path), s.files.Key(target, f.Path)); err != nil {
				return err
			}
			have[f.Path] = true
		}
	}
	return nil
}

// copyTree copies a directory's files (hard links where it can).
func copyTree(from, to string) error {
	return filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == from {
				return os.MkdirAll(to, 0o750)
			}
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o750)
		}
		if err := os.Link(p, dst); err == nil {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o640)
	})
}
