// Command portaldesk runs the Portaldesk service and its ops subcommands.
// It only wires: the work is done in provisioner, portal and quota.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"portaldesk/cmd/loadtest"
	"portaldesk/cmd/server"
	"portaldesk/portal"
	"portaldesk/portal/objstore"
	"portaldesk/portal/web"
	"portaldesk/provisioner"
	"portaldesk/provisioner/catalog"
	"portaldesk/provisioner/ops"
	"portaldesk/quota"
)

const usage = `Portaldesk — a helpdesk portal for every business.

Usage:
  portaldesk [serve] [--addr 127.0.0.1:8080] [--data ./data] [--mail-domain D --inbound-smtp ADDR] [--tls-addr :443]   run the service (default); with a mail domain it takes the portals' mail; with --tls-addr portals' own domains get certificates on demand
  portaldesk portals create --slug S --company C --admin-email E --admin-password P [--admin-name N]
  portaldesk portals list
  portaldesk portals suspend|resume|delete SLUG
  portaldesk portals domain add|remove SLUG HOST [--force]
  portaldesk portals set-tariff SLUG TARIFF_ID [--operators N]
  portaldesk portals set-limits SLUG --db-mb N --disk-mb N
  portaldesk serve --node NAME --cluster URL --cluster-secret S --storage s3://… --replicate s3://… --secret S   join a cluster of nodes (README: Running several nodes)
  portaldesk portals move SLUG --to NODE --cluster URL --cluster-secret S   move a portal to another node; its requests wait, none fail
  portaldesk portals where SLUG --cluster URL --cluster-secret S   the node serving a portal
  portaldesk nodes list | drain NODE | undrain NODE | forget NODE --cluster URL --cluster-secret S
  portaldesk billing confirm INVOICE | adjust SLUG AMOUNT --note TEXT | promo CODE --percent P --from DATE --to DATE
  portaldesk jobs run usage|enforce|billing|expiry|autoclose|domains|mailboxes|backup [--now RFC3339]
  portaldesk ops add-user --email E --password P [--name N]
  portaldesk backup --portal SLUG | --all
  portaldesk restore --portal SLUG --from SNAPSHOT_DIR [--as NEWSLUG]
  portaldesk restore --portal SLUG --at 2026-12-01T10:15:00Z [--as NEWSLUG] --replicate s3://…   (a moment within the replication's retention)
  portaldesk storage migrate --to s3://BUCKET/PREFIX?endpoint=HOST:PORT   copy every portal's files into object storage (resumable; run again after switching to --storage)
  portaldesk recover --replicate s3://… --data NEWDIR   rebuild a lost machine's data from the replicas (bring the service secret along)
  portaldesk tariffs list | set ID [--name N --price MINOR --disk-mb N --db-mb N --designer=true …]
  portaldesk loadtest [--portals 1000 --duration 30s --concurrency 16 --json FILE --target URL --data DIR]
  portaldesk seed --portal SLUG [--tickets 10000 --messages 100000 --clients 500 --operators 10 --work 50000]

Every subcommand takes --data DIR (env PORTALDESK_DATA, default ./data).
`

func main() {
	args := os.Args[1:]
	cmd := "serve"
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		cmd, args = "help", args[1:]
	} else if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(args)
	case "portals":
		err = portals(args)
	case "seed":
		err = seed(args)
	case "billing":
		err = billing(args)
	case "backup":
		err = backup(args)
	case "restore":
		err = restore(args)
	case "ops":
		err = opsCmd(args)
	case "loadtest":
		err = loadtestCmd(args)
	case "jobs":
		err = jobs(args)
	case "tariffs":
		err = tariffs(args)
	case "storage":
		err = storage(args)
	case "nodes":
		err = nodesCmd(args)
	case "recover":
		err = recoverCmd(args)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		err = fmt.Errorf("unknown command %q\n\n%s", cmd, usage)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "portaldesk:", err)
		os.Exit(1)
	}
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil {
		return v
	}
	return def
}

