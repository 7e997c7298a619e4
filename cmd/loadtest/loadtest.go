// Package loadtest drives a whole Portaldesk service over real HTTP on
// loopback: many portals with realistic data, a mixed workload of clients and
// operators with portal popularity on a Zipf curve, and the three
// comparisons with a classic PHP helpdesk. It reports medians, p99s,
// throughput, errors, the service's memory and open portals, and verifies
// that everything the load created is there afterwards.
package loadtest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"portaldesk/cmd/server"
	"portaldesk/portal"
	"portaldesk/provisioner"
)

// Options are the command's flags.
type Options struct {
	Portals     int
	Duration    time.Duration
	Concurrency int
	// Target is a running service, or several nodes of one (a comma-
	// separated list, requests spread over them in turn); empty starts one
	// in this process.
	Target  string
	DataDir string // for the in-process service (a temporary directory when empty); with Target, its data directories, comma-separated
	// Nodes > 1 runs that many nodes of a cluster in this process (with
	// Replicate and Storage), the portals placed on them in turn and the
	// requests spread over them.
	Nodes     int
	Tickets   int // per portal
	OpenLimit int
	Out       io.Writer
	// CompareTickets and CompareDuration size the comparison with the
	// classic helpdesk (defaults 2,500 open tickets, 5 s per operation).
	CompareTickets  int
	CompareDuration time.Duration
	// Profile, when set, receives a CPU profile of ProfilePhase: "mix" (the
	// default) or "ticket-page" (the ticket page alone).
	Profile      io.Writer
	ProfilePhase string
	// Replicate and Storage are the in-process service's --replicate and
	// --storage (what replication and object storage cost under load).
	Replicate, Storage string
}

// OpResult is one operation's numbers.
type OpResult struct {
	Count    int     `json:"count"`
	Errors   int     `json:"errors"`
	MedianMS float64 `json:"median_ms"`
	P99MS    float64 `json:"p99_ms"`
	PerSec   float64 `json:"per_second"`
}

// Result is what the command prints and writes as JSON.
type Result struct {
	Machine           string  `json:"machine"`
	Portals           int     `json:"portals"`
	Concurrency       int     `json:"concurrency"`
	DurationS         float64 `json:"duration_s"`
	RequestsPerSecond float64 `json:"requests_per_second"`
	// MedianMS and P99MS are over every request of the mix.
	MedianMS   float64              `json:"median_ms"`
	P99MS      float64              `json:"p99_ms"`
	Requests   int                  `json:"requests"`
	Errors     int                  `json:"errors"`
	Operations map[string]*OpResult `json:"operations"`
	RSSBytes   int64                `json:"service_rss_bytes"`
	// ColdOpenPct is, per phase ("mix", "ticket page alone"), the share of
	// requests that had to open a portal the registry had closed.
	ColdOpenPct map[string]float64 `json:"cold_open_pct"`
	OpenPortals int                `json:"open_portals"`
	Verified    string             `json:"verified"`
	// TicketPage is the ticket page alone: every virtual user opening
	// tickets on Zipf-chosen portals, after the mix.
	TicketPage *OpResult `json:"ticket_page_alone"`
	// HelpArticle is a public help article read by someone not signed in,
	// on Zipf-chosen portals, after the ticket page.
	HelpArticle *OpResult            `json:"help_article_alone"`
	Comparison  map[string]*OpResult `json:"comparison"`
	// CompareStaff is how many staff each new ticket of the comparison
	// notifies; CompareMessages how long the conversations of the
	// comparison's ticket pages are.
	CompareStaff    int `json:"comparison_staff_notified"`
	CompareMessages int `json:"comparison_messages_per_ticket"`
}

type user struct {
	tok string
	id  int64
}

type site struct {
	slug    string
	admin   user
	op      user
	clients []user
	tickets []int64 // created during setup, owned by clients[i%len]
	article string  // a published help article's address
	mu      sync.Mutex
	created []int64 // tickets created by the load
	msgs    map[int64]int
}

type runner struct {
	o        Options
	svc      *provisioner.Service   // the in-process service: setup without a password hash per person
	svcs     []*provisioner.Service // with Nodes: every node's
	hash     string
	base     string   // the first node's address
	bases    []string // every node's: requests go to each in turn
	next     atomic.Int64
	dataDirs []string // where the service writes mail: invited clients' passwords arrive there
	client   *http.Client
}

