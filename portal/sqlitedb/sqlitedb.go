// Package sqlitedb is one SQLite file behind a single writer connection and
// a small reader pool, so that writers queue in Go rather than meeting
// SQLITE_BUSY. It knows nothing of helpdesks: the portal store and the
// catalog each speak their own SQL through it.
//
// A write transaction is a value: DB.Tx hands its function a *Tx, and
// every read or write meant to be part of the transaction is made on that
// value. Nothing joins a transaction implicitly.
package sqlitedb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Options tunes the connections of one database file.
type Options struct {
	// MaxPageCount caps the database size in pages (0 = no cap). It is a
	// per-connection setting, so changing it means reopening the pools.
	MaxPageCount int64
	// Readers is the size of the reader pool (default 2).
	Readers int
	// CacheKiB is SQLite's page cache per connection in KiB (default 512).
	CacheKiB int
	// Exclusive asks for the file to be this process's alone while it is
	// open (see Open). It suits a database opened for a request or two:
	// another process that wants it meanwhile waits until it is closed.
	Exclusive bool
	// Watch names the tables whose row changes Stamp counts: the tables a
	// caller keeps copies of in memory.
	Watch []string
	// Replicated: another reader (Litestream) follows the WAL and does the
	// checkpoints; closing leaves the WAL to it.
	Replicated bool
	// Remote, when set, is asked for every new connection whether the
	// database is served by another process now (a cluster's catalog, on
	// its primary node): a connector it returns is connected to instead of
	// the file. Reconnect drops the connections made before a change.
	Remote func(writer bool) driver.Connector
	// BeforeCommit is asked before every write is committed — a
	// transaction's COMMIT, a single Exec — and an error rolls the write
	// back (a cluster node that no longer holds the portal's lease).
	BeforeCommit func() error
}

// PageSize is SQLite's default page size, used to turn a byte quota into MaxPageCount.
const PageSize = 4096

