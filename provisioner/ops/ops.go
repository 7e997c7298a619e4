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
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/gorilla/sessions"
	"golang.org/x/crypto/bcrypt"

	"portaldesk/portal"
	"portaldesk/portal/throttle"
	"portaldesk/portal/twofactor"
	"portaldesk/portal/web"
	"portaldesk/provisioner"
	"portaldesk/provisioner/catalog"
	"portaldesk/templates"
	"portaldesk/templates/i18n"
)

// Backups is what the console needs of the backup job: a snapshot taken
// now (old ones pruned by the retention), and the list of a portal's
// snapshot directories, oldest first.
type Backups interface {
	TakeSnapshot(ctx context.Context, slug string) (dir string, err error)
	Snapshots(slug string) ([]string, error)
}

// Console serves /ops.
type Console struct {
	svc      *provisioner.Service
	backups  Backups
	tpl      *templates.Set
	cat      *catalog.Catalog
	mux      *mux.Router
	sessions *sessions.CookieStore
	forms    web.CSRF // the console's forms, bound to it and the browser
	// accounts and addresses throttle sign-in guesses.
	accounts, addresses *throttle.Throttle
}

// New builds the console over svc.
func New(svc *provisioner.Service, backups Backups, tpl *templates.Set) *Console {
	m := hmac.New(sha256.New, svc.Secret())
	m.Write([]byte("portaldesk ops session"))
	key := m.Sum(nil)
	c := &Console{svc: svc, backups: backups, tpl: tpl, cat: svc.Catalog(), mux: mux.NewRouter(), sessions: sessions.NewCookieStore(key),
		forms:    web.CSRF{Key: key, Cookie: "pd_ops_form", Path: "/ops"},
		accounts: throttle.New(5, 2*time.Second, 15*time.Minute, time.Hour), addresses: throttle.New(20, 2*time.Second, 15*time.Minute, time.Hour)}
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

// ServeHTTP serves /ops.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.mux.ServeHTTP(w, r) }

// Enrolment is what a new ops account needs once: the TOTP key (as a
// URL for a QR code and as text) and its recovery codes.
type Enrolment struct {
	URL, Secret   string
	RecoveryCodes []string
}

// AddUser creates an ops account, or gives an existing one a new name
// and password (portaldesk ops add-user). The console always signs in in
// two steps, so the account gets a new TOTP key and recovery codes too,
// which the shell shows once; its sessions end.
func AddUser(ctx context.Context, svc *provisioner.Service, email, name, password string) (*Enrolment, error) {
	if msg := portal.ValidateEmail(email); msg != "" {
		return nil, errors.New(msg)
	}
	if msg := portal.ValidatePassword(password, email, name); msg != "" {
		return nil, errors.New(msg)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), portal.BcryptCost)
	if err != nil {
		return nil, err
	}
	if name == "" {
		name = email
	}
	if err := svc.Catalog().SaveOpsUser(ctx, email, name, string(hash)); err != nil {
		return nil, err
	}
	key, err := twofactor.NewKey("Portaldesk ops", email)
	if err != nil {
		return nil, err
	}
	sealed, err := twofactor.Seal(sealKey(svc), key.Secret(), "ops\x00"+email)
	if err != nil {
		return nil, err
	}
	codes, hashes := twofactor.RecoveryCodes(portal.RecoveryCodeCount)
	if err := svc.Catalog().SetOpsTwoFactor(ctx, email, sealed, hashes); err != nil {
		return nil, err
	}
	return &Enrolment{URL: key.URL(), Secret: key.Secret(), RecoveryCodes: codes}, nil
}

// sealKey encrypts the ops accounts' TOTP secrets in the catalog.
func sealKey(svc *provisioner.Service) []byte {
	m := hmac.New(sha256.New, svc.Secret())
	m.Write([]byte("portaldesk ops seal"))
	return m.Sum(nil)
}

// secondFactor checks an ops person's code: a one-time code of a step
// later than the last one taken, or an unused recovery code.
func (c *Console) secondFactor(ctx context.Context, email, code string) (bool, error) {
	if twofactor.IsRecovery(code) {
		return c.cat.UseOpsRecovery(ctx, email, twofactor.HashRecovery(code))
	}
	sealed, last, err := c.cat.OpsTwoFactor(ctx, email)
	if err != nil || sealed == "" {
		return false, err
	}
	secret, err := twofactor.Open(sealKey(c.svc), sealed, "ops\x00"+email)
	if err != nil {
		return false, err
	}
	step, ok := twofactor.Check(secret, code, c.svc.Now(), last)
	if !ok {
		return false, nil
	}
	return c.cat.ClaimOpsStep(ctx, email, step)
}

