// Package ops is the vendor's console at /ops: a table of every portal with
// its usage, money and backups, a page per portal, the actions ops take
// (suspend, resume, confirm an invoice, back up now, download the latest
// snapshot), the audit log of those actions, and the scheduled jobs' runs.
// Ops accounts are separate from every portal's people.
package ops

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"github.com/gorilla/sessions"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/time/rate"

	"portaldesk/portal"
	"portaldesk/portal/web"
	"portaldesk/provisioner"
	"portaldesk/quota"
	"portaldesk/templates"
)

// Console serves /ops.
type Console struct {
	svc      *provisioner.Service
	jobs     *quota.Jobs
	tpl      *templates.Set
	db       *portal.DB
	mux      *mux.Router
	sessions *sessions.CookieStore
	mu       sync.Mutex
	limits   map[string]*rate.Limiter
}

// New builds the console over svc.
func New(svc *provisioner.Service, jobs *quota.Jobs, tpl *templates.Set) *Console {
	m := hmac.New(sha256.New, svc.Secret())
	m.Write([]byte("portaldesk ops session"))
	c := &Console{svc: svc, jobs: jobs, tpl: tpl, db: svc.Catalog().DB(), mux: mux.NewRouter(), sessions: sessions.NewCookieStore(m.Sum(nil)), limits: map[string]*rate.Limiter{}}
	c.sessions.Options = &sessions.Options{Path: "/ops", MaxAge: 12 * 3600, HttpOnly: true, SameSite: http.SameSiteStrictMode}
	r := c.mux.PathPrefix("/ops").Subrouter()
	r.HandleFunc("/login", c.h(c.loginPage, false)).Methods("GET")
	r.HandleFunc("/login", c.h(c.loginSubmit, false)).Methods("POST")
	r.HandleFunc("/logout", c.h(c.logout, true)).Methods("POST")
	r.HandleFunc("", c.h(c.home, true)).Methods("GET")
	r.HandleFunc("/", c.h(c.home, true)).Methods("GET")
	r.HandleFunc("/portals/{slug}", c.h(c.portalPage, true)).Methods("GET")
	r.HandleFunc("/portals/{slug}/{action}", c.h(c.action, true)).Methods("POST")
	r.HandleFunc("/portals/{slug}/snapshot.tar.gz", c.h(c.download, true)).Methods("GET")
	return c
}

func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.mux.ServeHTTP(w, r) }

// AddUser creates an ops account (portaldesk ops add-user).
func AddUser(ctx context.Context, svc *provisioner.Service, email, name, password string) error {
	if msg := portal.ValidateEmail(email); msg != "" {
		return errors.New(msg)
	}
	if msg := portal.ValidatePassword(password); msg != "" {
		return errors.New(msg)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), portal.BcryptCost)
	if err != nil {
		return err
	}
	if name == "" {
		name = email
	}
	_, err = svc.Catalog().DB().W.ExecContext(ctx, "INSERT INTO ops_users (email, name, hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (email) DO UPDATE SET hash = excluded.hash, name = excluded.name",
		email, name, string(hash), time.Now().Unix())
	return err
}

type ctxUser struct{}

func (c *Console) h(fn func(http.ResponseWriter, *http.Request, string) error, auth bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		web.Info(r).Route = "/ops"
		user := ""
		if sess, err := c.sessions.Get(r, "pd_ops"); err == nil {
			user, _ = sess.Values["ops"].(string)
		}
		if auth && user == "" {
			// The login page itself, answered 401: never any data.
			if r.Method == http.MethodGet {
				_ = c.tpl.Render(w, http.StatusUnauthorized, "ops_login", &web.Page{Lang: web.ServiceLang(w, r), Title: "Ops sign in"})
				return
			}
			c.fail(w, r, web.ErrUnauthorized)
			return
		}
		if err := fn(w, r, user); err != nil {
			c.fail(w, r, err)
		}
	}
}

func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := web.AsError(r, err)
	if errors.Is(err, portal.ErrNotFound) {
		e = web.ErrNotFound
	}
	_ = c.tpl.Render(w, e.Status, "error", &web.Page{Lang: web.ServiceLang(w, r), Title: http.StatusText(e.Status), Data: e.Message})
}

