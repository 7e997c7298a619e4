package provisioner

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/benbjohnson/litestream"

	"portaldesk/portal"
	"portaldesk/portal/objstore"
	"portaldesk/portal/web"
	"portaldesk/provisioner/catalog"
)

// Several nodes. Every node has its own data directory (the databases of
// the portals it serves, on its own disk) and all share one object store:
// the portals' files, the Litestream replicas of every database, and the
// leases. The catalog says which node serves each portal (its placement,
// with an epoch that grows with every placement); any node answers any
// request, proxying it to the portal's node, so a plain round-robin load
// balancer in front is enough.
//
// One writer per portal, always: a node opens a portal only while it
// holds the portal's lease (an object in the store written only under
// conditions: objstore.Lease), checks it before every commit, and closes
// the portal the moment a renewal is refused; its replica is written only
// under the lease too. A node's copy of a database is trusted only when
// it was written in the portal's current epoch; otherwise the node
// restores the portal from its replica before opening it.
//
// The catalog is one SQLite file too, on the node holding the "catalog"
// lease (the primary), replicated like the portals; the others run their
// catalog statements on it through its internal API (catalog.Remote). When
// the primary stops renewing, another node restores the catalog from its
// replica and takes over.

// ClusterConfig joins the service to a cluster of nodes.
type ClusterConfig struct {
	Node   string // this node's name, unique in the cluster
	URL    string // how the other nodes reach this one (https, or http on loopback)
	Secret string // shared by every node: it signs the traffic between them
	// LeaseTTL is how long a lease lasts unrenewed (default 10 s): a dead
	// node's portals are served elsewhere about this long after it died.
	LeaseTTL time.Duration
	// RootCAs are the authorities trusted for the other nodes' https
	// addresses besides the system's.
	RootCAs *x509.CertPool
}

// Cluster errors.
var (
	// errElsewhere: the portal is placed on another node.
	errElsewhere = errors.New("the portal is served by another node")
	// ErrPortalMoving: the portal is between nodes (moving, or restored
	// after its node stopped); the request may be tried again shortly.
	ErrPortalMoving = &web.Error{Status: http.StatusServiceUnavailable, Code: "portal_moving", RetryAfter: 2,
		Message: "This portal is moving to another server and will be back in a few seconds. Please try again."}
	// ErrNotWriter: this node no longer holds the portal's lease; the
	// write was refused (and the portal closes here).
	ErrNotWriter = &web.Error{Status: http.StatusServiceUnavailable, Code: "portal_moving", RetryAfter: 2,
		Message: "This portal has just moved to another server; nothing was saved. Please try again."}
)

const (
	heartbeatEvery = 2 * time.Second
	catalogLease   = "catalog"
	placeTTL       = time.Second // how long a portal's placement is trusted on a node that does not serve it
	epochFile      = "epoch"     // in a portal's directory: the epoch its database was written in
)

// cluster is a node's part in a cluster.
type cluster struct {
	s       *Service
	cfg     ClusterConfig
	secret  []byte
	client  *http.Client // to the other nodes
	proxy   *httputil.ReverseProxy
	remote  *catalog.Remote
	started time.Time

	primary   atomic.Bool // this node holds the catalog
	catLease  *objstore.Lease
	catServer atomic.Pointer[catalog.Server]
	primaryAt atomic.Pointer[primaryURL] // where the catalog was last found

	mu      sync.Mutex
	leases  map[string]*heldLease    // the portals open here, to renew
	closeEr map[string]error         // the last close's final sync, per portal
	gates   map[string]chan struct{} // portals being moved: their requests wait
	follows map[string]*follower     // portals about to move here, restored ahead

	places sync.Map                // slug → placed: placements of portals served elsewhere
	nodes  atomic.Pointer[nodesAt] // the node list, read at most every heartbeat
	lat    atomic.Int64            // recent request time, microseconds (a moving average)
	stop   chan struct{}
	done   chan struct{}
}

type primaryURL struct {
	url string
	at  time.Time
}

type placed struct {
	node string
	at   int64
}

type nodesAt struct {
	list []catalog.Node
	at   time.Time
}

// Defaults fills what is unset.
func (c *ClusterConfig) Defaults() {
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 10 * time.Second
	}
	c.URL = strings.TrimRight(c.URL, "/")
}