// configFlags registers the configuration table (see README) on fs.
func configFlags(fs *flag.FlagSet) *provisioner.Config {
	c := &provisioner.Config{}
	fs.StringVar(&c.DataDir, "data", env("PORTALDESK_DATA", "./data"), "data directory (PORTALDESK_DATA)")
	fs.StringVar(&c.Addr, "addr", env("PORTALDESK_ADDR", "127.0.0.1:8080"), "listen address (PORTALDESK_ADDR)")
	fs.StringVar(&c.MailDomain, "mail-domain", env("PORTALDESK_MAIL_DOMAIN", ""), "the domain the service takes mail for: a portal's address is SLUG@DOMAIN (PORTALDESK_MAIL_DOMAIN)")
	fs.BoolVar(&c.InboundLMTP, "inbound-lmtp", env("PORTALDESK_INBOUND_LMTP", "") == "1", "speak LMTP on --inbound-smtp (behind Postfix) (PORTALDESK_INBOUND_LMTP=1)")
	fs.StringVar(&c.PublicURL, "public-url", env("PORTALDESK_PUBLIC_URL", ""), "address users reach the service at (PORTALDESK_PUBLIC_URL; default http://ADDR)")
	fs.StringVar(&c.Secret, "secret", env("PORTALDESK_SECRET", ""), "service secret (PORTALDESK_SECRET; default generated into DATA/secret)")
	fs.IntVar(&c.OpenLimit, "open-portals", envInt("PORTALDESK_OPEN_PORTALS", 256), "portals kept open at once (PORTALDESK_OPEN_PORTALS)")
	fs.StringVar(&c.SMTPURL, "smtp-url", env("PORTALDESK_SMTP_URL", ""), "the service's SMTP server, smtp://user:pass@host:port (smtps:// for TLS, ?starttls=1); empty writes .eml files (PORTALDESK_SMTP_URL)")
	fs.IntVar(&c.MailFilesKeep, "mail-files-keep", envInt("PORTALDESK_MAIL_FILES_KEEP", 1000), "at most this many .eml files per portal when mail goes to files (PORTALDESK_MAIL_FILES_KEEP)")
	fs.IntVar(&c.MailFilesDays, "mail-files-days", envInt("PORTALDESK_MAIL_FILES_DAYS", 14), "and none older than this many days (PORTALDESK_MAIL_FILES_DAYS)")
	fs.StringVar(&c.MailFrom, "mail-from", env("PORTALDESK_MAIL_FROM", ""), "sender address of the service's mail (PORTALDESK_MAIL_FROM)")
	fs.StringVar(&c.Billing.Currency, "currency", env("PORTALDESK_CURRENCY", "RUB"), "currency of prices and balances (PORTALDESK_CURRENCY)")
	fs.IntVar(&c.Billing.FirstPaymentBonus, "first-payment-bonus", envInt("PORTALDESK_FIRST_PAYMENT_BONUS", 50), "percent credited with a portal's first payment (PORTALDESK_FIRST_PAYMENT_BONUS)")
	fs.StringVar(&c.Billing.Vendor.Name, "vendor", env("PORTALDESK_VENDOR", "Portaldesk"), "the company invoices are paid to (PORTALDESK_VENDOR)")
	fs.StringVar(&c.Billing.Vendor.TaxID, "vendor-tax-id", env("PORTALDESK_VENDOR_TAX_ID", ""), "its tax id printed on invoices, e.g. ИНН/КПП (PORTALDESK_VENDOR_TAX_ID)")
	fs.StringVar(&c.Billing.Vendor.Address, "vendor-address", env("PORTALDESK_VENDOR_ADDRESS", ""), "its legal address printed on invoices (PORTALDESK_VENDOR_ADDRESS)")
	fs.StringVar(&c.Billing.Vendor.Bank, "vendor-bank", env("PORTALDESK_VENDOR_BANK", ""), "the bank details payments go to (PORTALDESK_VENDOR_BANK)")
	fs.StringVar(&c.Storage, "storage", env("PORTALDESK_STORAGE", ""), "keep portals' files in S3-compatible object storage: s3://BUCKET/PREFIX?endpoint=HOST:PORT&region=R[&presign=10m] (PORTALDESK_STORAGE; credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or &credentials=FILE)")
	fs.StringVar(&c.Replicate, "replicate", env("PORTALDESK_REPLICATE", ""), "stream every open portal's database to object storage with Litestream: s3://BUCKET/PREFIX?endpoint=HOST:PORT (PORTALDESK_REPLICATE)")
	fs.DurationVar(&c.ReplicateSync, "replicate-sync", time.Second, "how often replication pushes a portal's writes: the most a dead disk loses")
	fs.DurationVar(&c.ReplicateRetention, "replicate-retention", 7*24*time.Hour, "how far back a portal can be restored to a moment")
	fs.StringVar(&c.TelegramAPI, "telegram-api", env("PORTALDESK_TELEGRAM_API", ""), "the Telegram Bot API's address, default https://api.telegram.org (PORTALDESK_TELEGRAM_API; a local Bot API server or a proxy)")
	fs.StringVar(&c.VKAPI, "vk-api", env("PORTALDESK_VK_API", ""), "the VK API's address, default https://api.vk.com (PORTALDESK_VK_API)")
	fs.IntVar(&c.SignupBurst, "signup-burst", envInt("PORTALDESK_SIGNUP_BURST", 3), "portals one address may sign up for on the web before each further one waits a minute, doubling (PORTALDESK_SIGNUP_BURST)")
	fs.Func("trusted-proxies", "addresses or CIDR prefixes of reverse proxies whose X-Forwarded-*/Forwarded headers are believed (PORTALDESK_TRUSTED_PROXIES)", func(v string) error {
		p, err := provisioner.ParsePrefixes(v)
		c.TrustedProxies = p
		return err
	})
	fs.Func("webhook-allow", "non-public addresses or CIDR prefixes webhooks may still be sent to; loopback, private and link-local ones are refused otherwise (PORTALDESK_WEBHOOK_ALLOW)", func(v string) error {
		p, err := provisioner.ParsePrefixes(v)
		c.WebhookAllow = p
		return err
	})
	if v := os.Getenv("PORTALDESK_WEBHOOK_ALLOW"); v != "" {
		if p, err := provisioner.ParsePrefixes(v); err == nil {
			c.WebhookAllow = p
		} else {
			fmt.Fprintln(os.Stderr, "portaldesk: PORTALDESK_WEBHOOK_ALLOW:", err)
			os.Exit(2)
		}
	}
	if v := os.Getenv("PORTALDESK_TRUSTED_PROXIES"); v != "" {
		if p, err := provisioner.ParsePrefixes(v); err == nil {
			c.TrustedProxies = p
		} else {
			fmt.Fprintln(os.Stderr, "portaldesk: PORTALDESK_TRUSTED_PROXIES:", err)
			os.Exit(2)
		}
	}
	return c
}

