package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"portaldesk/portal"
	"portaldesk/portal/sqlitedb"
)

// Node states.
const (
	NodeUp       = "up"
	NodeDraining = "draining" // its portals are being moved away
	NodeDown     = "down"     // stopped renewing; its portals were placed elsewhere
)

// Node is a cluster node as it last told the catalog.
type Node struct {
	Name        string    `json:"name"`
	URL         string    `json:"url"`
	State       string    `json:"state"`
	StartedAt   time.Time `json:"started_at"`
	HeartbeatAt time.Time `json:"heartbeat_at"`
	OpenPortals int       `json:"open_portals"`
	DiskFree    int64     `json:"disk_free"`
	LatencyUS   int64     `json:"latency_us"`
	Portals     int       `json:"portals"` // placed on it
}

// Heartbeat records that n is alive, with its load. A node marked down
// comes up again (its portals stay where they were placed meanwhile); a
// draining one stays draining.
func (c *Catalog) Heartbeat(ctx context.Context, n Node) error {
	_, err := c.db.Exec(ctx, `INSERT INTO nodes (name, url, state, started_at, heartbeat_at, open_portals, disk_free, latency_us) VALUES (?, ?, 'up', ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET url = excluded.url, heartbeat_at = excluded.heartbeat_at, open_portals = excluded.open_portals,
		disk_free = excluded.disk_free, latency_us = excluded.latency_us, started_at = excluded.started_at,
		state = CASE WHEN nodes.state = 'down' THEN 'up' ELSE nodes.state END`,
		n.Name, n.URL, n.StartedAt.Unix(), n.HeartbeatAt.UnixMilli(), n.OpenPortals, n.DiskFree, n.LatencyUS)
	if err != nil {
		return fmt.Errorf("catalog: heartbeat: %w", err)
	}
	return nil
}

// Nodes lists the cluster's nodes by name, with how many portals each serves.
func (c *Catalog) Nodes(ctx context.Context) ([]Node, error) {
	rows, err := c.db.Query(ctx, `SELECT n.name, n.url, n.state, n.started_at, n.heartbeat_at, n.open_portals, n.disk_free, n.latency_us,
		(SELECT COUNT(*) FROM portals p WHERE p.node = n.name AND p.state <> 'deleted')
		FROM nodes n ORDER BY n.name`)
	if err != nil {
		return nil, fmt.Errorf("catalog: nodes: %w", err)
	}
	defer rows.Close()
	var out []Node
	for rows.Next() {
		var n Node
		var started, beat int64
		if err := rows.Scan(&n.Name, &n.URL, &n.State, &started, &beat, &n.OpenPortals, &n.DiskFree, &n.LatencyUS, &n.Portals); err != nil {
			return nil, fmt.Errorf("catalog: nodes: %w", err)
		}
		n.StartedAt, n.HeartbeatAt = time.Unix(started, 0).UTC(), time.UnixMilli(beat).UTC()
		out = append(out, n)
	}
	return out, rows.Err()
}

// ErrNoSuchNode: no node has this name.
var ErrNoSuchNode = errors.New("there is no such node")

// SetNodeState marks a node up, draining or down.
func (c *Catalog) SetNodeState(ctx context.Context, name, state string) error {
	res, err := c.db.Exec(ctx, "UPDATE nodes SET state = ? WHERE name = ?", state, name)
	if err != nil {
		return fmt.Errorf("catalog: node %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNoSuchNode
	}
	return nil
}

// ForgetNode removes a node from the cluster's list.
func (c *Catalog) ForgetNode(ctx context.Context, name string) error {
	res, err := c.db.Exec(ctx, "DELETE FROM nodes WHERE name = ?", name)
	if err != nil {
		return fmt.Errorf("catalog: node %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNoSuchNode
	}
	return nil
}

// ErrPlacementChanged: the portal was not where (or at the epoch) the
// caller thought; someone placed it meanwhile.
var ErrPlacementChanged = errors.New("the portal's placement changed meanwhile")

// Place moves a live portal from node from (at epoch) to node to, as the
// next epoch, which it returns: a compare-and-set, so of two movers only
// one wins.
func (c *Catalog) Place(ctx context.Context, slug, from string, epoch int64, to string) (int64, error) {
	res, err := c.db.Exec(ctx, "UPDATE portals SET node = ?, epoch = epoch + 1 WHERE slug = ? AND state <> 'deleted' AND node = ? AND epoch = ?", to, slug, from, epoch)
	if err != nil {
		return 0, fmt.Errorf("catalog: place %s: %w", slug, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return 0, ErrPlacementChanged
	}
	return epoch + 1, nil
}

// PlaceAway places every live portal of node from on the nodes to, in
// turn, each as its next epoch, and returns how many moved.
func (c *Catalog) PlaceAway(ctx context.Context, from string, to []string) (int, error) {
	if len(to) == 0 {
		return 0, nil
	}
	moved := 0
	err := c.db.Tx(ctx, func(tx *sqlitedb.Tx) error {
		rows, err := tx.Query(ctx, "SELECT id FROM portals WHERE node = ? AND state <> 'deleted' ORDER BY id", from)
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		for i, id := range ids {
			if _, err := tx.Exec(ctx, "UPDATE portals SET node = ?, epoch = epoch + 1 WHERE id = ?", to[i%len(to)], id); err != nil {
				return err
			}
		}
		moved = len(ids)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("catalog: place away from %s: %w", from, err)
	}
	return moved, nil
}

// AdoptUnplaced places on node every live portal placed nowhere (an
// installation that ran as one node before it became a cluster).
func (c *Catalog) AdoptUnplaced(ctx context.Context, node string) (int, error) {
	res, err := c.db.Exec(ctx, "UPDATE portals SET node = ? WHERE node = '' AND state <> 'deleted'", node)
	if err != nil {
		return 0, fmt.Errorf("catalog: adopt: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// Placement is where a portal is served.
type Placement struct {
	Node  string
	Epoch int64
}

// PlacementOf is where the live portal slug is served;
// portal.ErrNotFound when there is none.
func (c *Catalog) PlacementOf(ctx context.Context, slug string) (Placement, error) {
	var p Placement
	err := c.db.QueryRow(ctx, "SELECT node, epoch FROM portals WHERE slug = ? AND state <> 'deleted'", slug).Scan(&p.Node, &p.Epoch)
	if errors.Is(err, sql.ErrNoRows) {
		return p, portal.ErrNotFound
	}
	if err != nil {
		return p, fmt.Errorf("catalog: placement of %s: %w", slug, err)
	}
	return p, nil
}

// NodePortals lists the live portals placed on node.
func (c *Catalog) NodePortals(ctx context.Context, node string) ([]string, error) {
	out, err := c.strings(ctx, "SELECT slug FROM portals WHERE node = ? AND state <> 'deleted' ORDER BY slug", node)
	if err != nil {
		return nil, fmt.Errorf("catalog: portals of %s: %w", node, err)
	}
	return out, nil
}
