package quota_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
	"portaldesk/provisioner"
	"portaldesk/quota"
)

// manyPortals is a data directory with PORTALDESK_BENCH_PORTALS portals
// (default 10,000), half of them on a paid tariff with money, kept in the
// temporary directory between runs.
func manyPortals(b *testing.B) (*pdtest.Env, int, []string) {
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("PORTALDESK_BENCH_PORTALS")); err == nil {
		n = v
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("portaldesk-quota-bench-v%d-%d", portal.SchemaVersion, n))
	_, err := os.Stat(filepath.Join(dir, "ready"))
	fresh := err != nil
	if fresh {
		os.RemoveAll(dir)
	}
	e := pdtest.New(b, provisioner.Config{DataDir: dir})
	toks := make([]string, 0, 64)
	ctx := context.Background()
	if fresh {
		hash, _ := portal.HashPassword(pdtest.Password)
		for i := 0; i < n; i++ {
			slug := fmt.Sprintf("q-%d", i)
			res, err := e.Svc.ProvisionHashed(ctx, provisioner.SignupInput{Company: "Q", Slug: slug, AdminName: "A", AdminEmail: "admin@" + slug + ".test"}, hash)
			if err != nil {
				b.Fatal(err)
			}
			res.Handle.Release()
			if i%2 == 0 {
				// A paid plan the admin chose: charged daily from today.
				e.Svc.Adjust(ctx, slug, 100000_00, "bench", "bench")
				tariff, ops := "start", 2
				if _, err := e.Svc.ChangeSubscription(ctx, res.Record.ID, "bench", &tariff, &ops); err != nil {
					b.Fatal(err)
				}
			}
		}
		os.WriteFile(filepath.Join(dir, "ready"), nil, 0o600)
	}
	for i := 0; i < 64; i++ {
		toks = append(toks, e.Login(b, fmt.Sprintf("q-%d", i), fmt.Sprintf("admin@q-%d.test", i)))
	}
	return e, n, toks
}

// BenchmarkUsageAndEnforce sweeps every portal while requests keep coming,
// and reports the requests' p99 during the sweep.
func BenchmarkUsageAndEnforce(b *testing.B) {
	e, n, toks := manyPortals(b)
	j := quota.New(e.Svc)
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		var lat []time.Duration
		var mu sync.Mutex
		var stop atomic.Bool
		var wg sync.WaitGroup
		for g := 0; g < 2; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for k := g; !stop.Load(); k++ {
					req := httptest.NewRequest("GET", fmt.Sprintf("/q-%d/api/v1/tickets", k%len(toks)), nil)
					req.Header.Set("Authorization", "Bearer "+toks[k%len(toks)])
					w := httptest.NewRecorder()
					t0 := time.Now()
					e.App.ServeHTTP(w, req)
					d := time.Since(t0)
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
					time.Sleep(2 * time.Millisecond)
				}
			}(g)
		}
		t0 := time.Now()
		if _, err := j.Run(ctx, "usage", time.Now()); err != nil {
			b.Fatal(err)
		}
		if _, err := j.Run(ctx, "enforce", time.Now()); err != nil {
			b.Fatal(err)
		}
		el := time.Since(t0)
		stop.Store(true)
		wg.Wait()
		sort.Slice(lat, func(a, c int) bool { return lat[a] < lat[c] })
		b.ReportMetric(el.Seconds(), "sweep-s")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "request-p99-ms")
		b.ReportMetric(float64(n), "portals")
	}
}

// BenchmarkBillingRun is the daily billing run over every portal.
func BenchmarkBillingRun(b *testing.B) {
	e, n, _ := manyPortals(b)
	j := quota.New(e.Svc)
	ctx := context.Background()
	day := time.Now().Add(24 * time.Hour)
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		c, err := j.Run(ctx, "billing", day.Add(time.Duration(i)*24*time.Hour))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(t0).Seconds(), "run-s")
		b.ReportMetric(float64(c["charges"]), "charges")
	}
	b.ReportMetric(float64(n), "portals")
}

