package provisioner

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/benbjohnson/litestream"
	lss3 "github.com/benbjohnson/litestream/s3"

	"portaldesk/portal"
	"portaldesk/portal/objstore"
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
	levels := litestream.CompactionLevels{{Level: 0}, {Level: 1, Interval: 30 * time.Second}, {Level: 2, Interval: time.Hour}}
	st := litestream.NewStore(nil, levels)
	st.SnapshotInterval = 24 * time.Hour
	st.SnapshotRetention = retention
	// Restores to a moment need the small files of that moment: they are
	// kept as long as the snapshots.
	st.L0Retention = retention
	if err := st.Open(ctx); err != nil {
		return nil, fmt.Errorf("replicate: %w", err)
	}
	return &replicator{cfg: cfg, store: st, interval: interval, retention: retention}, nil
}

// client is where slug's database is replicated.
func (r *replicator) client(slug string) *lss3.ReplicaClient {
	c := lss3.NewReplicaClient()
	c.Bucket, c.Region = r.cfg.Bucket, r.cfg.Region
	c.Path = path.Join(r.cfg.Prefix, "portals", slug, "db")
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
	db := litestream.NewDB(dbPath)
	db.MonitorInterval = r.interval
	db.Replica = litestream.NewReplicaWithClient(db, r.client(slug))
	return r.store.RegisterDB(db)
}

// unregister syncs what is left and stops replicating dbPath.
func (r *replicator) unregister(dbPath string) error {
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
	rep := litestream.NewReplicaWithClient(nil, r.client(slug))
	opt := litestream.NewRestoreOptions()
	opt.OutputPath, opt.Timestamp, opt.IntegrityCheck = out, at, litestream.IntegrityCheckQuick
	return rep.Restore(ctx, opt)
}

func (r *replicator) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return r.store.Close(ctx)
}

// SyncReplica pushes slug's latest writes to its replica now (tests, and
// before a planned stop).
func (s *Service) SyncReplica(ctx context.Context, slug string) error {
	if s.repl == nil {
		return fmt.Errorf("this service does not replicate")
	}
	return s.repl.sync(ctx, filepath.Join(s.PortalDir(slug), portal.DBFile))
}

// RestoreAt restores slug's database as it was at at from its replica —
// as slug itself (what it replaces goes to the trash) or as a new portal
// as. Its files are the ones it has now: attachments are never changed in
// place, so those of that moment are among them.
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
		return copyTree(filepath.Join(src, portal.FilesDir), filepath.Join(dir, portal.FilesDir))
	})
	return target, err
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