// Check says what is wrong with the configuration, naming the setting.
func (c *ClusterConfig) Check(cfg *Config) error {
	switch {
	case !nodeName(c.Node):
		return fmt.Errorf("--node: a node's name is letters, digits and dashes")
	case len(c.Secret) < 16:
		return fmt.Errorf("--cluster-secret: at least 16 characters, the same on every node")
	case cfg.Storage == "":
		return fmt.Errorf("--cluster needs --storage: the nodes share object storage for files and leases")
	case cfg.Replicate == "":
		return fmt.Errorf("--cluster needs --replicate: portals move between nodes through their replicas")
	case cfg.Secret == "":
		return fmt.Errorf("--cluster needs --secret (PORTALDESK_SECRET), the same on every node: sessions and sealed secrets must open on all of them")
	}
	u, err := url.Parse(c.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("--cluster: the address other nodes reach this one at, like https://10.0.0.5:8443")
	}
	if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
		return fmt.Errorf("--cluster: traffic between nodes is encrypted outside loopback: use an https address (--tls-cert, --tls-key)")
	}
	return nil
}

func nodeName(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func newCluster(s *Service, cfg ClusterConfig) *cluster {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.MaxIdleConnsPerHost = 256
	tr.ResponseHeaderTimeout = time.Minute // a node that stopped answering
	tr.TLSClientConfig = &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}
	c := &cluster{s: s, cfg: cfg, secret: []byte(cfg.Secret), client: &http.Client{Transport: tr, Timeout: 2 * time.Minute}, started: time.Now(),
		leases: map[string]*heldLease{}, closeEr: map[string]error{}, gates: map[string]chan struct{}{}, follows: map[string]*follower{},
		stop: make(chan struct{}), done: make(chan struct{})}
	c.remote = &catalog.Remote{Primary: c.primaryURL, Lost: c.primaryLost, Client: &http.Client{Transport: tr, Timeout: time.Minute}, Sign: c.sign}
	c.proxy = &httputil.ReverseProxy{
		Transport:     tr,
		FlushInterval: -1, // live pages (SSE) stream as they are written
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			slog.Warn("cluster: proxy", "to", r.URL.Host, "err", err)
			if f, ok := r.Context().Value(fwdKey{}).(*fwd); ok && f.slug != "" {
				c.forget(f.slug) // look its node up again next time
			}
			w.Header().Set("Retry-After", "2")
			http.Error(w, "The portal's node did not answer. Please try again in a moment.", http.StatusServiceUnavailable)
		},
	}
	c.proxy.Rewrite = c.rewrite
	return c
}

// route is the catalog's connection router (sqlitedb.Options.Remote):
// the file while this node is the primary, the primary's API otherwise.
func (c *cluster) route(writer bool) driver.Connector {
	if c.primary.Load() {
		return nil
	}
	return c.remote.Connector(writer)
}

