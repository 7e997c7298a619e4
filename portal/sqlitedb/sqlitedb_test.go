package sqlitedb

import (
	"bufio"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

//go:embed testdata/migrations/*.sql
var testFS embed.FS

var testMigrations = MustLoadMigrations(testFS, "testdata/migrations")

// TestPlanStableKeepsIndexes checks that "= +?" (planStable) finds the same
// rows through the same indexes as "= ?": by primary key, by a secondary
// index, and by a NOCASE unique column.
func TestPlanStableKeepsIndexes(t *testing.T) {
	ctx := context.Background()
	d, _ := migratedDB(t)
	defer d.Close()
	if _, err := d.Writer().Exec(`INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES (1, 'Ann@Example.test', 'Ann', 'client', x'00', 0), (2, 'bob@example.test', 'Bob', 'client', x'00', 0)`); err != nil {
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
		rows, err := d.Writer().Query("EXPLAIN QUERY PLAN "+q, tc.arg)
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
	d, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := testMigrations.Apply(ctx, d); err != nil {
		t.Fatal(err)
	}
	if walSize() == 0 {
		t.Fatal("the migration left nothing in the WAL; the test proves nothing")
	}
	d.Close()
	if n := walSize(); n != 0 {
		t.Fatalf("-wal holds %d bytes after Close", n)
	}
	d, _ = Open(path, Options{})
	var n int
	if err := d.QueryRow(ctx, "SELECT COUNT(*) FROM users").Scan(&n); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if n := walSize(); n != 0 {
		t.Fatalf("-wal holds %d bytes after a read-only session", n)
	}
}

// TestExclusiveOpenKeepsOtherProcessesOut opens a database exclusively
// (unix-excl) and checks, with another process, that it is kept out while
// the file is open, that it reads everything written meanwhile once the
// file is closed, and that an exclusive open falls back to an ordinary one
// when the other process has the file open, both then seeing each other's
// writes.
func TestExclusiveOpenKeepsOtherProcessesOut(t *testing.T) {
	ctx := context.Background()
	d, path := migratedDB(t)
	d.Close()
	addUser := func(d *DB, email string) {
		t.Helper()
		if _, err := d.Exec(ctx, `INSERT INTO users (email, name, role, password_hash, created_at) VALUES (?, 'A', 'client', x'00', 0)`, email); err != nil {
			t.Fatal(err)
		}
	}

	d, err := Open(path, Options{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	if !d.Exclusive() {
		t.Fatal("nobody else has the file open, yet the open is not exclusive")
	}
	addUser(d, "a@x.test")
	if out := otherProcess(t, path, "count"); !strings.Contains(out, "SQLITE_BUSY") {
		t.Fatalf("another process read the file while it was open exclusively: %q", out)
	}
	d.Close()
	if out := otherProcess(t, path, "count"); out != "users 1" {
		t.Fatalf("after the exclusive session another process reads %q, want users 1", out)
	}

	// The other process holds the file open: the open falls back.
	h := exec.Command(os.Args[0], "-test.run=^TestDBHelperProcess$")
	h.Env = append(os.Environ(), "PORTALDESK_DB_HELPER="+path, "PORTALDESK_DB_HELPER_MODE=hold")
	stdin, _ := h.StdinPipe()
	stdout, _ := h.StdoutPipe()
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "users 1" {
		t.Fatalf("helper: %q", lines.Text())
	}
	d, err = Open(path, Options{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	if d.Exclusive() {
		t.Fatal("opened exclusively while another process has the file open")
	}
	addUser(d, "b@x.test")
	fmt.Fprintln(stdin, "again")
	// It writes one more and counts: ours is there too.
	if !lines.Scan() || lines.Text() != "users 3" {
		t.Fatalf("the other process, holding the file open, reads %q after our write and its own, want users 3", lines.Text())
	}
	var n int
	if err := d.QueryRow(ctx, "SELECT COUNT(*) FROM users").Scan(&n); err != nil || n != 3 {
		t.Fatalf("we read %d users (%v) after the other process's write, want 3", n, err)
	}
	stdin.Close()
	if err := h.Wait(); err != nil {
		t.Fatal(err)
	}
	d.Close()
}

// otherProcess runs TestDBHelperProcess in a new process and returns its output.
func otherProcess(t *testing.T, path, mode string) string {
	t.Helper()
	c := exec.Command(os.Args[0], "-test.run=^TestDBHelperProcess$")
	c.Env = append(os.Environ(), "PORTALDESK_DB_HELPER="+path, "PORTALDESK_DB_HELPER_MODE="+mode)
	out, err := c.Output()
	if err != nil {
		t.Fatalf("helper process: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// TestDBHelperProcess is the other process of the tests above: it reads
// the number of users without waiting for locks ("count"), or ("hold")
// reads it, keeps the file open, and at each line on its input writes a
// user and reads the number again.
func TestDBHelperProcess(t *testing.T) {
	path := os.Getenv("PORTALDESK_DB_HELPER")
	if path == "" {
		t.Skip("run by the tests above")
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		fmt.Println(err)
		os.Exit(0)
	}
	db.SetMaxOpenConns(1)
	count := func() {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM users").Scan(&n); err != nil {
			fmt.Println(err)
		} else {
			fmt.Println("users", n)
		}
	}
	count()
	if os.Getenv("PORTALDESK_DB_HELPER_MODE") == "hold" {
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			if _, err := db.Exec(`PRAGMA busy_timeout=10000; INSERT INTO users (email, name, role, password_hash, created_at) VALUES ('c@x.test', 'C', 'client', x'00', 0)`); err != nil {
				fmt.Println(err)
			}
			count()
		}
	}
	db.Close()
	os.Exit(0)
}

// TestExclusiveFileIsTheProcesssOnly: while the process has a file open
// exclusively, an ordinary open of it waits until it is closed; while it
// has it open the ordinary way, an exclusive open is not granted.
func TestExclusiveFileIsTheProcesssOnly(t *testing.T) {
	ctx := context.Background()
	d, path := migratedDB(t)
	if e, err := Open(path, Options{Exclusive: true}); err != nil || e.Exclusive() {
		t.Fatalf("exclusive open granted while the file is open: %v", err)
	} else {
		e.Close()
	}
	d.Close()

	x, err := Open(path, Options{Exclusive: true})
	if err != nil || !x.Exclusive() {
		t.Fatalf("exclusive open: %v", err)
	}
	opened := make(chan *DB)
	go func() {
		o, err := Open(path, Options{})
		if err != nil {
			t.Error(err)
		}
		opened <- o
	}()
	select {
	case o := <-opened:
		o.Close()
		t.Fatal("an ordinary open did not wait for the exclusive one to close")
	case <-time.After(100 * time.Millisecond):
	}
	x.Close()
	o := <-opened
	var n int
	if err := o.QueryRow(ctx, "SELECT COUNT(*) FROM statuses").Scan(&n); err != nil || n == 0 {
		t.Fatalf("after the wait: %d statuses, %v", n, err)
	}
	o.Close()
}

// migratedDB is a new database file with the test schema, open.
func migratedDB(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "p.db")
	d, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := testMigrations.Apply(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	return d, path
}

// Reads made on a transaction see its own writes and take no second
// connection; reads made on the DB meanwhile see only what is committed.
func TestReadsOnATransactionSeeIt(t *testing.T) {
	d, _ := migratedDB(t)
	defer d.Close()
	ctx := context.Background()
	var inside, outside int
	err := d.Tx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO settings (key, value) VALUES ('probe', 'x')"); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM settings WHERE key = 'probe'").Scan(&inside); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, "SELECT value FROM settings WHERE key = 'probe'")
		if err != nil {
			return err
		}
		for rows.Next() {
			inside++
		}
		rows.Close()
		if n := d.Readers().Stats().OpenConnections; n != 0 {
			t.Errorf("%d reader connections opened inside the transaction", n)
		}
		return d.QueryRow(ctx, "SELECT COUNT(*) FROM settings WHERE key = 'probe'").Scan(&outside)
	})
	if err != nil {
		t.Fatal(err)
	}
	if inside != 2 || outside != 0 {
		t.Errorf("inside the transaction saw %d of 2, outside %d of 0", inside, outside)
	}
}

// A transaction whose function fails keeps nothing, and its error comes back.
func TestFailedTransactionKeepsNothing(t *testing.T) {
	d, _ := migratedDB(t)
	defer d.Close()
	ctx := context.Background()
	boom := errors.New("boom")
	err := d.Tx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO settings (key, value) VALUES ('a', '1')"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Tx returned %v, want boom", err)
	}
	var n int
	if err := d.QueryRow(ctx, "SELECT COUNT(*) FROM settings").Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d settings after the rollback (%v), want 0", n, err)
	}
}

