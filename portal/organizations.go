package portal

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"portaldesk/portal/sqlitedb"
)

// Organization is a client's company: staff keep its details, clients
// belong to one, and a client whose address is at one of its domains joins
// it by themselves.
type Organization struct {
	ID         int64             `json:"id"`
	Name       string            `json:"name"`
	TaxID      string            `json:"tax_id"` // INN or VAT id
	KPP        string            `json:"kpp"`
	Domains    []string          `json:"domains"`
	Notes      string            `json:"notes"`
	Fields     map[string]string `json:"fields"` // custom fields by name
	ExternalID string            `json:"external_id,omitempty"`
	People     int               `json:"people"`           // clients in it
	Joined     int               `json:"joined,omitempty"` // clients its domains brought in by this save
	CreatedAt  int64             `json:"created_at"`
	UpdatedAt  int64             `json:"updated_at"`
}

// OrgRef names an organisation.
type OrgRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// OrgInput makes or changes an organisation; nil leaves a part as it is.
type OrgInput struct {
	Name       *string        `json:"name"`
	TaxID      *string        `json:"tax_id"`
	KPP        *string        `json:"kpp"`
	Domains    *[]string      `json:"domains"`
	Notes      *string        `json:"notes"`
	Fields     map[string]any `json:"fields"` // only the fields named change; "" clears one
	ExternalID *string        `json:"external_id"`
}

// OrgFilter narrows the organisations listed.
type OrgFilter struct {
	Find       string // a part of the name, a tax id or a domain
	ExternalID string
	Page       int // from 1, OrgPageSize at a time
	Sync       Sync
}

// OrgPageSize is how many organisations a page lists.
const OrgPageSize = 50

const orgCols = `o.id, o.name, o.tax_id, o.kpp, o.domains, o.notes, o.fields, COALESCE(o.external_id, ''), o.created_at, o.updated_at,
	(SELECT COUNT(*) FROM users u WHERE u.org_id = o.id)`

func scanOrg(row interface{ Scan(...any) error }) (*Organization, error) {
	o := &Organization{}
	var domains, fields string
	if err := row.Scan(&o.ID, &o.Name, &o.TaxID, &o.KPP, &domains, &o.Notes, &fields, &o.ExternalID, &o.CreatedAt, &o.UpdatedAt, &o.People); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	o.Domains = splitList(domains)
	o.Fields = map[string]string{}
	_ = json.Unmarshal([]byte(fields), &o.Fields)
	return o, nil
}

func splitList(s string) []string {
	out := []string{}
	for _, d := range strings.Split(s, ",") {
		if d != "" {
			out = append(out, d)
		}
	}
	return out
}

// Organizations lists organisations by name (staff only), with whether
// there are more.
func (p *Portal) Organizations(ctx context.Context, actor *User, f OrgFilter) ([]*Organization, bool, error) {
	if !actor.IsStaff() {
		return nil, false, ErrForbidden
	}
	var where []string
	var args []any
	if f.ExternalID != "" {
		where, args = append(where, "o.external_id = ?"), append(args, strings.TrimSpace(f.ExternalID))
	}
	if find := strings.TrimSpace(f.Find); find != "" {
		like := "%" + likeEscape(find) + "%"
		where = append(where, `(o.name LIKE ? ESCAPE '\' OR o.tax_id = ? OR ','||o.domains||',' LIKE ? ESCAPE '\')`)
		args = append(args, like, find, "%,"+likeEscape(strings.ToLower(strings.TrimPrefix(find, "@")))+",%")
	}
	q := "SELECT " + orgCols + " FROM organizations o"
	order := " ORDER BY o.name, o.id LIMIT ? OFFSET ?"
	page, size := max(f.Page, 1), OrgPageSize
	if f.Sync.On() {
		cond, a, errs := f.Sync.where("o.updated_at", "o.id")
		if errs != nil {
			return nil, false, &FieldErrors{Fields: errs}
		}
		if cond != "" {
			where, args = append(where, cond), append(args, a...)
		}
		order, page, size = " ORDER BY o.updated_at, o.id LIMIT ? OFFSET ?", 1, SyncPage
	}
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += order
	rows, err := p.q.Query(ctx, q, append(args, size+1, (page-1)*size)...)
	if err != nil {
		return nil, false, fmt.Errorf("store: organizations: %w", err)
	}
	defer rows.Close()
	out := []*Organization{}
	for rows.Next() {
		o, err := scanOrg(rows)
		if err != nil {
			return nil, false, fmt.Errorf("store: organizations: %w", err)
		}
		out = append(out, o)
	}
	if len(out) > size {
		return out[:size], true, rows.Err()
	}
	return out, false, rows.Err()
}

