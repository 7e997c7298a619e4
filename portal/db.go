package portal

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
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// DBOptions tunes the connections of one SQLite database file.
type DBOptions struct {
	// MaxPageCount caps the database size in pages (0 = no cap). It is a
	// per-connection setting, so changing it means reopening the pools.
	MaxPageCount int64
	// Readers is the size of the reader pool (default 2).
	Readers int
	// CacheKiB is SQLite's page cache per connection in KiB (default 512).
	CacheKiB int
	// Exclusive asks for the file to be this process's alone while it is
	// open (see OpenDB). It suits a database opened for a request or two:
	// another process that wants it meanwhile waits until it is closed.
	Exclusive bool
}

// DB is one SQLite file behind a single writer connection and a small reader
// pool, so that writers queue in Go rather than meeting SQLITE_BUSY.
type DB struct {
	W *sql.DB // the single writer; BEGIN is IMMEDIATE
	R *sql.DB // readers, query_only

	path string

	rstmts, wstmts sync.Map // query -> *sql.Stmt, prepared on its second use
	seen           sync.Map // queries run once, unprepared
	wanted         sync.Map // writer queries first run inside a transaction, prepared after it

	// writes counts the row changes the writer made to the tables that
	// reference data is cached from (refTables), counted by SQLite's
	// pre-update hook as they happen; settled is the highest count known
	// to be committed (see Stamp).
	writes, settled atomic.Int64
	hooked          atomic.Bool // the writer's connections count changes

	exclusive bool
	release   func() // ends the process's claim on the file (see claimFile)
}

// Exclusive reports whether the file is open for this process alone.
func (d *DB) Exclusive() bool { return d.exclusive }

// refTables are the tables whose rows the portal keeps in memory between
// requests: settings, people (and their tokens), statuses and the price list.
var refTables = map[string]bool{"settings": true, "users": true, "tokens": true, "statuses": true, "work_types": true}

// Stamp says which version of refTables a read that starts now sees: a
// cached copy read at the same stamp is still true. ok is false while a
// write to them may be uncommitted; the caller then reads without caching.
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
	if d.W.Stats().InUse > 0 {
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

// Unchanged reports whether no write to refTables began since stamp.
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
// after user 2. A cached statement was then parsed again on a tenth or
// more of its uses (6–9 % of the CPU of the ticket page across many
// portals). The unary plus hides the parameter from that guess and from
// nothing else: a "col = +?" term still uses col's index, affinity and
// collation (TestPlanStableKeepsIndexes).
func planStable(query string) string {
	return stableParams.Replace(query)
}

// stableParams also covers LIMIT and OFFSET, whose bound values the
// planner reads the same way.
var stableParams = strings.NewReplacer("= ?", "= +?", "LIMIT ?", "LIMIT +?", "OFFSET ?", "OFFSET +?")

// reader is the pool a read goes to: the reader pool, except while the
// portal is quiet — no reader connection open and the writer idle — when
// the writer's one connection serves it. A portal the registry has just
// opened then costs one connection (one parse of the schema, one set of
// prepared statements) instead of two; readers open when requests overlap.
// A read inside a write transaction goes to the transaction when its ctx
// says so (see Tx); without that ctx it finds the writer in use and goes
// to the readers, so it never waits for its own transaction.
func (d *DB) reader() (*sql.DB, *sync.Map) {
	if d.R.Stats().OpenConnections == 0 && d.W.Stats().InUse == 0 {
		return d.W, &d.wstmts
	}
	return d.R, &d.rstmts
}

// txKey marks a context as inside one of d's write transactions (see Tx).
type txKey struct{ d *DB }

// inTx is the write transaction of d that ctx is inside, if any.
func (d *DB) inTx(ctx context.Context) *sql.Tx {
	tx, _ := ctx.Value(txKey{d}).(*sql.Tx)
	return tx
}

// txStmt is query on tx: its prepared statement when the writer has one,
// else nil, and query then counts as wanted (prepared after the commit).
func (d *DB) txStmt(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	if s, ok := d.wstmts.Load(query); ok {
		return tx.StmtContext(ctx, s.(*sql.Stmt))
	}
	d.wanted.Store(query, true)
	return nil
}

// QueryRow runs a one-row query on a reader with a cached prepared
// statement; inside a transaction (ctx from Tx), in that transaction.
func (d *DB) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if tx := d.inTx(ctx); tx != nil {
		if s := d.txStmt(ctx, tx, query); s != nil {
			return s.QueryRowContext(ctx, args...)
		}
		return tx.QueryRowContext(ctx, planStable(query), args...)
	}
	pool, cache := d.reader()
	s, err := stmt(ctx, cache, &d.seen, pool, query)
	if err != nil || s == nil {
		return pool.QueryRowContext(ctx, planStable(query), args...) // an error reaches Scan
	}
	return s.QueryRowContext(ctx, args...)
}