// node is the address the next request goes to.
func (r *runner) node() string {
	if len(r.bases) < 2 {
		return r.base
	}
	return r.bases[int(r.next.Add(1))%len(r.bases)]
}

func (r *runner) do(method, path, tok string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, r.node()+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := r.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

func (r *runner) json(method, path, tok string, body any, want int) (map[string]any, error) {
	code, b, err := r.do(method, path, tok, body)
	if err != nil {
		return nil, err
	}
	if code != want {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, code, strings.TrimSpace(string(b)))
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m, nil
}

// Run provisions, loads and verifies.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.CompareTickets <= 0 {
		o.CompareTickets = 2500
	}
	if o.CompareDuration <= 0 {
		o.CompareDuration = 5 * time.Second
	}
	if o.ProfilePhase != "" && o.ProfilePhase != "mix" && o.ProfilePhase != "ticket-page" {
		return nil, fmt.Errorf("--profile-phase %q: want mix or ticket-page", o.ProfilePhase)
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.Tickets <= 0 {
		o.Tickets = 10
	}
	r := &runner{o: o, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.Concurrency * 2, MaxIdleConns: o.Concurrency * 4}, Timeout: 30 * time.Second}}
	if o.Target != "" {
		if o.DataDir == "" {
			return nil, errors.New("--target needs --data: the target's data directory, where its mail (with the invited clients' passwords) is written")
		}
		for _, t := range strings.Split(o.Target, ",") {
			r.bases = append(r.bases, strings.TrimRight(strings.TrimSpace(t), "/"))
		}
		r.base, r.dataDirs = r.bases[0], strings.Split(o.DataDir, ",")
	} else if o.Nodes > 1 {
		stop, bases, dirs, svcs, err := startCluster(ctx, o)
		if err != nil {
			return nil, err
		}
		defer stop()
		r.bases, r.base, r.dataDirs, r.svcs, r.svc = bases, bases[0], dirs, svcs, svcs[0]
		if r.hash, err = portal.HashPassword(password); err != nil {
			return nil, err
		}
	} else {
		stop, base, dir, svc, err := startService(ctx, o)
		if err != nil {
			return nil, err
		}
		defer stop()
		r.base, r.dataDirs, r.svc = base, []string{dir}, svc
		if r.hash, err = portal.HashPassword(password); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(o.Out, "service at %s; provisioning %d portals…\n", strings.Join(append([]string{r.base}, r.bases[min(1, len(r.bases)):]...), ", "), o.Portals)
	t0 := time.Now()
	sites, err := r.provision(ctx)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Out, "provisioned %d portals in %s\n", len(sites), time.Since(t0).Round(time.Millisecond))
	res := &Result{Machine: machine(), Portals: len(sites), Concurrency: o.Concurrency, Operations: map[string]*OpResult{}}
	profile := func(phase string, fn func()) {
		if o.Profile == nil || phase != cmp.Or(o.ProfilePhase, "mix") {
			fn()
			return
		}
		if err := pprof.StartCPUProfile(o.Profile); err == nil {
			defer pprof.StopCPUProfile()
		}
		fn()
	}
	res.ColdOpenPct = map[string]float64{}
	cold := func(phase string, requests func() int, fn func()) {
		before := r.coldOpens()
		fn()
		if n := requests(); n > 0 {
			res.ColdOpenPct[phase] = 100 * float64(r.coldOpens()-before) / float64(n)
		}
	}
	var loadErr error
	cold("mix", func() int { return res.Requests }, func() { profile("mix", func() { loadErr = r.load(ctx, sites, res) }) })
	if loadErr != nil {
		return nil, loadErr
	}
	cold("ticket page alone", func() int { return res.TicketPage.Count }, func() {
		profile("ticket-page", func() { res.TicketPage = r.ticketPageAlone(sites) })
	})
	cold("help article alone", func() int { return res.HelpArticle.Count }, func() { res.HelpArticle = r.helpArticleAlone(sites) })
	res.RSSBytes, res.OpenPortals = r.serviceStats()
	res.Verified = r.verify(sites)
	cmp, err := r.compare(ctx, res)
	if err != nil {
		return nil, err
	}
	res.Comparison = cmp
	// Errors counts every phase: the mix, the ticket page alone, the comparison.
	res.Errors += res.TicketPage.Errors + res.HelpArticle.Errors
	for _, o := range cmp {
		res.Errors += o.Errors
	}
	return res, nil
}