// OrgNames lists up to 500 organisations' names, for a form's choice.
func (p *Portal) OrgNames(ctx context.Context) ([]OrgRef, error) {
	rows, err := p.q.Query(ctx, "SELECT id, name FROM organizations ORDER BY name LIMIT 500")
	if err != nil {
		return nil, fmt.Errorf("store: organization names: %w", err)
	}
	defer rows.Close()
	var out []OrgRef
	for rows.Next() {
		var o OrgRef
		if err := rows.Scan(&o.ID, &o.Name); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// Organization reads one organisation (staff only).
func (p *Portal) Organization(ctx context.Context, actor *User, id int64) (*Organization, error) {
	if !actor.IsStaff() {
		return nil, ErrForbidden
	}
	return p.organization(ctx, id)
}

func (p *Portal) organization(ctx context.Context, id int64) (*Organization, error) {
	o, err := scanOrg(p.q.QueryRow(ctx, "SELECT "+orgCols+" FROM organizations o WHERE o.id = ?", id))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("store: organization %d: %w", id, err)
	}
	return o, err
}

// findOrg is an organisation by its id or its name ("" or "none": none).
func (p *Portal) findOrg(ctx context.Context, s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "none" || s == "0" {
		return 0, nil
	}
	var id int64
	err := p.q.QueryRow(ctx, "SELECT id FROM organizations WHERE id = ? OR name = ? ORDER BY name = ? DESC LIMIT 1", s, s, s).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	return id, err
}

// publicMailDomains are domains whose addresses belong to anyone: an
// organisation claiming one would swallow every client mailing from it.
var publicMailDomains = map[string]bool{
	"gmail.com": true, "googlemail.com": true, "yandex.ru": true, "ya.ru": true, "yandex.com": true, "mail.ru": true,
	"bk.ru": true, "inbox.ru": true, "list.ru": true, "internet.ru": true, "rambler.ru": true, "outlook.com": true,
	"hotmail.com": true, "live.com": true, "yahoo.com": true, "icloud.com": true, "me.com": true, "proton.me": true,
	"protonmail.com": true, "gmx.de": true, "gmx.net": true, "aol.com": true,
}

var (
	domainRe = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	kppRe    = regexp.MustCompile(`^[0-9]{4}[0-9A-Z]{2}[0-9]{3}$`)
	vatRe    = regexp.MustCompile(`^[A-Z]{2}[0-9A-Z]{2,13}$`)
)

// validINN checks a Russian taxpayer number: 10 digits (a company) or 12
// (a person), with their check digits.
func validINN(s string) bool {
	check := func(w []int) int {
		sum := 0
		for i, k := range w {
			sum += k * int(s[i]-'0')
		}
		return sum % 11 % 10
	}
	switch len(s) {
	case 10:
		return check([]int{2, 4, 10, 3, 5, 9, 4, 6, 8}) == int(s[9]-'0')
	case 12:
		return check([]int{7, 2, 4, 10, 3, 5, 9, 4, 6, 8}) == int(s[10]-'0') &&
			check([]int{3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8}) == int(s[11]-'0')
	}
	return false
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// validate applies in to o, answering errors by field.
func (in *OrgInput) validate(o *Organization, defs []*RecordField) map[string]string {
	errs := map[string]string{}
	if in.Name != nil {
		o.Name = Line(*in.Name)
	}
	switch n := utf8.RuneCountInString(o.Name); {
	case n == 0:
		errs["name"] = "Enter the organisation's name."
	case n > 200:
		errs["name"] = "At most 200 characters."
	}
	if in.TaxID != nil {
		o.TaxID = strings.ToUpper(strings.ReplaceAll(Line(*in.TaxID), " ", ""))
		switch {
		case o.TaxID == "":
		case allDigits(o.TaxID):
			if !validINN(o.TaxID) {
				errs["tax_id"] = "This INN does not add up: check its digits (10 for a company, 12 for a sole trader)."
			}
		case !vatRe.MatchString(o.TaxID):
			errs["tax_id"] = "Enter an INN (10 or 12 digits) or a VAT id like DE123456789."
		}
	}
	if in.KPP != nil {
		o.KPP = strings.ToUpper(strings.ReplaceAll(Line(*in.KPP), " ", ""))
		if o.KPP != "" && !kppRe.MatchString(o.KPP) {
			errs["kpp"] = "A KPP is 9 characters, like 773601001."
		}
	}
	if in.Domains != nil {
		o.Domains = []string{}
		for _, d := range *in.Domains {
			for _, d := range strings.FieldsFunc(d, func(r rune) bool { return r == ',' || r == ' ' || r == ';' || r == '\n' }) {
				d = strings.TrimSuffix(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(d)), "@"), ".")
				switch {
				case d == "" || slices.Contains(o.Domains, d):
				case !domainRe.MatchString(d) || len(d) > 253:
					errs["domains"] = fmt.Sprintf("%q is not a domain: write them like example.com, separated by commas.", d)
				case publicMailDomains[d]:
					errs["domains"] = fmt.Sprintf("Addresses at %s belong to anyone: name the company's own domain.", d)
				default:
					o.Domains = append(o.Domains, d)
				}
			}
		}
		if len(o.Domains) > 20 {
			errs["domains"] = "At most 20 domains."
		}
	}
	if in.Notes != nil {
		o.Notes = strings.TrimSpace(Text(*in.Notes))
		if utf8.RuneCountInString(o.Notes) > 5000 {
			errs["notes"] = "At most 5000 characters."
		}
	}
	if in.ExternalID != nil {
		v, msg := externalID(*in.ExternalID)
		if msg != "" {
			errs["external_id"] = msg
		} else if v == nil {
			o.ExternalID = ""
		} else {
			o.ExternalID = *v
		}
	}
	applyRecordFields(defs, o.Fields, in.Fields, errs)
	return errs
}