// Query runs a query on a reader with a cached prepared statement; inside
// a transaction (ctx from Tx), in that transaction.
func (d *DB) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if tx := d.inTx(ctx); tx != nil {
		if s := d.txStmt(ctx, tx, query); s != nil {
			return s.QueryContext(ctx, args...)
		}
		return tx.QueryContext(ctx, planStable(query), args...)
	}
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

// Exec runs a statement on the writer with a cached prepared statement;
// inside a transaction (ctx from Tx), in that transaction.
func (d *DB) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if tx := d.inTx(ctx); tx != nil {
		return d.TxExec(ctx, tx, query, args...)
	}
	s, err := stmt(ctx, &d.wstmts, &d.seen, d.W, query)
	if err != nil {
		return nil, mapDBError(d, err)
	}
	if s == nil {
		res, err := d.W.ExecContext(ctx, planStable(query), args...)
		if err != nil {
			return nil, mapDBError(d, err)
		}
		return res, nil
	}
	res, err := s.ExecContext(ctx, args...)
	if err != nil {
		return nil, mapDBError(d, err)
	}
	return res, nil
}

// TxExec runs a writer statement inside tx, prepared when it has been
// before. The single writer connection is the transaction's, so a statement
// seen for the first time runs unprepared and is prepared after the commit.
func (d *DB) TxExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if s := d.txStmt(ctx, tx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, planStable(query), args...)
}

// prepareWanted prepares the statements TxExec met for the first time.
func (d *DB) prepareWanted(ctx context.Context) {
	d.wanted.Range(func(k, _ any) bool {
		d.wanted.Delete(k)
		_, _ = stmt(ctx, &d.wstmts, &d.seen, d.W, k.(string)) // prepared when seen before
		return true
	})
}

