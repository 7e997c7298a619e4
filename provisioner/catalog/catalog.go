// Package catalog is the control plane's database (control.db) and the
// only code that speaks SQL to it: portals and their state, custom
// domains, tariffs, the ledger, invoices and promo codes, usage, notices,
// job runs, ops accounts and the ops audit log.
//
// A portal's state changes only through the transitions here, each a
// compare-and-set on the state it starts from: two writers (ops suspending
// a portal, the quota job turning it read-only) can never overwrite each
// other's change; the one that comes second is told (ErrStateChanged).
package catalog

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"portaldesk/portal"
	"portaldesk/portal/sqlitedb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

var migrations = sqlitedb.MustLoadMigrations(migrationFS, "migrations")

// Catalog is the control plane's database.
type Catalog struct {
	db  *sqlitedb.DB
	now func() time.Time
}

// Open opens (and migrates) the catalog at path; replicated: Litestream
// follows it (sqlitedb.Options.Replicated).
func Open(ctx context.Context, path string, replicated ...bool) (*Catalog, error) {
	db, err := sqlitedb.Open(path, sqlitedb.Options{Readers: 4, CacheKiB: 4096, Replicated: len(replicated) > 0 && replicated[0]})
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	if err := migrations.Apply(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return &Catalog{db: db, now: time.Now}, nil
}

// Close closes the catalog.
func (c *Catalog) Close() error { return c.db.Close() }

// Ping checks that the catalog answers (readiness).
func (c *Catalog) Ping(ctx context.Context) error {
	var one int
	return c.db.QueryRow(ctx, "SELECT 1").Scan(&one)
}

// Queries is how many statements the catalog has run, for tests that
// check a page's cost does not grow with the number of portals.
func (c *Catalog) Queries() int64 { return c.db.Queries() }

// Errors of the catalog.
var (
	// ErrSlugTaken: a live portal already has this address.
	ErrSlugTaken = errors.New("this portal address is already taken")
	// ErrStateChanged: the portal was not in a state the transition starts from.
	ErrStateChanged = errors.New("the portal's state does not allow this")
	// ErrDomainTaken: the host name already points to a portal.
	ErrDomainTaken = errors.New("this host name is already mapped to a portal")
)

// Portal is a portal's entry in the catalog, with its tariff.
type Portal struct {
	ID             int64     `json:"id"`
	Slug           string    `json:"slug"`
	Company        string    `json:"company"`
	State          string    `json:"state"`
	ReadOnlyReason string    `json:"readonly_reason,omitempty"`
	TariffID       string    `json:"tariff"`
	Operators      int       `json:"operators"`
	AdminEmail     string    `json:"admin_email"`
	CreatedAt      time.Time `json:"created_at"`
	Tariff         Tariff    `json:"-"`
	DBMB           int64     `json:"db_mb"`
	DiskMB         int64     `json:"disk_mb"`
	AdminDBMB      int64     `json:"admin_db_mb,omitempty"`
	UsageLevel     int       `json:"usage_level"`
	Domain         string    `json:"domain,omitempty"` // its own verified host name, if any
	Node           string    `json:"node,omitempty"`   // the cluster node serving it
	Epoch          int64     `json:"epoch,omitempty"`  // how many times it has been placed
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

const portalSelect = `SELECT p.id, p.slug, p.company, p.state, p.readonly_reason, p.tariff_id, p.operators, p.admin_email, p.created_at,
	COALESCE(p.db_mb, t.db_mb), COALESCE(p.disk_mb, t.disk_mb), COALESCE(p.admin_db_mb, 0),
	COALESCE((SELECT level FROM usage WHERE portal_id = p.id), 0),
	COALESCE((SELECT host FROM domains WHERE portal_id = p.id AND verified_at IS NOT NULL ORDER BY verified_at LIMIT 1), ''),
	t.id, t.name, t.price_per_operator, t.max_operators, t.disk_mb, t.db_mb, t.designer, t.timing, t.api_tokens, t.custom_domain, t.own_smtp,
	p.node, p.epoch
	FROM portals p JOIN tariffs t ON t.id = p.tariff_id`

func scanPortal(row interface{ Scan(...any) error }) (*Portal, error) {
	r := &Portal{}
	var created int64
	t := &r.Tariff
	err := row.Scan(&r.ID, &r.Slug, &r.Company, &r.State, &r.ReadOnlyReason, &r.TariffID, &r.Operators, &r.AdminEmail, &created,
		&r.DBMB, &r.DiskMB, &r.AdminDBMB, &r.UsageLevel, &r.Domain,
		&t.ID, &t.Name, &t.PricePerOperator, &t.MaxOperators, &t.DiskMB, &t.DBMB, &t.Designer, &t.Timing, &t.APITokens, &t.CustomDomain, &t.OwnSMTP,
		&r.Node, &r.Epoch)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, portal.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	r.CreatedAt = time.Unix(created, 0).UTC()
	return r, nil
}

// Plan turns the entry into what a portal needs to know about itself.
func (r *Portal) Plan() *portal.Plan {
	maxOps := r.Tariff.MaxOperators
	if maxOps == 0 {
		maxOps = r.Operators
	}
	return &portal.Plan{
		ID: r.ID, Slug: r.Slug, Company: r.Company, State: r.State,
		TariffID: r.Tariff.ID, TariffName: r.Tariff.Name, MaxOperators: maxOps,
		DBQuotaBytes: min(r.DBMB, orMax(r.AdminDBMB)) << 20, DiskQuotaBytes: r.DiskMB << 20, UsageLevel: r.UsageLevel,
		Designer: r.Tariff.Designer, Timing: r.Tariff.Timing, APITokens: r.Tariff.APITokens,
		CustomDomain: r.Tariff.CustomDomain, OwnSMTP: r.Tariff.OwnSMTP, Domain: r.Domain,
		Node: r.Node, Epoch: r.Epoch,
	}
}

func orMax(mb int64) int64 {
	if mb <= 0 {
		return 1 << 40
	}
	return mb
}

// PortalBySlug finds the live (not deleted) portal with this slug.
func (c *Catalog) PortalBySlug(ctx context.Context, slug string) (*Portal, error) {
	return scanPortal(c.db.QueryRow(ctx, portalSelect+" WHERE p.slug = ? AND p.state <> 'deleted'", slug))
}

// PortalByID finds a live portal by its catalog id.
func (c *Catalog) PortalByID(ctx context.Context, id int64) (*Portal, error) {
	return scanPortal(c.db.QueryRow(ctx, portalSelect+" WHERE p.id = ? AND p.state <> 'deleted'", id))
}

// Portals lists live portals by slug.
func (c *Catalog) Portals(ctx context.Context) ([]*Portal, error) {
	rows, err := c.db.Query(ctx, portalSelect+" WHERE p.state <> 'deleted' ORDER BY p.slug")
	if err != nil {
		return nil, fmt.Errorf("catalog: portals: %w", err)
	}
	defer rows.Close()
	var out []*Portal
	for rows.Next() {
		r, err := scanPortal(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// NewPortal is what a signup (or a restore under a new address) records.
type NewPortal struct {
	Slug, Company, Tariff, AdminEmail string
	Operators                         int
	Node                              string // the cluster node it is placed on ("" outside a cluster)
}

// CreatePortal adds a portal's entry and, inside the same write
// transaction, calls build with it: the entry is committed only when build
// succeeds. The unique index on live slugs decides which of two signups
// for one address wins (ErrSlugTaken); the catalog's single writer is held
// meanwhile, so build should be quick.
func (c *Catalog) CreatePortal(ctx context.Context, in NewPortal, build func(*Portal) error) (*Portal, error) {
	var rec *Portal
	err := c.db.Tx(ctx, func(tx *sqlitedb.Tx) error {
		epoch := 0
		if in.Node != "" {
			epoch = 1
		}
		res, err := tx.Exec(ctx, "INSERT INTO portals (slug, company, state, tariff_id, operators, admin_email, created_at, node, epoch) VALUES (?, ?, 'active', ?, ?, ?, ?, ?, ?)",
			in.Slug, in.Company, in.Tariff, max(in.Operators, 1), in.AdminEmail, c.now().Unix(), in.Node, epoch)
		if sqlitedb.IsUniqueViolation(err) {
			return ErrSlugTaken
		}
		if err != nil {
			return fmt.Errorf("catalog: add portal %s: %w", in.Slug, err)
		}
		id, _ := res.LastInsertId()
		if rec, err = scanPortal(tx.QueryRow(ctx, portalSelect+" WHERE p.id = ?", id)); err != nil {
			return err
		}
		return build(rec)
	})
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// SetClock replaces the catalog's clock (tests, `--now`).
func (c *Catalog) SetClock(now func() time.Time) { c.now = now }

// transition moves portal id from one of the states from to state to,
// setting extra columns with it, as one compare-and-set. It answers
// portal.ErrNotFound when there is no such live portal and ErrStateChanged
// when its state is not one of from.
func (c *Catalog) transition(ctx context.Context, id int64, to string, from []string, extra string, args ...any) error {
	q := "UPDATE portals SET state = ?" + extra + " WHERE id = ? AND state IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(from)), ", ") + ")"
	all := append([]any{to}, args...)
	all = append(all, id)
	for _, f := range from {
		all = append(all, f)
	}
	res, err := c.db.Exec(ctx, q, all...)
	if err != nil {
		return fmt.Errorf("catalog: portal %d → %s: %w", id, to, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var state string
	err = c.db.QueryRow(ctx, "SELECT state FROM portals WHERE id = ? AND state <> 'deleted'", id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return portal.ErrNotFound
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: it is %s", ErrStateChanged, state)
}

// Suspend closes a live portal to everyone (active or read-only →
// suspended). Suspending a suspended portal changes nothing.
func (c *Catalog) Suspend(ctx context.Context, id int64) error {
	return c.transition(ctx, id, portal.StateSuspended, []string{portal.StateActive, portal.StateReadOnly, portal.StateSuspended}, ", readonly_reason = ''")
}

// Resume opens a suspended portal again (suspended → active); the quota
// job turns it read-only again if it is still over its quota.
func (c *Catalog) Resume(ctx context.Context, id int64) error {
	return c.transition(ctx, id, portal.StateActive, []string{portal.StateSuspended, portal.StateActive}, "")
}

// MarkReadOnly turns an active portal read-only for reason (active →
// readonly). ErrStateChanged means it was not active any more.
func (c *Catalog) MarkReadOnly(ctx context.Context, id int64, reason string) error {
	return c.transition(ctx, id, portal.StateReadOnly, []string{portal.StateActive}, ", readonly_reason = ?", reason)
}

// Recover makes a portal that is read-only for reason active again.
func (c *Catalog) Recover(ctx context.Context, id int64, reason string) error {
	res, err := c.db.Exec(ctx, "UPDATE portals SET state = 'active', readonly_reason = '' WHERE id = ? AND state = 'readonly' AND readonly_reason = ?", id, reason)
	if err != nil {
		return fmt.Errorf("catalog: recover portal %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrStateChanged
	}
	return nil
}

// MarkDeleted records that a live portal's directory was moved to
// trashPath: its entry is kept as deleted, its address and domains free.
func (c *Catalog) MarkDeleted(ctx context.Context, id int64, trashPath string) error {
	return c.db.Tx(ctx, func(tx *sqlitedb.Tx) error {
		res, err := tx.Exec(ctx, "UPDATE portals SET state = 'deleted', deleted_at = ?, trash_path = ? WHERE id = ? AND state <> 'deleted'", c.now().Unix(), trashPath, id)
		if err != nil {
			return fmt.Errorf("catalog: delete portal %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return portal.ErrNotFound
		}
		_, err = tx.Exec(ctx, "DELETE FROM domains WHERE portal_id = ?", id)
		return err
	})
}

// Domains maps every custom host name to its portal's slug.
func (c *Catalog) Domains(ctx context.Context) (map[string]string, error) {
	rows, err := c.db.Query(ctx, "SELECT d.host, p.slug FROM domains d JOIN portals p ON p.id = d.portal_id WHERE p.state <> 'deleted' AND d.verified_at IS NOT NULL")
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

// AddDomain maps host to the portal id, verified (ops's word for it).
func (c *Catalog) AddDomain(ctx context.Context, id int64, host string, at time.Time) error {
	if _, err := c.db.Exec(ctx, "INSERT INTO domains (host, portal_id, verified_at) VALUES (?, ?, ?)", host, id, at.Unix()); err != nil {
		if sqlitedb.IsUniqueViolation(err) {
			return ErrDomainTaken
		}
		return fmt.Errorf("catalog: add domain: %w", err)
	}
	return nil
}

// Domain is a portal's own host name and the state of its DNS check.
type Domain struct {
	Host       string
	VerifiedAt time.Time // zero until DNS pointed it at the service
	CheckedAt  time.Time
	Problem    string // what the last check found wrong
}

// PortalDomain is the host name the portal's admin entered last (nil: none).
func (c *Catalog) PortalDomain(ctx context.Context, id int64) (*Domain, error) {
	d := &Domain{}
	var verified, checked sql.NullInt64
	err := c.db.QueryRow(ctx, "SELECT host, verified_at, checked_at, problem FROM domains WHERE portal_id = ? ORDER BY rowid DESC LIMIT 1", id).
		Scan(&d.Host, &verified, &checked, &d.Problem)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: domain: %w", err)
	}
	if verified.Valid {
		d.VerifiedAt = time.Unix(verified.Int64, 0).UTC()
	}
	if checked.Valid {
		d.CheckedAt = time.Unix(checked.Int64, 0).UTC()
	}
	return d, nil
}

// SetPortalDomain makes host the portal's one own host name, not yet
// verified; host names it had before are dropped.
func (c *Catalog) SetPortalDomain(ctx context.Context, id int64, host string) error {
	return c.db.Tx(ctx, func(tx *sqlitedb.Tx) error {
		if _, err := tx.Exec(ctx, "DELETE FROM domains WHERE portal_id = ?", id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO domains (host, portal_id) VALUES (?, ?)", host, id); err != nil {
			if sqlitedb.IsUniqueViolation(err) {
				return ErrDomainTaken
			}
			return fmt.Errorf("catalog: set domain: %w", err)
		}
		return nil
	})
}

// RecordDomainCheck stores a DNS check of host: a success verifies it (for
// good: a later failure is shown, but links keep the host), a failure
// says why.
func (c *Catalog) RecordDomainCheck(ctx context.Context, host string, ok bool, problem string, at time.Time) error {
	_, err := c.db.Exec(ctx, `UPDATE domains SET checked_at = ?, problem = ?,
		verified_at = CASE WHEN ? THEN COALESCE(verified_at, ?) ELSE verified_at END WHERE host = ?`, at.Unix(), problem, ok, at.Unix(), host)
	return err
}

// UnverifiedDomains lists host names still waiting for their DNS, with
// their portal's id, for the periodic check.
func (c *Catalog) UnverifiedDomains(ctx context.Context) (map[string]int64, error) {
	rows, err := c.db.Query(ctx, "SELECT host, portal_id FROM domains WHERE verified_at IS NULL")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var h string
		var id int64
		if err := rows.Scan(&h, &id); err != nil {
			return nil, err
		}
		out[h] = id
	}
	return out, rows.Err()
}

// RemovePortalDomains unmaps every host name of the portal.
func (c *Catalog) RemovePortalDomains(ctx context.Context, id int64) error {
	_, err := c.db.Exec(ctx, "DELETE FROM domains WHERE portal_id = ?", id)
	return err
}

// RemoveDomain unmaps host.
func (c *Catalog) RemoveDomain(ctx context.Context, host string) error {
	_, err := c.db.Exec(ctx, "DELETE FROM domains WHERE host = ?", strings.ToLower(host))
	return err
}

// Tariffs lists the tariffs on offer.
func (c *Catalog) Tariffs(ctx context.Context) ([]Tariff, error) {
	rows, err := c.db.Query(ctx, `SELECT id, name, price_per_operator, max_operators, disk_mb, db_mb, designer, timing, api_tokens, custom_domain, own_smtp
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

// TariffChange is what ops change about a tariff; nil leaves a part as it is.
type TariffChange struct {
	Name                                                         *string
	Price, DiskMB, DBMB                                          *int64
	Designer, Timing, APITokens, CustomDomain, OwnSMTP, Archived *bool
}

// SetTariff creates or changes a tariff, all in one transaction.
func (c *Catalog) SetTariff(ctx context.Context, id string, t TariffChange) error {
	if id == "" || strings.ContainsAny(id, " /") {
		return fmt.Errorf("tariff id %q: use letters, digits and hyphens", id)
	}
	return c.db.Tx(ctx, func(tx *sqlitedb.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO tariffs (id, name, price_per_operator, max_operators, disk_mb, db_mb, position) VALUES (?, ?, 0, 0, 1000, 200, 99) ON CONFLICT DO NOTHING`, id, id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE tariffs SET name = COALESCE(?, name), price_per_operator = COALESCE(?, price_per_operator),
			disk_mb = COALESCE(?, disk_mb), db_mb = COALESCE(?, db_mb), designer = COALESCE(?, designer), timing = COALESCE(?, timing),
			api_tokens = COALESCE(?, api_tokens), custom_domain = COALESCE(?, custom_domain), own_smtp = COALESCE(?, own_smtp),
			archived = COALESCE(?, archived) WHERE id = ?`,
			t.Name, t.Price, t.DiskMB, t.DBMB, t.Designer, t.Timing, t.APITokens, t.CustomDomain, t.OwnSMTP, t.Archived, id)
		return err
	})
}

// StateCount is how many live portals are in a state at a quota level.
type StateCount struct {
	State string
	Level int
	N     int
}

// StateCounts counts live portals by state and quota level (metrics).
func (c *Catalog) StateCounts(ctx context.Context) ([]StateCount, error) {
	rows, err := c.db.Query(ctx, `SELECT p.state, COALESCE(u.level, 0), COUNT(*) FROM portals p LEFT JOIN usage u ON u.portal_id = p.id WHERE p.state <> 'deleted' GROUP BY 1, 2`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []StateCount
	for rows.Next() {
		var s StateCount
		if err := rows.Scan(&s.State, &s.Level, &s.N); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// CountPortals counts every entry, deleted ones too (tests of provisioning).
func (c *Catalog) CountPortals(ctx context.Context) (int, error) {
	var n int
	err := c.db.QueryRow(ctx, "SELECT COUNT(*) FROM portals").Scan(&n)
	return n, err
}

// WatchMailbox puts a portal's mailbox on the fetching list (due now), or
// takes it off.
func (c *Catalog) WatchMailbox(ctx context.Context, id int64, on bool, now time.Time) error {
	var err error
	if on {
		_, err = c.db.Exec(ctx, "INSERT INTO mailboxes (portal_id, next_at) VALUES (?, ?) ON CONFLICT (portal_id) DO UPDATE SET next_at = excluded.next_at", id, now.Unix())
	} else {
		_, err = c.db.Exec(ctx, "DELETE FROM mailboxes WHERE portal_id = ?", id)
	}
	return err
}

// MailboxNext schedules a portal's next fetch.
func (c *Catalog) MailboxNext(ctx context.Context, id int64, at time.Time) error {
	_, err := c.db.Exec(ctx, "UPDATE mailboxes SET next_at = ? WHERE portal_id = ?", at.Unix(), id)
	return err
}

// WatchClocks puts the portal on the list of portals whose SLA clocks
// the minute's job checks, or off.
func (c *Catalog) WatchClocks(ctx context.Context, id int64, on bool) error {
	var err error
	if on {
		_, err = c.db.Exec(ctx, "INSERT OR IGNORE INTO clocks (portal_id) VALUES (?)", id)
	} else {
		_, err = c.db.Exec(ctx, "DELETE FROM clocks WHERE portal_id = ?", id)
	}
	return err
}

// ClockPortals lists the live portals whose clocks the minute's job checks.
func (c *Catalog) ClockPortals(ctx context.Context) ([]string, error) {
	return c.strings(ctx, "SELECT p.slug FROM clocks k JOIN portals p ON p.id = k.portal_id WHERE p.state = 'active' ORDER BY p.id")
}

// strings runs a query of one text column.
func (c *Catalog) strings(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := c.db.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// WatchedMailboxes lists the live portals that fetch a mailbox: id → slug.
func (c *Catalog) WatchedMailboxes(ctx context.Context) (map[int64]string, error) {
	rows, err := c.db.Query(ctx, "SELECT p.id, p.slug FROM mailboxes m JOIN portals p ON p.id = m.portal_id WHERE p.state = 'active'")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var slug string
		if err := rows.Scan(&id, &slug); err != nil {
			return nil, err
		}
		out[id] = slug
	}
	return out, rows.Err()
}

// DueMailboxes lists the live portals whose mailbox is due a fetch.
func (c *Catalog) DueMailboxes(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := c.db.Query(ctx, "SELECT p.slug FROM mailboxes m JOIN portals p ON p.id = m.portal_id WHERE m.next_at <= ? AND p.state = 'active' ORDER BY m.next_at", now.Unix())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// ErrAddressTaken: another portal takes mail for the address.
type ErrAddressTaken struct{ Address string }

func (e *ErrAddressTaken) Error() string { return e.Address + " is taken by another portal" }

// SetInboundAddresses makes addrs the portal's own addresses, replacing
// those it had; all or none.
func (c *Catalog) SetInboundAddresses(ctx context.Context, id int64, addrs []string) error {
	return c.db.Tx(ctx, func(tx *sqlitedb.Tx) error {
		if _, err := tx.Exec(ctx, "DELETE FROM inbound_addresses WHERE portal_id = ?", id); err != nil {
			return err
		}
		for _, a := range addrs {
			if _, err := tx.Exec(ctx, "INSERT INTO inbound_addresses (address, portal_id) VALUES (?, ?)", a, id); err != nil {
				if sqlitedb.IsUniqueViolation(err) {
					return &ErrAddressTaken{Address: a}
				}
				return err
			}
		}
		return nil
	})
}

// InboundAddresses lists the portal's own addresses.
func (c *Catalog) InboundAddresses(ctx context.Context, id int64) ([]string, error) {
	rows, err := c.db.Query(ctx, "SELECT address FROM inbound_addresses WHERE portal_id = ? ORDER BY address", id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// PortalByInboundAddress is the slug of the live portal that takes mail
// for addr ("" when none).
func (c *Catalog) PortalByInboundAddress(ctx context.Context, addr string) string {
	var slug string
	_ = c.db.QueryRow(ctx, "SELECT p.slug FROM inbound_addresses a JOIN portals p ON p.id = a.portal_id WHERE a.address = ? AND p.state <> 'deleted'", addr).Scan(&slug)
	return slug
}