// Queryer is what both a DB and a Tx offer: reads and writes. Code that
// may run inside or outside a transaction takes one.
type Queryer interface {
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) *sql.Row
	Exec(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// DB is one SQLite file: a single writer connection (BEGIN IMMEDIATE) and
// a reader pool (query_only).
type DB struct {
	w, r *sql.DB

	path       string
	replicated bool // Litestream checkpoints: Close leaves the WAL to it

	rstmts, wstmts sync.Map // query -> *sql.Stmt, prepared on its second use
	seen           sync.Map // queries run once, unprepared
	wanted         sync.Map // writer queries first run inside a transaction, prepared after it

	// writes counts the row changes the writer made to the watched tables,
	// counted by SQLite's pre-update hook as they happen; settled is the
	// highest count known to be committed (see Stamp).
	writes, settled atomic.Int64
	hooked          atomic.Bool // the writer's connections count changes

	queries  atomic.Int64 // statements run, for tests that count a page's queries
	maxPages int64        // Options.MaxPageCount

	exclusive bool
	release   func() // ends the process's claim on the file (see claimFile)

	readers      int          // the reader pool's size
	beforeCommit func() error // Options.BeforeCommit
}

// Reconnect closes the connections not in use, so the next statements
// connect again (after Options.Remote changed its answer); those in use
// are closed when they are given back.
func (d *DB) Reconnect() {
	d.w.SetMaxIdleConns(0)
	d.r.SetMaxIdleConns(0)
	d.w.SetMaxIdleConns(1)
	d.r.SetMaxIdleConns(d.readers)
}

// Queries is how many statements have been run on d (and its transactions).
func (d *DB) Queries() int64 { return d.queries.Load() }

// Exclusive reports whether the file is open for this process alone.
func (d *DB) Exclusive() bool { return d.exclusive }

// Path is the database file.
func (d *DB) Path() string { return d.path }

// Writer is the writer's pool of one connection, for PRAGMAs, VACUUM and
// statistics. Writes go through Exec and Tx, which prepare statements and
// tell a full quota from a full disk.
func (d *DB) Writer() *sql.DB { return d.w }

// Readers is the reader pool, for statistics.
func (d *DB) Readers() *sql.DB { return d.r }

// Stamp says which version of the watched tables a read that starts now
// sees: a copy read at the same stamp is still true. ok is false while a
// write to them may be uncommitted; the caller then reads without keeping
// what it read.
//
// The hook counts a change before its commit. A count is settled once the
// writer is seen idle after it: the single writer connection is returned
// to its pool only after its statement or transaction has finished, so
// every change counted before that moment is committed, and any read that
// starts afterwards sees it.
func (d *DB) Stamp() (stamp int64, ok bool) {
	if !d.hooked.Load() {
		return 0, false // nothing would tell a kept copy that it is stale
	}
	w := d.writes.Load()
	if d.settled.Load() == w {
		return w, true
	}
	if d.w.Stats().InUse > 0 {
		return 0, false
	}
	for {
		s := d.settled.Load()
		if s >= w || d.settled.CompareAndSwap(s, w) {
			break
		}
	}
	return w, d.settled.Load() == w
}

// Unchanged reports whether no write to the watched tables began since stamp.
func (d *DB) Unchanged(stamp int64) bool { return d.writes.Load() == stamp }

// stmt returns the prepared statement for query on pool, preparing it once;
// SQLite's parser is most of the cost of a small query. A query's first run
// on this database is not prepared (nil, nil): most portals the registry
// opens serve a request or two and close again, and a statement prepared
// for a cache that is never used again is parsed twice for nothing.
func stmt(ctx context.Context, cache *sync.Map, seen *sync.Map, pool *sql.DB, query string) (*sql.Stmt, error) {
	if s, ok := cache.Load(query); ok {
		return s.(*sql.Stmt), nil
	}
	if seen != nil {
		if _, again := seen.LoadOrStore(query, true); !again {
			return nil, nil
		}
	}
	s, err := pool.PrepareContext(ctx, planStable(query))
	if err != nil {
		return nil, err
	}
	if old, loaded := cache.LoadOrStore(query, s); loaded {
		s.Close()
		return old.(*sql.Stmt), nil
	}
	return s, nil
}

// planStable writes every "= ?" of query as "= +?", which means the same.
// Since SQLite 3.51 the planner guesses a "col = ?" term to be a yes/no
// test when the bound value is 0 or 1, and so marks the statement to be
// parsed and planned again whenever the value of such a parameter moves
// between 0 or 1 and anything else: ticket #1 after ticket #7, user 1
// after user 2. A cached statement was then parsed again on many of its
// uses. The unary plus hides the parameter from that guess and
// from nothing else: a "col = +?" term still uses col's index, affinity
// and collation (TestPlanStableKeepsIndexes).
func planStable(query string) string {
	return stableParams.Replace(query)
}

// stableParams also covers LIMIT and OFFSET, whose bound values the
// planner reads the same way.
var stableParams = strings.NewReplacer("= ?", "= +?", "LIMIT ?", "LIMIT +?", "OFFSET ?", "OFFSET +?")

// reader is the pool a read goes to: the reader pool, except while the
// database is quiet — no reader connection open and the writer idle — when
// the writer's one connection serves it. A portal the registry has just
// opened then costs one connection (one parse of the schema, one set of
// prepared statements) instead of two; readers open when requests overlap.
func (d *DB) reader() (*sql.DB, *sync.Map) {
	if d.r.Stats().OpenConnections == 0 && d.w.Stats().InUse == 0 {
		return d.w, &d.wstmts
	}
	return d.r, &d.rstmts
}

// QueryRow runs a one-row query on a reader with a cached prepared statement.
func (d *DB) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	d.queries.Add(1)
	pool, cache := d.reader()
	s, err := stmt(ctx, cache, &d.seen, pool, query)
	if err != nil || s == nil {
		return pool.QueryRowContext(ctx, planStable(query), args...) // an error reaches Scan
	}
	return s.QueryRowContext(ctx, args...)
}

// Query runs a query on a reader with a cached prepared statement.
func (d *DB) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	d.queries.Add(1)
	pool, cache := d.reader()
	s, err := stmt(ctx, cache, &d.seen, pool, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return pool.QueryContext(ctx, planStable(query), args...)
	}
	return s.QueryContext(ctx, args...)
}

