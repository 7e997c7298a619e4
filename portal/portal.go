// Package portal is one helpdesk's domain and store: its database and
// files, its people, questionnaire, tickets, conversations, labour,
// statistics and outbox, with every rule and all the SQL they need. It
// speaks neither HTTP nor HTML (package handlers does). Code here is
// handed one *Portal by the router and has no way to name another.
package portal

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/spf13/afero"

	"portaldesk/portal/sqlitedb"
)

// ErrNotFound is returned by the store when a row does not exist.
var ErrNotFound = errors.New("not found")

// ErrQuotaExceeded is returned when a write would grow the database past
// the portal's quota. Nothing of the failed write is kept.
var ErrQuotaExceeded = sqlitedb.ErrQuotaExceeded

// Plan is what the catalog says about a portal: who it is, its state, and
// what its tariff allows.
type Plan struct {
	ID             int64
	Slug           string
	Company        string
	State          string // active, suspended, readonly
	TariffID       string
	TariffName     string
	MaxOperators   int
	DBQuotaBytes   int64
	DiskQuotaBytes int64
	Designer       bool
	Timing         bool
	APITokens      bool
	CustomDomain   bool
	OwnSMTP        bool
	UsageLevel     int    // 0, or 80 / 100 when usage passed that share of a quota
	Domain         string // its own verified host name: links in mail use it
	// Node is the cluster node that serves the portal ("" outside a
	// cluster) and Epoch counts its placements: a node's copy of the
	// database from another epoch is stale.
	Node  string
	Epoch int64
}

// States of a portal in the catalog.
const (
	StateActive    = "active"
	StateSuspended = "suspended"
	StateReadOnly  = "readonly"
	StateDeleted   = "deleted"
)

// Portal is one open helpdesk. A Portal bound to a write transaction
// (see Tx) reads and writes inside it; otherwise each call stands alone.
type Portal struct {
	*core
	q  sqlitedb.Queryer // the database, or the transaction this Portal is bound to
	tx *sqlitedb.Tx
	// after holds what the transaction tells the world once it commits
	// (live pages, the mail worker, the catalog's counts); nil outside one.
	after *[]func()
}

// core is what every Portal value of one open portal shares.
type core struct {
	Slug string
	Dir  string
	DB   *sqlitedb.DB
	Fs   afero.Fs // rooted at the portal's files/ directory
	// Scratch is the portal's own disk for work files (an import's table,
	// an export being written): local even when Fs is object storage.
	Scratch afero.Fs
	Now     func() time.Time

	// baseURL is the portal's address under the service, e.g.
	// http://host/acme/; scheme is the service's (http or https).
	baseURL, scheme string
	// mailDomain is where replies by mail come back ("": they do not).
	mailDomain string
	// OnOutbox is called after a transaction queued mail, to wake the deliverer.
	OnOutbox func()
	// OnClose is called once the portal's database is closed (replication
	// syncs and lets it go).
	OnClose func()
	// OnChannels is called after a messenger was connected or
	// disconnected (the service starts or stops asking Telegram).
	OnChannels func()
	// ChannelAPI speaks to the messengers (nil: the service connects none).
	ChannelAPI ChannelClient
	// OnTickets is told how the number of tickets changed (+1 created, -1
	// deleted), after the commit, so the catalog can keep the count.
	OnTickets func(delta int64)
	// Events passes ticket changes to the portal's live pages.
	Events *Hub

	plan   atomic.Pointer[Plan]
	ref    refCache
	guards *Guards
	// cookieKey signs the portal's session cookies (see SessionKey);
	// codecs verify them.
	cookieKey []byte
	codecs    []securecookie.Codec
	deliverMu sync.Mutex
	workMu    sync.Mutex // one round of the worker's chat updates, chat messages or jobs at a time
	jobsSwept time.Time  // when old jobs' files were last removed (under workMu)
	hookMu    sync.Mutex // one webhook round at a time
	tokenUses sync.Map   // token hash -> when its use was last written down
	sealKey   []byte     // encrypts secrets the portal stores (its SMTP password)
	// hookAllow are the non-public addresses webhooks may still reach (the
	// ops configuration's list; tests use loopback).
	hookAllow []netip.Prefix
}

// Tx runs fn in one write transaction with a Portal bound to it: every
// read and write fn makes through tp is part of the transaction and sees
// what it has written so far; when fn returns an error nothing is kept.
// Called on a Portal already bound to a transaction, it runs fn in that
// same transaction. What it announces (afterCommit) is announced once the
// outermost transaction has committed, and not at all if it rolls back.
func (p *Portal) Tx(ctx context.Context, fn func(tp *Portal) error) error {
	if p.tx != nil {
		return fn(p)
	}
	var after []func()
	err := p.DB.Tx(ctx, func(tx *sqlitedb.Tx) error {
		after = after[:0] // a retried transaction announces only its last run
		return fn(&Portal{core: p.core, q: tx, tx: tx, after: &after})
	})
	if err == nil {
		for _, f := range after {
			f()
		}
	}
	return err
}

// afterCommit runs f now, or, on a Portal bound to a transaction, once the
// transaction has committed: a live page or the mail worker told earlier
// could look before the change is there and miss it.
func (p *Portal) afterCommit(f func()) {
	if p.after != nil {
		*p.after = append(*p.after, f)
		return
	}
	f()
}