// startService runs a service in this process, on a loopback listener.
func startService(ctx context.Context, o Options) (func(), string, string, *provisioner.Service, error) {
	dir := o.DataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "portaldesk-load-")
		if err != nil {
			return nil, "", "", nil, err
		}
		dir = d
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", "", nil, err
	}
	base := "http://" + ln.Addr().String()
	// Every signup of the load comes from this one address; in life they
	// come from many, so the per-address limit is lifted.
	srv, err := server.New(ctx, provisioner.Config{DataDir: dir, PublicURL: base, OpenLimit: o.OpenLimit, NoSweep: true, SignupBurst: math.MaxInt32,
		Replicate: o.Replicate, Storage: o.Storage})
	if err != nil {
		return nil, "", "", nil, err
	}
	go srv.Serve(ln)
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		if o.DataDir == "" {
			os.RemoveAll(dir)
		}
	}, base, dir, srv.Svc, nil
}

// startCluster runs o.Nodes nodes of a cluster in this process, each on
// its own loopback listener and data directory, sharing o.Storage and
// o.Replicate.
func startCluster(ctx context.Context, o Options) (func(), []string, []string, []*provisioner.Service, error) {
	if o.Replicate == "" || o.Storage == "" {
		return nil, nil, nil, nil, errors.New("--nodes needs --replicate and --storage: the nodes share object storage")
	}
	root := o.DataDir
	if root == "" {
		d, err := os.MkdirTemp("", "portaldesk-load-")
		if err != nil {
			return nil, nil, nil, nil, err
		}
		root = d
	}
	var stops []func()
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
		if o.DataDir == "" {
			os.RemoveAll(root)
		}
	}
	var bases, dirs []string
	var svcs []*provisioner.Service
	for i := 1; i <= o.Nodes; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			stop()
			return nil, nil, nil, nil, err
		}
		base := "http://" + ln.Addr().String()
		dir := filepath.Join(root, fmt.Sprintf("node%d", i))
		srv, err := server.New(ctx, provisioner.Config{DataDir: dir, PublicURL: base, OpenLimit: o.OpenLimit, NoSweep: true, SignupBurst: math.MaxInt32,
			Replicate: o.Replicate, Storage: o.Storage, Secret: "loadtest-service-secret-0123456789abcdef",
			Cluster: &provisioner.ClusterConfig{Node: fmt.Sprintf("node%d", i), URL: base, Secret: "loadtest-cluster-secret-0123456789"}})
		if err != nil {
			ln.Close()
			stop()
			return nil, nil, nil, nil, err
		}
		go srv.Serve(ln)
		stops = append(stops, func() {
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			srv.Shutdown(sctx)
		})
		bases, dirs, svcs = append(bases, base), append(dirs, dir), append(svcs, srv.Svc)
	}
	return stop, bases, dirs, svcs, nil
}

func machine() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s, %d cores; the load generator shares the machine", host, runtime.NumCPU())
}

// provision signs up the portals over HTTP, each with an operator, three
// clients, tickets with a custom field, messages and a small attachment.
func (r *runner) provision(ctx context.Context) ([]*site, error) {
	sites := make([]*site, r.o.Portals)
	jobs := make(chan int)
	errc := make(chan error, r.o.Concurrency)
	var wg sync.WaitGroup
	var done atomic.Int64
	for w := 0; w < r.o.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				s, err := r.provisionOne(i)
				if err != nil {
					select {
					case errc <- err:
					default:
					}
					continue
				}
				sites[i] = s
				if n := done.Add(1); n%100 == 0 {
					fmt.Fprintf(r.o.Out, "\r  %d/%d portals", n, r.o.Portals)
				}
			}
		}()
	}
	for i := 0; i < r.o.Portals; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	fmt.Fprintln(r.o.Out)
	select {
	case err := <-errc:
		return nil, err
	default:
	}
	return sites, nil
}

