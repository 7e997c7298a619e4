package portal

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"portaldesk/portal/sqlitedb"
	"portaldesk/templates/i18n"
)

// Roles of the people of a portal.
const (
	RoleAdmin    = "admin"
	RoleOperator = "operator"
	RoleClient   = "client"
)

// User is a person of one portal.
type User struct {
	ID      int64  `json:"id"`
	Email   string `json:"email"`
	Name    string `json:"name"`
	Surname string `json:"surname"`
	Role    string `json:"role"`
	Active  bool   `json:"active"`
	Lang    string `json:"lang,omitempty"`
	// TourDone is set when the person has dismissed the first-login tour.
	TourDone  bool  `json:"-"`
	CreatedAt int64 `json:"created_at"`
	UpdatedAt int64 `json:"updated_at"` // what the API shows of them last changed
	// TwoFactor says the person signs in with a one-time code too.
	TwoFactor bool `json:"two_factor"`
	// LastLoginAt is the last sign-in (0: never, the invitation unused).
	LastLoginAt int64 `json:"last_login_at,omitempty"`
	// BouncedAt is when mail to the person last bounced, Bounce why.
	BouncedAt int64  `json:"bounced_at,omitempty"`
	Bounce    string `json:"bounce,omitempty"`
	// Present: staff at work; automatic assignment passes over the absent.
	Present bool `json:"present"`
	// AccessGroups limits an operator to the tickets of these groups
	// (empty: every ticket); HiddenStatuses are statuses whose tickets they
	// never see. Admins see everything. See groups.go.
	AccessGroups   []int64 `json:"access_groups,omitempty"`
	HiddenStatuses []int64 `json:"hidden_statuses,omitempty"`
	// Org is the client's organisation (0: none); ExternalID an
	// integration's id for them. Staff see both, and the client's fields.
	Org        int64           `json:"organization,omitempty"`
	ExternalID string          `json:"external_id,omitempty"`
	Fields     json.RawMessage `json:"fields,omitempty"` // custom field name → value
	fields     string          // as stored
	// ListMode is how the person sees the tickets list: ListTable,
	// ListCompact or ListSplit.
	ListMode string `json:"list_mode"`
	// Scope is the scope of the bearer token this request came with ("":
	// a browser's session).
	Scope        string `json:"-"`
	passwordHash string
}

// FullName is the name and surname together.
func (u *User) FullName() string { return strings.TrimSpace(u.Name + " " + u.Surname) }

// IsStaff reports whether the user works tickets (operator or admin).
func (u *User) IsStaff() bool { return u.Role == RoleOperator || u.Role == RoleAdmin }

// BcryptCost is the cost of password hashes (bcrypt's default; tests lower it).
var BcryptCost = bcrypt.DefaultCost

// HashPassword hashes a password for storage.
func HashPassword(pw string) (string, error) {
	b, err := bcrypt.GenerateFromPassword([]byte(pw), BcryptCost)
	return string(b), err
}

// NewPassword generates a readable random password for invitations and registrations.
func NewPassword() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 12)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

const userCols = "id, email, name, surname, role, active, lang, created_at, password_hash, tour_done, totp_secret <> '', last_login_at, bounced_at, bounce, present, access_groups, hidden_statuses, list_mode, org_id, external_id, fields, updated_at"

func scanUser(row interface{ Scan(...any) error }) (*User, error) {
	u := &User{}
	var last, bounced, org sql.NullInt64
	var ext sql.NullString
	var groups, hidden string
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Surname, &u.Role, &u.Active, &u.Lang, &u.CreatedAt, &u.passwordHash, &u.TourDone, &u.TwoFactor, &last, &bounced, &u.Bounce,
		&u.Present, &groups, &hidden, &u.ListMode, &org, &ext, &u.fields, &u.UpdatedAt)
	u.Org, u.ExternalID = org.Int64, ext.String
	u.LastLoginAt, u.BouncedAt = last.Int64, bounced.Int64
	if u.fields != "{}" && u.fields != "" {
		u.Fields = json.RawMessage(u.fields)
	}
	u.AccessGroups, u.HiddenStatuses = parseIDs(groups), parseIDs(hidden)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return u, err
}

// FieldValues are the client's custom fields by name, a map of their own.
func (u *User) FieldValues() map[string]string {
	m := map[string]string{}
	_ = json.Unmarshal([]byte(cmp.Or(u.fields, "{}")), &m)
	return m
}