// BenchmarkSnapshot is a full snapshot of a portal with 10,000 tickets,
// 100,000 messages and 1,000 attachments, then an incremental one of the
// same, unchanged portal.
func BenchmarkSnapshot(b *testing.B) {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("portaldesk-snap-bench-v%d", portal.SchemaVersion))
	_, err := os.Stat(filepath.Join(dir, "ready"))
	fresh := err != nil
	if fresh {
		os.RemoveAll(dir)
	}
	e := pdtest.New(b, provisioner.Config{DataDir: dir})
	ctx := context.Background()
	if fresh {
		e.Create(b, "big")
		e.SetPlan(b, "big", "enterprise", 20, 0, 0)
		e.Portal(b, "big", func(p *portal.Portal) {
			if err := portal.Seed(ctx, p, portal.SeedOptions{Tickets: 10000, Messages: 100000, Clients: 500, Operators: 10}, pdtest.Password); err != nil {
				b.Fatal(err)
			}
			admin, _ := p.UserByEmail(ctx, "admin@big.test")
			p.SaveSettings(ctx, portal.Settings{MaxFiles: 50, MaxFileMB: 1, NotifyNewTicket: "all"})
			data := make([]byte, 20<<10)
			for i := 0; i < 1000; i++ {
				data[0] = byte(i)
				data[1] = byte(i >> 8)
				if _, err := p.AddAttachment(ctx, admin, int64(1+i%9000), 0, fmt.Sprintf("file-%d.bin", i), bytesReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
		os.WriteFile(filepath.Join(dir, "ready"), nil, 0o600)
	}
	j := quota.New(e.Svc)
	now := time.Now()
	for i := 0; i < b.N; i++ {
		os.RemoveAll(quota.BackupDir(dir, "big"))
		t0 := time.Now()
		_, m, err := j.Backup(ctx, "big", now.Add(time.Duration(2*i)*time.Second))
		if err != nil {
			b.Fatal(err)
		}
		full := time.Since(t0)
		t1 := time.Now()
		_, m2, err := j.Backup(ctx, "big", now.Add(time.Duration(2*i+1)*time.Second))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(full.Seconds(), "full-s")
		b.ReportMetric(time.Since(t1).Seconds(), "incremental-s")
		b.ReportMetric(float64(m.Database.Size>>20), "db-MB")
		b.ReportMetric(float64(m2.Linked), "linked-files")
	}
}

// BenchmarkBackupAll snapshots 1,000 small portals (PORTALDESK_BENCH_PORTALS=1000).
func BenchmarkBackupAll(b *testing.B) {
	e, n, _ := manyPortals(b)
	j := quota.New(e.Svc)
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		dirs, err := j.BackupAll(context.Background(), time.Now().Add(time.Duration(i)*time.Second), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(t0).Seconds(), "run-s")
		b.ReportMetric(float64(len(dirs)), "snapshots")
	}
	b.ReportMetric(float64(n), "portals")
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// BenchmarkSLAJob is the minute's SLA check over every portal, each with a
// policy and a ticket whose first-response target has passed once.
func BenchmarkSLAJob(b *testing.B) {
	e, n, _ := manyPortals(b)
	ctx := context.Background()
	if _, err := os.Stat(filepath.Join(e.Dir, "sla-ready")); err != nil {
		for i := 0; i < n; i++ {
			slug := fmt.Sprintf("q-%d", i)
			h, err := e.Svc.Registry().Acquire(ctx, slug)
			if err != nil {
				b.Fatal(err)
			}
			admin, err := h.Portal.UserByEmail(ctx, "admin@"+slug+".test")
			if err == nil {
				if _, err = h.Portal.SaveSLAPolicy(ctx, admin, 0, portal.SLAPolicyChange{Name: ptr("All"), FirstResponseMinutes: ptr(1)}); err == nil {
					_, err = h.Portal.CreateTicket(ctx, admin, portal.NewTicket{Values: map[string]string{"subject": "Late", "description": "Never answered."}})
				}
			}
			if err == nil {
				err = e.Svc.WatchClocks(ctx, h.Portal.Plan().ID, true)
			}
			h.Release()
			if err != nil {
				b.Fatal(err)
			}
		}
		os.WriteFile(filepath.Join(e.Dir, "sla-ready"), nil, 0o600)
	}
	e.Svc.SetClock(func() time.Time { return time.Now().Add(time.Hour) })
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		portals, breaches, err := e.Svc.CheckClocks(ctx)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(t0).Seconds(), "sweep-s")
		b.ReportMetric(float64(portals), "portals")
		b.ReportMetric(float64(breaches), "breaches")
	}
}

func ptr[T any](v T) *T { return &v }
