package portal

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlanStableKeepsIndexes checks that "= +?" (planStable) finds the same
// rows through the same indexes as "= ?": by primary key, by a secondary
// index, and by a NOCASE unique column.
func TestPlanStableKeepsIndexes(t *testing.T) {
	ctx := context.Background()
	p, _ := migratedPortal(t)
	d := p.DB
	if _, err := d.W.Exec(`INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES (1, 'Ann@Example.test', 'Ann', 'client', x'00', 0), (2, 'bob@example.test', 'Bob', 'client', x'00', 0)`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		query string
		arg   any
		plan  string // what EXPLAIN QUERY PLAN must mention
		want  int64  // the id found
	}{
		{"SELECT id FROM users WHERE id = ?", 2, "INTEGER PRIMARY KEY", 2},
		{"SELECT id FROM users WHERE email = ?", "ann@example.TEST", "sqlite_autoindex_users_1", 1},
		{"SELECT COUNT(*) FROM attachments WHERE ticket_id = ?", 1, "attachments_ticket", 0},
	} {
		q := planStable(tc.query)
		if !strings.Contains(q, "= +?") {
			t.Fatalf("planStable(%q) = %q", tc.query, q)
		}
		var plan strings.Builder
		rows, err := d.W.Query("EXPLAIN QUERY PLAN "+q, tc.arg)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan.WriteString(detail + "; ")
		}
		rows.Close()
		if !strings.Contains(plan.String(), tc.plan) || strings.Contains(plan.String(), "SCAN") {
			t.Errorf("%s: plan %q, want a search using %s", q, plan.String(), tc.plan)
		}
		var got int64
		if err := d.QueryRow(ctx, tc.query, tc.arg).Scan(&got); err != nil || got != tc.want {
			t.Errorf("%s: got %d, %v; want %d", tc.query, got, err, tc.want)
		}
	}
}

// TestCloseEmptiesTheWAL checks that Close leaves an empty -wal behind,
// after writes and after a session that only read (for which Close skips
// its own checkpoint), so backups and quotas see everything in portal.db.
func TestCloseEmptiesTheWAL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "p.db")
	walSize := func() int64 {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	d, err := OpenDB(path, DBOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := MigratePortal(ctx, d.W); err != nil {
		t.Fatal(err)
	}
	if walSize() == 0 {
		t.Fatal("the migration left nothing in the WAL; the test proves nothing")
	}
	d.Close()
	if n := walSize(); n != 0 {
		t.Fatalf("-wal holds %d bytes after Close", n)
	}
	d, _ = OpenDB(path, DBOptions{})
	var n int
	if err := d.QueryRow(ctx, "SELECT COUNT(*) FROM users").Scan(&n); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if n := walSize(); n != 0 {
		t.Fatalf("-wal holds %d bytes after a read-only session", n)
	}
}