// Exec runs one statement on the writer, as a transaction of its own, with
// a cached prepared statement.
func (d *DB) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	d.queries.Add(1)
	if d.beforeCommit != nil {
		if err := d.beforeCommit(); err != nil {
			return nil, err
		}
	}
	s, err := stmt(ctx, &d.wstmts, &d.seen, d.w, query)
	if err != nil {
		return nil, d.mapError(err)
	}
	var res sql.Result
	if s == nil {
		res, err = d.w.ExecContext(ctx, planStable(query), args...)
	} else {
		res, err = s.ExecContext(ctx, args...)
	}
	if err != nil {
		return nil, d.mapError(err)
	}
	return res, nil
}

// Tx is one write transaction on the writer's connection. Reads made on it
// see what it has written so far and take no second connection.
type Tx struct {
	db *DB
	tx *sql.Tx
}

// stmt is query on the transaction: the writer's prepared statement when
// it has one, else nil, and query then counts as wanted (prepared after
// the commit: the single writer connection is the transaction's).
func (t *Tx) stmt(ctx context.Context, query string) *sql.Stmt {
	t.db.queries.Add(1)
	if s, ok := t.db.wstmts.Load(query); ok {
		return t.tx.StmtContext(ctx, s.(*sql.Stmt))
	}
	t.db.wanted.Store(query, true)
	return nil
}

// Exec runs a statement inside the transaction.
func (t *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := t.stmt(ctx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, planStable(query), args...)
}

// Query runs a query inside the transaction.
func (t *Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := t.stmt(ctx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, planStable(query), args...)
}

// QueryRow runs a one-row query inside the transaction.
func (t *Tx) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if s := t.stmt(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, planStable(query), args...)
}

// Tx runs fn in a write transaction (BEGIN IMMEDIATE) and commits it when
// fn returns nil; any error rolls everything back.
func (d *DB) Tx(ctx context.Context, fn func(tx *Tx) error) error {
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return d.mapError(err)
	}
	if err := fn(&Tx{db: d, tx: tx}); err != nil {
		_ = tx.Rollback()
		return d.mapError(err)
	}
	if d.beforeCommit != nil {
		if err := d.beforeCommit(); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return d.mapError(err)
	}
	d.prepareWanted(ctx)
	return nil
}

// prepareWanted prepares the statements a transaction met for the first time.
func (d *DB) prepareWanted(ctx context.Context) {
	d.wanted.Range(func(k, _ any) bool {
		d.wanted.Delete(k)
		_, _ = stmt(ctx, &d.wstmts, &d.seen, d.w, k.(string)) // prepared when seen before
		return true
	})
}

// ErrQuotaExceeded is returned when a write would grow the database past
// its MaxPageCount. Nothing of the failed statement or transaction is kept.
var ErrQuotaExceeded = errors.New("database quota exceeded")

// ErrDiskFull is returned when the disk itself is full.
var ErrDiskFull = errors.New("disk full")

// mapError tells the two kinds of SQLITE_FULL apart: the database's own
// cap (max_page_count) and a full disk. With a cap set, it is the cap
// unless the disk itself has no room left: comparing the page count with
// the cap is no guide, for a transaction that needed more pages than were
// left fails with the count still well below it.
func (d *DB) mapError(err error) error {
	var se interface{ Code() int }
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL {
		if d.maxPages > 0 && !diskFull(filepath.Dir(d.path)) {
			return fmt.Errorf("%w: %w", ErrQuotaExceeded, err)
		}
		return fmt.Errorf("%w: %w", ErrDiskFull, err)
	}
	return err
}

// diskFull reports whether the file system holding dir has less room
// than a few pages' worth of writes.
func diskFull(dir string) bool {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return false
	}
	return st.Bavail*uint64(st.Bsize) < 1<<20
}