// setup is the batch of pragmas a new connection runs before its first
// use. The connector runs it as one statement list, in this order, instead
// of handing the driver one _pragma DSN parameter each, which the driver
// runs sorted by name: the exclusive writer needs its own order (below).
// The batch made no measurable difference to a cold open's cost.
func setup(o DBOptions, writer bool) string {
	cache := o.CacheKiB
	if cache <= 0 {
		cache = 512
	}
	var b strings.Builder
	if writer && o.Exclusive {
		// The first pragma that needs the schema (cache_size) is the first
		// read. The writer of an exclusive file connects first and takes
		// the process-wide lock with it: when another process has the file
		// open it fails at once instead of waiting, and OpenDB opens the
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
// pragmas, and on the writer counts changes to refTables.
//
// Persisting the WAL matters: without it every cold open of a portal
// creates both files again and runs WAL recovery (measured here, 2.9 ms
// for the first read and write of a closed portal, against 0.6 ms with the
// files kept).
type connector struct {
	driver.Connector
	setup  string
	writes *atomic.Int64 // the writer's count of changes to refTables; nil for readers
	hooked *atomic.Bool  // set once a writer connection counts them
}

func (p connector) Connect(ctx context.Context) (driver.Conn, error) {
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
	if h, ok := c.(sqlite.HookRegisterer); ok && p.writes != nil {
		writes := p.writes
		h.RegisterPreUpdateHook(func(u sqlite.SQLitePreUpdateData) {
			if refTables[u.TableName] {
				writes.Add(1)
			}
		})
		p.hooked.Store(true)
	}
	return c, nil
}

func openPool(path, setup string, writer, exclusive bool, writes *atomic.Int64, hooked *atomic.Bool) (*sql.DB, error) {
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
	return sql.OpenDB(connector{c, setup, writes, hooked}), nil
}

// OpenDB opens the file at path with the house pragmas on every connection.
//
// With o.Exclusive the file is opened with SQLite's unix-excl VFS: the
// process takes one lock on the file for as long as it is open, and keeps
// the WAL index in its own memory instead of the -shm file. Its
// connections share that index and lock each other as usual; only other
// processes are kept out. A cold open then saves the -shm file's locks,
// truncation, regrowth and mapping: a third of its cost (0.38 → 0.25 ms
// measured here). When another process has the file open, the lock is
// refused at once and the file is opened the usual way.
func OpenDB(path string, o DBOptions) (*DB, error) {
	key := path
	if abs, err := filepath.Abs(path); err == nil {
		key = abs
	}
	granted, release := claimFile(key, o.Exclusive)
	if granted {
		d, err := openDB(path, o)
		if err == nil {
			// Connect the writer now: its first read takes the lock.
			if err = d.W.Ping(); err == nil {
				d.exclusive, d.release = true, release
				return d, nil
			}
			d.closePools()
		}
		release()
		_, release = claimFile(key, false)
	}
	o.Exclusive = false
	d, err := openDB(path, o)
	if err != nil {
		release()
		return nil, err
	}
	d.release = release
	return d, nil
}

func openDB(path string, o DBOptions) (*DB, error) {
	d := &DB{path: path}
	w, err := openPool(path, setup(o, true), true, o.Exclusive, &d.writes, &d.hooked)
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
	r, err := openPool(path, setup(o, false), false, o.Exclusive, nil, nil)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	r.SetConnMaxIdleTime(time.Minute)
	d.W, d.R = w, r
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
	if fi, err := os.Stat(d.path + "-wal"); d.W.Stats().OpenConnections > 0 && (err != nil || fi.Size() > 0) {
		_, _ = d.W.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
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
	return errors.Join(d.R.Close(), d.W.Close())
}

// Tx runs fn in a write transaction and commits it when fn returns nil.
// The ctx fn gets carries the transaction: a read or write made with it
// through d (Query, QueryRow, Exec) runs inside the transaction, on the
// writer's connection, and sees what fn has written so far. Such reads
// (the people to notify, the settings, their mail preferences) used to go
// to a reader, because the writer was busy with the transaction; on a
// portal just opened for a write, that meant a second connection and a
// second parse of the schema, for one in five of the mix's cold opens.
func (d *DB) Tx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	tx, err := d.W.BeginTx(ctx, nil)
	if err != nil {
		return mapDBError(d, err)
	}
	if err := fn(context.WithValue(ctx, txKey{d}, tx), tx); err != nil {
		_ = tx.Rollback()
		return mapDBError(d, err)
	}
	if err := tx.Commit(); err != nil {
		return mapDBError(d, err)
	}
	d.prepareWanted(ctx)
	return nil
}

// ErrQuotaExceeded is returned when a write would grow the database past the
// portal's quota. Nothing of the failed transaction is kept.
var ErrQuotaExceeded = errors.New("database quota exceeded")

// ErrDiskFull is returned when the disk itself is full.
var ErrDiskFull = errors.New("disk full")

func mapDBError(d *DB, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL {
		var pages, maxPages int64
		_ = d.W.QueryRow("PRAGMA page_count").Scan(&pages)
		_ = d.W.QueryRow("PRAGMA max_page_count").Scan(&maxPages)
		if maxPages > 0 && pages+8 >= maxPages {
			return fmt.Errorf("%w: %w", ErrQuotaExceeded, err)
		}
		return fmt.Errorf("%w: %w", ErrDiskFull, err)
	}
	return err
}

// IsUniqueViolation reports whether err is a UNIQUE or PRIMARY KEY constraint failure.
func IsUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}
