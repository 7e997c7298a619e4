// Package provisioner is the control plane: the catalog of portals, signup
// and the portal lifecycle, the registry of open portals, and the tenant
// router that hands each request to exactly one portal.
package provisioner

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"portaldesk/portal"
	"portaldesk/portal/channel"
	"portaldesk/portal/objstore"
	"portaldesk/portal/webhook"
	"portaldesk/provisioner/catalog"

	"github.com/spf13/afero"
)

// Config is the service's configuration; every field has a default that
// works with no setup.
type Config struct {
	Addr      string // listen address
	DataDir   string // the state directory
	PublicURL string // how users reach the service; default http://<Addr>
	Secret    string // signs sessions; generated into DATA/secret when empty
	OpenLimit int    // how many portals the registry keeps open (LRU)
	Readers   int    // reader connections per open portal
	CacheKiB  int    // SQLite page cache per connection
	MailFrom  string // sender address of the service's mail
	SMTPURL   string // the service's SMTP server; empty writes .eml files
	// MailFilesKeep and MailFilesDays bound the .eml files kept per portal
	// when mail goes to files (defaults 1000 and 14).
	MailFilesKeep, MailFilesDays int
	NoSweep                      bool // skip the start-up sweep of every outbox (ops commands)
	// SMTPRootCAs are the authorities trusted for SMTP TLS besides the
	// system's (--smtp-ca: private relays, tests).
	SMTPRootCAs *x509.CertPool
	Billing     BillingConfig
	// MaxBodyBytes bounds a request's body (default 1 GiB); BodyGrace is
	// how long a body may take before it must arrive at 16 KB a second
	// on average (default 30 s).
	MaxBodyBytes int64
	BodyGrace    time.Duration
	// TrustedProxies are the addresses (CIDR prefixes) of reverse proxies
	// whose X-Forwarded-For / X-Forwarded-Proto and Forwarded headers are
	// believed; nobody else's are.
	TrustedProxies []netip.Prefix
	// WebhookAllow are non-public addresses (CIDR prefixes) webhooks may
	// still reach; none as a rule — loopback, private and link-local
	// addresses are refused (SSRF).
	WebhookAllow []netip.Prefix
	// TelegramAPI and VKAPI are the messengers' API addresses (default
	// their public ones; tests and proxies point them elsewhere);
	// TelegramPollWait is how long one long poll waits (default 25 s).
	TelegramAPI, VKAPI string
	TelegramPollWait   time.Duration
	// Replicate streams every open portal's database to object storage
	// with Litestream (s3://bucket/prefix?endpoint=…, as Storage), synced
	// every ReplicateSync (default 1 s) and kept ReplicateRetention
	// (default 7 days) for restores to a moment; "" replicates nothing.
	Replicate          string
	ReplicateSync      time.Duration
	ReplicateRetention time.Duration
	// ReplicaReadOnly: restore from the replica but stream nothing (a
	// command run beside the service, which streams).
	ReplicaReadOnly bool
	// Storage keeps portals' files in S3-compatible object storage
	// (s3://bucket/prefix?endpoint=host:port&region=…; objstore.Parse)
	// instead of their directories; "" keeps them on disk.
	Storage string
	// MailDomain is where the service takes mail: a portal's address is
	// <slug>@MailDomain, replies come to signed addresses there ("" takes
	// none). InboundLMTP speaks LMTP instead of SMTP (behind Postfix).
	MailDomain  string
	InboundLMTP bool
	// Resolver answers the DNS checks of portals' own host names (default
	// the system's).
	Resolver *net.Resolver
	// SignupBurst is how many portals one address may sign up for at once
	// on the web; each further one waits a minute, twice as long after
	// each (default 3).
	SignupBurst int
	// FormMinFill is the least time a person takes to fill in the signup
	// and registration forms; sooner is taken for a script (default 3 s).
	FormMinFill time.Duration
	// Cluster joins a cluster of nodes (cluster.go); nil runs alone.
	Cluster *ClusterConfig
}