const password = "load-password"

// provisionFast is the in-process setup: the same portals and people, made
// through the service's own calls with one password hash for everyone.
func (r *runner) provisionFast(s *site, i int) error {
	ctx := context.Background()
	svc := r.svc
	if len(r.svcs) > 0 && i >= 0 {
		svc = r.svcs[i%len(r.svcs)] // placed on each node in turn
	}
	res, err := svc.ProvisionHashed(ctx, provisioner.SignupInput{Company: fmt.Sprintf("Load %d", i), Slug: s.slug, AdminName: "Admin", AdminEmail: "admin@" + s.slug + ".test", Confirmed: true}, r.hash)
	if err != nil {
		return err
	}
	defer res.Handle.Release()
	p := res.Handle.Portal
	tok, err := p.IssueToken(ctx, res.Admin.ID, portal.TokenLogin, "load", time.Hour)
	if err != nil {
		return err
	}
	s.admin = user{tok: tok, id: res.Admin.ID}
	s.op = s.admin
	// People who use the product daily have long dismissed the first-login tour.
	if err := p.DismissTour(ctx, res.Admin); err != nil {
		return err
	}
	for c := 0; c < 3; c++ {
		u := &portal.User{Email: fmt.Sprintf("client%d@%s.test", c, s.slug), Name: fmt.Sprint("Client ", c), Role: portal.RoleClient, TourDone: true}
		if err := p.InsertUser(ctx, u, r.hash); err != nil {
			return err
		}
		tok, err := p.IssueToken(ctx, u.ID, portal.TokenLogin, "load", time.Hour)
		if err != nil {
			return err
		}
		s.clients = append(s.clients, user{tok: tok, id: u.ID})
	}
	return nil
}

func (r *runner) provisionOne(i int) (*site, error) {
	s := &site{slug: fmt.Sprintf("load-%d-%s", i, randomSuffix()), msgs: map[int64]int{}}
	if i < 0 {
		s.slug = "compare-" + randomSuffix()
	}
	if r.svc != nil {
		if err := r.provisionFast(s, i); err != nil {
			return nil, err
		}
		return s, r.addTickets(s)
	}
	if _, err := r.json("POST", "/api/v1/portals", "", map[string]string{"company": fmt.Sprintf("Load %d", i), "slug": s.slug, "admin_name": "Admin",
		"admin_email": "admin@" + s.slug + ".test", "admin_password": password}, 201); err != nil {
		return nil, err
	}
	login := func(email, pw string) (user, error) {
		m, err := r.json("POST", "/"+s.slug+"/api/v1/login", "", map[string]string{"email": email, "password": pw}, 200)
		if err != nil {
			return user{}, err
		}
		u := m["user"].(map[string]any)
		return user{tok: m["token"].(string), id: int64(u["id"].(float64))}, nil
	}
	var err error
	if s.admin, err = login("admin@"+s.slug+".test", password); err != nil {
		return nil, err
	}
	s.op = s.admin // the free tariff has one operator: the admin works the tickets
	// People who use the product daily have long dismissed the first-login tour.
	if c, _, err := r.do("POST", "/"+s.slug+"/tour", s.admin.tok, nil); err != nil || c >= 400 {
		return nil, fmt.Errorf("dismissing the tour: %d %v", c, err)
	}
	for c := 0; c < 3; c++ {
		email := fmt.Sprintf("client%d@%s.test", c, s.slug)
		if _, err := r.json("POST", "/"+s.slug+"/api/v1/users", s.admin.tok, map[string]string{"name": fmt.Sprint("Client ", c), "email": email, "role": "client"}, 201); err != nil {
			return nil, err
		}
	}
	// Like a real client, each signs in with the password from the invitation mail.
	for c := 0; c < 3; c++ {
		email := fmt.Sprintf("client%d@%s.test", c, s.slug)
		pw, err := r.mailedPassword(s.slug, email)
		if err != nil {
			return nil, err
		}
		u, err := login(email, pw)
		if err != nil {
			return nil, err
		}
		s.clients = append(s.clients, u)
	}
	return s, r.addTickets(s)
}

