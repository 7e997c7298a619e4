package provisioner

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"portaldesk/portal"
	"portaldesk/provisioner/catalog"
)

// The internal API, under /_cluster/, answers only calls signed with the
// cluster secret: the catalog's SQL (on the primary), the node list and
// the operations of `portaldesk nodes` and `portaldesk portals move`.

// ClusterPrefix is where the internal API lives.
const ClusterPrefix = "/_cluster/"

// NodeStatus is a node as `portaldesk nodes list` shows it.
type NodeStatus struct {
	catalog.Node
	Alive   bool `json:"alive"`
	Primary bool `json:"primary"` // holds the catalog
}

func (c *cluster) serveAPI(w http.ResponseWriter, r *http.Request) {
	if !c.verified(r) {
		http.Error(w, "not a node of this cluster", http.StatusUnauthorized)
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, ClusterPrefix)
	parts := strings.Split(rest, "/")
	ctx := r.Context()
	switch {
	case rest == "catalog" && r.Method == "POST":
		srv := c.catServer.Load()
		if srv == nil || !c.primary.Load() {
			http.Error(w, "not the primary", http.StatusMisdirectedRequest)
			return
		}
		srv.ServeHTTP(w, r)
	case rest == "ping":
		answer(w, map[string]any{"node": c.cfg.Node, "primary": c.primary.Load()}, nil)
	case rest == "nodes" && r.Method == "GET":
		v, err := c.status(ctx)
		answer(w, v, err)
	case len(parts) == 3 && parts[0] == "nodes" && r.Method == "POST":
		v, err := c.nodeOp(ctx, parts[1], parts[2])
		answer(w, v, err)
	case len(parts) == 3 && parts[0] == "portals" && parts[2] == "move" && r.Method == "POST":
		v, err := c.moveFrom(ctx, parts[1], r.URL.Query().Get("to"))
		answer(w, v, err)
	case len(parts) == 2 && parts[0] == "portals" && r.Method == "GET":
		pl, err := c.s.catalog.PlacementOf(ctx, parts[1])
		answer(w, map[string]any{"portal": parts[1], "node": pl.Node, "epoch": pl.Epoch}, err)
	case len(parts) == 3 && parts[0] == "portals" && parts[2] == "prepare" && r.Method == "POST":
		answer(w, map[string]string{"portal": parts[1]}, c.prepare(ctx, parts[1]))
	case len(parts) == 3 && parts[0] == "portals" && parts[2] == "open" && r.Method == "POST":
		h, err := c.s.registry.Acquire(ordinaryOpen(ctx), parts[1])
		if err == nil {
			h.Release()
		}
		answer(w, map[string]string{"portal": parts[1]}, err)
	default:
		http.NotFound(w, r)
	}
}