// ParsePrefixes reads a comma-separated list of addresses and CIDR
// prefixes (--trusted-proxies).
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: %w", f, err)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", f, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Defaults fills what is unset.
func (c *Config) Defaults() {
	if c.ReplicateSync <= 0 {
		c.ReplicateSync = time.Second
	}
	if c.ReplicateRetention <= 0 {
		c.ReplicateRetention = 7 * 24 * time.Hour
	}
	if c.TelegramPollWait <= 0 {
		c.TelegramPollWait = 25 * time.Second
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.DataDir == "" {
		c.DataDir = "./data"
	}
	// Absolute once here, so that portal.OpenDB, which keys the files the
	// process has open by absolute path, need not ask for the working
	// directory on every open.
	if abs, err := filepath.Abs(c.DataDir); err == nil {
		c.DataDir = abs
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Addr
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.OpenLimit <= 0 {
		c.OpenLimit = 256
	}
	if c.Readers <= 0 {
		c.Readers = 2
	}
	if c.CacheKiB <= 0 {
		c.CacheKiB = 512
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 1 << 30
	}
	if c.BodyGrace <= 0 {
		c.BodyGrace = 30 * time.Second
	}
	if c.MailFilesKeep <= 0 {
		c.MailFilesKeep = 1000
	}
	if c.MailFilesDays <= 0 {
		c.MailFilesDays = 14
	}
	c.Billing.defaults()
}

// Service is the control plane over one data directory.
type Service struct {
	domainGen    atomic.Int64 // moves on whenever this service maps or unmaps a host name
	cfg          Config
	secret       []byte
	guards       *portal.Guards // every portal's throttles, outliving its closing
	catalog      *catalog.Catalog
	registry     *Registry
	mailer       *Mailer
	metrics      *Metrics
	templatePath string
	now          func() time.Time

	failAt func(step string) error // tests inject failures into provisioning

	provisioned atomic.Int64
	hubs        *portal.Hubs
	tickets     *ticketCounts
	idle        *idlers // mailboxes kept open in IDLE (idle.go)
	hooks       *webhook.Client
	channels    *channel.Client
	pollers     *pollers
	files       *objstore.Store // nil: files on disk
	repl        *replicator     // nil: no replication
	cluster     *cluster        // nil: a single node
	fetching    sync.Map        // portal slug → *sync.Mutex: one fetch of a mailbox at a time
}

// Open opens (creating when needed) the data directory: catalog, secret,
// the prebuilt portal template, and the registry of open portals.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	cfg.Defaults()
	for _, d := range []string{cfg.DataDir, filepath.Join(cfg.DataDir, "portals"), filepath.Join(cfg.DataDir, "template"), filepath.Join(cfg.DataDir, "tmp")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
	}
	secret, err := loadSecret(cfg)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, secret: secret, now: time.Now, hubs: portal.NewHubs(), idle: newIdlers(), hooks: webhook.New(cfg.WebhookAllow, 0),
		channels: channel.New(channel.Config{TelegramAPI: cfg.TelegramAPI, VKAPI: cfg.VKAPI})}
	s.pollers = newPollers(s, cfg.TelegramPollWait)
	if cfg.Cluster != nil {
		cfg.Cluster.Defaults()
		if err := cfg.Cluster.Check(&cfg); err != nil {
			return nil, err
		}
		s.cfg.Cluster = cfg.Cluster
	}
	if cfg.Storage != "" {
		sc, err := objstore.Parse(cfg.Storage)
		if err == nil {
			s.files, err = objstore.Open(ctx, sc)
		}
		if err != nil {
			return nil, err
		}
	}
	catPath := filepath.Join(cfg.DataDir, "control.db")
	if cfg.Cluster != nil {
		s.cluster = newCluster(s, *cfg.Cluster)
		s.catalog, err = catalog.OpenCluster(catPath, s.cluster.route)
	} else {
		// A command run beside the service (ReplicaReadOnly) never
		// checkpoints the catalog on closing: were the service streaming it,
		// Litestream's read transaction would make that checkpoint wait, and
		// hold every writer meanwhile.
		s.catalog, err = catalog.Open(ctx, catPath, cfg.Replicate != "" || cfg.ReplicaReadOnly)
	}
	if err != nil {
		return nil, err
	}
	cat := s.catalog
	if cfg.Replicate != "" {
		if s.repl, err = newReplicator(ctx, cfg.Replicate, cfg.ReplicateSync, cfg.ReplicateRetention); err != nil {
			cat.Close()
			return nil, err
		}
		if !cfg.ReplicaReadOnly && s.cluster == nil { // the catalog streams too (a cluster's primary streams it)
			if err := s.repl.registerAt(catalogReplica, catPath); err != nil {
				cat.Close()
				return nil, err
			}
		}
	}
	if s.templatePath, err = buildTemplate(ctx, cfg.DataDir); err != nil {
		cat.Close()
		return nil, err
	}
	s.registry = NewRegistry(cfg.OpenLimit, s.loadPlan, s.openPortal)
	s.metrics = newMetrics(s)
	s.guards = portal.NewGuards()
	if s.cluster != nil {
		if err := s.cluster.start(ctx); err != nil {
			if s.repl != nil {
				s.repl.close()
			}
			cat.Close()
			return nil, err
		}
	}
	if s.mailer, err = NewMailer(s); err != nil {
		cat.Close()
		return nil, err
	}
	s.mailer.Start(!cfg.NoSweep)
	s.tickets = newTicketCounts(cat)
	s.cleanStaging()
	return s, nil
}

