package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"portaldesk/portal/sqlitedb"
)

// Usage is what the last sweep measured of a portal.
type Usage struct {
	DBBytes, DiskBytes int64
	Level              int // 0, 80 (warned) or 100 (over)
}

// RecordUsage stores a sweep's measurement of a portal; tickets, when not
// nil, is its number of tickets.
func (c *Catalog) RecordUsage(ctx context.Context, portalID, dbBytes, diskBytes int64, at time.Time, tickets *int64) error {
	_, err := c.db.Exec(ctx, `INSERT INTO usage (portal_id, db_bytes, disk_bytes, measured_at, tickets) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (portal_id) DO UPDATE SET db_bytes = excluded.db_bytes, disk_bytes = excluded.disk_bytes, measured_at = excluded.measured_at,
		tickets = COALESCE(excluded.tickets, usage.tickets)`,
		portalID, dbBytes, diskBytes, at.Unix(), tickets)
	return err
}

// AddTickets moves the kept ticket counts of portals by the deltas given
// (portal id → tickets created minus deleted since the last call), in one
// transaction. A portal never measured starts counting from its deltas.
func (c *Catalog) AddTickets(ctx context.Context, deltas map[int64]int64) error {
	if len(deltas) == 0 {
		return nil
	}
	return c.db.Tx(ctx, func(tx *sqlitedb.Tx) error {
		for id, d := range deltas {
			if _, err := tx.Exec(ctx, `INSERT INTO usage (portal_id, db_bytes, disk_bytes, measured_at, tickets) SELECT id, 0, 0, 0, MAX(?, 0) FROM portals WHERE id = ?
				ON CONFLICT (portal_id) DO UPDATE SET tickets = MAX(COALESCE(usage.tickets, 0) + ?, 0)`, d, id, d); err != nil {
				return err
			}
		}
		return nil
	})
}

// Usage is a portal's last measurement; ok is false when it was never measured.
func (c *Catalog) Usage(ctx context.Context, portalID int64) (u Usage, ok bool, err error) {
	err = c.db.QueryRow(ctx, "SELECT db_bytes, disk_bytes, level FROM usage WHERE portal_id = ? AND measured_at > 0", portalID).Scan(&u.DBBytes, &u.DiskBytes, &u.Level)
	if errors.Is(err, sql.ErrNoRows) {
		return u, false, nil
	}
	return u, err == nil, err
}

// SetUsageLevel records how full a portal is: 0, 80 or 100.
func (c *Catalog) SetUsageLevel(ctx context.Context, portalID int64, level int) error {
	_, err := c.db.Exec(ctx, "UPDATE usage SET level = ? WHERE portal_id = ?", level, portalID)
	return err
}

// FirstNotice records that notice key is sent to a portal's admins now,
// and reports whether it is the first time (so it is sent once).
func (c *Catalog) FirstNotice(ctx context.Context, portalID int64, key string) (bool, error) {
	res, err := c.db.Exec(ctx, "INSERT OR IGNORE INTO notices (portal_id, key, sent_at) VALUES (?, ?, ?)", portalID, key, c.now().Unix())
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// ForgetNotices lets notices whose keys start with prefix be sent again.
func (c *Catalog) ForgetNotices(ctx context.Context, portalID int64, prefix string) error {
	_, err := c.db.Exec(ctx, "DELETE FROM notices WHERE portal_id = ? AND substr(key, 1, ?) = ?", portalID, len(prefix), prefix)
	return err
}

// RecordBackup notes when a portal's latest verified snapshot was taken.
func (c *Catalog) RecordBackup(ctx context.Context, portalID int64, at time.Time) error {
	_, err := c.db.Exec(ctx, "UPDATE portals SET last_backup_at = MAX(COALESCE(last_backup_at, 0), ?) WHERE id = ?", at.Unix(), portalID)
	return err
}

// Run is a recorded run of a scheduled job.
type Run struct {
	Job      string
	AsOf     time.Time
	Started  time.Time
	Finished time.Time
	Outcome  string
	Counts   string
}

// StartRun records that job started, as of asOf; FinishRun completes it.
func (c *Catalog) StartRun(ctx context.Context, job string, asOf, started time.Time) (int64, error) {
	res, err := c.db.Exec(ctx, "INSERT INTO job_runs (job, as_of, started_at) VALUES (?, ?, ?)", job, asOf.Unix(), started.Unix())
	if err != nil {
		return 0, fmt.Errorf("catalog: job run: %w", err)
	}
	return res.LastInsertId()
}

// FinishRun records the end of a run started with StartRun.
func (c *Catalog) FinishRun(ctx context.Context, id int64, finished time.Time, outcome, counts string) error {
	_, err := c.db.Exec(ctx, "UPDATE job_runs SET finished_at = ?, outcome = ?, counts = ? WHERE id = ?", finished.Unix(), outcome, counts, id)
	return err
}

// RecentRuns lists the latest runs, newest first.
func (c *Catalog) RecentRuns(ctx context.Context, limit int) ([]Run, error) {
	rows, err := c.db.Query(ctx, "SELECT job, as_of, started_at, COALESCE(finished_at, 0), outcome, counts FROM job_runs ORDER BY id DESC LIMIT ?", limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		var r Run
		var asOf, st, fin int64
		if err := rows.Scan(&r.Job, &asOf, &st, &fin, &r.Outcome, &r.Counts); err != nil {
			return nil, err
		}
		r.AsOf, r.Started, r.Finished = time.Unix(asOf, 0).UTC(), time.Unix(st, 0).UTC(), time.Unix(fin, 0).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}