func answer(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		status := http.StatusUnprocessableEntity
		switch {
		case errors.Is(err, portal.ErrNotFound), errors.Is(err, catalog.ErrNoSuchNode):
			status = http.StatusNotFound
		case errors.Is(err, ErrPortalMoving), errors.Is(err, catalog.ErrNoPrimary):
			status = http.StatusServiceUnavailable
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}

// decodeAnswer reads another node's answer into out, or its error.
func decodeAnswer(resp *http.Response, out any) error {
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (c *cluster) status(ctx context.Context) ([]NodeStatus, error) {
	c.nodes.Store(nil)
	list, err := c.s.catalog.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	holder, _, expires, _ := c.s.files.ReadLease(ctx, catalogLease)
	out := make([]NodeStatus, len(list))
	for i, n := range list {
		out[i] = NodeStatus{Node: n, Alive: c.alive(n), Primary: n.Name == holder && time.Now().Before(expires)}
	}
	return out, nil
}

func (c *cluster) nodeOp(ctx context.Context, name, op string) (any, error) {
	c.nodes.Store(nil)
	n := c.node(ctx, name)
	if n == nil {
		return nil, catalog.ErrNoSuchNode
	}
	switch op {
	case "drain":
		if c.roomiest(ctx, name) == "" {
			return nil, fmt.Errorf("no other node is up to take %s's portals", name)
		}
		return map[string]string{"node": name, "state": catalog.NodeDraining}, c.s.catalog.SetNodeState(ctx, name, catalog.NodeDraining)
	case "undrain":
		return map[string]string{"node": name, "state": catalog.NodeUp}, c.s.catalog.SetNodeState(ctx, name, catalog.NodeUp)
	case "forget":
		if c.alive(*n) && n.Portals > 0 {
			return nil, fmt.Errorf("%s is up and serves %d portals: drain it first, or stop it", name, n.Portals)
		}
		if c.alive(*n) {
			return nil, fmt.Errorf("%s is still up: stop it first (it would join again with its next heartbeat)", name)
		}
		moved := 0
		if n.Portals > 0 {
			var live []string
			for _, o := range c.nodeList(ctx) {
				if o.Name != name && o.State == catalog.NodeUp && c.alive(o) {
					live = append(live, o.Name)
				}
			}
			if len(live) == 0 {
				return nil, fmt.Errorf("no node is up to take %s's portals", name)
			}
			var err error
			if moved, err = c.s.catalog.PlaceAway(ctx, name, live); err != nil {
				return nil, err
			}
		}
		return map[string]any{"node": name, "forgotten": true, "portals_placed_elsewhere": moved}, c.s.catalog.ForgetNode(ctx, name)
	}
	return nil, fmt.Errorf("unknown operation %q", op)
}

// moveFrom moves slug to node to, asking its node when it is not this one.
func (c *cluster) moveFrom(ctx context.Context, slug, to string) (MoveResult, error) {
	if to == "" {
		return MoveResult{}, fmt.Errorf("--to: which node to move the portal to")
	}
	pl, err := c.s.catalog.PlacementOf(ctx, slug)
	if err != nil {
		return MoveResult{}, err
	}
	if pl.Node == c.cfg.Node {
		return c.move(ctx, slug, to)
	}
	n := c.node(ctx, pl.Node)
	if n == nil || !c.alive(*n) {
		return MoveResult{}, fmt.Errorf("%s is on %s, which is not answering: it moves by itself once the node is down", slug, pl.Node)
	}
	var res MoveResult
	err = c.call(ctx, n.URL, "POST", ClusterPrefix+"portals/"+slug+"/move?to="+to, &res)
	return res, err
}

// ClusterClient calls a cluster's internal API, as `portaldesk nodes` and
// `portaldesk portals move` do.
type ClusterClient struct {
	c   *cluster
	URL string
}

// NewClusterClient calls the node at url, signing as name with secret.
func NewClusterClient(url, name, secret string, roots *x509.CertPool) *ClusterClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return &ClusterClient{c: &cluster{cfg: ClusterConfig{Node: name}, secret: []byte(secret), client: &http.Client{Transport: tr, Timeout: 10 * time.Minute}}, URL: strings.TrimRight(url, "/")}
}

// Nodes lists the cluster's nodes.
func (cc *ClusterClient) Nodes(ctx context.Context) ([]NodeStatus, error) {
	var out []NodeStatus
	return out, cc.c.call(ctx, cc.URL, "GET", ClusterPrefix+"nodes", &out)
}

// Node runs op (drain, undrain, forget) on node name.
func (cc *ClusterClient) Node(ctx context.Context, name, op string) (map[string]any, error) {
	var out map[string]any
	return out, cc.c.call(ctx, cc.URL, "POST", ClusterPrefix+"nodes/"+name+"/"+op, &out)
}

// Move moves a portal to node to.
func (cc *ClusterClient) Move(ctx context.Context, slug, to string) (MoveResult, error) {
	var out MoveResult
	return out, cc.c.call(ctx, cc.URL, "POST", ClusterPrefix+"portals/"+slug+"/move?to="+to, &out)
}

// Where is the node serving slug now.
func (cc *ClusterClient) Where(ctx context.Context, slug string) (string, error) {
	var out struct {
		Node string `json:"node"`
	}
	err := cc.c.call(ctx, cc.URL, "GET", ClusterPrefix+"portals/"+slug, &out)
	return out.Node, err
}

// Ping asks the node its name and whether it holds the catalog.
func (cc *ClusterClient) Ping(ctx context.Context) (map[string]any, error) {
	var out map[string]any
	return out, cc.c.call(ctx, cc.URL, "GET", ClusterPrefix+"ping", &out)
}
