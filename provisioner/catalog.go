package provisioner

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"portaldesk/portal"
)

//go:embed migrations/*.sql
var catalogMigrations embed.FS

// Catalog is the control plane's database: portals, domains and tariffs.
type Catalog struct {
	db *portal.DB
}

// OpenCatalog opens (and migrates) the catalog at path.
func OpenCatalog(ctx context.Context, path string) (*Catalog, error) {
	db, err := portal.OpenDB(path, portal.DBOptions{Readers: 4, CacheKiB: 4096})
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	if err := portal.Migrate(ctx, db.W, catalogMigrations, "migrations"); err != nil {
		db.Close()
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return &Catalog{db: db}, nil
}

// Close closes the catalog.
func (c *Catalog) Close() error { return c.db.Close() }

// DB exposes the catalog's pools to the other control-plane packages.
func (c *Catalog) DB() *portal.DB { return c.db }

// PortalRecord is one row of the catalog's portals with its tariff.
type PortalRecord struct {
	ID         int64     `json:"id"`
	Slug       string    `json:"slug"`
	Company    string    `json:"company"`
	State      string    `json:"state"`
	TariffID   string    `json:"tariff"`
	Operators  int       `json:"operators"`
	AdminEmail string    `json:"admin_email"`
	CreatedAt  time.Time `json:"created_at"`
	Tariff     Tariff    `json:"-"`
	DBMB       int64     `json:"db_mb"`
	DiskMB     int64     `json:"disk_mb"`
	AdminDBMB  int64     `json:"admin_db_mb,omitempty"`
	UsageLevel int       `json:"usage_level"`
}

// Tariff is a row of the catalog's tariffs.
type Tariff struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	PricePerOperator int64  `json:"price"`
	MaxOperators     int    `json:"max_operators"`
	DiskMB           int64  `json:"disk_mb"`
	DBMB             int64  `json:"db_mb"`
	Designer         bool   `json:"designer"`
	Timing           bool   `json:"timing"`
	APITokens        bool   `json:"api_tokens"`
	CustomDomain     bool   `json:"custom_domain"`
	OwnSMTP          bool   `json:"own_smtp"`
}

const portalSelect = `SELECT p.id, p.slug, p.company, p.state, p.tariff_id, p.operators, p.admin_email, p.created_at,
	COALESCE(p.db_mb, t.db_mb), COALESCE(p.disk_mb, t.disk_mb), COALESCE(p.admin_db_mb, 0),
	COALESCE((SELECT level FROM usage WHERE portal_id = p.id), 0),
	t.id, t.name, t.price_per_operator, t.max_operators, t.disk_mb, t.db_mb, t.designer, t.timing, t.api_tokens, t.custom_domain, t.own_smtp
	FROM portals p JOIN tariffs t ON t.id = p.tariff_id`

func scanPortal(row interface{ Scan(...any) error }) (*PortalRecord, error) {
	r := &PortalRecord{}
	var created int64
	t := &r.Tariff
	err := row.Scan(&r.ID, &r.Slug, &r.Company, &r.State, &r.TariffID, &r.Operators, &r.AdminEmail, &created,
		&r.DBMB, &r.DiskMB, &r.AdminDBMB, &r.UsageLevel,
		&t.ID, &t.Name, &t.PricePerOperator, &t.MaxOperators, &t.DiskMB, &t.DBMB, &t.Designer, &t.Timing, &t.APITokens, &t.CustomDomain, &t.OwnSMTP)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, portal.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	r.CreatedAt = time.Unix(created, 0).UTC()
	return r, nil
}

// Plan turns the record into what a portal needs to know about itself.
func (r *PortalRecord) Plan() *portal.Plan {
	maxOps := r.Tariff.MaxOperators
	if maxOps == 0 {
		maxOps = r.Operators
	}
	return &portal.Plan{
		ID: r.ID, Slug: r.Slug, Company: r.Company, State: r.State,
		TariffID: r.Tariff.ID, TariffName: r.Tariff.Name, MaxOperators: maxOps,
		DBQuotaBytes: min(r.DBMB, orMax(r.AdminDBMB)) << 20, DiskQuotaBytes: r.DiskMB << 20, UsageLevel: r.UsageLevel,
		Designer: r.Tariff.Designer, Timing: r.Tariff.Timing, APITokens: r.Tariff.APITokens,
		CustomDomain: r.Tariff.CustomDomain, OwnSMTP: r.Tariff.OwnSMTP,
	}
}

// PortalBySlug finds the live (not deleted) portal with this slug.
func (c *Catalog) PortalBySlug(ctx context.Context, slug string) (*PortalRecord, error) {
	return scanPortal(c.db.QueryRow(ctx, portalSelect+" WHERE p.slug = ? AND p.state <> 'deleted'", slug))
}