// Close closes every open portal and the catalog.
func (s *Service) Close() error {
	s.idle.close()
	s.hubs.Shutdown()
	s.pollers.close()
	s.mailer.Stop()
	s.registry.Close()
	if s.cluster != nil {
		s.cluster.close()
	}
	if s.repl != nil {
		if err := s.repl.close(); err != nil {
			slog.Warn("replication", "err", err)
		}
	}
	s.tickets.stop()
	return s.catalog.Close()
}

// Config is the configuration the service runs with.
func (s *Service) Config() Config { return s.cfg }

// Catalog is the control plane's database.
func (s *Service) Catalog() *catalog.Catalog { return s.catalog }

// Registry is the LRU of open portals.
func (s *Service) Registry() *Registry { return s.registry }

// Secret is the service secret, for keys derived from it.
func (s *Service) Secret() []byte { return s.secret }

// Hooks is the client webhook deliveries are sent with.
func (s *Service) Hooks() *webhook.Client { return s.hooks }

// filesFor is where portals keep their files: nil (their directories)
// unless the service has object storage.
func (s *Service) filesFor() func(string) afero.Fs {
	if s.files == nil {
		return nil
	}
	return func(slug string) afero.Fs { return s.files.Fs(slug) }
}

// Files is the service's object storage, nil when files are on disk.
func (s *Service) Files() *objstore.Store { return s.files }

// PollTelegram asks Telegram once for slug's updates (waiting up to wait)
// and keeps them; the service's pollers do it all the time.
func (s *Service) PollTelegram(ctx context.Context, slug string, wait time.Duration) (int, error) {
	return s.pollers.PollOnce(ctx, slug, wait)
}

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now() }

// SetClock replaces the service's clock (tests and `--now`).
func (s *Service) SetClock(now func() time.Time) {
	s.now = now
	s.catalog.SetClock(now)
}

func (s *Service) openOptions() portal.OpenOptions {
	return portal.OpenOptions{Secret: s.secret, Readers: s.cfg.Readers, CacheKiB: s.cfg.CacheKiB, Now: s.now, PublicURL: s.cfg.PublicURL, Guards: s.guards, MailDomain: s.cfg.MailDomain, HookAllow: s.cfg.WebhookAllow, Files: s.filesFor(),
		Replicated: s.repl != nil || s.cfg.ReplicaReadOnly} // a command beside the service: as for the catalog
}

// Mailer is the outbox deliverer.
func (s *Service) Mailer() *Mailer { return s.mailer }

func (s *Service) loadPlan(ctx context.Context, slug string) (*portal.Plan, error) {
	rec, err := s.catalog.PortalBySlug(ctx, slug)
	if err != nil {
		return nil, err
	}
	return rec.Plan(), nil
}

// openPortal opens a portal for the registry. A passing portal, opened for
// the request at hand and closed after it, is opened for this process
// alone: a cold open that needs no -shm file costs less, and for
// the moment it is open another process (a backup or seed command) waits.
// Not for a request with a large body (see shortBody), which may take long.
func (s *Service) openPortal(ctx context.Context, plan *portal.Plan, passing bool) (*portal.Portal, error) {
	o := s.openOptions()
	// Replication reads the file beside the service: never exclusive then.
	o.Exclusive = passing && ctx.Value(ordinaryKey{}) == nil && !o.Replicated
	var lease *objstore.Lease
	restored := false
	if s.cluster != nil {
		var err error
		if lease, restored, err = s.cluster.open(ctx, plan, false); err != nil {
			return nil, err
		}
		o.BeforeCommit = writeGate(lease)
	}
	p, err := portal.Open(ctx, s.PortalDir(plan.Slug), plan, o)
	if err != nil {
		if s.cluster != nil {
			s.cluster.closed(plan.Slug, lease, nil)
		}
		return nil, err
	}
	if err := s.replicateOpen(p, false, lease); err != nil {
		p.Close()
		return nil, err
	}
	s.wire(p)
	if restored {
		// Arrived from another node: what its outbox holds is sent from here.
		go s.mailer.Queued(plan.Slug)
	}
	return p, nil
}