func clientIP(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

func (c *Console) audit(ctx context.Context, r *http.Request, actor, action, target, detail string) {
	_, _ = c.db.W.ExecContext(ctx, "INSERT INTO audit (at, actor, action, target, ip, detail) VALUES (?, ?, ?, ?, ?, ?)",
		time.Now().Unix(), actor, action, target, clientIP(r), detail)
}

func (c *Console) limiter(ip string) *rate.Limiter {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.limits[ip]
	if l == nil {
		if len(c.limits) > 10000 {
			clear(c.limits)
		}
		l = rate.NewLimiter(rate.Every(10*time.Second), 5)
		c.limits[ip] = l
	}
	return l
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request, _ string) error {
	return c.tpl.Render(w, http.StatusOK, "ops_login", &web.Page{Lang: web.ServiceLang(w, r), Title: "Ops sign in"})
}

func (c *Console) loginSubmit(w http.ResponseWriter, r *http.Request, _ string) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	pg := &web.Page{Lang: web.ServiceLang(w, r), Title: "Ops sign in", Form: url.Values{"email": {email}}}
	lim := c.limiter(clientIP(r))
	if lim.Tokens() < 1 {
		pg.Error = "Too many failed attempts. Wait a minute."
		return c.tpl.Render(w, http.StatusTooManyRequests, "ops_login", pg)
	}
	var hash string
	err := c.db.R.QueryRowContext(r.Context(), "SELECT hash FROM ops_users WHERE email = ?", email).Scan(&hash)
	if err != nil || bcrypt.CompareHashAndPassword([]byte(hash), []byte(r.PostForm.Get("password"))) != nil {
		lim.Allow()
		c.audit(r.Context(), r, email, "login failed", "", "")
		pg.Error = "Wrong email or password."
		return c.tpl.Render(w, http.StatusUnauthorized, "ops_login", pg)
	}
	sess, _ := c.sessions.New(r, "pd_ops")
	sess.Values["ops"] = email
	sess.Options.Secure = r.TLS != nil
	if err := sess.Save(r, w); err != nil {
		return err
	}
	c.audit(r.Context(), r, email, "login", "", "")
	http.Redirect(w, r, "/ops", http.StatusSeeOther)
	return nil
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, user string) error {
	sess, _ := c.sessions.New(r, "pd_ops")
	sess.Options.MaxAge = -1
	_ = sess.Save(r, w)
	http.Redirect(w, r, "/ops/login", http.StatusSeeOther)
	return nil
}

// Row is one portal in the console's table.
type Row struct {
	Slug, Company, Tariff, State string
	Operators                    int
	Tickets                      sql.NullInt64
	DBBytes, DiskBytes           int64
	DBQuota, DiskQuota           int64
	Balance                      int64
	PaidUntil                    string
	LastBackup                   time.Time
	BackupAge                    string
	Level                        int
}

// HomeData is the console's main page.
type HomeData struct {
	Rows  []Row
	Query url.Values
	Runs  []quota.RunRecord
	Audit []AuditLine
	Money func(int64) string
	Count int
}

// AuditLine is one ops action.
type AuditLine struct {
	At                                time.Time
	Actor, Action, Target, IP, Detail string
}

func (c *Console) rows(ctx context.Context) ([]Row, error) {
	list, err := c.svc.Catalog().Portals(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Row, 0, len(list))
	for _, rec := range list {
		row := Row{Slug: rec.Slug, Company: rec.Company, Tariff: rec.TariffID, State: rec.State, Operators: rec.Operators,
			DBQuota: rec.Plan().DBQuotaBytes, DiskQuota: rec.DiskMB << 20, Level: rec.UsageLevel}
		_ = c.db.R.QueryRowContext(ctx, "SELECT COALESCE(db_bytes, 0), COALESCE(disk_bytes, 0), tickets FROM usage WHERE portal_id = ?", rec.ID).Scan(&row.DBBytes, &row.DiskBytes, &row.Tickets)
		if sub, err := c.svc.Subscription(ctx, rec.ID); err == nil {
			row.Balance, row.PaidUntil = sub.Balance, sub.PaidUntil
			if sub.Expired {
				row.State = "expired"
			}
		}
		if snaps, _ := quota.Snapshots(c.svc.Config().DataDir, rec.Slug); len(snaps) > 0 {
			if m, err := quota.ReadManifest(snaps[len(snaps)-1]); err == nil {
				row.LastBackup = m.CreatedAt
				row.BackupAge = time.Since(m.CreatedAt).Round(time.Minute).String()
			}
		}
		out = append(out, row)
	}
	return out, nil
}

func (c *Console) home(w http.ResponseWriter, r *http.Request, user string) error {
	ctx := r.Context()
	rows, err := c.rows(ctx)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if f := strings.ToLower(strings.TrimSpace(q.Get("q"))); f != "" {
		kept := rows[:0]
		for _, row := range rows {
			if strings.Contains(row.Slug, f) || strings.Contains(strings.ToLower(row.Company), f) {
				kept = append(kept, row)
			}
		}
		rows = kept
	}
	if st := q.Get("state"); st != "" {
		kept := rows[:0]
		for _, row := range rows {
			if row.State == st {
				kept = append(kept, row)
			}
		}
		rows = kept
	}
	less := map[string]func(a, b Row) bool{
		"slug": func(a, b Row) bool { return a.Slug < b.Slug }, "db": func(a, b Row) bool { return a.DBBytes > b.DBBytes },
		"disk": func(a, b Row) bool { return a.DiskBytes > b.DiskBytes }, "balance": func(a, b Row) bool { return a.Balance < b.Balance },
		"backup": func(a, b Row) bool { return a.LastBackup.Before(b.LastBackup) }, "tariff": func(a, b Row) bool { return a.Tariff < b.Tariff },
	}[q.Get("sort")]
	if less != nil {
		sort.SliceStable(rows, func(i, j int) bool { return less(rows[i], rows[j]) })
	}
	d := &HomeData{Rows: rows, Query: q, Money: c.svc.Money, Count: len(rows)}
	if d.Runs, err = c.jobs.Recent(ctx, 20); err != nil {
		return err
	}
	if d.Audit, err = c.auditLog(ctx, "", 30); err != nil {
		return err
	}
	return c.tpl.Render(w, http.StatusOK, "ops", &web.Page{Lang: web.ServiceLang(w, r), Title: "Ops", Data: d, User: &web.UserView{Name: user}})
}

