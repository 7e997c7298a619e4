package portal

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"portaldesk/portal/sqlitedb"
	"portaldesk/portal/throttle"
	"strings"
	"time"
	"unicode/utf8"
)

// NewPerson is a registration or an invitation.
type NewPerson struct {
	Name    string `json:"name"`
	Surname string `json:"surname"`
	Email   string `json:"email"`
	Role    string `json:"role"`
	// An invited client's organisation (its id or name) and an
	// integration's id for them (staff only; ignored on registration).
	Organization string `json:"organization,omitempty"`
	ExternalID   string `json:"external_id,omitempty"`
}

func (in *NewPerson) validate() map[string]string {
	in.Name, in.Surname, in.Email = Line(in.Name), Line(in.Surname), strings.TrimSpace(in.Email)
	errs := map[string]string{}
	switch n := utf8.RuneCountInString(in.Name); {
	case n == 0:
		errs["name"] = "Enter a name."
	case n > 100:
		errs["name"] = "At most 100 characters."
	}
	if utf8.RuneCountInString(in.Surname) > 100 {
		errs["surname"] = "At most 100 characters."
	}
	if msg := ValidateEmail(in.Email); msg != "" {
		errs["email"] = msg
	}
	return errs
}

// ErrOperatorLimit is returned when the tariff has no room for another operator.
var ErrOperatorLimit = errors.New("the portal's tariff has no room for another operator")

// Register creates a client account from the three fields of the
// registration form and mails the login and a generated password. An
// address already registered is answered just the same — its owner is
// mailed that someone tried, with a link to set a new password — so the
// form never tells who has an account. Registrations are limited per
// portal, per address they come from (ip) and per address they mail.
func (p *Portal) Register(ctx context.Context, in NewPerson, ip string) error {
	if err := p.writable(); err != nil {
		return err
	}
	errs := in.validate()
	if strings.TrimSpace(in.Surname) == "" {
		errs["surname"] = "Enter a surname."
	}
	if len(errs) > 0 {
		return &FieldErrors{Fields: errs}
	}
	if err := p.registrationAllowed(ip, in.Email); err != nil {
		return err
	}
	in.Role = RoleClient
	_, err := p.addPerson(ctx, nil, in, MailRegistration)
	if !errors.Is(err, ErrEmailTaken) {
		return err
	}
	u, err := p.UserByEmail(ctx, in.Email)
	if errors.Is(err, ErrNotFound) || err == nil && !u.Active {
		return nil // deactivated, or gone since: nobody to tell
	}
	if err != nil {
		return err
	}
	// As long as a new account's password hash takes: the time of the
	// answer does not tell either.
	if _, err := HashPassword(NewPassword()); err != nil {
		return err
	}
	if err := p.mailTo(ctx, MailRegisteredAgain, u, MailVars{Link: p.URL() + "forgot"}, 0); err != nil {
		return fmt.Errorf("store: registered again: %w", err)
	}
	p.kickOutbox()
	return nil
}

