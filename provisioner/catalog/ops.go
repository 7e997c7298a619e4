package catalog

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"portaldesk/portal"
	"portaldesk/portal/sqlitedb"
)

// SaveOpsUser creates an ops account or replaces its name and password
// hash; a new password ends every session of the account.
func (c *Catalog) SaveOpsUser(ctx context.Context, email, name, hash string) error {
	return c.db.Tx(ctx, func(tx *sqlitedb.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO ops_users (email, name, hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (email) DO UPDATE SET hash = excluded.hash, name = excluded.name",
			email, name, hash, c.now().Unix()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "DELETE FROM ops_sessions WHERE email = ?", email)
		return err
	})
}

func sessionHash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// StartOpsSession signs an ops person in: it answers the secret their
// cookie carries.
func (c *Catalog) StartOpsSession(ctx context.Context, email, ip string) (string, error) {
	b := make([]byte, 32)
	rand.Read(b)
	secret := base64.RawURLEncoding.EncodeToString(b)
	now := c.now().Unix()
	_, err := c.db.Exec(ctx, "INSERT INTO ops_sessions (id, email, created_at, seen_at, ip) VALUES (?, ?, ?, ?, ?)", sessionHash(secret), email, now, now, ip)
	return secret, err
}

// OpsSession is whose ops session secret is (portal.ErrNotFound when it
// has ended, or the account is gone).
func (c *Catalog) OpsSession(ctx context.Context, secret string) (string, error) {
	var email string
	err := c.db.QueryRow(ctx, "SELECT s.email FROM ops_sessions s JOIN ops_users u ON u.email = s.email WHERE s.id = ?", sessionHash(secret)).Scan(&email)
	if errors.Is(err, sql.ErrNoRows) {
		return "", portal.ErrNotFound
	}
	return email, err
}

// EndOpsSession signs the ops session with secret out.
func (c *Catalog) EndOpsSession(ctx context.Context, secret string) error {
	_, err := c.db.Exec(ctx, "DELETE FROM ops_sessions WHERE id = ?", sessionHash(secret))
	return err
}

// OpsUserHash is the password hash of an ops account (portal.ErrNotFound when there is none).
func (c *Catalog) OpsUserHash(ctx context.Context, email string) (string, error) {
	var hash string
	err := c.db.QueryRow(ctx, "SELECT hash FROM ops_users WHERE email = ?", email).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return "", portal.ErrNotFound
	}
	return hash, err
}

// SetOpsTwoFactor gives an ops account a new TOTP secret (sealed by the
// caller) and recovery codes (their hashes), and ends its sessions.
func (c *Catalog) SetOpsTwoFactor(ctx context.Context, email, sealed string, recovery [][]byte) error {
	hexes := make([]string, len(recovery))
	for i, h := range recovery {
		hexes[i] = hex.EncodeToString(h)
	}
	return c.db.Tx(ctx, func(tx *sqlitedb.Tx) error {
		res, err := tx.Exec(ctx, "UPDATE ops_users SET totp_secret = ?, totp_step = 0, recovery = ? WHERE email = ?", sealed, strings.Join(hexes, ","), email)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return portal.ErrNotFound
		}
		_, err = tx.Exec(ctx, "DELETE FROM ops_sessions WHERE email = ?", email)
		return err
	})
}

// OpsTwoFactor is an ops account's sealed TOTP secret ("" when it has
// none) and the step of the last code it took.
func (c *Catalog) OpsTwoFactor(ctx context.Context, email string) (sealed string, step int64, err error) {
	err = c.db.QueryRow(ctx, "SELECT totp_secret, totp_step FROM ops_users WHERE email = ?", email).Scan(&sealed, &step)
	if errors.Is(err, sql.ErrNoRows) {
		err = portal.ErrNotFound
	}
	return sealed, step, err
}