// csrfKey carries the request's form token to the pages (page).
type csrfKey struct{}

// page is what every console page starts from.
func (c *Console) page(w http.ResponseWriter, r *http.Request, title string) *templates.Page {
	tok, _ := r.Context().Value(csrfKey{}).(string)
	return &templates.Page{Lang: web.ServiceLang(w, r), Title: title, CSRF: tok}
}

func (c *Console) h(fn func(http.ResponseWriter, *http.Request, string) error, auth bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		web.Info(r).Route = "/ops"
		csrf := c.forms.Token(w, r)
		r = r.WithContext(context.WithValue(r.Context(), csrfKey{}, csrf))
		if web.Unsafe(r) {
			if err := c.forms.Check(r); err != nil {
				c.fail(w, r, err)
				return
			}
		}
		user := ""
		if sess, err := c.sessions.Get(r, "pd_ops"); err == nil {
			if sid, _ := sess.Values["sid"].(string); sid != "" {
				user, _ = c.cat.OpsSession(r.Context(), sid)
			}
		}
		if auth && user == "" {
			// The login page itself, answered 401: never any data.
			if r.Method == http.MethodGet {
				_ = c.tpl.Render(w, http.StatusUnauthorized, "ops_login", c.page(w, r, "Ops sign in"))
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
	pg := c.page(w, r, http.StatusText(e.Status))
	pg.Data = e.Message
	_ = c.tpl.Render(w, e.Status, "error", pg)
}

func clientIP(r *http.Request) string { return web.ClientIP(r) }

func (c *Console) audit(ctx context.Context, r *http.Request, actor, action, target, detail string) {
	_ = c.cat.Audit(ctx, catalog.AuditEntry{Actor: actor, Action: action, Target: target, IP: clientIP(r), Detail: detail})
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request, _ string) error {
	return c.tpl.Render(w, http.StatusOK, "ops_login", c.page(w, r, "Ops sign in"))
}

func (c *Console) loginSubmit(w http.ResponseWriter, r *http.Request, _ string) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	pg := c.page(w, r, "Ops sign in")
	pg.Form = url.Values{"email": {email}}
	now := time.Now()
	attempt, wait := throttle.Begin(now, throttle.Key{T: c.accounts, Key: strings.ToLower(email), Clear: true}, throttle.Key{T: c.addresses, Key: clientIP(r)})
	if attempt == nil {
		pg.Error = "Too many failed attempts. Wait a minute."
		w.Header().Set("Retry-After", strconv.Itoa(max(int(wait.Seconds()), 1)))
		return c.tpl.Render(w, http.StatusTooManyRequests, "ops_login", pg)
	}
	hash, err := c.cat.OpsUserHash(r.Context(), email)
	if err != nil {
		hash = string(portal.DummyHash()) // the same time for an unknown email
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(r.PostForm.Get("password"))) != nil || err != nil {
		attempt.Failed(time.Now())
		c.audit(r.Context(), r, email, "login failed", "", "")
		pg.Error = "Wrong email or password."
		return c.tpl.Render(w, http.StatusUnauthorized, "ops_login", pg)
	}
	ok, err := c.secondFactor(r.Context(), email, r.PostForm.Get("code"))
	if err != nil {
		attempt.Abandon()
		return err
	}
	if !ok {
		attempt.Failed(time.Now())
		c.audit(r.Context(), r, email, "login failed", "", "wrong code")
		pg.Error = "The code is not right: type the six digits your app shows now, or one of your recovery codes."
		pg.Errors = map[string]string{"code": pg.Error}
		return c.tpl.Render(w, http.StatusUnauthorized, "ops_login", pg)
	}
	attempt.Succeeded(time.Now())
	sid, err := c.cat.StartOpsSession(r.Context(), email, clientIP(r))
	if err != nil {
		return err
	}
	sess, _ := c.sessions.New(r, "pd_ops")
	sess.Values["sid"] = sid
	sess.Options.Secure = web.Info(r).Secure
	if err := sess.Save(r, w); err != nil {
		return err
	}
	c.audit(r.Context(), r, email, "login", "", "")
	http.Redirect(w, r, "/ops", http.StatusSeeOther)
	return nil
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, user string) error {
	if sess, err := c.sessions.Get(r, "pd_ops"); err == nil {
		if sid, _ := sess.Values["sid"].(string); sid != "" {
			if err := c.cat.EndOpsSession(r.Context(), sid); err != nil {
				return err
			}
		}
	}
	c.audit(r.Context(), r, user, "logout", "", "")
	sess, _ := c.sessions.New(r, "pd_ops")
	sess.Options.MaxAge = -1
	_ = sess.Save(r, w)
	http.Redirect(w, r, "/ops/login", http.StatusSeeOther)
	return nil
}

// Row is one portal in the console's table.
type Row struct{ catalog.OpsRow }

// BackupAge is how long ago the last snapshot was taken, or "" when never.
func (r Row) BackupAge() string {
	if r.LastBackup.IsZero() {
		return ""
	}
	return time.Since(r.LastBackup).Round(time.Minute).String()
}

// HomeData is the console's main page.
type HomeData struct {
	Rows       []Row
	Query      url.Values
	Runs       []catalog.Run
	Audit      []catalog.AuditEntry
	Money      func(int64) string
	Count      int    // portals matching the filter, on every page
	Prev, Next string // the neighbouring pages of the table
	// MailFiles and MailBytes are the .eml files kept when mail goes to
	// files, as the usage job last counted them.
	MailFiles int
	MailBytes int64
}

func rowsOf(list []catalog.OpsRow) []Row {
	out := make([]Row, len(list))
	for i, r := range list {
		out[i] = Row{r}
	}
	return out
}

func (c *Console) home(w http.ResponseWriter, r *http.Request, user string) error {
	ctx := r.Context()
	q := i18n.CleanValues(r.URL.Query())
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	list, total, err := c.cat.OpsTable(ctx, catalog.OpsQuery{Search: q.Get("q"), State: q.Get("state"), Sort: q.Get("sort"), Page: page})
	if err != nil {
		return err
	}
	d := &HomeData{Rows: rowsOf(list), Query: q, Money: c.svc.Money, Count: total}
	d.MailFiles, d.MailBytes = c.svc.Mailer().KeptMailFiles()
	pageURL := func(n int) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("page", strconv.Itoa(n))
		return "/ops?" + v.Encode()
	}
	if page > 1 {
		d.Prev = pageURL(page - 1)
	}
	if page*catalog.OpsPageSize < total {
		d.Next = pageURL(page + 1)
	}
	if d.Runs, err = c.cat.RecentRuns(ctx, 20); err != nil {
		return err
	}
	if d.Audit, err = c.cat.AuditLog(ctx, "", 30); err != nil {
		return err
	}
	pg := c.page(w, r, "Ops")
	pg.Data, pg.User = d, &templates.UserView{Name: user}
	return c.tpl.Render(w, http.StatusOK, "ops", pg)
}