func (c *Console) auditLog(ctx context.Context, target string, limit int) ([]AuditLine, error) {
	q := "SELECT at, actor, action, target, ip, detail FROM audit"
	var args []any
	if target != "" {
		q += " WHERE target = ?"
		args = append(args, target)
	}
	rows, err := c.db.R.QueryContext(ctx, q+" ORDER BY id DESC LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditLine
	for rows.Next() {
		var a AuditLine
		var at int64
		if err := rows.Scan(&at, &a.Actor, &a.Action, &a.Target, &a.IP, &a.Detail); err != nil {
			return nil, err
		}
		a.At = time.Unix(at, 0).UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}

// PortalData is a portal's page in the console.
type PortalData struct {
	Row      Row
	Invoices []provisioner.OpenInvoice
	Snaps    []string
	Audit    []AuditLine
	Money    func(int64) string
	Result   string
}

func (c *Console) portalData(ctx context.Context, slug string) (*PortalData, error) {
	rows, err := c.rows(ctx)
	if err != nil {
		return nil, err
	}
	d := &PortalData{Money: c.svc.Money}
	found := false
	for _, row := range rows {
		if row.Slug == slug {
			d.Row, found = row, true
		}
	}
	if !found {
		return nil, portal.ErrNotFound
	}
	if d.Invoices, err = c.svc.OpenInvoices(ctx, slug); err != nil {
		return nil, err
	}
	d.Snaps, _ = quota.Snapshots(c.svc.Config().DataDir, slug)
	d.Audit, err = c.auditLog(ctx, slug, 30)
	return d, err
}

func (c *Console) portalPage(w http.ResponseWriter, r *http.Request, user string) error {
	d, err := c.portalData(r.Context(), mux.Vars(r)["slug"])
	if err != nil {
		return err
	}
	d.Result = r.URL.Query().Get("done")
	return c.tpl.Render(w, http.StatusOK, "ops_portal", &web.Page{Lang: web.ServiceLang(w, r), Title: d.Row.Slug, Data: d, User: &web.UserView{Name: user}})
}

func (c *Console) action(w http.ResponseWriter, r *http.Request, user string) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	ctx := r.Context()
	slug, action := mux.Vars(r)["slug"], mux.Vars(r)["action"]
	var result, detail string
	var err error
	switch action {
	case "suspend":
		err = c.svc.Suspend(ctx, slug)
		result = "The portal is suspended."
	case "resume":
		err = c.svc.Resume(ctx, slug)
		result = "The portal is active again."
	case "confirm":
		inv := r.PostForm.Get("invoice")
		var bal int64
		_, bal, err = c.svc.ConfirmInvoice(ctx, inv, "ops:"+user)
		detail = inv
		result = fmt.Sprintf("Invoice %s is paid; the balance is %s.", inv, c.svc.Money(bal))
	case "backup":
		var dir string
		dir, _, err = c.jobs.Backup(ctx, slug, time.Now())
		detail = dir
		result = "Snapshot taken: " + filepath.Base(dir)
	default:
		return web.ErrNotFound
	}
	if err != nil {
		c.audit(ctx, r, user, action+" failed", slug, err.Error())
		return web.Errorf(http.StatusUnprocessableEntity, "failed", "%s failed: %v", action, err)
	}
	c.audit(ctx, r, user, action, slug, detail)
	http.Redirect(w, r, "/ops/portals/"+url.PathEscape(slug)+"?done="+url.QueryEscape(result), http.StatusSeeOther)
	return nil
}

// download streams the latest snapshot as a .tar.gz.
func (c *Console) download(w http.ResponseWriter, r *http.Request, user string) error {
	slug := mux.Vars(r)["slug"]
	snaps, err := quota.Snapshots(c.svc.Config().DataDir, slug)
	if err != nil || len(snaps) == 0 {
		return web.Errorf(http.StatusNotFound, "no_snapshot", "There is no snapshot of %s yet.", slug)
	}
	dir := snaps[len(snaps)-1]
	c.audit(r.Context(), r, user, "download snapshot", slug, filepath.Base(dir))
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.tar.gz"`, slug, filepath.Base(dir)))
	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	err = filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		f, err := os.Open(path) // a snapshot file, never the live database
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	tw.Close()
	zw.Close()
	return err
}