// Self is the person as they see themselves: a client does not see the
// record staff keep about them.
func (u *User) Self() *User {
	c := *u
	if !c.IsStaff() {
		c.ExternalID, c.Fields = "", nil
	}
	return &c
}

// collect reads every row of rows with scan, and closes them.
func collect[T any](rows *sql.Rows, scan func(interface{ Scan(...any) error }) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// ErrEmailTaken is returned when a user with that email already exists.
var ErrEmailTaken = errors.New("a user with this email already exists")

// InsertUser adds a user with an already hashed password.
func (p *Portal) InsertUser(ctx context.Context, u *User, hash string) error {
	now := p.Now()
	res, err := p.q.Exec(ctx,
		`INSERT INTO users (email, name, surname, role, password_hash, active, lang, tour_done, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?)`,
		strings.TrimSpace(u.Email), u.Name, u.Surname, u.Role, hash, u.Lang, u.TourDone, now.Unix(), now.Unix())
	if err != nil {
		if sqlitedb.IsUniqueViolation(err) {
			return ErrEmailTaken
		}
		return fmt.Errorf("store: insert user: %w", err)
	}
	u.ID, _ = res.LastInsertId()
	u.Active = true
	if u.Role == RoleClient {
		// A client mailing from an organisation's domain joins it.
		if _, err := p.q.Exec(ctx, "UPDATE users SET org_id = COALESCE(org_id, "+orgForEmail+") WHERE id = ?2", u.Email, u.ID); err != nil {
			return fmt.Errorf("store: insert user: %w", err)
		}
		var org sql.NullInt64
		if err := p.q.QueryRow(ctx, "SELECT org_id FROM users WHERE id = ?", u.ID).Scan(&org); err != nil {
			return fmt.Errorf("store: insert user: %w", err)
		}
		u.Org = org.Int64
		return p.emit(ctx, HookClient, func() (any, error) {
			return map[string]any{"client": &Person{ID: u.ID, Name: u.FullName(), Email: u.Email}}, nil
		})
	}
	u.CreatedAt = now.Unix()
	u.passwordHash = hash
	return nil
}

// UserByID loads one user.
func (p *Portal) UserByID(ctx context.Context, id int64) (*User, error) {
	u, err := p.ref.users.get(p.DB, id, func() (*User, error) { return p.loadUser(ctx, id) })
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("store: user %d: %w", id, err)
	}
	return copyUser(u), err
}

func (p *Portal) loadUser(ctx context.Context, id int64) (*User, error) {
	return scanUser(p.q.QueryRow(ctx, "SELECT "+userCols+" FROM users WHERE id = ?", id))
}

// UserByEmail loads one user by email, ignoring case.
func (p *Portal) UserByEmail(ctx context.Context, email string) (*User, error) {
	u, err := scanUser(p.q.QueryRow(ctx, "SELECT "+userCols+" FROM users WHERE email = ?", strings.TrimSpace(email)))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("store: user %q: %w", email, err)
	}
	return u, err
}

// ErrBadCredentials is returned for a wrong email or password; it does not say which.
var ErrBadCredentials = errors.New("wrong email or password")

// ErrInactive is returned when a deactivated user, or an operator beyond the
// tariff's limit, tries to sign in.
var ErrInactive = errors.New("this account is not active")

// DummyHash is a password hash of the cost real ones have, checked when
// an email is unknown so that a sign-in takes as long as with a known one.
var DummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("portaldesk-dummy"), BcryptCost)
	return h
})

// Authenticate checks an email and password.
func (p *Portal) Authenticate(ctx context.Context, email, password string) (*User, error) {
	u, err := p.UserByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		_ = bcrypt.CompareHashAndPassword(DummyHash(), []byte(password))
		return nil, ErrBadCredentials
	}
	if err != nil {
		return nil, err
	}
	if bcrypt.CompareHashAndPassword([]byte(u.passwordHash), []byte(password)) != nil {
		return nil, ErrBadCredentials
	}
	if err := p.CanSignIn(ctx, u); err != nil {
		return nil, err
	}
	_, _ = p.q.Exec(ctx, "UPDATE users SET last_login_at = ? WHERE id = ?", p.Now().Unix(), u.ID)
	return u, nil
}

