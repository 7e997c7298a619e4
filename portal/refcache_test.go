package portal

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/securecookie"

	"portaldesk/portal/sqlitedb"
)

// migratedPortal is a portal on a fresh, migrated database in a temporary
// directory, with a clock the test can move.
func migratedPortal(t *testing.T) (*Portal, *time.Time) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlitedb.Open(filepath.Join(t.TempDir(), "p.db"), sqlitedb.Options{Watch: refTables})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	p := &Portal{core: &core{DB: db, Now: func() time.Time { return now }}, q: db}
	p.plan.Store(&Plan{})
	return p, &now
}

func firstStatus(t *testing.T, p *Portal) string {
	t.Helper()
	sts, err := p.Statuses(context.Background())
	if err != nil || len(sts) == 0 {
		t.Fatalf("statuses: %v %v", sts, err)
	}
	return sts[0].Name
}

// TestRefCacheSeesEveryWrite: whatever path a change takes to the writer —
// a statement of its own, a transaction, a raw statement on the pool — the next
// read of statuses, staff, people and tokens sees it; and what a caller
// does to a returned value never reaches the kept copy.
func TestRefCacheSeesEveryWrite(t *testing.T) {
	ctx := context.Background()
	p, now := migratedPortal(t)
	firstStatus(t, p) // kept now
	for i, write := range []func(string) error{
		func(n string) error {
			_, err := p.DB.Exec(ctx, "UPDATE statuses SET name = ? WHERE position = 1", n)
			return err
		},
		func(n string) error {
			_, err := p.DB.Writer().ExecContext(ctx, "UPDATE statuses SET name = ? WHERE position = 1", n)
			return err
		},
		func(n string) error {
			return p.Tx(ctx, func(tp *Portal) error {
				_, err := tp.q.Exec(ctx, "UPDATE statuses SET name = ? WHERE position = 1", n)
				return err
			})
		},
	} {
		name := fmt.Sprintf("Renamed %d", i)
		if err := write(name); err != nil {
			t.Fatal(err)
		}
		if got := firstStatus(t, p); got != name {
			t.Fatalf("write path %d: statuses still say %q", i, got)
		}
	}
	sts, _ := p.Statuses(ctx)
	sts[0].Name = "scribbled"
	if got := firstStatus(t, p); got == "scribbled" {
		t.Fatal("a caller's change reached the kept statuses")
	}

	op := &User{Email: "op@x.test", Name: "Olga", Role: RoleOperator}
	if _, err := p.DB.Writer().ExecContext(ctx, "INSERT INTO users (email, name, role, password_hash, active, created_at) VALUES (?, ?, ?, 'x', 1, 0)", op.Email, op.Name, op.Role); err != nil {
		t.Fatal(err)
	}
	staff, _ := p.Staff(ctx)
	if len(staff) == 1 {
		op.ID = staff[0].ID
	}
	if len(staff) != 1 || staff[0].Name != "Olga" {
		t.Fatalf("staff after an insert on the raw pool: %+v", staff)
	}
	staff[0].Name = "scribbled"
	tok, err := p.IssueToken(ctx, op.ID, TokenLogin, "t", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := p.UserByToken(ctx, tok); err != nil || u.Name != "Olga" {
		t.Fatalf("token: %+v %v", u, err)
	}
	if _, err := p.DB.Exec(ctx, "UPDATE users SET name = 'Olya' WHERE id = ?", op.ID); err != nil {
		t.Fatal(err)
	}
	if u, _ := p.UserByToken(ctx, tok); u.Name != "Olya" {
		t.Fatalf("token's user after a rename: %q", u.Name)
	}
	if u, _ := p.UserByID(ctx, op.ID); u.Name != "Olya" {
		t.Fatalf("user after a rename: %q", u.Name)
	}
	if staff, _ := p.Staff(ctx); staff[0].Name != "Olya" {
		t.Fatalf("staff after a rename: %q", staff[0].Name)
	}
	*now = now.Add(2 * time.Hour)
	if _, err := p.UserByToken(ctx, tok); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an expired token still signs in: %v", err)
	}
	*now = now.Add(-2 * time.Hour)
	if err := p.RevokeToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := p.UserByToken(ctx, tok); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a revoked token still signs in: %v", err)
	}
	if _, err := p.DB.Exec(ctx, "UPDATE users SET active = 0 WHERE id = ?", op.ID); err != nil {
		t.Fatal(err)
	}
	if staff, _ := p.Staff(ctx); len(staff) != 0 {
		t.Fatalf("a deactivated operator is still staff: %+v", staff)
	}
}