// A write past MaxPageCount fails as ErrQuotaExceeded and keeps nothing —
// also a transaction that needed far more pages than were left, after
// which the page count is still well below the cap.
func TestQuotaExceeded(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "q.db")
	d, err := Open(path, Options{MaxPageCount: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := testMigrations.Apply(ctx, d); err != nil {
		t.Fatal(err)
	}
	err = d.Tx(ctx, func(tx *Tx) error {
		for i := 0; i < 1000; i++ {
			if _, err := tx.Exec(ctx, "INSERT INTO settings (key, value) VALUES (?, ?)", fmt.Sprint(i), strings.Repeat("x", 1000)); err != nil {
				return err
			}
		}
		return nil
	})
	if !errors.Is(err, ErrQuotaExceeded) {
		t.Fatalf("got %v, want ErrQuotaExceeded", err)
	}
	var n int
	if err := d.QueryRow(ctx, "SELECT COUNT(*) FROM settings").Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d settings kept (%v), want 0", n, err)
	}
	// One statement of its own, too big at once.
	if _, err := d.Exec(ctx, "INSERT INTO settings (key, value) VALUES ('big', ?)", strings.Repeat("y", 300_000)); !errors.Is(err, ErrQuotaExceeded) {
		t.Fatalf("a single statement: got %v, want ErrQuotaExceeded", err)
	}
}