// CanSignIn says whether u may use the portal now: active, and for staff,
// within the tariff's number of operators (the earliest ones keep access).
func (p *Portal) CanSignIn(ctx context.Context, u *User) error {
	if !u.Active {
		return ErrInactive
	}
	if !u.IsStaff() {
		return nil
	}
	limit := p.Plan().MaxOperators
	if limit <= 0 {
		return nil
	}
	// rank is how many staff come before u: admins first, then by id.
	admin := 1
	if u.Role == RoleAdmin {
		admin = 0
	}
	rank, err := p.ref.ranks.get(p.DB, [2]int64{int64(admin), u.ID}, func() (int, error) {
		var n int
		err := p.q.QueryRow(ctx,
			`SELECT COUNT(*) FROM users WHERE active = 1 AND role IN ('admin','operator')
			 AND (CASE role WHEN 'admin' THEN 0 ELSE 1 END, id) < (?, ?)`, admin, u.ID).Scan(&n)
		return n, err
	})
	if err != nil {
		return fmt.Errorf("store: operator rank: %w", err)
	}
	if rank >= limit {
		return fmt.Errorf("%w: the portal's tariff allows %s", ErrInactive, i18n.N("en", limit, "%d operator", "%d operators"))
	}
	return nil
}

// LockedByTariff names the active staff among users who may not sign in
// because the tariff allows fewer operators (the rule of CanSignIn: admins
// first, then the earliest keep access).
func (p *Portal) LockedByTariff(users []*User) map[int64]bool {
	limit := p.Plan().MaxOperators
	var staff []*User
	for _, u := range users {
		if u.Active && u.IsStaff() {
			staff = append(staff, u)
		}
	}
	if limit <= 0 || len(staff) <= limit {
		return nil
	}
	rank := func(u *User) int {
		if u.Role == RoleAdmin {
			return 0
		}
		return 1
	}
	sort.Slice(staff, func(i, j int) bool {
		if a, b := rank(staff[i]), rank(staff[j]); a != b {
			return a < b
		}
		return staff[i].ID < staff[j].ID
	})
	locked := map[int64]bool{}
	for _, u := range staff[limit:] {
		locked[u.ID] = true
	}
	return locked
}

// Token kinds.
const (
	TokenLogin    = "login"
	TokenPersonal = "personal"
)

// LoginTokenTTL is how long a token from the login endpoint lives.
const LoginTokenTTL = 30 * 24 * time.Hour

func tokenHash(tok string) []byte {
	s := sha256.Sum256([]byte(tok))
	return s[:]
}

// IssueToken creates a bearer token for a user, with everything its
// person may do; only its hash is stored.
func (p *Portal) IssueToken(ctx context.Context, userID int64, kind, name string, ttl time.Duration) (string, error) {
	return p.issueToken(ctx, userID, kind, name, ttl, ScopeAdmin)
}

func (p *Portal) issueToken(ctx context.Context, userID int64, kind, name string, ttl time.Duration, scope string) (string, error) {
	b := make([]byte, 32)
	rand.Read(b)
	tok := "pd_" + base64.RawURLEncoding.EncodeToString(b)
	now := p.Now()
	var exp any
	if ttl > 0 {
		exp = now.Add(ttl).Unix()
	}
	if _, err := p.q.Exec(ctx, "INSERT INTO tokens (hash, user_id, kind, name, created_at, expires_at, scope) VALUES (?, ?, ?, ?, ?, ?, ?)",
		tokenHash(tok), userID, kind, name, now.Unix(), exp, scope); err != nil {
		return "", fmt.Errorf("store: issue token: %w", err)
	}
	return tok, nil
}