// Portals lists live portals by slug.
func (c *Catalog) Portals(ctx context.Context) ([]*PortalRecord, error) {
	rows, err := c.db.R.QueryContext(ctx, portalSelect+" WHERE p.state <> 'deleted' ORDER BY p.slug")
	if err != nil {
		return nil, fmt.Errorf("catalog: portals: %w", err)
	}
	defer rows.Close()
	var out []*PortalRecord
	for rows.Next() {
		r, err := scanPortal(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SetState changes a live portal's state.
func (c *Catalog) SetState(ctx context.Context, slug, state string) error {
	res, err := c.db.W.ExecContext(ctx, "UPDATE portals SET state = ? WHERE slug = ? AND state <> 'deleted'", state, slug)
	if err != nil {
		return fmt.Errorf("catalog: set state %s: %w", slug, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return portal.ErrNotFound
	}
	return nil
}

// Domains maps every custom host name to its portal's slug.
func (c *Catalog) Domains(ctx context.Context) (map[string]string, error) {
	rows, err := c.db.R.QueryContext(ctx, "SELECT d.host, p.slug FROM domains d JOIN portals p ON p.id = d.portal_id WHERE p.state <> 'deleted'")
	if err != nil {
		return nil, fmt.Errorf("catalog: domains: %w", err)
	}
	defer rows.Close()
	m := map[string]string{}
	for rows.Next() {
		var h, s string
		if err := rows.Scan(&h, &s); err != nil {
			return nil, err
		}
		m[strings.ToLower(h)] = s
	}
	return m, rows.Err()
}

// AddDomain maps host to the portal slug.
func (c *Catalog) AddDomain(ctx context.Context, slug, host string) error {
	host = strings.ToLower(strings.TrimSpace(host))
	if host == "" || strings.ContainsAny(host, "/: ") {
		return fmt.Errorf("catalog: %q is not a host name", host)
	}
	rec, err := c.PortalBySlug(ctx, slug)
	if err != nil {
		return err
	}
	if _, err := c.db.W.ExecContext(ctx, "INSERT INTO domains (host, portal_id) VALUES (?, ?)", host, rec.ID); err != nil {
		if portal.IsUniqueViolation(err) {
			return fmt.Errorf("catalog: %s is already mapped to a portal", host)
		}
		return fmt.Errorf("catalog: add domain: %w", err)
	}
	return nil
}

// RemoveDomain unmaps host.
func (c *Catalog) RemoveDomain(ctx context.Context, host string) error {
	_, err := c.db.W.ExecContext(ctx, "DELETE FROM domains WHERE host = ?", strings.ToLower(host))
	return err
}

// Tariffs lists the tariffs on offer.
func (c *Catalog) Tariffs(ctx context.Context) ([]Tariff, error) {
	rows, err := c.db.R.QueryContext(ctx, `SELECT id, name, price_per_operator, max_operators, disk_mb, db_mb, designer, timing, api_tokens, custom_domain, own_smtp
		FROM tariffs WHERE archived = 0 ORDER BY position, id`)
	if err != nil {
		return nil, fmt.Errorf("catalog: tariffs: %w", err)
	}
	defer rows.Close()
	var out []Tariff
	for rows.Next() {
		var t Tariff
		if err := rows.Scan(&t.ID, &t.Name, &t.PricePerOperator, &t.MaxOperators, &t.DiskMB, &t.DBMB, &t.Designer, &t.Timing, &t.APITokens, &t.CustomDomain, &t.OwnSMTP); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func orMax(mb int64) int64 {
	if mb <= 0 {
		return 1 << 40
	}
	return mb
}

// TariffChange is what ops change about a tariff; nil leaves a part as it is.
type TariffChange struct {
	Name                                                         *string
	Price, DiskMB, DBMB                                          *int64
	Designer, Timing, APITokens, CustomDomain, OwnSMTP, Archived *bool
}

// SetTariff creates or changes a tariff.
func (c *Catalog) SetTariff(ctx context.Context, id string, t TariffChange) error {
	if id == "" || strings.ContainsAny(id, " /") {
		return fmt.Errorf("tariff id %q: use letters, digits and hyphens", id)
	}
	_, err := c.db.W.ExecContext(ctx, `INSERT INTO tariffs (id, name, price_per_operator, max_operators, disk_mb, db_mb, position) VALUES (?, ?, 0, 0, 1000, 200, 99) ON CONFLICT DO NOTHING`, id, id)
	if err != nil {
		return err
	}
	set := func(col string, v any) error {
		_, err := c.db.W.ExecContext(ctx, "UPDATE tariffs SET "+col+" = ? WHERE id = ?", v, id)
		return err
	}
	for col, v := range map[string]any{"name": t.Name, "price_per_operator": t.Price, "disk_mb": t.DiskMB, "db_mb": t.DBMB, "designer": t.Designer,
		"timing": t.Timing, "api_tokens": t.APITokens, "custom_domain": t.CustomDomain, "own_smtp": t.OwnSMTP, "archived": t.Archived} {
		switch x := v.(type) {
		case *string:
			if x != nil {
				if err := set(col, *x); err != nil {
					return err
				}
			}
		case *int64:
			if x != nil {
				if err := set(col, *x); err != nil {
					return err
				}
			}
		case *bool:
			if x != nil {
				if err := set(col, *x); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