// addTickets opens the portal's first tickets over HTTP, half of them answered.
func (r *runner) addTickets(s *site) error {
	m, err := r.json("POST", "/"+s.slug+"/api/v1/kb/articles", s.admin.tok, map[string]any{"title": "How to clear a paper jam", "published": true,
		"body": "# Clear a paper jam\n\n1. Open **tray 2**.\n2. Pull the paper out gently.\n3. Close the tray and print again.\n\n" + strings.Repeat("If it jams again, write to us with the printer's model. ", 8)}, 201)
	if err != nil {
		return err
	}
	s.article = m["slug"].(string)
	for t := 0; t < r.o.Tickets; t++ {
		cl := s.clients[t%len(s.clients)]
		m, err := r.json("POST", "/"+s.slug+"/api/v1/tickets", cl.tok, map[string]any{"fields": map[string]any{"subject": fmt.Sprintf("Printer %d jams", t),
			"description": "It jams on every second page since Monday. " + strings.Repeat("Details. ", 10)}}, 201)
		if err != nil {
			return err
		}
		n := int64(m["number"].(float64))
		s.tickets = append(s.tickets, n)
		if t%2 == 0 {
			if _, err := r.json("POST", fmt.Sprintf("/%s/api/v1/tickets/%d/messages", s.slug, n), s.op.tok, map[string]any{"body": "We are looking into it."}, 201); err != nil {
				return err
			}
		}
	}
	return nil
}

var passwordRe = regexp.MustCompile(`(?m)^Password: (\S+)`)