// Invite adds an operator (admins only) or a client (any staff) and mails them
// their login and a generated password.
func (p *Portal) Invite(ctx context.Context, actor *User, in NewPerson) (*User, error) {
	if err := p.writable(); err != nil {
		return nil, err
	}
	switch {
	case !actor.IsStaff():
		return nil, ErrForbidden
	case in.Role == RoleClient:
	case in.Role == RoleOperator || in.Role == RoleAdmin:
		if actor.Role != RoleAdmin {
			return nil, ErrForbidden
		}
	default:
		return nil, &FieldErrors{Fields: map[string]string{"role": "Choose operator or client."}}
	}
	errs := in.validate()
	var ch UserChange
	if in.Organization != "" {
		ch.Organization = &in.Organization
	}
	if in.ExternalID != "" {
		ch.ExternalID = &in.ExternalID
	}
	rec, recErrs := p.userRecord(ctx, &User{Role: in.Role, fields: "{}"}, ch)
	maps.Copy(errs, recErrs)
	if len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	if in.Role != RoleClient {
		if err := p.roomForOperator(ctx); err != nil {
			return nil, err
		}
	}
	if rec.org == nil && rec.externalID == nil {
		return p.addPerson(ctx, actor, in, "invitation")
	}
	u, err := p.addPersonWith(ctx, actor, in, "invitation", func(tp *Portal, u *User) error {
		// The record kept about them, in the same transaction.
		_, err := tp.q.Exec(ctx, "UPDATE users SET org_id = COALESCE(?, org_id), external_id = ? WHERE id = ?", rec.org, rec.externalID, u.ID)
		if sqlitedb.IsUniqueViolation(err) {
			return &FieldErrors{Fields: map[string]string{"external_id": "Another person has this external id."}}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return p.UserByID(ctx, u.ID)
}

func (p *Portal) roomForOperator(ctx context.Context) error {
	limit := p.Plan().MaxOperators
	if limit <= 0 {
		return nil
	}
	var n int
	if err := p.q.QueryRow(ctx, "SELECT COUNT(*) FROM users WHERE active = 1 AND role IN ('admin', 'operator')").Scan(&n); err != nil {
		return err
	}
	if n >= limit {
		return fmt.Errorf("%w (%d of %d in use)", ErrOperatorLimit, n, limit)
	}
	return nil
}

func (p *Portal) addPerson(ctx context.Context, actor *User, in NewPerson, kind string) (*User, error) {
	return p.addPersonWith(ctx, actor, in, kind, nil)
}

// addPersonWith is addPerson with more to do in its transaction.
func (p *Portal) addPersonWith(ctx context.Context, actor *User, in NewPerson, kind string, also func(tp *Portal, u *User) error) (*User, error) {
	password := NewPassword()
	hash, err := HashPassword(password)
	if err != nil {
		return nil, err
	}
	u := &User{Email: in.Email, Name: in.Name, Surname: in.Surname, Role: in.Role}
	err = p.Tx(ctx, func(tp *Portal) error {
		if err := tp.InsertUser(ctx, u, hash); err != nil {
			return err
		}
		if also != nil {
			if err := also(tp, u); err != nil {
				return err
			}
		}
		v := MailVars{Password: password, Link: p.URL() + "login", Role: u.Role}
		if actor != nil {
			v.Author = actor.FullName()
		}
		return tp.mailTo(ctx, kind, u, v, 0)
	})
	if errors.Is(err, ErrEmailTaken) {
		if actor == nil {
			return nil, err // Register answers it as any registration
		}
		return nil, &FieldErrors{Fields: map[string]string{"email": "A user with this email already exists."}}
	}
	if err != nil {
		return nil, fmt.Errorf("store: add user: %w", err)
	}
	p.kickOutbox()
	return u, nil
}

// Users lists the portal's people, staff first; role filters when not empty.
func (p *Portal) Users(ctx context.Context, role string) ([]*User, error) {
	users, _, err := p.FindUsers(ctx, UserFilter{Role: role})
	return users, err
}

// UserFilter narrows FindUsers; zero values filter nothing.
type UserFilter struct {
	Role       string
	ExternalID string
	Org        int64
	Sync       Sync
}

// FindUsers lists the people f matches, staff first — or, read
// incrementally, SyncPage at a time in the order they changed, with
// whether there are more.
func (p *Portal) FindUsers(ctx context.Context, f UserFilter) ([]*User, bool, error) {
	q := "SELECT " + userCols + " FROM users"
	var where []string
	var args []any
	if f.Role != "" {
		where, args = append(where, "role = ?"), append(args, f.Role)
	}
	if f.ExternalID != "" {
		where, args = append(where, "external_id = ?"), append(args, strings.TrimSpace(f.ExternalID))
	}
	if f.Org != 0 {
		where, args = append(where, "org_id = ?"), append(args, f.Org)
	}
	order := " ORDER BY CASE role WHEN 'admin' THEN 0 WHEN 'operator' THEN 1 ELSE 2 END, name, id"
	if f.Sync.On() {
		cond, a, errs := f.Sync.where("updated_at", "id")
		if errs != nil {
			return nil, false, &FieldErrors{Fields: errs}
		}
		if cond != "" {
			where, args = append(where, cond), append(args, a...)
		}
		order = fmt.Sprintf(" ORDER BY updated_at, id LIMIT %d", SyncPage+1)
	}
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := p.q.Query(ctx, q+order, args...)
	if err != nil {
		return nil, false, fmt.Errorf("store: users: %w", err)
	}
	defer rows.Close()
	var out []*User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, false, err
		}
		out = append(out, u)
	}
	if f.Sync.On() && len(out) > SyncPage {
		return out[:SyncPage], true, rows.Err()
	}
	return out, false, rows.Err()
}

// Staff lists active operators and admins, for assignment.
func (p *Portal) Staff(ctx context.Context) ([]*User, error) { return p.staff(ctx) }

// UserChange is what an admin may change about a user.
type UserChange struct {
	Active  *bool   `json:"active"`
	Role    *string `json:"role"`
	Name    *string `json:"name"`
	Surname *string `json:"surname"`
	Email   *string `json:"email"` // their sign-in: the old address is told
	// The record staff keep (operators too, of clients): the client's
	// organisation (its id or name; "" for none), an integration's id
	// ("" clears it) and custom fields by name (only those named change).
	Organization *string        `json:"organization"`
	ExternalID   *string        `json:"external_id"`
	Fields       map[string]any `json:"fields"`
}

// recordOnly: the change touches only the record staff keep.
func (ch *UserChange) recordOnly() bool {
	return ch.Active == nil && ch.Role == nil && ch.Name == nil && ch.Surname == nil && ch.Email == nil
}

// ChangeUser activates, deactivates or promotes a user (admins only), or
// changes the record kept about them (admins; operators of clients).
func (p *Portal) ChangeUser(ctx context.Context, actor *User, id int64, ch UserChange) (*User, error) {
	if actor.Role != RoleAdmin && !(actor.IsStaff() && ch.recordOnly()) {
		return nil, ErrForbidden
	}
	u, err := p.UserByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if actor.Role != RoleAdmin && u.Role != RoleClient {
		return nil, ErrForbidden
	}
	if u.ID == actor.ID && !ch.recordOnly() {
		return nil, &FieldErrors{Message: "You cannot change your own account here."}
	}
	rec, errs := p.userRecord(ctx, u, ch)
	role, active := u.Role, u.Active
	person := NewPerson{Name: u.Name, Surname: u.Surname, Email: u.Email}
	if ch.Name != nil {
		person.Name = *ch.Name
	}
	if ch.Surname != nil {
		person.Surname = *ch.Surname
	}
	if ch.Email != nil {
		person.Email = *ch.Email
	}
	maps.Copy(errs, person.validate())
	if len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	emailChanged := !strings.EqualFold(person.Email, u.Email)
	if ch.Role != nil {
		if *ch.Role != RoleAdmin && *ch.Role != RoleOperator && *ch.Role != RoleClient {
			return nil, &FieldErrors{Fields: map[string]string{"role": "Choose admin, operator or client."}}
		}
		role = *ch.Role
	}
	if ch.Active != nil {
		active = *ch.Active
	}
	becomesStaff := active && role != RoleClient && (!u.Active || !u.IsStaff())
	if becomesStaff {
		if err := p.roomForOperator(ctx); err != nil {
			return nil, err
		}
	}
	err = p.Tx(ctx, func(tp *Portal) error {
		if _, err := tp.q.Exec(ctx, "UPDATE users SET role = ?, active = ?, name = ?, surname = ?, email = ?, org_id = ?, external_id = ?, fields = ?, updated_at = max(updated_at, ?) WHERE id = ?",
			role, active, person.Name, person.Surname, person.Email, rec.org, rec.externalID, rec.fields, p.Now().Unix(), id); err != nil {
			if sqlitedb.IsUniqueViolation(err) && strings.Contains(err.Error(), "external_id") {
				return &FieldErrors{Fields: map[string]string{"external_id": "Another person has this external id."}}
			}
			if sqlitedb.IsUniqueViolation(err) {
				return &FieldErrors{Fields: map[string]string{"email": "A user with this email already exists."}}
			}
			return err
		}
		if emailChanged && u.Active {
			// The old address hears of it: a stolen admin account cannot
			// quietly take over someone's sign-in.
			return tp.mailTo(ctx, MailEmailChanged, u, MailVars{Author: actor.FullName(), NewEmail: person.Email, Link: p.URL() + "login"}, 0)
		}
		if !active { // deactivated: every session and token ends, for good
			return tp.revokeAccess(ctx, id, nil)
		}
		return nil
	})
	p.ref.cookies.forget()
	if err != nil {
		return nil, err
	}
	if emailChanged {
		p.kickOutbox()
	}
	return p.UserByID(ctx, id)
}

// userRec is the record staff keep about a person, ready for the row.
type userRec struct {
	org, externalID any
	fields          string
}

// userRecord is the record staff keep about u as ch leaves it, with
// errors by field.
func (p *Portal) userRecord(ctx context.Context, u *User, ch UserChange) (userRec, map[string]string) {
	errs := map[string]string{}
	var rec userRec
	org := u.Org
	if ch.Organization != nil {
		id, err := p.findOrg(ctx, *ch.Organization)
		switch {
		case err != nil:
			errs["organization"] = "No such organisation."
		case id != 0 && u.Role != RoleClient:
			errs["organization"] = "Only clients belong to organisations."
		default:
			org = id
		}
	}
	if org != 0 {
		rec.org = org
	}
	ext := u.ExternalID
	if ch.ExternalID != nil {
		v, msg := externalID(*ch.ExternalID)
		switch {
		case msg != "":
			errs["external_id"] = msg
		case v == nil:
			ext = ""
		default:
			ext = *v
		}
	}
	if ext != "" {
		rec.externalID = ext
	}
	vals := u.FieldValues()
	if len(ch.Fields) > 0 {
		if u.Role != RoleClient {
			errs["fields"] = "Only clients have these fields."
		} else if defs, err := p.RecordFields(ctx, TargetClient, false); err != nil {
			errs["fields"] = "The fields could not be read; try again."
		} else {
			applyRecordFields(defs, vals, ch.Fields, errs)
		}
	}
	b, _ := json.Marshal(vals)
	rec.fields = string(b)
	return rec, errs
}

// ResendInvitation mails a person who has never signed in their
// invitation again, with a new password (the old one is in the lost mail).
// Staff may resend a client's; only admins an operator's.
func (p *Portal) ResendInvitation(ctx context.Context, actor *User, id int64) (*User, error) {
	if !actor.IsStaff() {
		return nil, ErrForbidden
	}
	u, err := p.UserByID(ctx, id)
	if err != nil {
		return nil, err
	}
	switch {
	case u.IsStaff() && actor.Role != RoleAdmin:
		return nil, ErrForbidden
	case !u.Active:
		return nil, &FieldErrors{Message: "The account is deactivated: activate it first."}
	case u.LastLoginAt != 0:
		return nil, &FieldErrors{Message: "They have signed in already: send a password link instead."}
	}
	password := NewPassword()
	hash, err := HashPassword(password)
	if err != nil {
		return nil, err
	}
	err = p.Tx(ctx, func(tp *Portal) error {
		if _, err := tp.q.Exec(ctx, "UPDATE users SET password_hash = ? WHERE id = ?", hash, id); err != nil {
			return err
		}
		return tp.mailTo(ctx, MailInvitation, u, MailVars{Password: password, Link: p.URL() + "login", Role: u.Role, Author: actor.FullName()}, 0)
	})
	if err != nil {
		return nil, fmt.Errorf("store: resend invitation: %w", err)
	}
	p.kickOutbox()
	return u, nil
}

// Profile is what a person may change about themselves.
type Profile struct {
	Name    string          `json:"name"`
	Surname string          `json:"surname"`
	Lang    string          `json:"lang"`
	Notify  map[string]bool `json:"notify"`
}

// UpdateProfile saves the cabinet: name and notification preferences.
func (p *Portal) UpdateProfile(ctx context.Context, u *User, in Profile) error {
	in.Name, in.Surname = Line(in.Name), Line(in.Surname)
	errs := map[string]string{}
	switch n := utf8.RuneCountInString(in.Name); {
	case n == 0:
		errs["name"] = "Enter your name."
	case n > 100:
		errs["name"] = "At most 100 characters."
	}
	if utf8.RuneCountInString(in.Surname) > 100 {
		errs["surname"] = "At most 100 characters."
	}
	if in.Lang != "" && in.Lang != "en" && in.Lang != "ru" {
		errs["lang"] = "Choose English or Russian."
	}
	if len(errs) > 0 {
		return &FieldErrors{Fields: errs}
	}
	prefs := map[string]bool{}
	for _, k := range NotifyKinds {
		prefs[k.ID] = in.Notify[k.ID]
	}
	b, _ := json.Marshal(prefs)
	_, err := p.q.Exec(ctx, "UPDATE users SET name = ?, surname = ?, lang = ?, notify = ? WHERE id = ?", in.Name, in.Surname, in.Lang, string(b), u.ID)
	return err
}

// ChangePassword checks the current password and sets a new one. Every
// other session of u and every token (login and personal) stop working;
// the session with cookie (the browser that changed it) goes on.
func (p *Portal) ChangePassword(ctx context.Context, u *User, current, next, cookie string) (*User, error) {
	a, wait := throttle.Begin(p.Now(), throttle.Key{T: p.guards.accounts, Key: p.key(accountKey(u.Email)), Clear: true})
	if a == nil {
		return nil, &WaitError{Wait: wait}
	}
	if _, err := p.Authenticate(ctx, u.Email, current); err != nil {
		a.Failed(p.Now())
		return nil, &FieldErrors{Fields: map[string]string{"current_password": "The current password is not right."}}
	}
	a.Succeeded(p.Now())
	if msg := ValidatePassword(next, u.Email, u.Name, u.Surname); msg != "" {
		return nil, &FieldErrors{Fields: map[string]string{"new_password": msg}}
	}
	hash, err := HashPassword(next)
	if err != nil {
		return nil, err
	}
	var keep []byte
	if ref, err := p.session(ctx, cookie); err == nil && ref.uid == u.ID {
		keep = ref.hash
	}
	err = p.Tx(ctx, func(tp *Portal) error {
		if _, err := tp.q.Exec(ctx, "UPDATE users SET password_hash = ? WHERE id = ?", hash, u.ID); err != nil {
			return err
		}
		return tp.revokeAccess(ctx, u.ID, keep)
	})
	p.ref.cookies.forget()
	if err != nil {
		return nil, err
	}
	return p.UserByID(ctx, u.ID)
}

// Token is a personal API token as the cabinet lists it (never the secret).
type Token struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Scope      string `json:"scope"` // read, write or admin
	CreatedAt  int64  `json:"created_at"`
	ExpiresAt  int64  `json:"expires_at,omitempty"`   // 0: never
	LastUsedAt int64  `json:"last_used_at,omitempty"` // to within a few minutes; 0: never
	LastIP     string `json:"last_ip,omitempty"`
}