// IsUniqueViolation reports whether err is a UNIQUE or PRIMARY KEY constraint failure.
func IsUniqueViolation(err error) bool {
	var se interface{ Code() int } // *sqlite.Error, or a RemoteError
	if errors.As(err, &se) {
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// RemoteError is an SQLite error that happened in another process (see
// Options.Remote), with its result code.
type RemoteError struct {
	Result  int
	Message string
}

func (e *RemoteError) Error() string { return e.Message }

// Code is SQLite's extended result code.
func (e *RemoteError) Code() int { return e.Result }

// setup is the batch of pragmas a new connection runs before its first
// use. The connector runs it as one statement list, in this order, instead
// of handing the driver one _pragma DSN parameter each, which the driver
// runs sorted by name: the exclusive writer needs its own order (below).
func setup(o Options, writer bool) string {
	cache := o.CacheKiB
	if cache <= 0 {
		cache = 512
	}
	var b strings.Builder
	if writer && o.Exclusive {
		// The first pragma that needs the schema (cache_size) is the first
		// read. The writer of an exclusive file connects first and takes
		// the process-wide lock with it: when another process has the file
		// open it fails at once instead of waiting, and Open opens the
		// file the usual way. Afterwards it waits for locks like the rest.
		fmt.Fprintf(&b, "PRAGMA busy_timeout=0; PRAGMA cache_size=-%d; PRAGMA busy_timeout=10000;", cache)
	} else {
		fmt.Fprintf(&b, "PRAGMA busy_timeout=10000; PRAGMA cache_size=-%d;", cache)
	}
	b.WriteString(" PRAGMA temp_store=MEMORY;")
	if writer {
		// WAL is recorded in the file; readers find it there.
		b.WriteString(" PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA journal_size_limit=4194304;")
		if o.MaxPageCount > 0 {
			fmt.Fprintf(&b, " PRAGMA max_page_count=%d;", o.MaxPageCount)
		}
	} else {
		b.WriteString(" PRAGMA query_only=ON;")
	}
	return b.String()
}

// connector opens connections to one database file: it keeps the -wal and
// -shm files on disk when the last connection closes, runs the setup
// pragmas, and on the writer counts changes to the watched tables.
//
// Persisting the WAL matters: without it every cold open of a portal
// creates both files again and runs WAL recovery, several times the cost
// of an open that finds them.
type connector struct {
	driver.Connector
	remote func(writer bool) driver.Connector
	writer bool
	setup  string
	watch  map[string]bool
	writes *atomic.Int64 // the writer's count of changes to watched tables; nil for readers
	hooked *atomic.Bool  // set once a writer connection counts them
}

func (p connector) Connect(ctx context.Context) (driver.Conn, error) {
	if p.remote != nil {
		if rc := p.remote(p.writer); rc != nil {
			return rc.Connect(ctx)
		}
	}
	c, err := p.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	if f, ok := c.(interface {
		FileControlPersistWAL(string, int) (int, error)
	}); ok {
		if _, err := f.FileControlPersistWAL("main", 1); err != nil {
			c.Close()
			return nil, err
		}
	}
	if _, err := c.(driver.ExecerContext).ExecContext(ctx, p.setup, nil); err != nil {
		c.Close()
		return nil, err
	}
	if h, ok := c.(sqlite.HookRegisterer); ok && p.writes != nil && len(p.watch) > 0 {
		writes, watch := p.writes, p.watch
		h.RegisterPreUpdateHook(func(u sqlite.SQLitePreUpdateData) {
			if watch[u.TableName] {
				writes.Add(1)
			}
		})
		p.hooked.Store(true)
	}
	return c, nil
}

func openPool(path, setup string, writer, exclusive bool, watch map[string]bool, writes *atomic.Int64, hooked *atomic.Bool, remote func(bool) driver.Connector) (*sql.DB, error) {
	q := url.Values{}
	if writer {
		q.Set("_txlock", "immediate")
	}
	if exclusive {
		q.Set("vfs", "unix-excl")
	}
	c, err := sqlite.NewConnector("file:" + path + "?" + q.Encode())
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(connector{c, remote, writer, setup, watch, writes, hooked}), nil
}

// Open opens the file at path with the house pragmas on every connection.
//
// With o.Exclusive the file is opened with SQLite's unix-excl VFS: the
// process takes one lock on the file for as long as it is open, and keeps
// the WAL index in its own memory instead of the -shm file. Its
// connections share that index and lock each other as usual; only other
// processes are kept out. A cold open then saves the -shm file's locks,
// truncation, regrowth and mapping, a good part of its cost. When
// another process has the file open, the lock is refused at once and the
// file is opened the usual way.
func Open(path string, o Options) (*DB, error) {
	key := path
	if !filepath.IsAbs(key) {
		if abs, err := filepath.Abs(path); err == nil {
			key = abs
		}
	}
	granted, release := claimFile(key, o.Exclusive)
	if granted {
		d, err := open(path, o)
		if err == nil {
			// Connect the writer now: its first read takes the lock.
			if err = d.w.Ping(); err == nil {
				d.exclusive, d.release = true, release
				return d, nil
			}
			d.closePools()
		}
		release()
		_, release = claimFile(key, false)
	}
	o.Exclusive = false
	d, err := open(path, o)
	if err != nil {
		release()
		return nil, err
	}
	d.release = release
	return d, nil
}

func open(path string, o Options) (*DB, error) {
	d := &DB{path: path, maxPages: o.MaxPageCount, replicated: o.Replicated, beforeCommit: o.BeforeCommit}
	var watch map[string]bool
	if len(o.Watch) > 0 {
		watch = make(map[string]bool, len(o.Watch))
		for _, t := range o.Watch {
			watch[t] = true
		}
	}
	w, err := openPool(path, setup(o, true), true, o.Exclusive, watch, &d.writes, &d.hooked, o.Remote)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	if !o.Exclusive {
		// An exclusive file's writer stays connected: it holds the lock.
		w.SetConnMaxIdleTime(5 * time.Minute)
	}
	readers := o.Readers
	if readers <= 0 {
		readers = 2
	}
	r, err := openPool(path, setup(o, false), false, o.Exclusive, nil, nil, nil, o.Remote)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	d.readers = readers
	r.SetConnMaxIdleTime(time.Minute)
	d.w, d.r = w, r
	return d, nil
}

// files are the database files this process has open, and how. SQLite
// shares one set of locks and one WAL index per file among all of a
// process's connections, whatever their VFS. An exclusive (unix-excl)
// file's WAL index is in memory and its lock is the whole process's, so no
// ordinary connection may open it meanwhile: it would map the -shm file,
// which is stale, and its unlocking would drop the process's lock.
var files = struct {
	sync.Mutex
	open map[string]*fileUse
}{open: map[string]*fileUse{}}

type fileUse struct {
	n         int
	exclusive bool
	closed    chan struct{} // closed when the last user has closed the file
}

// claimFile counts one more open of the file at path (absolute). An
// exclusive open is granted only when the process does not have the file
// open already; granted or not, the claim counts until release is called.
// Any open waits while the file is open exclusively: that is for a request
// or two.
func claimFile(path string, exclusive bool) (granted bool, release func()) {
	for {
		files.Lock()
		u := files.open[path]
		if u != nil && u.exclusive {
			files.Unlock()
			<-u.closed
			continue
		}
		if u == nil {
			u = &fileUse{exclusive: exclusive, closed: make(chan struct{})}
			files.open[path] = u
		} else {
			exclusive = false
		}
		u.n++
		files.Unlock()
		var once sync.Once
		return exclusive, func() {
			once.Do(func() {
				files.Lock()
				defer files.Unlock()
				if u.n--; u.n == 0 {
					delete(files.open, path)
					close(u.closed)
				}
			})
		}
	}
}

// Close checkpoints the WAL, when it holds anything, and closes both pools.
// Most portals the registry closes were only read since they were opened,
// and their WAL is still empty from the last close: skipping the checkpoint
// then saves a statement and its file syscalls on every eviction.
func (d *DB) Close() error {
	if fi, err := os.Stat(d.path + "-wal"); !d.replicated && d.w.Stats().OpenConnections > 0 && (err != nil || fi.Size() > 0) {
		_, _ = d.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	}
	for _, c := range []*sync.Map{&d.rstmts, &d.wstmts} {
		c.Range(func(k, v any) bool { v.(*sql.Stmt).Close(); return true })
	}
	err := d.closePools()
	if d.release != nil {
		d.release()
	}
	return err
}

func (d *DB) closePools() error {
	return errors.Join(d.r.Close(), d.w.Close())
}

// VacuumInto writes a consistent copy of the database to dst (which must
// not exist) on the writer's connection, without blocking readers.
func (d *DB) VacuumInto(ctx context.Context, dst string) error {
	_, err := d.w.ExecContext(ctx, "VACUUM INTO ?", dst)
	return err
}

// CheckIntegrity opens the closed database file at path read-only (a
// snapshot, never a live file) and runs SQLite's integrity check.
func CheckIntegrity(path string) error {
	conn, err := sql.Open("sqlite", "file:"+path+"?mode=ro&immutable=1")
	if err != nil {
		return err
	}
	defer conn.Close()
	var res string
	if err := conn.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	if res != "ok" {
		return fmt.Errorf("integrity check: %s", res)
	}
	return nil
}
