package catalog

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"portaldesk/portal/sqlitedb"
)

// In a cluster the catalog is one SQLite file on one node, the primary;
// the other nodes speak SQL to it over the primary's authenticated
// internal API. Their catalog is the same sqlitedb.DB as the primary's,
// whose connections (sqlitedb.Options.Remote) are remote ones: every
// query, statement and transaction the catalog's code runs is run on the
// primary's file, unchanged — the compare-and-set transitions and the
// unique indexes decide there as they do on one node.

// OpenCluster opens the catalog at path for a cluster node: route says,
// for each new connection, whether the primary is elsewhere (a remote
// connector) or here (nil: the file). Nothing is migrated; the primary
// calls Migrate when it takes over.
func OpenCluster(path string, route func(writer bool) driver.Connector) (*Catalog, error) {
	db, err := sqlitedb.Open(path, sqlitedb.Options{Readers: 4, CacheKiB: 4096, Replicated: true, Remote: route})
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return &Catalog{db: db, now: time.Now}, nil
}

// Migrate brings the catalog's schema up to date (the primary, once it
// holds the file).
func (c *Catalog) Migrate(ctx context.Context) error {
	if err := migrations.Apply(ctx, c.db); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	return nil
}

// Reconnect drops the catalog's idle connections, so the next statements
// go where route says now (the primary changed).
func (c *Catalog) Reconnect() { c.db.Reconnect() }

// remoteReq is one call of the catalog's internal API.
type remoteReq struct {
	Op     string `json:"op"` // exec, query, begin, commit, rollback
	Tx     string `json:"tx,omitempty"`
	Writer bool   `json:"writer,omitempty"` // a writer connection's read (sees the last writes)
	SQL    string `json:"sql,omitempty"`
	Args   []val  `json:"args,omitempty"`
}

type remoteResp struct {
	Tx       string   `json:"tx,omitempty"`
	Cols     []string `json:"cols,omitempty"`
	Rows     [][]val  `json:"rows,omitempty"`
	LastID   int64    `json:"last_id,omitempty"`
	Affected int64    `json:"affected,omitempty"`
	Err      string   `json:"err,omitempty"`
	Code     int      `json:"code,omitempty"` // SQLite's result code of Err
}

// val is one SQL value, typed (JSON alone would turn int64 into float64).
type val struct {
	I *int64     `json:"i,omitempty"`
	F *float64   `json:"f,omitempty"`
	S *string    `json:"s,omitempty"`
	B *[]byte    `json:"b,omitempty"`
	T *time.Time `json:"t,omitempty"`
	O *bool      `json:"o,omitempty"`
}

func toVal(v any) (val, error) {
	switch x := v.(type) {
	case nil:
		return val{}, nil
	case int64:
		return val{I: &x}, nil
	case float64:
		return val{F: &x}, nil
	case string:
		return val{S: &x}, nil
	case []byte:
		b := append([]byte{}, x...)
		return val{B: &b}, nil
	case time.Time:
		return val{T: &x}, nil
	case bool:
		return val{O: &x}, nil
	}
	return val{}, fmt.Errorf("catalog: a value of type %T cannot be sent", v)
}

func (v val) value() driver.Value {
	switch {
	case v.I != nil:
		return *v.I
	case v.F != nil:
		return *v.F
	case v.S != nil:
		return *v.S
	case v.B != nil:
		return *v.B
	case v.T != nil:
		return *v.T
	case v.O != nil:
		return *v.O
	}
	return nil
}

// Remote is how a node reaches the primary's catalog.
type Remote struct {
	// Primary is the primary's base URL now ("" or an error when none is
	// known); Lost tells it that url did not answer as the primary.
	Primary func(ctx context.Context) (string, error)
	Lost    func(url string)
	Client  *http.Client
	Sign    func(*http.Request) // authenticates a call (the cluster secret)
}

// RemotePath is where the primary answers catalog calls.
const RemotePath = "/_cluster/catalog"

// Connector is a connector to the primary's catalog, for a writer's pool
// or a reader's.
func (rm *Remote) Connector(writer bool) driver.Connector {
	return remoteConnector{rm, writer}
}

type remoteConnector struct {
	rm     *Remote
	writer bool
}

func (c remoteConnector) Connect(ctx context.Context) (driver.Conn, error) {
	url, err := c.rm.Primary(ctx)
	if err != nil {
		return nil, err
	}
	return &remoteConn{rm: c.rm, url: url, writer: c.writer}, nil
}

func (c remoteConnector) Driver() driver.Driver { return remoteDriver{} }

type remoteDriver struct{}

func (remoteDriver) Open(string) (driver.Conn, error) {
	return nil, errors.New("catalog: open remote connections through the connector")
}

// remoteConn is one connection to the primary's catalog; a transaction
// is held there under its id between calls.
type remoteConn struct {
	rm     *Remote
	url    string
	writer bool
	tx     string
	broken bool
}