// TestRefCacheNeverKeepsARaceLoser: a read that overlaps a change — one
// still uncommitted when it ran, or one that began while it ran — is
// answered but never kept.
func TestRefCacheNeverKeepsARaceLoser(t *testing.T) {
	ctx := context.Background()
	p, _ := migratedPortal(t)
	orig := firstStatus(t, p)

	tx, err := p.DB.Writer().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE statuses SET name = 'Uncommitted' WHERE position = 1"); err != nil {
		t.Fatal(err)
	}
	if got := firstStatus(t, p); got != orig { // read from before the commit
		t.Fatalf("read during the transaction: %q", got)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := firstStatus(t, p); got != "Uncommitted" {
		t.Fatalf("a read made while the change was uncommitted was kept: %q", got)
	}

	var c cached[string]
	v, _ := c.get(p.DB, func() (string, error) {
		_, err := p.DB.Exec(ctx, "UPDATE statuses SET name = 'Later' WHERE position = 1")
		return "old", err // read before the change landed
	})
	if v != "old" || len(c.m) != 0 {
		t.Fatalf("a read overlapping a change was kept: %q kept=%v", v, c.m)
	}
}

// TestRefCacheConcurrentReadersSeeTheLastWrite runs readers against a
// writer renaming a status (and under -race in CI): once the writer is
// done, every read sees its last name.
func TestRefCacheConcurrentReadersSeeTheLastWrite(t *testing.T) {
	ctx := context.Background()
	p, _ := migratedPortal(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					if _, err := p.Statuses(ctx); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	for i := 0; i < 200; i++ {
		if _, err := p.DB.Exec(ctx, "UPDATE statuses SET name = ? WHERE position = 1", fmt.Sprintf("Name %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if got := firstStatus(t, p); got != "Name 199" {
		t.Fatalf("after the writer: %q", got)
	}
}

// TestSessionCookiesVerifyBeforeTheyAreKept: a session cookie of this
// portal gives its user, again from memory; one signed for another
// portal, or changed by a byte, gives nobody, the first time and after;
// once the session ends, its cookie gives nobody at once, kept or not.
func TestSessionCookiesVerifyBeforeTheyAreKept(t *testing.T) {
	ctx := context.Background()
	mine, _ := migratedPortal(t)
	mine.codecs = securecookie.CodecsFromPairs(SessionKey([]byte("secret"), "alpha", 1))
	other, _ := migratedPortal(t)
	other.codecs = securecookie.CodecsFromPairs(SessionKey([]byte("secret"), "beta", 2))
	ann := &User{Email: "ann@x.test", Name: "Ann", Role: RoleClient}
	if err := mine.InsertUser(ctx, ann, "x"); err != nil {
		t.Fatal(err)
	}
	if err := other.InsertUser(ctx, &User{Email: "ann@x.test", Name: "Ann", Role: RoleClient}, "x"); err != nil {
		t.Fatal(err)
	}
	good, err := mine.StartSession(ctx, ann, "10.0.0.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := other.StartSession(ctx, ann, "10.0.0.1", "test")
	tampered := good[:len(good)-2] + string('A'+(good[len(good)-2]-'A'+1)%26) + good[len(good)-1:]
	for i := 0; i < 2; i++ {
		if u, err := mine.SessionUser(ctx, good); err != nil || u.ID != ann.ID {
			t.Fatalf("round %d: own cookie gave %v, %v", i, u, err)
		}
		if u, err := mine.SessionUser(ctx, foreign); err == nil {
			t.Fatalf("round %d: another portal's cookie signed in %s", i, u.Email)
		}
		if u, err := mine.SessionUser(ctx, tampered); err == nil {
			t.Fatalf("round %d: a changed cookie signed in %s", i, u.Email)
		}
	}
	if len(mine.ref.cookies.m) != 1 {
		t.Fatalf("kept %d cookies, want only the one that verified", len(mine.ref.cookies.m))
	}
	if err := mine.EndSession(ctx, good); err != nil {
		t.Fatal(err)
	}
	if u, err := mine.SessionUser(ctx, good); err == nil {
		t.Fatalf("an ended session still signs in %s", u.Email)
	}
}