// primaryURL is where the catalog is now: the holder of its lease, as the
// store says (read again after a second, or when it stopped answering).
func (c *cluster) primaryURL(ctx context.Context) (string, error) {
	if p := c.primaryAt.Load(); p != nil && time.Since(p.at) < 2*time.Second {
		return p.url, nil
	}
	for try := 0; ; try++ {
		holder, info, expires, err := c.s.files.ReadLease(ctx, catalogLease)
		if err == nil && holder != "" && holder != c.cfg.Node && time.Now().Before(expires) && info != "" {
			c.primaryAt.Store(&primaryURL{url: info, at: time.Now()})
			return info, nil
		}
		if c.primary.Load() {
			return "", errors.New("catalog: this node is the primary")
		}
		if try >= 6 {
			return "", catalog.ErrNoPrimary
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (c *cluster) primaryLost(url string) {
	if p := c.primaryAt.Load(); p != nil && p.url == url {
		c.primaryAt.Store(nil)
	}
}

// start takes part in the cluster: the catalog (taking it over when
// nobody holds it), then the heartbeat and lease loops.
func (c *cluster) start(ctx context.Context) error {
	c.catLease = c.s.files.Lease(catalogLease, c.cfg.Node, c.cfg.LeaseTTL)
	c.catLease.Info = c.cfg.URL
	deadline := time.Now().Add(2*c.cfg.LeaseTTL + 10*time.Second)
	for {
		err := c.tryPrimary(ctx)
		if err == nil && (c.primary.Load() || c.pingPrimary(ctx) == nil) {
			break
		}
		if err != nil {
			slog.Warn("cluster: catalog", "err", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster: no node holds the catalog and this one could not take it over")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	if err := c.heartbeat(ctx); err != nil {
		return err
	}
	go c.loop()
	return nil
}

func (c *cluster) pingPrimary(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return c.s.catalog.Ping(ctx)
}

// tryPrimary takes the catalog when its lease is free (or renews it when
// this node holds it); losing it makes this node a follower at once.
func (c *cluster) tryPrimary(ctx context.Context) error {
	if c.primary.Load() {
		err := c.catLease.Renew(ctx)
		if errors.Is(err, objstore.ErrLeaseLost) || err != nil && !c.catLease.Held() {
			slog.Error("cluster: lost the catalog", "err", err)
			c.demote(true)
			return nil
		}
		return err
	}
	err := c.catLease.Acquire(ctx)
	if errors.Is(err, objstore.ErrLeaseHeld) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := c.promote(ctx); err != nil {
		c.demote(true)
		_ = c.catLease.Release(ctx)
		return fmt.Errorf("cluster: taking over the catalog: %w", err)
	}
	return nil
}

// promote makes this node the catalog's primary: its file is restored
// from the replica (the last primary's), or kept when there is none yet
// (a new cluster, or a single node becoming one).
func (c *cluster) promote(ctx context.Context) error {
	path := filepath.Join(c.s.cfg.DataDir, "control.db")
	tmp := path + ".restore"
	os.Remove(tmp)
	err := c.s.repl.restoreAt(ctx, catalogReplica, time.Time{}, tmp)
	switch {
	case err == nil:
		for _, suf := range []string{"", "-wal", "-shm"} {
			os.Remove(path + suf)
		}
		os.RemoveAll(path + "-litestream")
		os.RemoveAll(filepath.Join(filepath.Dir(path), ".control.db-litestream"))
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	case noReplica(err):
		os.Remove(tmp)
	default:
		os.Remove(tmp)
		return err
	}
	c.primary.Store(true)
	c.s.catalog.Reconnect()
	if err := c.s.catalog.Migrate(ctx); err != nil {
		return err
	}
	if err := c.s.repl.registerAt(catalogReplica, path); err != nil {
		return err
	}
	c.s.repl.fence(path, c.catLease.Held)
	if err := c.s.repl.sync(ctx, path); err != nil {
		return err
	}
	c.catServer.Store(catalog.NewServer(c.s.catalog))
	if n, err := c.s.catalog.AdoptUnplaced(ctx, c.cfg.Node); err == nil && n > 0 {
		slog.Info("cluster: portals placed here", "count", n)
	}
	slog.Info("cluster: this node holds the catalog", "node", c.cfg.Node)
	return nil
}

// demote stops serving the catalog: later statements go to the new
// primary. lost: another node holds it now, so not one more file goes
// into its replica; otherwise (a clean stop) the last writes are synced.
func (c *cluster) demote(lost bool) {
	if !c.primary.Swap(false) {
		return
	}
	if srv := c.catServer.Swap(nil); srv != nil {
		srv.Close()
	}
	path := filepath.Join(c.s.cfg.DataDir, "control.db")
	if lost {
		c.s.repl.fence(path, func() bool { return false })
	}
	if err := c.s.repl.unregister(path); err != nil {
		slog.Warn("cluster: catalog replication", "err", err)
	}
	c.s.catalog.Reconnect()
}

// noReplica says a restore failed only because nothing was replicated yet.
func noReplica(err error) bool {
	return errors.Is(err, litestreamNoSnapshots) || errors.Is(err, litestreamTxNotAvailable)
}

// loop renews the leases, beats, and (the primary) places the portals of
// nodes that stopped beating elsewhere; a draining node moves its portals.
func (c *cluster) loop() {
	defer close(c.done)
	renew := time.NewTicker(c.cfg.LeaseTTL / 3)
	beat := time.NewTicker(heartbeatEvery)
	defer renew.Stop()
	defer beat.Stop()
	var draining atomic.Bool // a drain is under way (in its own goroutine)
	for {
		select {
		case <-c.stop:
			return
		case <-renew.C:
			ctx, cancel := context.WithTimeout(context.Background(), c.cfg.LeaseTTL/2)
			if err := c.tryPrimary(ctx); err != nil {
				slog.Warn("cluster: catalog lease", "err", err)
			}
			c.renewPortals(ctx)
			cancel()
		case <-beat.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := c.heartbeat(ctx); err != nil {
				slog.Warn("cluster: heartbeat", "err", err)
			}
			if c.primary.Load() {
				c.failover(ctx)
			}
			if me := c.self(ctx); me != nil && me.State == catalog.NodeDraining && draining.CompareAndSwap(false, true) {
				go func() {
					c.drain()
					draining.Store(false)
				}()
			}
			cancel()
		}
	}
}

func (c *cluster) close() {
	close(c.stop)
	<-c.done
	if c.primary.Load() {
		c.demote(false)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = c.catLease.Release(ctx)
		cancel()
	}
}

// heartbeat tells the catalog this node is alive, with how much room it has.
func (c *cluster) heartbeat(ctx context.Context) error {
	var st syscall.Statfs_t
	var free int64
	if syscall.Statfs(c.s.cfg.DataDir, &st) == nil {
		free = int64(st.Bavail) * int64(st.Bsize)
	}
	return c.s.catalog.Heartbeat(ctx, catalog.Node{Name: c.cfg.Node, URL: c.cfg.URL, StartedAt: c.started, HeartbeatAt: time.Now(),
		OpenPortals: c.s.registry.Live(), DiskFree: free, LatencyUS: c.lat.Load()})
}

// observe feeds a request's duration to the node's recent latency.
func (c *cluster) observe(d time.Duration) {
	us := d.Microseconds()
	old := c.lat.Load()
	c.lat.Store(old + (us-old)/32)
}

// nodeList is the cluster's nodes, read at most every heartbeat.
func (c *cluster) nodeList(ctx context.Context) []catalog.Node {
	if n := c.nodes.Load(); n != nil && time.Since(n.at) < heartbeatEvery {
		return n.list
	}
	list, err := c.s.catalog.Nodes(ctx)
	if err != nil {
		if n := c.nodes.Load(); n != nil {
			return n.list
		}
		return nil
	}
	c.nodes.Store(&nodesAt{list: list, at: time.Now()})
	return list
}

func (c *cluster) node(ctx context.Context, name string) *catalog.Node {
	for _, n := range c.nodeList(ctx) {
		if n.Name == name {
			return &n
		}
	}
	return nil
}

func (c *cluster) self(ctx context.Context) *catalog.Node {
	c.nodes.Store(nil)
	return c.node(ctx, c.cfg.Node)
}

// alive says whether n beat lately.
func (c *cluster) alive(n catalog.Node) bool {
	return n.State != catalog.NodeDown && time.Since(n.HeartbeatAt) < c.downAfter()
}

func (c *cluster) downAfter() time.Duration { return max(c.cfg.LeaseTTL, 3*heartbeatEvery) }

// roomiest is the live, undrained node with the most room — fewest
// portals placed, then most free disk, then the quickest — other than
// the ones in but.
func (c *cluster) roomiest(ctx context.Context, but ...string) string {
	var cands []catalog.Node
	for _, n := range c.nodeList(ctx) {
		if n.State == catalog.NodeUp && c.alive(n) && !slices.Contains(but, n.Name) {
			cands = append(cands, n)
		}
	}
	if len(cands) == 0 {
		return ""
	}
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if a.Portals != b.Portals {
			return a.Portals < b.Portals
		}
		if a.DiskFree>>30 != b.DiskFree>>30 {
			return a.DiskFree > b.DiskFree
		}
		return a.LatencyUS < b.LatencyUS
	})
	return cands[0].Name
}

// failover places the portals of nodes that stopped beating on the live
// ones (the primary's job). Their new nodes restore them from their
// replicas once the dead node's leases have expired.
func (c *cluster) failover(ctx context.Context) {
	c.nodes.Store(nil)
	var live []string
	var dead []catalog.Node
	for _, n := range c.nodeList(ctx) {
		switch {
		case c.alive(n) && n.State == catalog.NodeUp:
			live = append(live, n.Name)
		case !c.alive(n) && n.Portals > 0:
			dead = append(dead, n)
		}
	}
	for _, n := range dead {
		if len(live) == 0 {
			return
		}
		moved, err := c.s.catalog.PlaceAway(ctx, n.Name, live)
		if err != nil {
			slog.Warn("cluster: failover", "node", n.Name, "err", err)
			continue
		}
		_ = c.s.catalog.SetNodeState(ctx, n.Name, catalog.NodeDown)
		slog.Warn("cluster: a node stopped; its portals are placed on the others", "node", n.Name, "portals", moved, "to", live)
	}
}

// drain moves this node's portals away, one at a time.
func (c *cluster) drain() {
	ctx := context.Background()
	slugs, err := c.s.catalog.NodePortals(ctx, c.cfg.Node)
	if err != nil {
		slog.Warn("cluster: drain", "err", err)
		return
	}
	for _, slug := range slugs {
		if me := c.self(ctx); me == nil || me.State != catalog.NodeDraining {
			return // undrained meanwhile
		}
		to := c.roomiest(ctx, c.cfg.Node)
		if to == "" {
			slog.Warn("cluster: drain: no other node to move to")
			return
		}
		if _, err := c.move(ctx, slug, to); err != nil {
			slog.Warn("cluster: drain", "portal", slug, "err", err)
		}
	}
}

// Placement: where a portal is served.

// where is the node serving slug, trusted for placeTTL when it is not
// this one (a portal served here is checked by the registry's plan).
func (c *cluster) where(ctx context.Context, slug string) (string, error) {
	if h := c.s.registry.Peek(slug); h != nil {
		node := h.Portal.Plan().Node
		h.Release()
		if node == c.cfg.Node {
			return node, nil // open here, under its lease
		}
	}
	if v, ok := c.places.Load(slug); ok {
		p := v.(placed)
		if time.Now().UnixNano()-p.at < int64(placeTTL) {
			return p.node, nil
		}
	}
	pl, err := c.s.catalog.PlacementOf(ctx, slug)
	if err != nil {
		if v, ok := c.places.Load(slug); ok && !errors.Is(err, portal.ErrNotFound) {
			return v.(placed).node, nil // the catalog is taking a moment: the last known place
		}
		return "", err
	}
	c.places.Store(slug, placed{node: pl.Node, at: time.Now().UnixNano()})
	return pl.Node, nil
}

func (c *cluster) forget(slug string) { c.places.Delete(slug) }

// hop is how many nodes a request has passed through already (0: it
// came from outside).
func (c *cluster) hop(r *http.Request) int {
	if r.Header.Get(hdrAuth) == "" || !c.verified(r) {
		return 0
	}
	n, _ := strconv.Atoi(r.Header.Get(hdrHop))
	return n
}

// maxHops bounds how often one request is passed on: once to the node
// the placement names, once more when that changed on the way.
const maxHops = 2

// elsewhere passes r on to the node serving slug, when that is not this
// one, and says whether it did. A request for a portal being moved waits
// until it has moved.
func (c *cluster) elsewhere(w http.ResponseWriter, r *http.Request, slug string) bool {
	hop := c.hop(r)
	if ch := c.gate(slug); ch != nil {
		t := time.NewTimer(30 * time.Second)
		select {
		case <-ch:
			t.Stop()
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	if hop > 0 {
		c.forget(slug) // sent here by a node that thinks it is here: look again
	}
	node, err := c.where(r.Context(), slug)
	if err != nil || node == c.cfg.Node || node == "" {
		return false // served here, or the usual answer (no such portal)
	}
	n := c.node(r.Context(), node)
	if hop >= maxHops || n == nil {
		w.Header().Set("Retry-After", "2")
		http.Error(w, "This portal is moving to another server and will be back in a few seconds. Please try again.", http.StatusServiceUnavailable)
		return true
	}
	c.forward(w, r, n.URL, hop+1)
	return true
}

// placeSignup sends a signup to the node with the most room, unless that
// is this one (or another node sent it here to be placed).
func (c *cluster) placeSignup(w http.ResponseWriter, r *http.Request) bool {
	if c.hop(r) > 0 {
		return false
	}
	c.nodes.Store(nil) // the counts as they are now, with the last signup's portal
	to := c.roomiest(r.Context())
	if to == "" || to == c.cfg.Node {
		return false
	}
	n := c.node(r.Context(), to)
	if n == nil {
		return false
	}
	c.forward(w, r, n.URL, 1)
	return true
}

// gate is the channel a request for slug waits on while it moves.
func (c *cluster) gate(slug string) chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gates[slug]
}

// hold makes new requests for slug wait; the returned func lets them go.
func (c *cluster) hold(slug string) (func(), error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gates[slug] != nil {
		return nil, fmt.Errorf("%s is being moved already", slug)
	}
	ch := make(chan struct{})
	c.gates[slug] = ch
	return func() {
		c.mu.Lock()
		delete(c.gates, slug)
		c.mu.Unlock()
		close(ch)
	}, nil
}

// Opening and closing a portal on a node: its lease and its epoch.

// open prepares slug's directory to be opened here: it takes the
// portal's lease (waiting while another node's runs out) and restores
// the database from its replica when this node's copy is not of the
// current epoch. fresh: a portal being created here.
func (c *cluster) open(ctx context.Context, plan *portal.Plan, fresh bool) (l *objstore.Lease, restored bool, err error) {
	if plan.Node != c.cfg.Node {
		c.places.Store(plan.Slug, placed{node: plan.Node, at: time.Now().UnixNano()})
		return nil, false, errElsewhere
	}
	slug := plan.Slug
	if c.gate(slug) != nil && ctx.Value(movingKey{}) == nil {
		return nil, false, ErrPortalMoving // background work waits for the move
	}
	c.mu.Lock()
	if hl := c.leases[slug]; hl != nil && hl.l.Held() {
		// Open here already (an instance closing while this one opens):
		// the same lease serves both, let go by the last to close; the
		// file is of this epoch, and in use.
		hl.refs++
		c.mu.Unlock()
		return hl.l, false, nil
	}
	c.mu.Unlock()
	l = c.s.files.Lease("portals/"+slug, c.cfg.Node, c.cfg.LeaseTTL)
	l.Info = c.cfg.URL
	wait := time.Now().Add(c.cfg.LeaseTTL + 2*time.Second)
	for {
		err := l.Acquire(ctx)
		if err == nil {
			break
		}
		if !errors.Is(err, objstore.ErrLeaseHeld) {
			return nil, false, err
		}
		if time.Now().After(wait) {
			return nil, false, ErrPortalMoving
		}
		select {
		case <-ctx.Done():
			return nil, false, ErrPortalMoving
		case <-time.After(250 * time.Millisecond):
		}
	}
	dir := c.s.PortalDir(slug)
	if local, _ := os.ReadFile(filepath.Join(dir, epochFile)); !fresh && (strings.TrimSpace(string(local)) != strconv.FormatInt(plan.Epoch, 10) || !exists(filepath.Join(dir, portal.DBFile))) {
		if err := c.restore(ctx, slug, dir, plan.Epoch); err != nil {
			_ = l.Release(context.WithoutCancel(ctx))
			return nil, false, fmt.Errorf("portal %s: restoring its database from the replica: %w", slug, err)
		}
		restored = true
	}
	c.mu.Lock()
	c.leases[slug] = &heldLease{l: l, refs: 1}
	c.mu.Unlock()
	return l, restored, nil
}

// heldLease is a portal's lease on this node and how many instances of
// the portal hold it.
type heldLease struct {
	l    *objstore.Lease
	refs int
}

type movingKey struct{}

// writeGate is the check before each commit of a portal opened under l.
func writeGate(l *objstore.Lease) func() error {
	return func() error {
		if !l.Held() {
			return ErrNotWriter
		}
		return nil
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// follower is a portal about to move to this node, restored ahead of the
// move and kept up to date with its replica (see replicator.follow).
type follower struct {
	out    string
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// prepare restores slug here ahead of its move, so that while its
// requests wait only the last writes remain to be applied.
func (c *cluster) prepare(ctx context.Context, slug string) error {
	c.mu.Lock()
	f := c.follows[slug]
	c.mu.Unlock()
	if f == nil {
		dir := c.s.PortalDir(slug)
		if err := os.MkdirAll(filepath.Join(dir, portal.FilesDir), 0o750); err != nil {
			return err
		}
		f = &follower{out: filepath.Join(dir, portal.DBFile+".follow"), done: make(chan struct{})}
		os.Remove(f.out)
		os.Remove(litestream.TXIDPath(f.out))
		fctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a move not done by then restores afresh
		f.cancel = cancel
		c.mu.Lock()
		c.follows[slug] = f
		c.mu.Unlock()
		go func() {
			f.err = c.s.repl.follow(fctx, slug, f.out)
			close(f.done)
			c.mu.Lock()
			if c.follows[slug] == f {
				delete(c.follows, slug)
				os.Remove(f.out)
				os.Remove(litestream.TXIDPath(f.out))
			}
			c.mu.Unlock()
		}()
	}
	for {
		if txid, _ := litestream.ReadTXIDFile(f.out); txid > 0 {
			return nil
		}
		select {
		case <-f.done:
			return fmt.Errorf("restoring ahead: %w", f.err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// caughtUp takes slug's follower, once it has applied everything its
// replica holds, and leaves its database at db; false when there is none
// (or it falls behind: the caller restores afresh).
func (c *cluster) caughtUp(ctx context.Context, slug, db string) bool {
	c.mu.Lock()
	f := c.follows[slug]
	delete(c.follows, slug)
	c.mu.Unlock()
	if f == nil {
		return false
	}
	defer func() {
		f.cancel()
		<-f.done
		os.Remove(f.out)
		os.Remove(litestream.TXIDPath(f.out))
	}()
	have, err := litestream.ReadTXIDFile(f.out)
	if err != nil || have == 0 {
		return false
	}
	want, err := c.s.repl.latestTXID(ctx, slug, have)
	if err != nil {
		return false
	}
	deadline := time.Now().Add(10 * time.Second)
	for have < want {
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-f.done:
			return false
		case <-time.After(10 * time.Millisecond):
		}
		if have, err = litestream.ReadTXIDFile(f.out); err != nil {
			return false
		}
	}
	f.cancel()
	<-f.done
	for _, suf := range []string{"", "-wal", "-shm"} {
		os.Remove(db + suf)
	}
	return os.Rename(f.out, db) == nil
}

// restore replaces this node's copy of slug's database with the latest
// of its replica, as of epoch. A portal that has never been opened with
// this node's copy (an epoch 0 portal from before the cluster) keeps it.
func (c *cluster) restore(ctx context.Context, slug, dir string, epoch int64) error {
	db := filepath.Join(dir, portal.DBFile)
	if epoch == 0 && exists(db) {
		return writeEpoch(dir, epoch)
	}
	if err := os.MkdirAll(filepath.Join(dir, portal.FilesDir), 0o750); err != nil {
		return err
	}
	start := time.Now()
	how := "restored ahead and caught up"
	if !c.caughtUp(ctx, slug, db) {
		how = "restored"
		tmp := db + ".restore"
		os.Remove(tmp)
		if err := c.s.repl.restore(ctx, slug, time.Time{}, tmp); err != nil {
			os.Remove(tmp)
			return err
		}
		for _, suf := range []string{"", "-wal", "-shm"} {
			os.Remove(db + suf)
		}
		if err := os.Rename(tmp, db); err != nil {
			return err
		}
	}
	os.RemoveAll(filepath.Join(dir, "."+portal.DBFile+"-litestream"))
	slog.Info("cluster: portal "+how+" from its replica", "portal", slug, "epoch", epoch, "took", time.Since(start))
	return writeEpoch(dir, epoch)
}

func writeEpoch(dir string, epoch int64) error {
	return os.WriteFile(filepath.Join(dir, epochFile), []byte(strconv.FormatInt(epoch, 10)+"\n"), 0o640)
}

// closed is called when a portal opened under l has closed here (its
// replica synced, or that failing: syncErr): the lease goes.
func (c *cluster) closed(slug string, l *objstore.Lease, syncErr error) {
	c.mu.Lock()
	if hl := c.leases[slug]; hl != nil && hl.l == l {
		if hl.refs--; hl.refs > 0 {
			c.mu.Unlock()
			return // another instance holds it still
		}
		delete(c.leases, slug)
	}
	c.closeEr[slug] = syncErr
	c.mu.Unlock()
	if errors.Is(syncErr, errFenced) {
		slog.Error("cluster: a portal closed without its last writes replicated: this node no longer holds its lease", "portal", slug)
	}
	if l == nil || syncErr != nil {
		// A close whose final sync failed keeps the lease until it runs
		// out: no other node restores a replica that lacks its last
		// writes meanwhile.
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if err := l.Release(ctx); err != nil {
		slog.Warn("cluster: releasing a lease", "portal", slug, "err", err)
	}
	cancel()
}

// renewPortals renews the leases of the portals open here; a portal whose
// lease another node took is closed at once.
func (c *cluster) renewPortals(ctx context.Context) {
	c.mu.Lock()
	type held struct {
		slug string
		l    *objstore.Lease
	}
	var all []held
	for s, hl := range c.leases {
		all = append(all, held{s, hl.l})
	}
	c.mu.Unlock()
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, h := range all {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := h.l.Renew(ctx)
			if err == nil {
				return
			}
			if errors.Is(err, objstore.ErrLeaseLost) {
				c.loseLease(h.slug, h.l)
				return
			}
			slog.Warn("cluster: renewing a lease", "portal", h.slug, "err", err)
		}()
	}
	wg.Wait()
}

// loseLease closes slug at once: another node holds its lease. A lease
// this node itself took over since (the portal reopened here while its
// last instance was closing) is not a loss.
func (c *cluster) loseLease(slug string, l *objstore.Lease) {
	c.mu.Lock()
	current := c.leases[slug] != nil && c.leases[slug].l == l
	c.mu.Unlock()
	if !current {
		return
	}
	slog.Error("cluster: another node took a portal's lease; closing it here", "portal", slug)
	c.forget(slug)
	c.s.registry.Invalidate(slug)
	c.s.hubs.Drop(slug)
}

// MoveResult is what a move took.
type MoveResult struct {
	Portal string        `json:"portal"`
	From   string        `json:"from"`
	To     string        `json:"to"`
	Epoch  int64         `json:"epoch"`
	Paused time.Duration `json:"paused_ns"` // how long its requests waited
	Took   time.Duration `json:"took_ns"`
}

// move moves slug from this node to node to: its requests wait, the open
// portal finishes the ones in flight and closes (its replica synced, its
// lease released), the catalog places it on to, which restores and
// opens it, and the requests go on there.
func (c *cluster) move(ctx context.Context, slug, to string) (MoveResult, error) {
	start := time.Now()
	res := MoveResult{Portal: slug, From: c.cfg.Node, To: to}
	pl, err := c.s.catalog.PlacementOf(ctx, slug)
	if err != nil {
		return res, err
	}
	if pl.Node != c.cfg.Node {
		return res, fmt.Errorf("%s is served by %s, not %s", slug, pl.Node, c.cfg.Node)
	}
	if to == c.cfg.Node {
		return res, fmt.Errorf("%s is on %s already", slug, to)
	}
	c.nodes.Store(nil)
	n := c.node(ctx, to)
	if n == nil {
		return res, fmt.Errorf("--to: there is no node %q", to)
	}
	if !c.alive(*n) || n.State != catalog.NodeUp {
		return res, fmt.Errorf("--to: node %s is %s", to, map[bool]string{true: n.State, false: "not answering"}[c.alive(*n)])
	}
	// The target restores it ahead, while it still serves here.
	if err := c.call(ctx, n.URL, "POST", ClusterPrefix+"portals/"+slug+"/prepare", nil); err != nil {
		slog.Warn("cluster: the target could not restore ahead; it will restore during the move", "portal", slug, "node", to, "err", err)
	}
	resume, err := c.hold(slug)
	if err != nil {
		return res, err
	}
	defer resume()
	paused := time.Now()
	// Open it if it is not (its final sync then covers everything), and
	// close it once the requests in flight are done.
	h, err := c.s.registry.Acquire(ordinaryOpen(context.WithValue(ctx, movingKey{}, true)), slug)
	if err != nil {
		return res, err
	}
	h.Release()
	c.mu.Lock()
	delete(c.closeEr, slug)
	c.mu.Unlock()
	closedCh := c.s.registry.Evict(slug)
	select {
	case <-closedCh:
	case <-time.After(time.Minute):
		return res, fmt.Errorf("%s: requests in flight did not finish", slug)
	}
	closedAt := time.Now()
	c.s.hubs.Drop(slug)
	c.mu.Lock()
	syncErr := c.closeEr[slug]
	c.mu.Unlock()
	if syncErr != nil {
		return res, fmt.Errorf("%s: its replica could not be brought up to date, so it stays: %w", slug, syncErr)
	}
	epoch, err := c.s.catalog.Place(ctx, slug, c.cfg.Node, pl.Epoch, to)
	if err != nil {
		return res, err
	}
	res.Epoch = epoch
	placedAt := time.Now()
	c.places.Store(slug, placed{node: to, at: time.Now().UnixNano()})
	// The target opens it now, so the requests let go find it ready.
	if err := c.call(ctx, n.URL, "POST", "/_cluster/portals/"+slug+"/open", nil); err != nil {
		slog.Warn("cluster: the new node did not open a moved portal at once", "portal", slug, "node", to, "err", err)
	}
	res.Paused = time.Since(paused)
	res.Took = time.Since(start)
	slog.Info("cluster: portal moved", "portal", slug, "to", to, "epoch", epoch, "paused", res.Paused,
		"closing", closedAt.Sub(paused), "placing", placedAt.Sub(closedAt), "opening_there", time.Since(placedAt))
	return res, nil
}

// forward sends r to node's address as is (the portal is served there),
// signed, with the client's address as this node saw it.
func (c *cluster) forward(w http.ResponseWriter, r *http.Request, nodeURL string, hop int) {
	target, err := url.Parse(nodeURL)
	if err != nil {
		http.Error(w, "bad node address", http.StatusBadGateway)
		return
	}
	ri := web.Info(r)
	f := &fwd{target: target, client: ri.IP, secure: ri.Secure, hop: hop, slug: web.Info(r).Portal}
	c.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), fwdKey{}, f)))
}

type fwdKey struct{}

type fwd struct {
	slug   string // the portal asked for ("" for a signup)
	target *url.URL
	client string
	secure bool
	hop    int
}

// rewrite makes the proxied request: to the node, with the original host
// (a portal's own domain routes there as here), signed.
func (c *cluster) rewrite(pr *httputil.ProxyRequest) {
	f := pr.In.Context().Value(fwdKey{}).(*fwd)
	pr.SetURL(f.target)
	pr.Out.Host = pr.In.Host
	pr.Out.Header.Set(hdrHop, strconv.Itoa(f.hop))
	pr.Out.Header.Set(hdrClient, f.client)
	sec := "0"
	if f.secure {
		sec = "1"
	}
	pr.Out.Header.Set(hdrSecure, sec)
	c.sign(pr.Out)
}

// Authentication between nodes: every call and proxied request carries
// the node's name, the time and an HMAC-SHA256 over them, the method, the
// host, the path and the forwarded client, keyed with the cluster secret.
const (
	hdrNode   = "X-Portaldesk-Node"
	hdrAuth   = "X-Portaldesk-Auth"
	hdrHop    = "X-Portaldesk-Hop"
	hdrClient = "X-Portaldesk-Client"
	hdrSecure = "X-Portaldesk-Secure"
)

func (c *cluster) mac(node, t string, r *http.Request) string {
	m := hmac.New(sha256.New, c.secret)
	for _, s := range []string{node, t, r.Method, r.Host, r.URL.RequestURI(), r.Header.Get(hdrClient), r.Header.Get(hdrSecure), r.Header.Get(hdrHop)} {
		m.Write([]byte(s))
		m.Write([]byte{0})
	}
	return hex.EncodeToString(m.Sum(nil))
}

func (c *cluster) sign(r *http.Request) {
	t := strconv.FormatInt(time.Now().Unix(), 10)
	r.Header.Set(hdrNode, c.cfg.Node)
	r.Header.Set(hdrAuth, t+":"+c.mac(c.cfg.Node, t, r))
}

// verified says whether r comes from a node of the cluster.
func (c *cluster) verified(r *http.Request) bool {
	t, sig, ok := strings.Cut(r.Header.Get(hdrAuth), ":")
	if !ok {
		return false
	}
	sec, err := strconv.ParseInt(t, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > time.Minute {
		return false
	}
	return hmac.Equal([]byte(sig), []byte(c.mac(r.Header.Get(hdrNode), t, r)))
}

// call makes an authenticated call to another node.
func (c *cluster) call(ctx context.Context, base, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, base+path, nil)
	if err != nil {
		return err
	}
	c.sign(req)
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeAnswer(resp, out)
}
