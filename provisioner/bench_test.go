package provisioner_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"portaldesk/cmd/loadtest"
	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
	"portaldesk/provisioner"
)

// report adds the median and p99 of the samples to the benchmark's output.
func report(b *testing.B, samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	b.ReportMetric(float64(samples[len(samples)/2].Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(samples[len(samples)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkProvision is the storage work of a signup: catalog row, database
// from the template, files directory and admin, without password hashing.
func BenchmarkProvision(b *testing.B) {
	e := pdtest.New(b, provisioner.Config{OpenLimit: 64})
	hash, _ := portal.HashPassword("amber-lantern-57")
	ctx := context.Background()
	samples := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		res, err := e.Svc.ProvisionHashed(ctx, provisioner.SignupInput{Company: "Bench", Slug: fmt.Sprintf("bench-%d", i), AdminName: "A", AdminEmail: "a@b.test"}, hash)
		if err != nil {
			b.Fatal(err)
		}
		res.Handle.Release()
		samples = append(samples, time.Since(t0))
	}
	report(b, samples)
}

// BenchmarkSignupRequest is the whole signup over HTTP, with the real bcrypt cost.
func BenchmarkSignupRequest(b *testing.B) {
	portal.BcryptCost = bcrypt.DefaultCost
	defer func() { portal.BcryptCost = bcrypt.MinCost }()
	e := pdtest.New(b, provisioner.Config{OpenLimit: 64, SignupBurst: math.MaxInt32})
	samples := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		r := pdtest.Do(b, nil, "POST", e.URL+"/api/v1/portals", map[string]string{"company": "Bench", "slug": fmt.Sprintf("signup-%d", i),
			"admin_name": "A", "admin_email": "a@b.test", "admin_password": "amber-lantern-57"})
		if r.Status != 201 {
			b.Fatal(r.Status, r.Body)
		}
		samples = append(samples, time.Since(t0))
	}
	report(b, samples)
}

// BenchmarkResolveOpenPortal is the registry's lookup of an open portal.
func BenchmarkResolveOpenPortal(b *testing.B) {
	e := pdtest.New(b, provisioner.Config{})
	e.Create(b, "acme")
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h, err := e.Svc.Registry().Acquire(ctx, "acme")
		if err != nil {
			b.Fatal(err)
		}
		h.Release()
	}
}

// BenchmarkRouteToOpenPortal is the router's whole share of a request to an
// open portal: resolve, hand over, and a 404 from the portal's routes.
func BenchmarkRouteToOpenPortal(b *testing.B) {
	e := pdtest.New(b, provisioner.Config{})
	e.Create(b, "acme")
	req := httptest.NewRequest("GET", "/acme/api/v1/nothing-here", nil)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		e.App.Router.ServeHTTP(w, req)
	}
}

// BenchmarkColdOpen is the first request (a token lookup) to a portal the LRU had closed.
func BenchmarkColdOpen(b *testing.B) {
	e := pdtest.New(b, provisioner.Config{})
	const n = 64
	toks := make([]string, n)
	for i := range toks {
		slug := fmt.Sprintf("cold-%d", i)
		e.Create(b, slug)
		toks[i] = e.Login(b, slug, "admin@"+slug+".test")
	}
	samples := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % n
		slug := fmt.Sprintf("cold-%d", k)
		b.StopTimer()
		e.Svc.Registry().Invalidate(slug)
		e.Svc.Registry().WaitClosed()
		req := httptest.NewRequest("GET", "/"+slug+"/api/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+toks[k])
		w := httptest.NewRecorder()
		b.StartTimer()
		t0 := time.Now()
		e.App.ServeHTTP(w, req)
		samples = append(samples, time.Since(t0))
		if w.Code != 200 {
			b.Fatal(w.Code, w.Body.String())
		}
	}
	report(b, samples)
}

// BenchmarkZipf compares a Zipf-distributed load over many portals on disk
// with a small LRU against the same load with every portal open, for three
// kinds of load: "mix", the load command's mixed workload of clients and
// operators (loadtest.Mix: reads, new tickets, messages and replies, with
// the mail they send); "pages", what a client opens (their tickets and a
// ticket, HTML, half each), read-only; and "me", the lightest
// authenticated API call. Each portal has an admin, who works as the
// operator, and a client with three tickets. Sizes come from
// PORTALDESK_BENCH_PORTALS (default 5000) and PORTALDESK_BENCH_LRU (256);
// PORTALDESK_BENCH_DIR keeps the portals for later runs (the mix, which
// writes, runs on a copy). Both runs use one reader connection per portal,
// so that 5,000 open portals fit this machine's limit of 20,000 open files.
func BenchmarkZipf(b *testing.B) {
	total := envInt("PORTALDESK_BENCH_PORTALS", 5000)
	lru := envInt("PORTALDESK_BENCH_LRU", 256)
	dir, toks, clients := zipfPortals(b, total)
	ctx := context.Background()
	scratch, top := map[string]string{}, b
	run := func(b *testing.B, limit int, kind string) {
		dir := dir
		if kind == "mix" {
			// The mix writes: each of its runs starts from its own copy of
			// the portals, so that both runs, and later ones, see the same.
			if scratch[b.Name()] == "" {
				scratch[b.Name()] = copyData(top, dir)
			}
			dir = scratch[b.Name()]
		}
		// No start-up mail sweep: it would open every portal during the run.
		e := pdtest.New(b, provisioner.Config{DataDir: dir, OpenLimit: limit, NoSweep: true, Readers: 1})
		// Warm up: in the all-open run every portal is open before timing;
		// in the LRU run the cache holds its most recent 256.
		for k := 0; k < min(total, limit); k++ {
			h, err := e.Svc.Registry().Acquire(ctx, "z-"+strconv.Itoa(k))
			if err != nil {
				b.Fatal(err)
			}
			h.Release()
		}
		e.Svc.Registry().ColdOpens.Store(0)
		e.Svc.Registry().Passing.Store(0)
		var seed atomic.Int64
		cpu0 := cpuTime()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			rnd := rand.New(rand.NewSource(seed.Add(1)))
			z := rand.NewZipf(rnd, 1.1, 1, uint64(total-1))
			for pb.Next() {
				k := int(z.Uint64())
				base := "/z-" + strconv.Itoa(k)
				method, path, tok, body, want := "GET", base+"/api/v1/me", toks[k], "", http.StatusOK
				switch kind {
				case "pages":
					tok = clients[k]
					if rnd.Intn(2) == 0 {
						path = base + "/tickets"
					} else {
						path = base + "/tickets/" + strconv.Itoa(1+rnd.Intn(3))
					}
				case "mix":
					op := loadtest.Pick(rnd, loadtest.Mix)
					method, path = op.Request(base, int64(1+rnd.Intn(3)))
					body, want = op.Body, op.Want
					if !op.Staff {
						tok = clients[k]
					}
				}
				var req *http.Request
				if body != "" {
					req = httptest.NewRequest(method, path, strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
				} else {
					req = httptest.NewRequest(method, path, nil)
				}
				req.Header.Set("Authorization", "Bearer "+tok)
				w := httptest.NewRecorder()
				e.App.ServeHTTP(w, req)
				if w.Code != want {
					b.Fatal(path, w.Code, w.Body.String())
				}
			}
		})
		// The mail the load queued and the portals it left closing are
		// part of its work: finish them.
		e.Svc.Mailer().Stop()
		e.Svc.Registry().WaitClosed()
		b.StopTimer()
		b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		b.ReportMetric(float64(e.Svc.Registry().ColdOpens.Load())/float64(b.N)*100, "cold-%")
		b.ReportMetric(float64(e.Svc.Registry().Passing.Load())/float64(b.N)*100, "passing-%")
		e.Close()
	}
	for _, kind := range []string{"me", "pages", "mix"} {
		b.Run(kind+"/all-open", func(b *testing.B) { run(b, total+1, kind) })
		b.Run(fmt.Sprintf("%s/lru-%d", kind, lru), func(b *testing.B) { run(b, lru, kind) })
	}
}