// UserByToken resolves a bearer token of this portal.
func (p *Portal) UserByToken(ctx context.Context, tok string) (*User, error) {
	hash := tokenHash(tok)
	tu, err := p.ref.tokens.get(p.DB, string(hash), func() (tokenUser, error) {
		var tu tokenUser
		u, err := scanUser(tokenRow{p.q.QueryRow(ctx, tokenQuery, hash), &tu.expires, &tu.scope})
		tu.user = u
		return tu, err
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("store: token: %w", err)
	}
	if err != nil || tu.expires != 0 && tu.expires <= p.Now().Unix() {
		return nil, ErrNotFound
	}
	u := copyUser(tu.user)
	u.Scope = tu.scope
	return u, nil
}

// Token scopes: what a personal token may do of what its person may.
const (
	ScopeRead  = "read"  // read only
	ScopeWrite = "write" // read and write tickets, but not the portal's set-up (admin-only routes)
	ScopeAdmin = "admin" // everything its person may do (login tokens too)
)

// tokenUseEvery is how often a token's use is written down: its last use
// is known to within this, and an API read stays a read in between.
const tokenUseEvery = 5 * time.Minute

// NoteTokenUse records when and from where a token was used, at most once
// every few minutes per token.
func (p *Portal) NoteTokenUse(ctx context.Context, tok, ip string) {
	if p.writable() != nil {
		return
	}
	hash := string(tokenHash(tok))
	now := p.Now()
	if last, ok := p.tokenUses.Load(hash); ok && now.Sub(last.(time.Time)) < tokenUseEvery {
		return
	}
	p.tokenUses.Store(hash, now)
	_, _ = p.q.Exec(ctx, "UPDATE tokens SET last_used_at = ?, last_ip = ? WHERE hash = ?", now.Unix(), ip, []byte(hash))
}

// TokenUser is the person a bearer token signs in, if they may use the
// portal now (ErrNotFound otherwise).
func (p *Portal) TokenUser(ctx context.Context, tok string) (*User, error) {
	u, err := p.UserByToken(ctx, tok)
	if err != nil {
		return nil, err
	}
	if p.CanSignIn(ctx, u) != nil {
		return nil, ErrNotFound
	}
	return u, nil
}

// tokenQuery reads a token's user and expiry ("u.id, u.email, …").
var tokenQuery = "SELECT u." + strings.ReplaceAll(userCols, ", ", ", u.") + `, COALESCE(t.expires_at, 0), t.scope
	FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ?`

// tokenRow scans a user and, after it, the token's expiry and scope.
type tokenRow struct {
	row     *sql.Row
	expires *int64
	scope   *string
}

func (r tokenRow) Scan(dest ...any) error { return r.row.Scan(append(dest, r.expires, r.scope)...) }

// RevokeToken deletes a bearer token.
func (p *Portal) RevokeToken(ctx context.Context, tok string) error {
	_, err := p.q.Exec(ctx, "DELETE FROM tokens WHERE hash = ?", tokenHash(tok))
	return err
}

// Setting reads one key of the portal's settings, or def when unset. Every
// page reads a few (language, logo, file limits): they are read together and
// kept in memory with the rest of the reference data (refcache.go).
func (p *Portal) Setting(ctx context.Context, key, def string) string {
	m, err := p.ref.settings.get(p.DB, func() (map[string]string, error) { return p.loadSettings(ctx) })
	if v, ok := m[key]; ok && err == nil {
		return v
	}
	return def
}

func (p *Portal) loadSettings(ctx context.Context) (map[string]string, error) {
	rows, err := p.q.Query(ctx, "SELECT key, value FROM settings")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		m[k] = v
	}
	return m, rows.Err()
}

// SetSetting writes one key of the portal's settings.
func (p *Portal) SetSetting(ctx context.Context, key, value string) error {
	_, err := p.q.Exec(ctx, "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value)
	if err != nil {
		return fmt.Errorf("store: setting %s: %w", key, err)
	}
	return nil
}

// SetSettings stores several settings, all or none.
func (p *Portal) SetSettings(ctx context.Context, vals map[string]string) error {
	return p.Tx(ctx, func(tp *Portal) error {
		for k, v := range vals {
			if err := tp.SetSetting(ctx, k, v); err != nil {
				return err
			}
		}
		return nil
	})
}

// How the tickets list is shown.
const (
	ListTable   = "table"
	ListCompact = "compact"
	ListSplit   = "split" // the list beside the open ticket
)

// SetListMode remembers how u likes the tickets list.
func (p *Portal) SetListMode(ctx context.Context, u *User, mode string) error {
	if mode != ListTable && mode != ListCompact && mode != ListSplit {
		return &FieldErrors{Fields: map[string]string{"mode": "Choose table, compact or split."}}
	}
	if _, err := p.q.Exec(ctx, "UPDATE users SET list_mode = ? WHERE id = ?", mode, u.ID); err != nil {
		return fmt.Errorf("store: list mode: %w", err)
	}
	u.ListMode = mode
	return nil
}

// DismissTour remembers that u pressed "Don't show again" on the
// first-login tour.
func (p *Portal) DismissTour(ctx context.Context, u *User) error {
	_, err := p.q.Exec(ctx, "UPDATE users SET tour_done = 1 WHERE id = ?", u.ID)
	return err
}

// SetLang remembers the language u chose.
func (p *Portal) SetLang(ctx context.Context, u *User, lang string) error {
	_, err := p.q.Exec(ctx, "UPDATE users SET lang = ? WHERE id = ?", lang, u.ID)
	return err
}