// replicateOpen streams an open portal's database (when the service
// replicates) until it closes; first syncs it at once (a new portal: its
// replica exists from the start). In a cluster, lease is the portal's:
// the replica is written only while it is held, and it is released once
// the portal has closed.
func (s *Service) replicateOpen(p *portal.Portal, first bool, lease *objstore.Lease) error {
	if s.repl == nil || s.cfg.ReplicaReadOnly {
		return nil
	}
	slug := p.Slug
	dbPath := filepath.Join(s.PortalDir(slug), portal.DBFile)
	if s.cluster != nil {
		s.repl.fence(dbPath, lease.Held)
	}
	if err := s.repl.register(slug, dbPath); err != nil {
		return fmt.Errorf("replicate %s: %w", slug, err)
	}
	p.OnClose = func() {
		err := s.repl.unregister(dbPath)
		if err != nil {
			slog.Warn("replication", "portal", slug, "err", err)
		}
		if s.cluster != nil {
			s.cluster.closed(slug, lease, err)
		}
	}
	if first {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := s.repl.sync(ctx, dbPath); err != nil {
				slog.Warn("replication", "portal", slug, "err", err)
			}
		}()
	}
	return nil
}

// wire connects an open portal to the service's workers.
func (s *Service) wire(p *portal.Portal) {
	slug, id := p.Slug, p.Plan().ID
	p.OnOutbox = func() { s.mailer.Queued(slug) }
	p.OnChannels = func() { go s.pollers.recheck(slug) }
	p.ChannelAPI = s.channels
	p.OnTickets = func(delta int64) { s.tickets.add(id, delta) }
	p.Events = s.hubs.For(slug)
}

// ServesHere says whether this node serves the portal (always, outside a
// cluster): background work visits only the portals it serves.
func (s *Service) ServesHere(rec *catalog.Portal) bool {
	return s.cluster == nil || rec.Node == s.cluster.cfg.Node
}

// Leads says whether this node does the cluster's catalog-wide work
// (billing, expiry, quotas' enforcement): the catalog's primary, or a
// node alone.
func (s *Service) Leads() bool { return s.cluster == nil || s.cluster.primary.Load() }

// Node is this node's name in its cluster ("" outside one).
func (s *Service) Node() string {
	if s.cluster == nil {
		return ""
	}
	return s.cluster.cfg.Node
}

// Hubs are the live-update hubs of every portal.
func (s *Service) Hubs() *portal.Hubs { return s.hubs }

func (s *Service) observeProvision(d time.Duration) {
	s.provisioned.Add(1)
	s.metrics.provision.Observe(d.Seconds())
}

// Metrics are the service's Prometheus metrics.
func (s *Service) Metrics() *Metrics { return s.metrics }

// loadSecret reads the configured secret, or DATA/secret, generating it on first start.
func loadSecret(cfg Config) ([]byte, error) {
	if cfg.Secret != "" {
		return []byte(cfg.Secret), nil
	}
	path := filepath.Join(cfg.DataDir, "secret")
	b, err := os.ReadFile(path)
	if err == nil && len(b) >= 32 {
		return b, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("secret: %w", err)
	}
	b = make([]byte, 32)
	rand.Read(b)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	return b, nil
}

// buildTemplate makes DATA/template/portal-vN.db, an empty, migrated portal
// database that signup copies instead of running the schema each time.
func buildTemplate(ctx context.Context, dataDir string) (string, error) {
	path := filepath.Join(dataDir, "template", fmt.Sprintf("portal-v%d.db", portal.SchemaVersion))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	tmp := path + "." + randomHex(4) + ".tmp"
	if err := portal.CreateDatabase(ctx, tmp); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("template: %w", err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Remove(tmp + suffix)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("template: %w", err)
	}
	return path, nil
}

// cleanStaging removes half-built portals left by a crash during signup
// (they never had a committed catalog row, so they hold no one's data)
// and request bodies a crash left in DATA/tmp.
func (s *Service) cleanStaging() {
	if bodies, _ := filepath.Glob(filepath.Join(s.cfg.DataDir, "tmp", "body-*")); len(bodies) > 0 && !s.cfg.NoSweep {
		for _, b := range bodies {
			os.Remove(b)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(s.cfg.DataDir, "portals"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".new-") {
			os.RemoveAll(filepath.Join(s.cfg.DataDir, "portals", e.Name()))
		}
	}
}

// FDsPerPortal is the file descriptors one open portal may hold: the writer
// and two readers (the default pool), each with the database and its WAL,
// and the shared memory index.
const FDsPerPortal = 7

// FitOpenLimit raises the soft limit of open files to the hard one and
// lowers the registry's size when even that cannot hold it.
func FitOpenLimit(want int) (int, uint64) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return want, 0
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	const reserve = 256 // sockets, the catalog, logs
	fit := (int(rl.Cur) - reserve) / FDsPerPortal
	if fit < want {
		slog.Warn("open-files limit too low for the portal cache; lowering it", "limit", rl.Cur, "wanted", want, "using", max(fit, 8))
		return max(fit, 8), rl.Cur
	}
	return want, rl.Cur
}