// zipfPortals writes total portals, each with an admin, a client and three
// tickets, and returns the data directory with each portal's admin and
// client tokens. With PORTALDESK_BENCH_DIR set, the directory is kept and
// reused by later runs (the set-up takes a minute at 5,000 portals), so
// that a profile of one sub-benchmark shows that run alone.
func zipfPortals(b *testing.B, total int) (dir string, toks, clients []string) {
	ctx := context.Background()
	dir = os.Getenv("PORTALDESK_BENCH_DIR")
	saved := filepath.Join(dir, fmt.Sprintf("zipf-tokens-%d.json", total))
	if dir == "" {
		dir = b.TempDir()
	} else if f, err := os.ReadFile(saved); err == nil {
		var t [2][]string
		if err := json.Unmarshal(f, &t); err == nil {
			return dir, t[0], t[1]
		}
	}
	e := pdtest.New(b, provisioner.Config{DataDir: dir, OpenLimit: 64})
	defer e.Close()
	hash, _ := portal.HashPassword("amber-lantern-57")
	toks = make([]string, total)
	clients = make([]string, total)
	for i := 0; i < total; i++ {
		res, err := e.Svc.ProvisionHashed(ctx, provisioner.SignupInput{Company: "Z", Slug: fmt.Sprintf("z-%d", i), AdminName: "A", AdminEmail: "a@z.test"}, hash)
		if err != nil {
			b.Fatal(err)
		}
		p := res.Handle.Portal
		toks[i], err = p.IssueToken(ctx, res.Admin.ID, portal.TokenLogin, "bench", 365*24*time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		client := &portal.User{Email: "c@z.test", Name: "Carla", Role: portal.RoleClient}
		if err := p.InsertUser(ctx, client, hash); err != nil {
			b.Fatal(err)
		}
		if clients[i], err = p.IssueToken(ctx, client.ID, portal.TokenLogin, "bench", 365*24*time.Hour); err != nil {
			b.Fatal(err)
		}
		for t := 0; t < 3; t++ {
			if _, err := p.CreateTicket(ctx, client, portal.NewTicket{Values: map[string]string{"subject": fmt.Sprintf("Printer %d jams", t), "description": "Since Monday, every second page."}}); err != nil {
				b.Fatal(err)
			}
		}
		res.Handle.Release()
	}
	if os.Getenv("PORTALDESK_BENCH_DIR") != "" {
		f, _ := json.Marshal([2][]string{toks, clients})
		if err := os.WriteFile(saved, f, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return dir, toks, clients
}

// copyData copies a data directory's catalog, secret and portals (not its
// mail) into a new temporary directory.
func copyData(b *testing.B, dir string) string {
	to, err := os.MkdirTemp("", "portaldesk-zipf-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(to) })
	for _, name := range []string{"control.db", "control.db-wal", "secret", "template", "portals"} {
		from := filepath.Join(dir, name)
		fi, err := os.Stat(from)
		switch {
		case os.IsNotExist(err):
			continue
		case err != nil:
		case fi.IsDir():
			err = os.CopyFS(filepath.Join(to, name), os.DirFS(from))
		default:
			var data []byte
			if data, err = os.ReadFile(from); err == nil {
				err = os.WriteFile(filepath.Join(to, name), data, 0o600)
			}
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	return to
}

// cpuTime is the CPU time the process has used, user and system. On a
// shared machine, whose neighbours take some of its time, CPU per request
// is the fairer figure: on a machine of its own throughput is its inverse.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func envInt(k string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(k)); err == nil {
		return n
	}
	return def
}

// BenchmarkHotMe is an authenticated API request to an open portal.
func BenchmarkHotMe(b *testing.B) {
	e := pdtest.New(b, provisioner.Config{})
	e.Create(b, "acme")
	tok := e.Login(b, "acme", "admin@acme.test")
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("GET", "/acme/api/v1/me", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			w := httptest.NewRecorder()
			e.App.ServeHTTP(w, req)
			if w.Code != 200 {
				b.Fatal(w.Code)
			}
		}
	})
}