// mailedPassword waits for the invitation mail to email in the portal's mail
// directory and reads the password from it.
func (r *runner) mailedPassword(slug, email string) (string, error) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var files []string
		for _, d := range r.dataDirs {
			f, _ := filepath.Glob(filepath.Join(d, "mail", slug, "*.eml"))
			files = append(files, f...)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil || !bytes.Contains(b, []byte(email)) {
				continue
			}
			text := strings.ReplaceAll(strings.ReplaceAll(string(b), "=\r\n", ""), "\r\n", "\n")
			if m := passwordRe.FindStringSubmatch(text); m != nil {
				return m[1], nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "", fmt.Errorf("no invitation mail for %s under %s (is the service writing mail to files?)", email, strings.Join(r.dataDirs, ", "))
}

func randomSuffix() string { return strconv.FormatInt(rand.Int63n(1<<30), 36) }

type sample struct {
	op  string
	d   time.Duration
	err bool
}

// Op is one kind of request of the mixed workload, made on one portal by
// one of its clients or its operator.
type Op struct {
	Name   string
	Weight int
	Staff  bool // made by the portal's operator; else by a client
	Method string
	Path   string // within the portal; {n} stands for one of its tickets, a client's own
	Body   string // JSON
	Want   int    // the status of success
}

// Mix is what the people of a helpdesk do, by weight: clients list and
// open their tickets, create tickets and write; operators work the table,
// filter, search, open tickets and reply. The load command adds signups;
// BenchmarkZipf runs it as it is.
var Mix = []Op{
	{"client: my tickets", 200, false, "GET", "/api/v1/tickets", "", 200},
	{"client: open a ticket", 200, false, "GET", "/api/v1/tickets/{n}/messages", "", 200},
	{"client: create a ticket", 50, false, "POST", "/api/v1/tickets", `{"fields":{"subject":"Load ticket","description":"Created under load."}}`, 201},
	{"client: write a message", 50, false, "POST", "/api/v1/tickets/{n}/messages", `{"body":"Any news?"}`, 201},
	{"operator: tickets table", 150, true, "GET", "/api/v1/tickets", "", 200},
	{"operator: filter", 50, true, "GET", "/api/v1/tickets?status=open&assignee=none", "", 200},
	{"operator: search", 50, true, "GET", "/api/v1/tickets?q=printer", "", 200},
	{"operator: ticket page", 149, true, "GET", "/api/v1/tickets/{n}/messages", "", 200},
	{"operator: reply", 50, true, "POST", "/api/v1/tickets/{n}/messages", `{"body":"Please try again now."}`, 201},
}

// Pick chooses one of ops by weight.
func Pick(rnd *rand.Rand, ops []Op) Op {
	total := 0
	for _, o := range ops {
		total += o.Weight
	}
	k := rnd.Intn(total)
	for _, o := range ops {
		if k < o.Weight {
			return o
		}
		k -= o.Weight
	}
	return ops[len(ops)-1]
}

// Request is op's method and path on the portal at base, with ticket
// (when the path takes one).
func (o Op) Request(base string, ticket int64) (method, path string) {
	return o.Method, base + strings.Replace(o.Path, "{n}", strconv.FormatInt(ticket, 10), 1)
}

// load runs the mixed workload for the duration.
func (r *runner) load(ctx context.Context, sites []*site, res *Result) error {
	ops := append(Mix[:len(Mix):len(Mix)], Op{Name: "signup", Weight: 1, Want: 201})
	run := func(rnd *rand.Rand, s *site, o Op) int {
		if o.Name == "signup" {
			slug := "new-" + randomSuffix()
			c, _, _ := r.do("POST", "/api/v1/portals", "", map[string]string{"company": "New", "slug": slug, "admin_name": "N", "admin_email": "n@" + slug + ".test", "admin_password": password})
			return c
		}
		i := rnd.Intn(len(s.tickets))
		tok := s.op.tok
		if !o.Staff && strings.Contains(o.Path, "{n}") {
			tok = s.clients[i%len(s.clients)].tok // the ticket's owner
		} else if !o.Staff {
			tok = s.clients[rnd.Intn(len(s.clients))].tok
		}
		method, path := o.Request("/"+s.slug, s.tickets[i])
		var body any
		if o.Body != "" {
			body = json.RawMessage(o.Body)
		}
		c, b, _ := r.do(method, path, tok, body)
		if c == o.Want && method == "POST" {
			s.mu.Lock()
			if strings.HasSuffix(path, "/messages") {
				s.msgs[s.tickets[i]]++
			} else {
				var m map[string]any
				json.Unmarshal(b, &m)
				s.created = append(s.created, int64(m["number"].(float64)))
			}
			s.mu.Unlock()
		}
		return c
	}
	samples := make(chan []sample, r.o.Concurrency)
	deadline := time.Now().Add(r.o.Duration)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < r.o.Concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rnd := rand.New(rand.NewSource(int64(w) + 1))
			z := rand.NewZipf(rnd, 1.1, 1, uint64(len(sites)-1))
			var mine []sample
			for time.Now().Before(deadline) && len(mine) < 5_000_000 {
				s := sites[z.Uint64()]
				o := Pick(rnd, ops)
				t0 := time.Now()
				code := run(rnd, s, o)
				mine = append(mine, sample{op: o.Name, d: time.Since(t0), err: code != o.Want})
			}
			samples <- mine
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(samples)
	by := map[string][]time.Duration{}
	for batch := range samples {
		for _, s := range batch {
			by[s.op] = append(by[s.op], s.d)
			res.Requests++
			if s.err {
				res.Errors++
				if res.Operations[s.op] == nil {
					res.Operations[s.op] = &OpResult{}
				}
				res.Operations[s.op].Errors++
			}
		}
	}
	var all []time.Duration
	for _, ds := range by {
		all = append(all, ds...)
	}
	overall := &OpResult{}
	summarize(overall, all, elapsed)
	res.MedianMS, res.P99MS = overall.MedianMS, overall.P99MS
	for name, ds := range by {
		o := res.Operations[name]
		if o == nil {
			o = &OpResult{}
			res.Operations[name] = o
		}
		summarize(o, ds, elapsed)
	}
	res.DurationS = elapsed.Seconds()
	res.RequestsPerSecond = float64(res.Requests) / elapsed.Seconds()
	return nil
}

func summarize(o *OpResult, ds []time.Duration, elapsed time.Duration) {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	o.Count = len(ds)
	if len(ds) > 0 {
		o.MedianMS = float64(ds[len(ds)/2].Microseconds()) / 1000
		o.P99MS = float64(ds[len(ds)*99/100].Microseconds()) / 1000
	}
	o.PerSec = float64(len(ds)) / elapsed.Seconds()
}

// ticketPageAlone has every virtual user open the HTML ticket page (as an
// operator) on Zipf-chosen portals for a quarter of the mix's duration.
func (r *runner) ticketPageAlone(sites []*site) *OpResult {
	return hammer(r.o.Concurrency, max(r.o.Duration/4, time.Second), 100, func(rnd *rand.Rand) func() bool {
		z := rand.NewZipf(rnd, 1.1, 1, uint64(len(sites)-1))
		return func() bool {
			s := sites[z.Uint64()]
			c, _, _ := r.do("GET", fmt.Sprintf("/%s/tickets/%d", s.slug, s.tickets[rnd.Intn(len(s.tickets))]), s.op.tok, nil)
			return c == 200
		}
	})
}

// helpArticleAlone is the public help: every virtual user reading an
// article of a Zipf-chosen portal, signed in nowhere.
func (r *runner) helpArticleAlone(sites []*site) *OpResult {
	return hammer(r.o.Concurrency, max(r.o.Duration/4, time.Second), 200, func(rnd *rand.Rand) func() bool {
		z := rand.NewZipf(rnd, 1.1, 1, uint64(len(sites)-1))
		return func() bool {
			s := sites[z.Uint64()]
			c, _, _ := r.do("GET", "/"+s.slug+"/help/"+s.article, "", nil)
			return c == 200
		}
	})
}

// hammer runs workers that each repeat the operation newOp makes for them
// (with their own random source, seeded from seed) until d has passed, and
// sums up their timings.
func hammer(workers int, d time.Duration, seed int64, newOp func(rnd *rand.Rand) func() bool) *OpResult {
	var mu sync.Mutex
	var all []time.Duration
	errs := 0
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			op := newOp(rand.New(rand.NewSource(seed + int64(w))))
			var mine []time.Duration
			bad := 0
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if !op() {
					bad++
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			all = append(all, mine...)
			errs += bad
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	o := &OpResult{Errors: errs}
	summarize(o, all, time.Since(start))
	return o
}

// coldOpens is the service's count of cold portal opens.
func (r *runner) coldOpens() int64 {
	return int64(r.metrics()["portaldesk_portal_cold_opens_total"])
}

// serviceStats is the service's memory and open portals.
func (r *runner) serviceStats() (int64, int) {
	m := r.metrics()
	return int64(m["process_resident_memory_bytes"]), int(m["portaldesk_open_portals"])
}

// metrics reads the service's /metrics: each unlabelled sample's value by
// name (none when it cannot be read).
func (r *runner) metrics() map[string]float64 {
	m := map[string]float64{}
	bases := r.bases
	if len(bases) == 0 {
		bases = []string{r.base}
	}
	for _, base := range bases { // a cluster's nodes, summed
		r.metricsOf(base, m)
	}
	return m
}

func (r *runner) metricsOf(base string, m map[string]float64) {
	res, err := r.client.Get(base + "/metrics")
	if err != nil {
		return
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, v, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			if strings.HasPrefix(name, "process_") {
				m[name] = max(m[name], f) // nodes in one process report it alike
			} else {
				m[name] += f
			}
		}
	}
}

// verify checks that every ticket and message the load created is there.
func (r *runner) verify(sites []*site) string {
	tickets, messages, missing := 0, 0, 0
	for _, s := range sites {
		for _, n := range s.created {
			tickets++
			if c, _, _ := r.do("GET", fmt.Sprintf("/%s/api/v1/tickets/%d", s.slug, n), s.op.tok, nil); c != 200 {
				missing++
			}
		}
		for n, want := range s.msgs {
			m, err := r.json("GET", fmt.Sprintf("/%s/api/v1/tickets/%d/messages", s.slug, n), s.op.tok, nil, 200)
			if err != nil {
				missing += want
				continue
			}
			got := 0
			for _, x := range m["messages"].([]any) {
				if body, _ := x.(map[string]any)["body"].(string); body == "Any news?" || body == "Please try again now." {
					got++
				}
			}
			messages += want
			if got < want {
				missing += want - got
			}
		}
	}
	if missing > 0 {
		return fmt.Sprintf("MISSING %d of %d tickets and %d messages created under load", missing, tickets, messages)
	}
	return fmt.Sprintf("all %d tickets and %d messages created under load are there", tickets, messages)
}

// compareStaff is how many staff the comparison's portal has, each
// notified of every new ticket; compareMessages the length of the
// conversations its ticket pages show.
const (
	compareStaff    = 10
	compareMessages = 30
)

// compare measures, with 4 concurrent clients on one portal holding 2,500
// open tickets: ticket creation with ten staff notified by mail, the page
// of a ticket with a 30-message conversation, and the operators' table of
// open tickets (50 rows of 2,500). Against a running service (--target)
// the portal stays on the free tariff, and one person is notified.
func (r *runner) compare(ctx context.Context, res *Result) (map[string]*OpResult, error) {
	old := r.o.Tickets
	r.o.Tickets = 0
	s, err := r.provisionOne(-1)
	r.o.Tickets = old
	if err != nil {
		return nil, err
	}
	res.CompareStaff = 1
	if r.svc != nil {
		// Ops put the portal on a tariff for ten operators, and the admin
		// invites nine; every one of them is told of each new ticket.
		if err := r.svc.SetTariff(ctx, s.slug, "business", compareStaff, "loadtest"); err != nil {
			return nil, err
		}
		h, err := r.svc.Registry().Acquire(ctx, s.slug)
		if err != nil {
			return nil, err
		}
		for i := 1; i < compareStaff; i++ {
			u := &portal.User{Email: fmt.Sprintf("op%d@%s.test", i, s.slug), Name: fmt.Sprint("Operator ", i), Role: portal.RoleOperator, TourDone: true}
			if err = h.Portal.InsertUser(ctx, u, r.hash); err != nil {
				break
			}
		}
		h.Release()
		if err != nil {
			return nil, err
		}
		res.CompareStaff = compareStaff
	}
	fmt.Fprintf(r.o.Out, "comparison: creating %d open tickets on one portal…\n", r.o.CompareTickets)
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(r.o.CompareTickets) {
				cl := s.clients[rand.Intn(len(s.clients))]
				m, err := r.json("POST", "/"+s.slug+"/api/v1/tickets", cl.tok, map[string]any{"fields": map[string]any{"subject": "Open ticket", "description": "Waiting."}}, 201)
				if err == nil {
					mu.Lock()
					s.tickets = append(s.tickets, int64(m["number"].(float64)))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	// The pages compared are of tickets whose conversation has grown to
	// thirty messages, the client and the operator taking turns.
	talked := s.tickets[:min(len(s.tickets), 40)]
	next.Store(0)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(len(talked)*compareMessages); i = next.Add(1) - 1 {
				n, k := talked[i/compareMessages], i%compareMessages
				who, body := s.op.tok, "We are looking into it."
				if k%2 == 0 {
					who, body = s.clients[int(n)%len(s.clients)].tok, "Any news?"
				}
				r.json("POST", fmt.Sprintf("/%s/api/v1/tickets/%d/messages", s.slug, n), who, map[string]any{"body": body}, 201)
			}
		}()
	}
	wg.Wait()
	res.CompareMessages = compareMessages
	run := func(name string, d time.Duration, fn func(rnd *rand.Rand) bool) *OpResult {
		o := hammer(4, d, 0, func(rnd *rand.Rand) func() bool { return func() bool { return fn(rnd) } })
		fmt.Fprintf(r.o.Out, "  %-28s %8.0f/s  median %.2f ms  p99 %.2f ms  errors %d\n", name, o.PerSec, o.MedianMS, o.P99MS, o.Errors)
		return o
	}
	out := map[string]*OpResult{}
	d := r.o.CompareDuration
	out["ticket creation"] = run("ticket creation", d, func(rnd *rand.Rand) bool {
		c, _, _ := r.do("POST", "/"+s.slug+"/api/v1/tickets", s.clients[rnd.Intn(3)].tok, map[string]any{"fields": map[string]any{"subject": "Compare", "description": "Created for the comparison."}})
		return c == 201
	})
	out["ticket page"] = run("ticket page", d, func(rnd *rand.Rand) bool {
		c, _, _ := r.do("GET", fmt.Sprintf("/%s/tickets/%d", s.slug, talked[rnd.Intn(len(talked))]), s.op.tok, nil)
		return c == 200
	})
	out["operators' table"] = run("operators' table", d, func(rnd *rand.Rand) bool {
		c, _, _ := r.do("GET", "/"+s.slug+"/tickets?status=open", s.op.tok, nil)
		return c == 200
	})
	return out, nil
}