// ErrNoPrimary: no node holds the catalog now (one is taking over).
var ErrNoPrimary = errors.New("the cluster's catalog has no primary at the moment; try again in a few seconds")

func (c *remoteConn) call(ctx context.Context, q remoteReq) (*remoteResp, error) {
	q.Tx, q.Writer = c.tx, c.writer
	body, _ := json.Marshal(q)
	req, err := http.NewRequestWithContext(ctx, "POST", c.url+RemotePath, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	c.rm.Sign(req)
	resp, err := c.rm.Client.Do(req)
	if err != nil {
		c.broken = true
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" && c.tx == "" {
			// Nothing reached the primary: another connection may retry.
			c.rm.Lost(c.url)
			return nil, driver.ErrBadConn
		}
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusMisdirectedRequest {
		// Not the primary (any more): nothing was run there.
		c.broken = true
		c.rm.Lost(c.url)
		if c.tx == "" {
			return nil, driver.ErrBadConn
		}
		return nil, ErrNoPrimary
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		c.broken = true
		return nil, fmt.Errorf("catalog: the primary answered %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	var out remoteResp
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		c.broken = true
		return nil, fmt.Errorf("catalog: %w", err)
	}
	if out.Err != "" {
		if out.Code == -1 {
			c.broken = true // the transaction is gone there
		}
		return nil, &sqlitedb.RemoteError{Result: out.Code, Message: out.Err}
	}
	return &out, nil
}

func argsOf(named []driver.NamedValue) ([]val, error) {
	out := make([]val, len(named))
	for i, a := range named {
		v, err := toVal(a.Value)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (c *remoteConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	vs, err := argsOf(args)
	if err != nil {
		return nil, err
	}
	r, err := c.call(ctx, remoteReq{Op: "exec", SQL: query, Args: vs})
	if err != nil {
		return nil, err
	}
	return remoteResult{r.LastID, r.Affected}, nil
}

func (c *remoteConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	vs, err := argsOf(args)
	if err != nil {
		return nil, err
	}
	r, err := c.call(ctx, remoteReq{Op: "query", SQL: query, Args: vs})
	if err != nil {
		return nil, err
	}
	return &remoteRows{cols: r.Cols, rows: r.Rows}, nil
}

func (c *remoteConn) BeginTx(ctx context.Context, _ driver.TxOptions) (driver.Tx, error) {
	if c.tx != "" {
		return nil, errors.New("catalog: a transaction is open on this connection")
	}
	r, err := c.call(ctx, remoteReq{Op: "begin"})
	if err != nil {
		return nil, err
	}
	c.tx = r.Tx
	return remoteTx{c}, nil
}

func (c *remoteConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *remoteConn) Prepare(query string) (driver.Stmt, error) {
	return remoteStmt{c, query}, nil
}

func (c *remoteConn) Close() error {
	if c.tx != "" {
		_, _ = c.call(context.Background(), remoteReq{Op: "rollback"})
		c.tx = ""
	}
	return nil
}

// IsValid tells database/sql not to reuse a connection that failed, or
// one to a primary that is no longer where the catalog is.
func (c *remoteConn) IsValid() bool { return !c.broken }

func (c *remoteConn) ResetSession(context.Context) error {
	if c.broken {
		return driver.ErrBadConn
	}
	return nil
}

type remoteTx struct{ c *remoteConn }

func (t remoteTx) Commit() error {
	_, err := t.c.call(context.Background(), remoteReq{Op: "commit"})
	t.c.tx = ""
	return err
}

func (t remoteTx) Rollback() error {
	_, err := t.c.call(context.Background(), remoteReq{Op: "rollback"})
	t.c.tx = ""
	return err
}

type remoteStmt struct {
	c     *remoteConn
	query string
}

func (s remoteStmt) Close() error  { return nil }
func (s remoteStmt) NumInput() int { return -1 }
func (s remoteStmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), named(args))
}
func (s remoteStmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), named(args))
}
func (s remoteStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.c.ExecContext(ctx, s.query, args)
}
func (s remoteStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.c.QueryContext(ctx, s.query, args)
}

func named(args []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, a := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return out
}

type remoteResult struct{ id, n int64 }

func (r remoteResult) LastInsertId() (int64, error) { return r.id, nil }
func (r remoteResult) RowsAffected() (int64, error) { return r.n, nil }

type remoteRows struct {
	cols []string
	rows [][]val
	i    int
}

func (r *remoteRows) Columns() []string { return r.cols }
func (r *remoteRows) Close() error      { return nil }
func (r *remoteRows) Next(dest []driver.Value) error {
	if r.i >= len(r.rows) {
		return io.EOF
	}
	for j, v := range r.rows[r.i] {
		dest[j] = v.value()
	}
	r.i++
	return nil
}

// Serving the catalog: the primary's side.

