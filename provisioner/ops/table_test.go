package ops_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/provisioner"
	"portaldesk/provisioner/catalog"
)

// signInOps makes an ops account and returns a browser signed in to the console.
func signInOps(t testing.TB, e *pdtest.Env) *http.Client {
	t.Helper()
	root := e.AddOpsUser(t, "root@vendor.test", "ops-password")
	c := pdtest.Browser()
	if r := e.OpsSignIn(t, c, root); r.Status != 303 {
		t.Fatalf("ops login: %d", r.Status)
	}
	return c
}

// TestOpsTableCostDoesNotGrowWithPortals: the console's home page reads
// the catalog the same number of times with 3 portals as with 30, and
// opens no portal.
func TestOpsTableCostDoesNotGrowWithPortals(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{})
	for i := 0; i < 3; i++ {
		e.Create(t, fmt.Sprintf("small-%d", i))
	}
	c := signInOps(t, e)
	queries := func(want int) int64 {
		before, opens := e.Svc.Catalog().Queries(), e.Svc.Registry().ColdOpens.Load()
		r := pdtest.Do(t, c, "GET", e.URL+"/ops?sort=balance", nil)
		if r.Status != 200 {
			t.Fatalf("/ops: %d", r.Status)
		}
		if n := e.Svc.Registry().ColdOpens.Load() - opens; n != 0 {
			t.Fatalf("the ops page opened %d portals", n)
		}
		for i := 0; i < want; i++ {
			if slug := fmt.Sprintf("/ops/portals/small-%d", i); !strings.Contains(r.Body, slug) {
				t.Fatalf("the table lacks %s", slug)
			}
		}
		return e.Svc.Catalog().Queries() - before
	}
	few := queries(3)
	for i := 3; i < 30; i++ {
		e.Create(t, fmt.Sprintf("small-%d", i))
	}
	if many := queries(30); many != few {
		t.Fatalf("the ops page ran %d catalog queries with 3 portals and %d with 30", few, many)
	}
}

// BenchmarkOpsTable is the console's table at 10,000 portals
// (PORTALDESK_BENCH_PORTALS), half of them paid, with usage and backups
// recorded: the catalog query alone (query-ms) and the whole page over
// HTTP, sorted by balance. The catalog entries are made once and kept in
// the temporary directory between runs; no portal directory is needed.
func BenchmarkOpsTable(b *testing.B) {
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("PORTALDESK_BENCH_PORTALS")); err == nil && v > 0 {
		n = v
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("portaldesk-ops-bench-%d", n))
	_, err := os.Stat(filepath.Join(dir, "ready"))
	fresh := err != nil
	if fresh {
		os.RemoveAll(dir)
	}
	e := pdtest.New(b, provisioner.Config{DataDir: dir})
	ctx := context.Background()
	cat := e.Svc.Catalog()
	if fresh {
		for i := 0; i < n; i++ {
			tariff := "free"
			if i%2 == 0 {
				tariff = "start"
			}
			rec, err := cat.CreatePortal(ctx, catalog.NewPortal{Slug: fmt.Sprintf("p-%05d", i), Company: fmt.Sprintf("Company %d", i), Tariff: tariff, AdminEmail: "a@x.test", Operators: 1 + i%5},
				func(*catalog.Portal) error { return nil })
			if err != nil {
				b.Fatal(err)
			}
			tickets := int64(i % 700)
			if err := cat.RecordUsage(ctx, rec.ID, int64(i)<<12, int64(i)<<14, time.Now(), &tickets); err != nil {
				b.Fatal(err)
			}
			if i%2 == 0 {
				if _, err := cat.Adjust(ctx, rec.ID, int64(i*100), "bench", "bench"); err != nil {
					b.Fatal(err)
				}
			}
			if i%3 == 0 {
				if err := cat.RecordBackup(ctx, rec.ID, time.Now().Add(-time.Duration(i)*time.Minute)); err != nil {
					b.Fatal(err)
				}
			}
		}
		os.WriteFile(filepath.Join(dir, "ready"), nil, 0o600)
	}
	c := signInOps(b, e)
	b.ResetTimer()
	var query time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		rows, total, err := cat.OpsTable(ctx, catalog.OpsQuery{Sort: "balance", Page: 1 + i%5})
		query += time.Since(t0)
		if err != nil || total != n || len(rows) != catalog.OpsPageSize {
			b.Fatalf("%d rows of %d: %v", len(rows), total, err)
		}
		if r := pdtest.Do(b, c, "GET", e.URL+"/ops?sort=balance&page="+strconv.Itoa(1+i%5), nil); r.Status != 200 {
			b.Fatalf("/ops: %d", r.Status)
		}
	}
	b.ReportMetric(float64(query.Microseconds())/1000/float64(b.N), "query-ms")
	b.ReportMetric(float64(n), "portals")
}