// PortalData is a portal's page in the console.
type PortalData struct {
	Row      Row
	Invoices []catalog.OpenInvoice
	Snaps    []string
	Audit    []catalog.AuditEntry
	Money    func(int64) string
	Result   string
}

func (c *Console) portalData(ctx context.Context, slug string) (*PortalData, error) {
	list, _, err := c.cat.OpsTable(ctx, catalog.OpsQuery{Slug: slug})
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, portal.ErrNotFound
	}
	d := &PortalData{Row: Row{list[0]}, Money: c.svc.Money}
	if d.Invoices, err = c.cat.OpenInvoices(ctx, list[0].ID); err != nil {
		return nil, err
	}
	d.Snaps, _ = c.backups.Snapshots(slug)
	d.Audit, err = c.cat.AuditLog(ctx, slug, 30)
	return d, err
}

func (c *Console) portalPage(w http.ResponseWriter, r *http.Request, user string) error {
	d, err := c.portalData(r.Context(), mux.Vars(r)["slug"])
	if err != nil {
		return err
	}
	d.Result = r.URL.Query().Get("done")
	pg := c.page(w, r, d.Row.Slug)
	pg.Data, pg.User = d, &templates.UserView{Name: user}
	return c.tpl.Render(w, http.StatusOK, "ops_portal", pg)
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
		dir, err = c.backups.TakeSnapshot(ctx, slug)
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
	snaps, err := c.backups.Snapshots(slug)
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