// SaveOrganization makes an organisation (id 0) or changes one (staff
// only). Clients with no organisation whose addresses are at its domains
// join it (Joined says how many did).
func (p *Portal) SaveOrganization(ctx context.Context, actor *User, id int64, in OrgInput) (*Organization, error) {
	if !actor.IsStaff() {
		return nil, ErrForbidden
	}
	if err := p.writable(); err != nil {
		return nil, err
	}
	o := &Organization{Fields: map[string]string{}, Domains: []string{}}
	if id != 0 {
		var err error
		if o, err = p.organization(ctx, id); err != nil {
			return nil, err
		}
	}
	defs, err := p.RecordFields(ctx, TargetOrg, false)
	if err != nil {
		return nil, err
	}
	errs := in.validate(o, defs)
	if len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	fields, _ := json.Marshal(o.Fields)
	var ext any
	if o.ExternalID != "" {
		ext = o.ExternalID
	}
	now := p.Now().Unix()
	joined := 0
	err = p.Tx(ctx, func(tp *Portal) error {
		// Another organisation's domain is not taken over.
		for _, d := range o.Domains {
			var other string
			err := tp.q.QueryRow(ctx, "SELECT name FROM organizations WHERE id <> ? AND instr(','||domains||',', ?) > 0", id, ","+d+",").Scan(&other)
			if err == nil {
				return &FieldErrors{Fields: map[string]string{"domains": fmt.Sprintf("%s is %s's domain already.", d, other)}}
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		var err error
		if id == 0 {
			var res sql.Result
			res, err = tp.q.Exec(ctx, `INSERT INTO organizations (name, tax_id, kpp, domains, notes, fields, external_id, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, o.Name, o.TaxID, o.KPP, strings.Join(o.Domains, ","), o.Notes, string(fields), ext, now, now)
			if err == nil {
				o.ID, _ = res.LastInsertId()
			}
		} else {
			_, err = tp.q.Exec(ctx, `UPDATE organizations SET name = ?, tax_id = ?, kpp = ?, domains = ?, notes = ?, fields = ?, external_id = ?, updated_at = ? WHERE id = ?`,
				o.Name, o.TaxID, o.KPP, strings.Join(o.Domains, ","), o.Notes, string(fields), ext, now, id)
		}
		if sqlitedb.IsUniqueViolation(err) {
			if strings.Contains(err.Error(), "external_id") {
				return &FieldErrors{Fields: map[string]string{"external_id": "Another organisation has this external id."}}
			}
			return &FieldErrors{Fields: map[string]string{"name": "An organisation with this name exists already."}}
		}
		if err != nil {
			return err
		}
		for _, d := range o.Domains {
			res, err := tp.q.Exec(ctx, `UPDATE users SET org_id = ? WHERE org_id IS NULL AND role = 'client' AND email LIKE ? ESCAPE '\'`, o.ID, "%@"+likeEscape(d))
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			joined += int(n)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: save organization: %w", err)
	}
	if o, err = p.organization(ctx, o.ID); err != nil {
		return nil, err
	}
	o.Joined = joined
	return o, nil
}

// DeleteOrganization removes an organisation (staff only); its people
// stay, in none.
func (p *Portal) DeleteOrganization(ctx context.Context, actor *User, id int64) error {
	if !actor.IsStaff() {
		return ErrForbidden
	}
	res, err := p.q.Exec(ctx, "DELETE FROM organizations WHERE id = ?", id)
	if err != nil {
		return fmt.Errorf("store: delete organization %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// OrgMembers lists an organisation's clients by name (at most 500).
func (p *Portal) OrgMembers(ctx context.Context, actor *User, id int64) ([]*User, error) {
	if !actor.IsStaff() {
		return nil, ErrForbidden
	}
	rows, err := p.q.Query(ctx, "SELECT "+userCols+" FROM users WHERE org_id = ? ORDER BY name, surname, id LIMIT 500", id)
	if err != nil {
		return nil, fmt.Errorf("store: organization %d people: %w", id, err)
	}
	return collect(rows, scanUser)
}

// orgForEmail is the organisation whose domain an address is at, or nil.
const orgForEmail = `(SELECT id FROM organizations WHERE domains <> '' AND instr(','||domains||',', ','||lower(substr(?1, instr(?1, '@') + 1))||',') > 0 LIMIT 1)`