// remoteTxIdle is how long a remote transaction may wait for its next
// call before it is rolled back (its node died mid-way).
const remoteTxIdle = 30 * time.Second

// Server answers other nodes' catalog calls on the primary.
type Server struct {
	c   *Catalog
	mu  sync.Mutex
	txs map[string]*heldTx
	seq atomic.Int64
}

type heldTx struct {
	mu     sync.Mutex
	tx     *sql.Tx
	cancel context.CancelFunc
	timer  *time.Timer
}

// NewServer serves c to the other nodes.
func NewServer(c *Catalog) *Server { return &Server{c: c, txs: map[string]*heldTx{}} }

// Close rolls back every transaction held for another node.
func (s *Server) Close() {
	s.mu.Lock()
	txs := s.txs
	s.txs = map[string]*heldTx{}
	s.mu.Unlock()
	for _, h := range txs {
		h.end(false)
	}
}

func (h *heldTx) end(commit bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.timer.Stop()
	var err error
	if commit {
		err = h.tx.Commit()
	} else {
		err = h.tx.Rollback()
	}
	h.cancel()
	return err
}

// ServeHTTP runs one call (the caller is authenticated before it).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var q remoteReq
	if err := json.NewDecoder(io.LimitReader(r.Body, 16<<20)).Decode(&q); err != nil {
		http.Error(w, "bad call", http.StatusBadRequest)
		return
	}
	out := s.run(r.Context(), q)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func failed(err error) *remoteResp {
	var ce interface{ Code() int }
	code := 1
	if errors.As(err, &ce) {
		code = ce.Code()
	}
	return &remoteResp{Err: err.Error(), Code: code}
}

func (s *Server) run(ctx context.Context, q remoteReq) *remoteResp {
	args := make([]any, len(q.Args))
	for i, v := range q.Args {
		args[i] = v.value()
	}
	var h *heldTx
	if q.Tx != "" {
		s.mu.Lock()
		h = s.txs[q.Tx]
		if h != nil && (q.Op == "commit" || q.Op == "rollback") {
			delete(s.txs, q.Tx)
		}
		s.mu.Unlock()
		if h == nil {
			return &remoteResp{Err: "catalog: the transaction was rolled back (it waited too long)", Code: -1}
		}
	}
	switch q.Op {
	case "begin":
		// The transaction outlives this call: its context is its own,
		// ended by commit, rollback or the idle timer.
		tctx, cancel := context.WithCancel(context.Background())
		tx, err := s.c.db.Writer().BeginTx(tctx, nil)
		if err != nil {
			cancel()
			return failed(err)
		}
		id := strconv.FormatInt(s.seq.Add(1), 36)
		h := &heldTx{tx: tx, cancel: cancel}
		h.timer = time.AfterFunc(remoteTxIdle, func() {
			s.mu.Lock()
			delete(s.txs, id)
			s.mu.Unlock()
			h.end(false)
		})
		s.mu.Lock()
		s.txs[id] = h
		s.mu.Unlock()
		return &remoteResp{Tx: id}
	case "commit", "rollback":
		if err := h.end(q.Op == "commit"); err != nil {
			return failed(err)
		}
		return &remoteResp{}
	case "exec":
		var res sql.Result
		var err error
		if h != nil {
			h.mu.Lock()
			h.timer.Reset(remoteTxIdle)
			res, err = h.tx.ExecContext(ctx, q.SQL, args...)
			h.mu.Unlock()
		} else {
			res, err = s.c.db.Exec(ctx, q.SQL, args...)
		}
		if err != nil {
			return failed(err)
		}
		id, _ := res.LastInsertId()
		n, _ := res.RowsAffected()
		return &remoteResp{LastID: id, Affected: n}
	case "query":
		var rows *sql.Rows
		var err error
		switch {
		case h != nil:
			h.mu.Lock()
			defer h.mu.Unlock()
			h.timer.Reset(remoteTxIdle)
			rows, err = h.tx.QueryContext(ctx, q.SQL, args...)
		case q.Writer:
			rows, err = s.c.db.Writer().QueryContext(ctx, q.SQL, args...)
		default:
			rows, err = s.c.db.Query(ctx, q.SQL, args...)
		}
		if err != nil {
			return failed(err)
		}
		defer rows.Close()
		out := &remoteResp{}
		out.Cols, _ = rows.Columns()
		for rows.Next() {
			raw := make([]any, len(out.Cols))
			ptrs := make([]any, len(raw))
			for i := range raw {
				ptrs[i] = &raw[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return failed(err)
			}
			row := make([]val, len(raw))
			for i, v := range raw {
				if row[i], err = toVal(v); err != nil {
					return failed(err)
				}
			}
			out.Rows = append(out.Rows, row)
		}
		if err := rows.Err(); err != nil {
			return failed(err)
		}
		return out
	}
	return &remoteResp{Err: "catalog: unknown call " + q.Op, Code: 1}
}
