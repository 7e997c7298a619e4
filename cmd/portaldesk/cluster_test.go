package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"portaldesk/cmd/server/pdtest"
)

// A cluster of real nodes: the binary, three times, on loopback, sharing
// one S3-compatible server (versitygw).

const (
	clusterSecret = "cluster-secret-for-the-tests-0123"
	serviceSecret = "service-secret-for-the-tests-0123456789"
)

type clusterNode struct {
	name, base, data string
	cmd              *exec.Cmd
	log              *syncBuffer
}

type syncBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	quiet bool // keep the log, do not echo it (benchmarks)
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.quiet {
		os.Stderr.Write(p)
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// cclient gives up on a node that does not answer (one stopped by a test).
var cclient = &http.Client{Timeout: 10 * time.Second}

func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startNode(t testing.TB, bin string, s3 *pdtest.S3Server, name string) *clusterNode {
	return startNodeWith(t, bin, s3, name, "http", http.DefaultClient, "files", "db")
}

// startNodeWith starts a node whose address has scheme, asking for its
// readiness with client, its files and replicas under the store's
// prefixes files and db, with extra flags.
func startNodeWith(t testing.TB, bin string, s3 *pdtest.S3Server, name, scheme string, client *http.Client, files, db string, extra ...string) *clusterNode {
	t.Helper()
	addr := freeAddr(t)
	n := &clusterNode{name: name, base: scheme + "://" + addr, data: filepath.Join(t.TempDir(), name), log: &syncBuffer{}}
	n.cmd = exec.Command(bin, append([]string{"serve", "--addr", addr, "--data", n.data, "--node", name, "--cluster", n.base,
		"--cluster-secret", clusterSecret, "--secret", serviceSecret, "--lease-ttl", "3s", "--signup-burst", "1000",
		"--storage", s3.URL(files), "--replicate", s3.URL(db)}, extra...)...)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = n.cmd.Process.Signal(syscall.SIGCONT)
		_ = n.cmd.Process.Kill()
		_, _ = n.cmd.Process.Wait()
	})
	for i := 0; i < 600; i++ {
		if r, err := client.Get(n.base + "/readyz"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return n
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("node %s did not start:\n%s", name, n.log.String())
	return nil
}

func cli(t testing.TB, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("portaldesk %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func getJSON(base, path, tok string) (int, map[string]any) {
	return send("GET", base, path, tok, nil)
}

// subjects lists every ticket subject of a portal, through the sync API.
func subjects(t *testing.T, base, slug, tok string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	cursor := ""
	for {
		q := "/" + slug + "/api/v1/tickets?updated_since=0"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		code, m := getJSON(base, q, tok)
		if code != 200 {
			t.Fatalf("listing %s's tickets: %d %v", slug, code, m)
		}
		items, _ := m["tickets"].([]any)
		for _, it := range items {
			out[it.(map[string]any)["subject"].(string)] = true
		}
		next, _ := m["next_cursor"].(string)
		if next == "" {
			return out
		}
		cursor = next
	}
}

type portalAt struct {
	slug, tok string
}

// nodeOf is the node serving slug, as `nodes list` would place it.
func placementOf(t *testing.T, bin, base, slug string) string {
	t.Helper()
	// Any node tells: its catalog (the primary's) has the placement.
	out := cli(t, bin, "portals", "where", slug, "--cluster", base, "--cluster-secret", clusterSecret)
	return strings.TrimSpace(out)
}

func TestThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three nodes")
	}
	bin := filepath.Join(t.TempDir(), "portaldesk")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	s3 := pdtest.StartS3(t)
	nodes := map[string]*clusterNode{}
	var order []*clusterNode
	for _, name := range []string{"n1", "n2", "n3"} {
		n := startNode(t, bin, s3, name)
		nodes[name] = n
		order = append(order, n)
	}
	n1 := nodes["n1"]
	list := cli(t, bin, "nodes", "list", "--cluster", n1.base, "--cluster-secret", clusterSecret)
	for _, name := range []string{"n1", "n2", "n3"} {
		if !strings.Contains(list, name+" ") {
			t.Fatalf("nodes list lacks %s:\n%s", name, list)
		}
	}
	if !strings.Contains(list, "primary") {
		t.Fatalf("no node holds the catalog:\n%s", list)
	}

	// Signups, all sent to n1, are placed on the node with the most room.
	var portals []portalAt
	for i := 0; i < 6; i++ {
		slug := fmt.Sprintf("shop%d", i)
		code, m := post(n1.base, "/api/v1/portals", "", map[string]string{"company": "Shop " + slug, "slug": slug, "admin_name": "Admin", "admin_email": "admin@" + slug + ".test", "admin_password": "correct horse battery"})
		if code != 201 {
			t.Fatalf("signup %s: %d %v", slug, code, m)
		}
		code, m = post(order[i%3].base, "/"+slug+"/api/v1/login", "", map[string]string{"email": "admin@" + slug + ".test", "password": "correct horse battery"})
		if code != 200 {
			t.Fatalf("login %s: %d %v", slug, code, m)
		}
		portals = append(portals, portalAt{slug, m["token"].(string)})
	}
	placed := map[string][]portalAt{}
	for _, p := range portals {
		node := placementOf(t, bin, n1.base, p.slug)
		placed[node] = append(placed[node], p)
	}
	for _, name := range []string{"n1", "n2", "n3"} {
		if len(placed[name]) != 2 {
			t.Fatalf("six signups are not spread two a node: %v", placed)
		}
	}

	// Any node reaches the right portal.
	for _, p := range portals {
		for _, n := range order {
			code, m := post(n.base, "/"+p.slug+"/api/v1/tickets", p.tok, map[string]any{"fields": map[string]any{"subject": p.slug + " via " + n.name, "description": "Hello."}})
			if code != 201 {
				t.Fatalf("%s via %s: %d %v", p.slug, n.name, code, m)
			}
		}
		got := subjects(t, order[2].base, p.slug, p.tok)
		if len(got) != 3 || !got[p.slug+" via n1"] || !got[p.slug+" via n3"] {
			t.Fatalf("%s's tickets: %v", p.slug, got)
		}
	}

	// A move under write load: no request fails, no acknowledged write is lost.
	moving := placed["n2"][0]
	var acked sync.Map
	var failed, count atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				subj := fmt.Sprintf("load %d-%d", w, i)
				code, m := post(order[(w+i)%3].base, "/"+moving.slug+"/api/v1/tickets", moving.tok, map[string]any{"fields": map[string]any{"subject": subj, "description": "Under load."}})
				if code == 201 {
					acked.Store(subj, true)
					count.Add(1)
				} else {
					failed.Add(1)
					t.Errorf("a write during the move failed: %d %v", code, m)
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	out := cli(t, bin, "portals", "move", moving.slug, "--to", "n3", "--cluster", n1.base, "--cluster-secret", clusterSecret)
	t.Logf("%s", strings.TrimSpace(out))
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d writes failed during the move", failed.Load())
	}
	if got := placementOf(t, bin, n1.base, moving.slug); got != "n3" {
		t.Fatalf("%s is on %s after the move", moving.slug, got)
	}
	got := subjects(t, n1.base, moving.slug, moving.tok)
	lost := 0
	acked.Range(func(k, _ any) bool {
		if !got[k.(string)] {
			lost++
		}
		return true
	})
	if lost > 0 || count.Load() == 0 {
		t.Fatalf("%d of %d acknowledged writes lost in the move", lost, count.Load())
	}
	t.Logf("move under load: %d writes acknowledged, none failed, none lost", count.Load())

	// Split lease: n2 stops (SIGSTOP) long enough for its leases to run
	// out and its portals to be placed elsewhere; when it wakes, it must
	// not write them.
	victim := placed["n2"][1]
	n2 := nodes["n2"]
	if err := n2.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _ := post(n1.base, "/"+victim.slug+"/api/v1/tickets", victim.tok, map[string]any{"fields": map[string]any{"subject": "after the stop", "description": "."}})
		if code == 201 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not served elsewhere after its node stopped:\n%s", victim.slug, nodes["n1"].log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := n2.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	var woke []string
	refused := 0
	for i := 0; i < 10; i++ {
		subj := fmt.Sprintf("to the woken node %d", i)
		code, _ := post(n2.base, "/"+victim.slug+"/api/v1/tickets", victim.tok, map[string]any{"fields": map[string]any{"subject": subj, "description": "."}})
		if code == 201 {
			woke = append(woke, subj)
		} else {
			refused++
		}
	}
	got = subjects(t, n1.base, victim.slug, victim.tok)
	for _, s := range append(woke, "after the stop") {
		if !got[s] {
			t.Fatalf("%q was acknowledged but is not in the portal its new node serves (two writers?)", s)
		}
	}
	// The woken node found its lease taken and closed the portal, or
	// refused the writes that reached it before it found out.
	if woke := n2.log.String(); refused == 0 && !strings.Contains(woke, "another node took a portal's lease") && !strings.Contains(woke, "no longer holds its lease") {
		t.Fatalf("the woken node neither refused a write nor gave the portal up:\n%s", n2.log.String())
	}
	t.Logf("split lease: the woken node refused %d writes and passed %d on; the new node has them all", refused, len(woke))

	// kill -9 under write load: the portal is served by the others, and
	// what is missing was acknowledged within the last sync interval.
	doomed := nodes["n3"]
	target := moving // on n3 since the move
	type ack struct {
		subj string
		at   time.Time
	}
	var acks []ack
	var mu sync.Mutex
	stop = make(chan struct{})
	var killedAt time.Time
	wg = sync.WaitGroup{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			subj := fmt.Sprintf("kill %d", i)
			code, _ := post(n1.base, "/"+target.slug+"/api/v1/tickets", target.tok, map[string]any{"fields": map[string]any{"subject": subj, "description": "."}})
			if code == 201 {
				mu.Lock()
				acks = append(acks, ack{subj, time.Now()})
				mu.Unlock()
			} else {
				time.Sleep(50 * time.Millisecond)
			}
		}
	}()
	time.Sleep(3 * time.Second)
	killedAt = time.Now()
	if err := doomed.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(40 * time.Second)
	for {
		mu.Lock()
		last := acks[len(acks)-1].at
		mu.Unlock()
		if last.After(killedAt.Add(time.Second)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not served again after its node was killed:\n%s", target.slug, nodes["n1"].log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	servedAgain := time.Now()
	close(stop)
	wg.Wait()
	got = subjects(t, n1.base, target.slug, target.tok)
	var missing []ack
	before := 0
	for _, a := range acks {
		if a.at.Before(killedAt) {
			before++
			if !got[a.subj] {
				missing = append(missing, a)
			}
		}
	}
	// The bound is the sync interval (1 s) plus the time a sync's upload
	// takes, which on a busy two-core machine running the other tests
	// beside these three nodes can be another second or more.
	for _, a := range missing {
		if killedAt.Sub(a.at) > 3*time.Second {
			t.Fatalf("%q, acknowledged %s before the kill, was lost: more than the sync interval and an upload", a.subj, killedAt.Sub(a.at))
		}
	}
	window := time.Duration(0)
	if len(missing) > 0 {
		window = killedAt.Sub(missing[0].at)
	}
	t.Logf("kill -9: %d writes acknowledged before the kill, %d missing after failover (all within the last %s); served again %s after the kill",
		before, len(missing), window.Round(time.Millisecond), servedAgain.Sub(killedAt).Round(100*time.Millisecond))

	// Drain n1 onto n2; forget the dead n3.
	cli(t, bin, "nodes", "drain", "n1", "--cluster", n2.base, "--cluster-secret", clusterSecret)
	deadline = time.Now().Add(60 * time.Second)
	for {
		var ns []map[string]any
		out := cli(t, bin, "nodes", "list", "--cluster", n2.base, "--cluster-secret", clusterSecret)
		if strings.Contains(out, "n1    draining") || strings.Contains(out, "n1  ") {
			_ = ns
		}
		if onN1 := countPlaced(t, bin, n2.base, portals, "n1"); onN1 == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("n1 still serves portals after draining:\n%s\n%s", out, n1.log.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, p := range portals {
		code, m := post(n1.base, "/"+p.slug+"/api/v1/tickets", p.tok, map[string]any{"fields": map[string]any{"subject": "after the drain", "description": "."}})
		if code != 201 {
			t.Fatalf("%s after the drain: %d %v", p.slug, code, m)
		}
	}
	out = cli(t, bin, "nodes", "forget", "n3", "--cluster", n2.base, "--cluster-secret", clusterSecret)
	if !strings.Contains(out, `"forgotten":true`) {
		t.Fatalf("forget: %s", out)
	}
	if out := cli(t, bin, "nodes", "list", "--cluster", n2.base, "--cluster-secret", clusterSecret); strings.Contains(out, "n3 ") {
		t.Fatalf("n3 is still listed:\n%s", out)
	}
	// The primary dies: the last node restores the catalog from its
	// replica and takes it over; what it said is still there.
	if err := n1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(40 * time.Second)
	for {
		out, err := exec.Command(bin, "nodes", "list", "--cluster", n2.base, "--cluster-secret", clusterSecret).CombinedOutput()
		if err == nil && strings.Contains(string(out), "primary") && strings.Contains(string(out), "n2 ") && !strings.Contains(strings.SplitN(string(out), "n2 ", 2)[0], "primary") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no node took the catalog over after the primary died: %v\n%s\n%s", err, out, n2.log.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	code, m := post(n2.base, "/api/v1/portals", "", map[string]string{"company": "After", "slug": "after", "admin_name": "Admin", "admin_email": "admin@after.test", "admin_password": "correct horse battery"})
	if code != 201 {
		t.Fatalf("a signup after the catalog moved: %d %v", code, m)
	}
	for _, p := range portals {
		// A 503 (with Retry-After) is what a client meets while the
		// catalog changes hands; it tries again.
		var code int
		var m map[string]any
		for try := 0; try < 30; try++ {
			if code, m = post(n2.base, "/"+p.slug+"/api/v1/tickets", p.tok, map[string]any{"fields": map[string]any{"subject": "after the primary died", "description": "."}}); code != http.StatusServiceUnavailable {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if code != 201 {
			t.Fatalf("%s after the primary died: %d %v", p.slug, code, m)
		}
	}

	// A call without the cluster's secret is refused.
	if code, _ := getJSON(n2.base, "/_cluster/nodes", ""); code != http.StatusUnauthorized {
		t.Fatalf("the internal API answered an unsigned call: %d", code)
	}
}

func countPlaced(t *testing.T, bin, base string, portals []portalAt, node string) int {
	n := 0
	for _, p := range portals {
		if placementOf(t, bin, base, p.slug) == node {
			n++
		}
	}
	return n
}

// BenchmarkProxiedRequest measures what passing a request on to the
// portal's node adds: one small API read sent to the node serving the
// portal, then to another node, which proxies it.
//
//	go test -run XXX -bench ProxiedRequest -benchtime 3000x ./cmd/portaldesk/
func BenchmarkProxiedRequest(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "portaldesk")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	s3 := pdtest.StartS3(b)
	n1, n2 := startNode(b, bin, s3, "n1"), startNode(b, bin, s3, "n2")
	n1.log.quiet, n2.log.quiet = true, true
	code, m := post(n1.base, "/api/v1/portals", "", map[string]string{"company": "Bench", "slug": "bench", "admin_name": "Admin", "admin_email": "admin@bench.test", "admin_password": "correct horse battery"})
	if code != 201 {
		b.Fatalf("signup: %d %v", code, m)
	}
	code, m = post(n1.base, "/bench/api/v1/login", "", map[string]string{"email": "admin@bench.test", "password": "correct horse battery"})
	if code != 200 {
		b.Fatalf("login: %d %v", code, m)
	}
	tok := m["token"].(string)
	home := n1
	if cli(b, bin, "portals", "where", "bench", "--cluster", n1.base, "--cluster-secret", clusterSecret) != "n1\n" {
		home = n2
	}
	other := map[*clusterNode]*clusterNode{n1: n2, n2: n1}[home]
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	for _, c := range []struct {
		name string
		node *clusterNode
	}{{"direct", home}, {"proxied", other}} {
		b.Run(c.name, func(b *testing.B) {
			var ds []time.Duration
			for i := 0; i < b.N; i++ {
				req, _ := http.NewRequest("GET", c.node.base+"/bench/api/v1/me", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				start := time.Now()
				res, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					b.Fatalf("%s: %d", c.name, res.StatusCode)
				}
				ds = append(ds, time.Since(start))
			}
			sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
			b.ReportMetric(float64(ds[len(ds)/2].Microseconds()), "median-µs")
		})
	}
}

// TestNodesOverTLS: nodes whose addresses are https serve them with their
// certificates (--tls-cert, --tls-key) and trust each other's authority
// (--cluster-ca); a request for a portal on the other node is passed on
// over TLS; an http address off loopback is refused at its flag.
func TestNodesOverTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs two nodes")
	}
	bin := filepath.Join(t.TempDir(), "portaldesk")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	s3 := pdtest.StartS3(t)
	dir := t.TempDir()
	caPEM, certPEM, keyPEM := testCertificates(t)
	ca, cert, key := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "node.pem"), filepath.Join(dir, "node.key")
	for p, b := range map[string][]byte{ca: caPEM, cert: certPEM, key: keyPEM} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	start := func(name string) *clusterNode {
		return startNodeWith(t, bin, s3, name, "https", client, "tlsfiles", "tlsdb", "--tls-cert", cert, "--tls-key", key, "--cluster-ca", ca)
	}
	n1 := start("n1")
	n2 := start("n2")
	signup, _ := json.Marshal(map[string]string{"company": "Secure", "slug": "secure", "admin_name": "Admin", "admin_email": "admin@secure.test", "admin_password": "correct horse battery"})
	r, err := client.Post(n1.base+"/api/v1/portals", "application/json", bytes.NewReader(signup))
	if err != nil || r.StatusCode != 201 {
		t.Fatalf("signup: %v %v", err, r)
	}
	r.Body.Close()
	out := cli(t, bin, "portals", "where", "secure", "--cluster", n1.base, "--cluster-secret", clusterSecret, "--cluster-ca", ca)
	home := strings.TrimSpace(out)
	other := map[string]*clusterNode{"n1": n2, "n2": n1}[home]
	if other == nil {
		t.Fatalf("placed on %q", out)
	}
	r, err = client.Get(other.base + "/secure/login")
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("the portal through the other node, over TLS: %v %v", err, r)
	}
	r.Body.Close()
	// An http address that is not loopback is refused.
	bad := exec.Command(bin, "serve", "--addr", freeAddr(t), "--data", filepath.Join(dir, "bad"), "--node", "n9", "--cluster", "http://10.0.0.9:8080",
		"--cluster-secret", clusterSecret, "--secret", serviceSecret, "--storage", s3.URL("tlsfiles"), "--replicate", s3.URL("tlsdb"))
	if b, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(b), "--cluster") || !strings.Contains(string(b), "https") {
		t.Fatalf("an http address off loopback: %v\n%s", err, b)
	}
}

// testCertificates makes an authority and a certificate for 127.0.0.1
// signed by it.
func testCertificates(t *testing.T) (caPEM, certPEM, keyPEM []byte) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "nodes test CA"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTpl, caTpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "node"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}