// ClaimOpsStep records that an ops account took the code of step, if no
// code of that step or a later one was taken: false when one was.
func (c *Catalog) ClaimOpsStep(ctx context.Context, email string, step int64) (bool, error) {
	res, err := c.db.Exec(ctx, "UPDATE ops_users SET totp_step = ? WHERE email = ? AND totp_step < ?", step, email, step)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// UseOpsRecovery takes one of an ops account's recovery codes by its
// hash: false when it has no such unused code.
func (c *Catalog) UseOpsRecovery(ctx context.Context, email string, hash []byte) (bool, error) {
	h := hex.EncodeToString(hash)
	res, err := c.db.Exec(ctx, `UPDATE ops_users SET recovery = trim(replace(',' || recovery || ',', ',' || ? || ',', ','), ',')
		WHERE email = ? AND instr(',' || recovery || ',', ',' || ? || ',') > 0`, h, email, h)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// AuditEntry is one ops action: who, what, on which portal, from where.
type AuditEntry struct {
	At                                time.Time
	Actor, Action, Target, IP, Detail string
}

// Audit records an ops action (now, when At is zero).
func (c *Catalog) Audit(ctx context.Context, a AuditEntry) error {
	if a.At.IsZero() {
		a.At = c.now()
	}
	_, err := c.db.Exec(ctx, "INSERT INTO audit (at, actor, action, target, ip, detail) VALUES (?, ?, ?, ?, ?, ?)",
		a.At.Unix(), a.Actor, a.Action, a.Target, a.IP, a.Detail)
	return err
}

// AuditLog lists the latest ops actions, on one portal when target is set.
func (c *Catalog) AuditLog(ctx context.Context, target string, limit int) ([]AuditEntry, error) {
	q := "SELECT at, actor, action, target, ip, detail FROM audit"
	var args []any
	if target != "" {
		q += " WHERE target = ?"
		args = append(args, target)
	}
	rows, err := c.db.Query(ctx, q+" ORDER BY id DESC LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var a AuditEntry
		var at int64
		if err := rows.Scan(&at, &a.Actor, &a.Action, &a.Target, &a.IP, &a.Detail); err != nil {
			return nil, err
		}
		a.At = time.Unix(at, 0).UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}

// OpsRow is one portal in the ops console's table.
type OpsRow struct {
	ID                           int64
	Slug, Company, Tariff, State string // State is "expired" for a portal that fell back to free
	Operators                    int
	Tickets                      sql.NullInt64
	DBBytes, DiskBytes           int64
	DBQuota, DiskQuota           int64
	Balance                      int64
	PaidUntil                    string // the day the balance lasts to; empty when nothing is charged
	LastBackup                   time.Time
	Level                        int
}

// OpsQuery selects and orders the ops table.
type OpsQuery struct {
	Search string // part of the slug or company
	State  string // active, readonly, suspended, expired; empty for all
	Slug   string // exactly this portal
	Sort   string // slug (default), db, disk, balance, backup, tariff
	Page   int    // from 1
}

// OpsPageSize is the number of rows of the ops table per page.
const OpsPageSize = 100

// OpsTable is one page of the ops console's table and the number of rows
// matching in all, from one query whatever the number of portals: usage,
// balance and the last backup are kept in the catalog beside each portal.
func (c *Catalog) OpsTable(ctx context.Context, q OpsQuery) ([]OpsRow, int, error) {
	state := `CASE WHEN p.expired_at IS NOT NULL AND t.price_per_operator = 0 AND p.state = 'active' THEN 'expired' ELSE p.state END`
	where := []string{"p.state <> 'deleted'"}
	var args []any
	if s := strings.ToLower(strings.TrimSpace(q.Search)); s != "" {
		where = append(where, "(instr(p.slug, ?) > 0 OR instr(lower(p.company), ?) > 0)")
		args = append(args, s, s)
	}
	if q.State != "" {
		where = append(where, state+" = ?")
		args = append(args, q.State)
	}
	if q.Slug != "" {
		where = append(where, "p.slug = ?")
		args = append(args, q.Slug)
	}
	order := map[string]string{
		"db": "db_bytes DESC", "disk": "disk_bytes DESC", "balance": "p.balance", "backup": "p.last_backup_at", "tariff": "p.tariff_id",
	}[q.Sort]
	if order == "" {
		order = "p.slug"
	} else {
		order += ", p.slug"
	}
	page := max(q.Page, 1)
	cond := strings.Join(where, " AND ")
	total := 0
	from := "portals p"
	if q.State != "" { // "expired" reads the tariff's price
		from += " JOIN tariffs t ON t.id = p.tariff_id"
	}
	if err := c.db.QueryRow(ctx, "SELECT COUNT(*) FROM "+from+" WHERE "+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := c.db.Query(ctx, `SELECT p.id, p.slug, p.company, p.tariff_id, `+state+`, p.operators, p.balance, p.paid_through, COALESCE(p.last_backup_at, 0),
		COALESCE(p.db_mb, t.db_mb), COALESCE(p.admin_db_mb, 0), COALESCE(p.disk_mb, t.disk_mb), t.price_per_operator,
		COALESCE(u.db_bytes, 0) AS db_bytes, COALESCE(u.disk_bytes, 0) AS disk_bytes, u.tickets, COALESCE(u.level, 0)
		FROM portals p JOIN tariffs t ON t.id = p.tariff_id LEFT JOIN usage u ON u.portal_id = p.id
		WHERE `+cond+` ORDER BY `+order+` LIMIT ? OFFSET ?`, append(args, OpsPageSize, (page-1)*OpsPageSize)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	today := Day(c.now())
	var out []OpsRow
	for rows.Next() {
		var r OpsRow
		var paidThrough sql.NullInt64
		var backup, dbMB, adminDBMB, diskMB, price int64
		if err := rows.Scan(&r.ID, &r.Slug, &r.Company, &r.Tariff, &r.State, &r.Operators, &r.Balance, &paidThrough, &backup,
			&dbMB, &adminDBMB, &diskMB, &price, &r.DBBytes, &r.DiskBytes, &r.Tickets, &r.Level); err != nil {
			return nil, 0, err
		}
		r.DBQuota, r.DiskQuota = min(dbMB, orMax(adminDBMB))<<20, diskMB<<20
		if backup > 0 {
			r.LastBackup = time.Unix(backup, 0).UTC()
		}
		r.PaidUntil = paidUntil(price, r.Operators, r.Balance, paidThrough, today)
		out = append(out, r)
	}
	return out, total, rows.Err()
}

// paidUntil is the day (YYYY-MM-DD) a balance lasts to on a plan, counted
// from the last day charged (or today); empty on a free plan.
func paidUntil(price int64, operators int, balance int64, paidThrough sql.NullInt64, today int64) string {
	daily := DailyPrice(price, operators)
	if daily <= 0 {
		return ""
	}
	last := today
	if paidThrough.Valid {
		last = paidThrough.Int64
	}
	return DayTime(last + balance/daily).Format(time.DateOnly)
}

// PaidUntil is the day a portal's balance lasts to on its plan, as the
// ops table computes it; empty on a free plan.
func PaidUntil(rec *Portal, a *Account, now time.Time) string {
	return paidUntil(rec.Tariff.PricePerOperator, rec.Operators, a.Balance, a.PaidThrough, Day(now))
}