// URL is the portal's address for links in mail: its own verified host
// name when it has one, else its place under the service.
func (p *Portal) URL() string {
	if d := p.Plan().Domain; d != "" {
		return p.scheme + "://" + d + "/"
	}
	return p.baseURL
}

// Plan is the catalog's current word on this portal.
func (p *Portal) Plan() *Plan { return p.plan.Load() }

// SetPlan replaces the catalog information, as the registry refreshes it.
func (p *Portal) SetPlan(pl *Plan) { p.plan.Store(pl) }

// Paths of a portal's files inside its directory.
const (
	DBFile   = "portal.db"
	FilesDir = "files"
)

// SessionCookie is the name of a portal's session cookie.
const SessionCookie = "pd_session"

// SessionTTL is how long a session cookie lasts.
const SessionTTL = 30 * 24 * time.Hour

// CookieKey is the key that signs this portal's session cookies.
func (p *Portal) CookieKey() []byte { return p.cookieKey }

// SessionKey derives the key that signs this portal's cookies from the
// service secret, the slug and the catalog id, so a cookie is worthless on any
// other portal, and on a portal later created again under the same slug.
func SessionKey(secret []byte, slug string, id int64) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("portaldesk session\x00" + slug + "\x00" + strconv.FormatInt(id, 10)))
	return m.Sum(nil)
}

// OpenOptions are the service-wide settings for opening a portal.
type OpenOptions struct {
	Secret    []byte
	Readers   int
	CacheKiB  int
	Now       func() time.Time
	PublicURL string
	// Exclusive opens the database for this process alone (DBOptions.Exclusive).
	Exclusive bool
	// Guards are the service's throttles; nil gives the portal its own.
	Guards *Guards
	// MailDomain is where the service takes mail (portals' addresses are
	// slug@MailDomain); "" when it takes none.
	MailDomain string
	// HookAllow are non-public addresses webhooks may reach all the same.
	HookAllow []netip.Prefix
	// Replicated: Litestream follows the database (sqlitedb.Options).
	Replicated bool
	// Files gives a portal's files another home than its directory
	// (object storage); nil keeps them on disk.
	Files func(slug string) afero.Fs
	// BeforeCommit refuses writes once it errs (a cluster node that lost
	// the portal's lease; sqlitedb.Options.BeforeCommit).
	BeforeCommit func() error
}

// Open opens the portal in dir, migrating its schema when it is behind.
func Open(ctx context.Context, dir string, plan *Plan, o OpenOptions) (*Portal, error) {
	if _, err := os.Stat(filepath.Join(dir, DBFile)); err != nil {
		return nil, fmt.Errorf("portal %s: %w", plan.Slug, err)
	}
	var maxPages int64
	if plan.DBQuotaBytes > 0 {
		maxPages = plan.DBQuotaBytes / sqlitedb.PageSize
	}
	db, err := sqlitedb.Open(filepath.Join(dir, DBFile), sqlitedb.Options{MaxPageCount: maxPages, Readers: o.Readers, CacheKiB: o.CacheKiB, Exclusive: o.Exclusive, Watch: refTables, Replicated: o.Replicated, BeforeCommit: o.BeforeCommit})
	if err != nil {
		return nil, fmt.Errorf("portal %s: %w", plan.Slug, err)
	}
	// Read the schema version the way every read goes (a reader, or the
	// writer while the database is quiet): a cold open then costs one
	// connection, which later writes share.
	var version int
	if err := db.QueryRow(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		db.Close()
		return nil, fmt.Errorf("portal %s: %w", plan.Slug, err)
	}
	if version != SchemaVersion {
		if err := Migrate(ctx, db); err != nil {
			db.Close()
			return nil, fmt.Errorf("portal %s: %w", plan.Slug, err)
		}
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	if o.Guards == nil {
		o.Guards = NewGuards()
	}
	p := &Portal{core: &core{
		Slug:       plan.Slug,
		Dir:        dir,
		DB:         db,
		Fs:         afero.NewBasePathFs(afero.NewOsFs(), filepath.Join(dir, FilesDir)),
		Scratch:    afero.NewBasePathFs(afero.NewOsFs(), filepath.Join(dir, "scratch")),
		Now:        now,
		baseURL:    o.PublicURL + "/" + plan.Slug + "/",
		scheme:     strings.SplitN(o.PublicURL, "://", 2)[0],
		mailDomain: strings.ToLower(o.MailDomain),
		hookAllow:  o.HookAllow,
		guards:     o.Guards,
	}}
	p.q = db
	if o.Files != nil {
		p.Fs = o.Files(plan.Slug)
	}
	p.cookieKey = SessionKey(o.Secret, plan.Slug, plan.ID)
	p.codecs = securecookie.CodecsFromPairs(p.cookieKey)
	m := hmac.New(sha256.New, o.Secret)
	m.Write([]byte("portaldesk seal\x00" + plan.Slug))
	p.sealKey = m.Sum(nil)
	p.SetPlan(plan)
	return p, nil
}

// Close closes the portal's database, checkpointing its WAL.
func (p *Portal) Close() error {
	err := p.DB.Close()
	if p.OnClose != nil {
		p.OnClose() // after the service's connections: replication syncs the rest
	}
	return err
}

// refTables are the tables whose rows the portal keeps in memory between
// requests: settings, people (and their tokens), statuses and the price list.
var refTables = []string{"settings", "users", "tokens", "statuses", "work_types", "mail_templates", "tags", "triggers", "actions", "record_fields"}