// PersonalTokens lists the user's API tokens.
func (p *Portal) PersonalTokens(ctx context.Context, u *User) ([]Token, error) {
	rows, err := p.q.Query(ctx, `SELECT lower(hex(substr(hash, 1, 6))), name, scope, created_at, COALESCE(expires_at, 0), last_used_at, last_ip
		FROM tokens WHERE user_id = ? AND kind = 'personal' ORDER BY created_at`, u.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		var t Token
		if err := rows.Scan(&t.ID, &t.Name, &t.Scope, &t.CreatedAt, &t.ExpiresAt, &t.LastUsedAt, &t.LastIP); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// ErrNoAPITokens is returned when the tariff does not include API tokens.
var ErrNoAPITokens = errors.New("personal API tokens are not included in this portal's tariff")

// NewTokenInput names a personal token, its scope (read, write or admin;
// "" admin) and how many days it lives (0: until revoked; at most 366).
type NewTokenInput struct {
	Name          string `json:"name"`
	Scope         string `json:"scope"`
	ExpiresInDays int    `json:"expires_in_days"`
}

// CreatePersonalToken issues a named API token for integrations.
func (p *Portal) CreatePersonalToken(ctx context.Context, u *User, in NewTokenInput) (string, error) {
	if !p.Plan().APITokens {
		return "", ErrNoAPITokens
	}
	errs := map[string]string{}
	name := Line(in.Name)
	if name == "" || utf8.RuneCountInString(name) > 80 {
		errs["name"] = "Name the token (at most 80 characters)."
	}
	scope := cmp.Or(in.Scope, ScopeAdmin)
	if scope != ScopeRead && scope != ScopeWrite && scope != ScopeAdmin {
		errs["scope"] = "Choose read, write or admin."
	}
	if in.ExpiresInDays < 0 || in.ExpiresInDays > 366 {
		errs["expires_in_days"] = "Choose from 1 to 366 days, or 0 for a token that lives until it is revoked."
	}
	if len(errs) > 0 {
		return "", &FieldErrors{Fields: errs}
	}
	return p.issueToken(ctx, u.ID, TokenPersonal, name, time.Duration(in.ExpiresInDays)*24*time.Hour, scope)
}

// RevokePersonalToken deletes one of the user's API tokens by its listed id.
func (p *Portal) RevokePersonalToken(ctx context.Context, u *User, id string) error {
	_, err := p.q.Exec(ctx, "DELETE FROM tokens WHERE user_id = ? AND kind = 'personal' AND lower(hex(substr(hash, 1, 6))) = ?", u.ID, strings.ToLower(id))
	return err
}