// parse parses flags that may come before, between or after positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// openService opens the data directory for an ops command: no start-up
// sweep of the outboxes, which is the running service's job.
func openService(cfg *provisioner.Config) (*provisioner.Service, error) {
	if _, err := os.Stat(cfg.DataDir); errors.Is(err, fs.ErrNotExist) {
		// A typo in --data must not start an empty service of its own.
		return nil, fmt.Errorf("no data directory at %s; pass --data or set PORTALDESK_DATA", cfg.DataDir)
	}
	return openServiceCreating(cfg)
}

// openServiceCreating is openService for the commands that may start a
// new data directory (serve, portals create).
func openServiceCreating(cfg *provisioner.Config) (*provisioner.Service, error) {
	c := *cfg
	c.NoSweep = true
	c.ReplicaReadOnly = true // the running service streams; a command only reads the replica
	return provisioner.Open(context.Background(), c)
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	cfg := configFlags(fs)
	inbound := fs.String("inbound-smtp", env("PORTALDESK_INBOUND_SMTP", ""), "take the portals' mail on this address, e.g. 127.0.0.1:2525 (PORTALDESK_INBOUND_SMTP; needs --mail-domain)")
	tlsAddr := fs.String("tls-addr", env("PORTALDESK_TLS_ADDR", ""), "serve portals' own domains over https here, e.g. :443, with certificates obtained on demand (PORTALDESK_TLS_ADDR)")
	var tlsCfg provisioner.TLSConfig
	fs.StringVar(&tlsCfg.CA, "acme-ca", env("PORTALDESK_ACME_CA", ""), "the ACME directory certificates come from (PORTALDESK_ACME_CA; default Let's Encrypt)")
	fs.StringVar(&tlsCfg.Email, "acme-email", env("PORTALDESK_ACME_EMAIL", ""), "the ACME account's contact (PORTALDESK_ACME_EMAIL)")
	node := fs.String("node", env("PORTALDESK_NODE", ""), "this node's name in a cluster (PORTALDESK_NODE; needs --cluster)")
	clusterURL := fs.String("cluster", env("PORTALDESK_CLUSTER", ""), "join a cluster: the address the other nodes reach this one at, https (or http on loopback) (PORTALDESK_CLUSTER)")
	clusterSecret := fs.String("cluster-secret", env("PORTALDESK_CLUSTER_SECRET", ""), "the secret every node of the cluster shares (PORTALDESK_CLUSTER_SECRET)")
	leaseTTL := fs.Duration("lease-ttl", 10*time.Second, "how long a node's leases last unrenewed: a stopped node's portals are served elsewhere after about this long")
	clusterCA := fs.String("cluster-ca", env("PORTALDESK_CLUSTER_CA", ""), "PEM file of the authority the other nodes' certificates are signed by (PORTALDESK_CLUSTER_CA)")
	tlsCert := fs.String("tls-cert", env("PORTALDESK_TLS_CERT", ""), "serve --addr over https with this certificate (PEM; with --tls-key) (PORTALDESK_TLS_CERT)")
	tlsKey := fs.String("tls-key", env("PORTALDESK_TLS_KEY", ""), "the certificate's key (PEM) (PORTALDESK_TLS_KEY)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *clusterURL != "" || *node != "" {
		roots, err := loadCA(*clusterCA)
		if err != nil {
			return fmt.Errorf("--cluster-ca: %w", err)
		}
		cfg.Cluster = &provisioner.ClusterConfig{Node: *node, URL: *clusterURL, Secret: *clusterSecret, LeaseTTL: *leaseTTL, RootCAs: roots}
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	cfg.OpenLimit, _ = provisioner.FitOpenLimit(cfg.OpenLimit)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	if *tlsCert != "" || *tlsKey != "" {
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			ln.Close()
			return fmt.Errorf("--tls-cert, --tls-key: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}})
	}
	srv, err := server.New(context.Background(), *cfg)
	if err != nil {
		ln.Close()
		return err
	}
	defer srv.Close()
	if err := srv.StartJobs(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	if *tlsAddr != "" { // before serving: the plain handler changes
		tln, err := net.Listen("tcp", *tlsAddr)
		if err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		tlsCfg.HTTPChallenge = strings.HasSuffix(cfg.Addr, ":80")
		srv.EnableTLS(tlsCfg)
		go func() { errc <- srv.ServeTLS(tln) }()
		slog.Info("serving portals' own domains over https", "addr", tln.Addr().String())
	}
	go func() { errc <- srv.Serve(ln) }()
	if *inbound != "" {
		mln, err := net.Listen("tcp", *inbound)
		if err != nil {
			return fmt.Errorf("inbound mail: %w", err)
		}
		go func() { errc <- srv.ServeInbound(mln) }()
		slog.Info("taking mail", "addr", mln.Addr().String(), "domain", cfg.MailDomain, "lmtp", cfg.InboundLMTP)
	}
	slog.Info("portaldesk serving", "addr", ln.Addr().String(), "url", srv.Svc.Config().PublicURL, "data", cfg.DataDir, "open_portals", cfg.OpenLimit)
	fmt.Printf("Portaldesk is ready: open %s/\n", srv.Svc.Config().PublicURL)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Stop taking requests and finish those in flight (20 s at most), then
	// the scheduler (a running job completes), the mail worker and every portal.
	slog.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	slog.Info("stopped", "err", err)
	return err
}

// loadCA reads a PEM file of authorities ("" is none).
func loadCA(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool, _ := x509.SystemCertPool()
	if pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// clusterClient is the cluster's internal API at --cluster, for the
// commands run beside its nodes.
func clusterClient(fs *flag.FlagSet, args []string) (*provisioner.ClusterClient, []string, error) {
	url := fs.String("cluster", env("PORTALDESK_CLUSTER", ""), "any node's address (PORTALDESK_CLUSTER)")
	secret := fs.String("cluster-secret", env("PORTALDESK_CLUSTER_SECRET", ""), "the cluster's secret (PORTALDESK_CLUSTER_SECRET)")
	ca := fs.String("cluster-ca", env("PORTALDESK_CLUSTER_CA", ""), "PEM file of the nodes' certificate authority (PORTALDESK_CLUSTER_CA)")
	pos, err := parse(fs, args)
	if err != nil {
		return nil, nil, err
	}
	if *url == "" || *secret == "" {
		return nil, nil, errors.New("--cluster and --cluster-secret: which cluster (any node's address) and its secret")
	}
	roots, err := loadCA(*ca)
	if err != nil {
		return nil, nil, fmt.Errorf("--cluster-ca: %w", err)
	}
	host, _ := os.Hostname()
	return provisioner.NewClusterClient(*url, "cli-"+nodeSafe(host), *secret, roots), pos, nil
}

func nodeSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, s)
}

// nodesCmd lists, drains and forgets a cluster's nodes.
func nodesCmd(args []string) error {
	if len(args) == 0 {
		return errors.New("nodes: which action? list, drain, undrain, forget")
	}
	action, args := args[0], args[1:]
	fs := flag.NewFlagSet("nodes "+action, flag.ExitOnError)
	cc, pos, err := clusterClient(fs, args)
	if err != nil {
		return err
	}
	ctx := context.Background()
	switch action {
	case "list":
		list, err := cc.Nodes(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NODE\tSTATE\tALIVE\tCATALOG\tPORTALS\tOPEN\tDISK FREE\tLATENCY\tLAST HEARTBEAT\tURL")
		for _, n := range list {
			cat := ""
			if n.Primary {
				cat = "primary"
			}
			fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", n.Name, n.State, n.Alive, cat, n.Portals, n.OpenPortals,
				portal.HumanBytes(n.DiskFree), time.Duration(n.LatencyUS)*time.Microsecond, n.HeartbeatAt.Format(time.RFC3339), n.URL)
		}
		return tw.Flush()
	case "drain", "undrain", "forget":
		if len(pos) != 1 {
			return fmt.Errorf("nodes %s: which node?", action)
		}
		out, err := cc.Node(ctx, pos[0], action)
		if err != nil {
			return err
		}
		b, _ := json.Marshal(out)
		fmt.Println(string(b))
		return nil
	}
	return fmt.Errorf("nodes: unknown action %q", action)
}

// whereCmd says which node of a cluster serves a portal.
func whereCmd(args []string) error {
	fs := flag.NewFlagSet("portals where", flag.ExitOnError)
	cc, pos, err := clusterClient(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("portals where SLUG")
	}
	node, err := cc.Where(context.Background(), pos[0])
	if err != nil {
		return err
	}
	fmt.Println(node)
	return nil
}

// moveCmd moves a portal to another node of a cluster.
func moveCmd(args []string) error {
	fs := flag.NewFlagSet("portals move", flag.ExitOnError)
	to := fs.String("to", "", "the node to move the portal to")
	cc, pos, err := clusterClient(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *to == "" {
		return errors.New("portals move SLUG --to NODE")
	}
	res, err := cc.Move(context.Background(), pos[0], *to)
	if err != nil {
		return err
	}
	fmt.Printf("moved %s from %s to %s (epoch %d) in %s; its requests waited %s\n", res.Portal, res.From, res.To, res.Epoch, res.Took.Round(time.Millisecond), res.Paused.Round(time.Millisecond))
	return nil
}

func portals(args []string) (err error) {
	if len(args) == 0 {
		return errors.New("portals: which action? create, list, suspend, resume, delete, domain, move")
	}
	action, args := args[0], args[1:]
	switch action {
	case "move":
		return moveCmd(args)
	case "where":
		return whereCmd(args)
	}
	fs := flag.NewFlagSet("portals "+action, flag.ExitOnError)
	cfg := configFlags(fs)
	var in provisioner.SignupInput
	fs.StringVar(&in.Slug, "slug", "", "portal address")
	fs.StringVar(&in.Company, "company", "", "company name")
	fs.StringVar(&in.AdminName, "admin-name", "", "admin's name (default: the part of the email before @)")
	fs.StringVar(&in.AdminEmail, "admin-email", "", "admin's email")
	fs.StringVar(&in.AdminPassword, "admin-password", "", "admin's password")
	fs.StringVar(&in.Tariff, "tariff", "free", "tariff id")
	operators := fs.Int("operators", 0, "operators (set-tariff)")
	dbMB := fs.Int64("db-mb", 0, "database quota override in MB (set-limits; 0 = the tariff's)")
	diskMB := fs.Int64("disk-mb", 0, "disk quota override in MB (set-limits; 0 = the tariff's)")
	force := fs.Bool("force", false, "domain add: map the host even if the portal's tariff has no own domain")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	open := openService
	if action == "create" {
		open = openServiceCreating
	}
	svc, err := open(cfg)
	if err != nil {
		return err
	}
	defer svc.Close()
	defer func() {
		if err == nil && action != "list" {
			shellAudit(svc, fs, "portals "+action, pos)
		}
	}()
	ctx := context.Background()
	need := func(n int, what string) error {
		if len(pos) < n {
			return fmt.Errorf("portals %s: need %s", action, what)
		}
		return nil
	}
	switch action {
	case "create":
		if in.AdminName == "" {
			in.AdminName, _, _ = cutAt(in.AdminEmail)
		}
		in.Confirmed = true // ops vouch for the address
		res, err := svc.Provision(ctx, in)
		if err != nil {
			return describe(err)
		}
		res.Handle.Release()
		fmt.Printf("created %s: %s/%s/\n", res.Record.Slug, svc.Config().PublicURL, res.Record.Slug)
	case "list":
		list, err := svc.Catalog().Portals(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SLUG\tCOMPANY\tSTATE\tTARIFF\tOPERATORS\tCREATED")
		for _, p := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", p.Slug, p.Company, p.State, p.TariffID, p.Operators, p.CreatedAt.Format(time.DateOnly))
		}
		return tw.Flush()
	case "suspend", "resume", "delete":
		if err := need(1, "SLUG"); err != nil {
			return err
		}
		switch action {
		case "suspend":
			err = svc.Suspend(ctx, pos[0])
		case "resume":
			err = svc.Resume(ctx, pos[0])
		case "delete":
			var dst string
			if dst, err = svc.Delete(ctx, pos[0]); err == nil {
				fmt.Printf("moved %s to %s\n", pos[0], dst)
			}
		}
		if errors.Is(err, portal.ErrNotFound) {
			return fmt.Errorf("no portal %q", pos[0])
		}
		return err
	case "set-tariff":
		if err := need(2, "SLUG TARIFF_ID"); err != nil {
			return err
		}
		return svc.SetTariff(ctx, pos[0], pos[1], *operators, "ops")
	case "set-limits":
		if err := need(1, "SLUG"); err != nil {
			return err
		}
		return svc.SetLimits(ctx, pos[0], *dbMB, *diskMB)
	case "domain":
		if err := need(3, "add|remove SLUG HOST"); err != nil {
			return err
		}
		switch pos[0] {
		case "add":
			return svc.AddDomain(ctx, pos[1], pos[2], *force)
		case "remove":
			return svc.RemoveDomain(ctx, pos[2])
		}
		return fmt.Errorf("portals domain: add or remove, not %q", pos[0])
	default:
		return fmt.Errorf("portals: unknown action %q", action)
	}
	return nil
}

// shellAudit records an ops command run from the shell in the ops audit
// log, as the console's actions are: who ran it (the shell's user, the
// one behind sudo when there is one), the command, its arguments and the
// flags it was given (never a password).
func shellAudit(svc *provisioner.Service, fs *flag.FlagSet, command string, args []string) {
	who := os.Getenv("SUDO_USER")
	if who == "" {
		if u, err := user.Current(); err == nil {
			who = u.Username
		}
	}
	var flags []string
	fs.Visit(func(f *flag.Flag) {
		if !strings.Contains(f.Name, "password") && f.Name != "data" && f.Name != "secret" {
			flags = append(flags, "--"+f.Name+"="+f.Value.String())
		}
	})
	err := svc.Catalog().Audit(context.Background(), catalog.AuditEntry{Actor: "shell:" + who, Action: command, Target: strings.Join(args, " "), IP: "shell", Detail: strings.Join(flags, " ")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "portaldesk: the audit log:", err)
	}
}

func cutAt(email string) (string, string, bool) {
	for i := 0; i < len(email); i++ {
		if email[i] == '@' {
			return email[:i], email[i+1:], true
		}
	}
	return email, "", false
}

// describe turns field errors into lines for the terminal, named as the flags are.
func describe(err error) error {
	var we *web.Error
	if !errors.As(err, &we) || len(we.Fields) == 0 {
		return err
	}
	msg := we.Message
	for k, v := range we.Fields {
		msg += fmt.Sprintf("\n  --%s: %s", strings.ReplaceAll(k, "_", "-"), v)
	}
	return errors.New(msg)
}

// seed fills a portal with realistic data for benchmarks and demos.
func seed(args []string) error {
	fs := flag.NewFlagSet("seed", flag.ExitOnError)
	cfg := configFlags(fs)
	slug := fs.String("portal", "", "portal to fill")
	var o portal.SeedOptions
	fs.IntVar(&o.Tickets, "tickets", 10000, "tickets")
	fs.IntVar(&o.Messages, "messages", 100000, "messages in all")
	fs.IntVar(&o.Clients, "clients", 500, "clients")
	fs.IntVar(&o.Operators, "operators", 10, "operators")
	fs.IntVar(&o.Work, "work", 50000, "work entries (labour costs)")
	password := fs.String("password", "amber-lantern-57", "password of the seeded users")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *slug == "" {
		return errors.New("seed: --portal is required")
	}
	svc, err := openService(cfg)
	if err != nil {
		return err
	}
	defer svc.Close()
	h, err := svc.Registry().Acquire(context.Background(), *slug)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	defer h.Release()
	start := time.Now()
	if err := portal.Seed(context.Background(), h.Portal, o, *password); err != nil {
		return err
	}
	fmt.Printf("seeded %s: %d tickets, %d messages, %d clients, %d operators in %s\n", *slug, o.Tickets, o.Messages, o.Clients, o.Operators, time.Since(start).Round(time.Millisecond))
	return nil
}

func billing(args []string) (err error) {
	if len(args) == 0 {
		return errors.New("billing: confirm, adjust or promo")
	}
	action, args := args[0], args[1:]
	fs := flag.NewFlagSet("billing "+action, flag.ExitOnError)
	cfg := configFlags(fs)
	note := fs.String("note", "", "why (adjust)")
	percent := fs.Int("percent", 0, "bonus percent (promo)")
	from := fs.String("from", "", "first day, YYYY-MM-DD (promo)")
	to := fs.String("to", "", "last day, YYYY-MM-DD (promo)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	svc, err := openService(cfg)
	if err != nil {
		return err
	}
	defer svc.Close()
	defer func() {
		if err == nil {
			shellAudit(svc, fs, "billing "+action, pos)
		}
	}()
	ctx := context.Background()
	switch action {
	case "confirm":
		if len(pos) != 1 {
			return errors.New("billing confirm INVOICE")
		}
		rec, bal, err := svc.ConfirmInvoice(ctx, pos[0], "ops")
		if err != nil {
			return err
		}
		fmt.Printf("invoice %s paid: %s balance %s\n", pos[0], rec.Slug, svc.Money(bal))
	case "adjust":
		if len(pos) != 2 || *note == "" {
			return errors.New("billing adjust SLUG AMOUNT --note TEXT (AMOUNT in minor units, negative to take)")
		}
		amount, err := strconv.ParseInt(pos[1], 10, 64)
		if err != nil {
			return fmt.Errorf("amount: %w", err)
		}
		bal, err := svc.Adjust(ctx, pos[0], amount, *note, "ops")
		if err != nil {
			return err
		}
		fmt.Printf("%s balance %s\n", pos[0], svc.Money(bal))
	case "promo":
		if len(pos) != 1 {
			return errors.New("billing promo CODE --percent P --from YYYY-MM-DD --to YYYY-MM-DD")
		}
		f, err1 := time.Parse(time.DateOnly, *from)
		t, err2 := time.Parse(time.DateOnly, *to)
		if err1 != nil || err2 != nil {
			return errors.New("promo: --from and --to as YYYY-MM-DD")
		}
		return svc.AddPromo(ctx, pos[0], *percent, f, t.Add(24*time.Hour-time.Second))
	default:
		return fmt.Errorf("billing: unknown action %q", action)
	}
	return nil
}

func jobs(args []string) error {
	if len(args) < 2 || args[0] != "run" {
		return errors.New("jobs run usage|enforce|billing|expiry|autoclose|domains|mailboxes|backup [--now RFC3339]")
	}
	fs := flag.NewFlagSet("jobs run", flag.ExitOnError)
	cfg := configFlags(fs)
	nowFlag := fs.String("now", "", "run as of this moment (RFC 3339)")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	now := time.Now()
	if *nowFlag != "" {
		if now, err = time.Parse(time.RFC3339, *nowFlag); err != nil {
			return fmt.Errorf("--now: %w", err)
		}
	}
	svc, err := openService(cfg)
	if err != nil {
		return err
	}
	defer svc.Close()
	svc.SetClock(func() time.Time { return now })
	j := quota.New(svc)
	for _, name := range pos {
		counts, err := j.Run(context.Background(), name, now)
		if err != nil {
			return err
		}
		fmt.Printf("%s: %v\n", name, counts)
	}
	return nil
}

func tariffs(args []string) error {
	if len(args) == 0 {
		return errors.New("tariffs list | set ID [flags]")
	}
	action, args := args[0], args[1:]
	fs := flag.NewFlagSet("tariffs "+action, flag.ExitOnError)
	cfg := configFlags(fs)
	var t catalog.TariffChange
	fs.Func("name", "name", func(v string) error { t.Name = &v; return nil })
	fs.Func("price", "price per operator per month, minor units", func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		t.Price = &n
		return err
	})
	fs.Func("disk-mb", "disk quota", func(v string) error { n, err := strconv.ParseInt(v, 10, 64); t.DiskMB = &n; return err })
	fs.Func("db-mb", "database quota", func(v string) error { n, err := strconv.ParseInt(v, 10, 64); t.DBMB = &n; return err })
	for _, f := range []struct {
		name string
		dst  **bool
	}{{"designer", &t.Designer}, {"timing", &t.Timing}, {"api-tokens", &t.APITokens}, {"custom-domain", &t.CustomDomain}, {"own-smtp", &t.OwnSMTP}, {"archived", &t.Archived}} {
		dst := f.dst
		fs.Func(f.name, "true or false", func(v string) error { b, err := strconv.ParseBool(v); *dst = &b; return err })
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	svc, err := openService(cfg)
	if err != nil {
		return err
	}
	defer svc.Close()
	ctx := context.Background()
	switch action {
	case "list":
		list, err := svc.Catalog().Tariffs(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tPRICE/OPERATOR/MONTH\tDISK MB\tDB MB\tDESIGNER\tTIMING\tAPI\tDOMAIN\tSMTP")
		for _, t := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%v\t%v\t%v\t%v\t%v\n", t.ID, t.Name, svc.Money(t.PricePerOperator), t.DiskMB, t.DBMB, t.Designer, t.Timing, t.APITokens, t.CustomDomain, t.OwnSMTP)
		}
		return tw.Flush()
	case "set":
		if len(pos) != 1 {
			return errors.New("tariffs set ID [flags]")
		}
		if err := svc.Catalog().SetTariff(ctx, pos[0], t); err != nil {
			return err
		}
		shellAudit(svc, fs, "tariffs set", pos)
		return nil
	}
	return fmt.Errorf("tariffs: unknown action %q", action)
}

// progressBar draws a bar with counts and bytes on the terminal (stderr).
func progressBar(done, total int, bytes int64) {
	const width = 30
	filled := 0
	if total > 0 {
		filled = done * width / total
	}
	fmt.Fprintf(os.Stderr, "\r[%s%s] %d/%d portals, %s", strings.Repeat("=", filled), strings.Repeat(" ", width-filled), done, total, portal.HumanBytes(bytes))
	if done == total {
		fmt.Fprintln(os.Stderr)
	}
}

// recoverCmd rebuilds a data directory from the replicas.
func recoverCmd(args []string) error {
	fs := flag.NewFlagSet("recover", flag.ExitOnError)
	cfg := configFlags(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if cfg.Replicate == "" {
		return errors.New("recover --replicate s3://BUCKET/PREFIX?endpoint=HOST:PORT --data NEWDIR")
	}
	start := time.Now()
	st, err := provisioner.Recover(context.Background(), cfg.DataDir, cfg.Replicate)
	if err != nil {
		return err
	}
	for _, f := range st.Failed {
		fmt.Fprintln(os.Stderr, "not restored:", f)
	}
	fmt.Printf("recovered the catalog and %d portals into %s in %s\n", st.Portals, cfg.DataDir, time.Since(start).Round(time.Millisecond))
	if len(st.Failed) > 0 {
		return fmt.Errorf("%d portals could not be restored", len(st.Failed))
	}
	return nil
}

// storage moves portals' files into object storage.
func storage(args []string) error {
	if len(args) == 0 || args[0] != "migrate" {
		return errors.New("storage: migrate --to s3://BUCKET/PREFIX?endpoint=HOST:PORT")
	}
	fs := flag.NewFlagSet("storage migrate", flag.ExitOnError)
	cfg := configFlags(fs)
	to := fs.String("to", "", "the object storage: s3://BUCKET/PREFIX?endpoint=HOST:PORT&region=R")
	if _, err := parse(fs, args[1:]); err != nil {
		return err
	}
	sc, err := objstore.Parse(*to)
	if err != nil {
		return err
	}
	ctx := context.Background()
	st, err := objstore.Open(ctx, sc)
	if err != nil {
		return err
	}
	start := time.Now()
	s, err := provisioner.MigrateStorage(ctx, cfg.DataDir, st, func(slug string, s provisioner.MigrateStats) {
		fmt.Fprintf(os.Stderr, "\r%-30s %d files: %d copied (%s), %d there already", slug, s.Files, s.Copied, portal.HumanBytes(s.Bytes), s.Skipped)
	})
	fmt.Fprintf(os.Stderr, "\n%d portals, %d files: %d copied (%s), %d there already, in %s\n", s.Portals, s.Files, s.Copied, portal.HumanBytes(s.Bytes), s.Skipped, time.Since(start).Round(time.Millisecond))
	return err
}

func backup(args []string) error {
	fs := flag.NewFlagSet("backup", flag.ExitOnError)
	cfg := configFlags(fs)
	slug := fs.String("portal", "", "the portal to snapshot")
	all := fs.Bool("all", false, "snapshot every portal")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if (*slug == "") == !*all {
		return errors.New("backup: --portal SLUG or --all")
	}
	svc, err := openService(cfg)
	if err != nil {
		return err
	}
	defer svc.Close()
	j := quota.New(svc)
	ctx := context.Background()
	start := time.Now()
	if *all {
		dirs, err := j.BackupAll(ctx, time.Now(), progressBar)
		for _, d := range dirs {
			fmt.Println(d)
		}
		fmt.Fprintf(os.Stderr, "%d snapshots in %s\n", len(dirs), time.Since(start).Round(time.Millisecond))
		return err
	}
	dir, m, err := j.Backup(ctx, *slug, time.Now())
	if err != nil {
		return err
	}
	if err := j.Prune(*slug, j.Retention); err != nil {
		return err
	}
	fmt.Println(dir)
	fmt.Fprintf(os.Stderr, "%s: database %s, %d files (%d unchanged, linked), %s written in %s\n", *slug, portal.HumanBytes(m.Database.Size), len(m.Files), m.Linked, portal.HumanBytes(m.Bytes), time.Since(start).Round(time.Millisecond))
	return nil
}

func restore(args []string) error {
	fs := flag.NewFlagSet("restore", flag.ExitOnError)
	cfg := configFlags(fs)
	slug := fs.String("portal", "", "the portal the snapshot is of")
	from := fs.String("from", "", "the snapshot directory (it holds manifest.json)")
	at := fs.String("at", "", "with --replicate: the moment to restore the database to (RFC 3339, or \"latest\")")
	as := fs.String("as", "", "restore as a new portal with this address")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *slug == "" || (*from == "") == (*at == "") {
		return errors.New("restore --portal SLUG --from DIR | --at 2026-12-01T10:15:00Z [--as NEWSLUG]")
	}
	svc, err := openService(cfg)
	if err != nil {
		return err
	}
	defer svc.Close()
	if *at != "" {
		var when time.Time
		if *at != "latest" {
			if when, err = time.Parse(time.RFC3339, *at); err != nil {
				return fmt.Errorf("restore: --at %q: give a moment like 2026-12-01T10:15:00Z", *at)
			}
		}
		target, err := svc.RestoreAt(context.Background(), *slug, when, *as)
		if err != nil {
			return err
		}
		shellAudit(svc, fs, "restore", []string{target})
		fmt.Printf("restored %s as it was at %s\n", target, *at)
		return nil
	}
	target, err := quota.New(svc).Restore(context.Background(), *slug, *from, *as)
	if err != nil {
		return err
	}
	shellAudit(svc, fs, "restore", []string{target})
	fmt.Printf("restored %s from %s\n", target, *from)
	return nil
}

func opsCmd(args []string) error {
	if len(args) == 0 || args[0] != "add-user" {
		return errors.New("ops add-user --email E --password P [--name N]")
	}
	fs := flag.NewFlagSet("ops add-user", flag.ExitOnError)
	cfg := configFlags(fs)
	email := fs.String("email", "", "the ops person's email")
	password := fs.String("password", "", "their password")
	name := fs.String("name", "", "their name")
	if _, err := parse(fs, args[1:]); err != nil {
		return err
	}
	svc, err := openService(cfg)
	if err != nil {
		return err
	}
	defer svc.Close()
	enr, err := ops.AddUser(context.Background(), svc, *email, *name, *password)
	if err != nil {
		return err
	}
	shellAudit(svc, fs, "ops add-user", []string{*email})
	fmt.Printf("ops user %s can sign in at %s/ops\n\n", *email, svc.Config().PublicURL)
	fmt.Printf("The console always asks for a code from an authenticator app too.\nAdd this key to the app (or open the URL on the phone):\n\n  key: %s\n  url: %s\n\n", enr.Secret, enr.URL)
	fmt.Printf("Recovery codes, each good for one sign-in without the app; shown only now:\n\n")
	for _, c := range enr.RecoveryCodes {
		fmt.Printf("  %s\n", c)
	}
	return nil
}

func loadtestCmd(args []string) error {
	fs := flag.NewFlagSet("loadtest", flag.ExitOnError)
	var o loadtest.Options
	fs.IntVar(&o.Portals, "portals", 1000, "portals to provision")
	fs.DurationVar(&o.Duration, "duration", 30*time.Second, "how long to load")
	fs.IntVar(&o.Concurrency, "concurrency", 16, "virtual users")
	fs.IntVar(&o.Tickets, "tickets", 10, "tickets per portal at the start")
	fs.IntVar(&o.OpenLimit, "open-portals", 256, "the in-process service's LRU of open portals")
	fs.IntVar(&o.CompareTickets, "compare-tickets", 2500, "open tickets on the comparison's one portal")
	fs.DurationVar(&o.CompareDuration, "compare-duration", 5*time.Second, "how long each comparison operation runs")
	fs.StringVar(&o.Target, "target", "", "a running service (loopback), or several nodes of one, comma-separated (requests go to each in turn); empty starts one in this process")
	fs.StringVar(&o.DataDir, "data", "", "the service's data directory (with --target: the target's — each node's, comma-separated — to read mailed passwords)")
	fs.IntVar(&o.Nodes, "nodes", 1, "run this many nodes of a cluster in this process (with --replicate and --storage), portals placed on each in turn")
	fs.StringVar(&o.Replicate, "replicate", "", "the in-process service's --replicate (s3://…)")
	fs.StringVar(&o.Storage, "storage", "", "the in-process service's --storage (s3://…)")
	jsonOut := fs.String("json", "", "write the result as JSON here")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of one load phase (in-process service) here")
	fs.StringVar(&o.ProfilePhase, "profile-phase", "mix", "the phase --cpuprofile covers: mix or ticket-page")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		o.Profile = f
	}
	for _, t := range strings.Split(o.Target, ",") {
		if u, err := url.Parse(strings.TrimSpace(t)); o.Target != "" && (err != nil || (u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost" && u.Hostname() != "::1")) {
			return errors.New("loadtest: --target must be loopback addresses")
		}
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	o.Out = os.Stderr
	res, err := loadtest.Run(context.Background(), o)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\n%d portals, %d virtual users, %.0f s\n\n", res.Machine, res.Portals, res.Concurrency, res.DurationS)
	fmt.Fprintln(tw, "OPERATION\tCOUNT\tPER SECOND\tMEDIAN MS\tP99 MS\tERRORS")
	names := make([]string, 0, len(res.Operations))
	for n := range res.Operations {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		op := res.Operations[n]
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.2f\t%.2f\t%d\n", n, op.Count, op.PerSec, op.MedianMS, op.P99MS, op.Errors)
	}
	fmt.Fprintf(tw, "all\t%d\t%.0f\t%.2f\t%.2f\t\n\n", res.Requests, res.RequestsPerSecond, res.MedianMS, res.P99MS)
	tp := res.TicketPage
	fmt.Fprintf(tw, "ticket page alone\t%d\t%.0f\t%.2f\t%.2f\t%d\n", tp.Count, tp.PerSec, tp.MedianMS, tp.P99MS, tp.Errors)
	ha := res.HelpArticle
	fmt.Fprintf(tw, "help article alone (not signed in)\t%d\t%.0f\t%.2f\t%.2f\t%d\n\n", ha.Count, ha.PerSec, ha.MedianMS, ha.P99MS, ha.Errors)
	fmt.Fprintf(tw, "cold portal opens: %.1f %% of the mix, %.1f %% of the ticket page alone, %.1f %% of the help article alone\n", res.ColdOpenPct["mix"], res.ColdOpenPct["ticket page alone"], res.ColdOpenPct["help article alone"])
	fmt.Fprintf(tw, "errors in all phases: %d; service RSS %s, %d portals open; %s\n\n", res.Errors, portal.HumanBytes(res.RSSBytes), res.OpenPortals, res.Verified)
	fmt.Fprintf(tw, "ONE PORTAL, %d OPEN TICKETS, 4 CLIENTS, %d STAFF NOTIFIED, %d-MESSAGE CONVERSATIONS\tPER SECOND\tMEDIAN MS\tP99 MS\tERRORS\n", o.CompareTickets, res.CompareStaff, res.CompareMessages)
	for _, n := range []string{"ticket creation", "ticket page", "operators' table"} {
		op := res.Comparison[n]
		fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.2f\t%d\n", n, op.PerSec, op.MedianMS, op.P99MS, op.Errors)
	}
	tw.Flush()
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	if res.Errors > 0 || strings.HasPrefix(res.Verified, "MISSING") {
		return fmt.Errorf("loadtest: %d errors; %s", res.Errors, res.Verified)
	}
	return nil
}
