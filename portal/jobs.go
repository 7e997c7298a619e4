package portal

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"portaldesk/portal/sqlitedb"
	"portaldesk/portal/tabular"
	"portaldesk/templates/i18n"
)

// Data in and out: an admin imports clients or organisations from a CSV
// or XLSX table — uploaded, previewed with its columns matched to fields,
// then applied — and exports tickets with their messages as CSV or JSON.
// Each is a job the portal's worker does a chunk at a time (RunJobs), its
// progress kept, so a large one neither holds a request nor is lost when
// the service stops: a chunk is applied again from where the last one
// ended.

// Job kinds.
const (
	JobImportClients = "import_clients"
	JobImportOrgs    = "import_orgs"
	JobExportTickets = "export_tickets"
)

// Import limits.
const (
	MaxImportBytes = 20 << 20
	MaxImportRows  = 50000
	importChunk    = 500 // rows; an export's chunk is a sync page of tickets
	jobFilesKeep   = 7 * 24 * time.Hour
)

// Job is a long job and how far it is.
type Job struct {
	ID         int64      `json:"id"`
	Kind       string     `json:"kind"`
	State      string     `json:"state"` // preview, queued, running, done, failed
	Name       string     `json:"name,omitempty"`
	Total      int        `json:"total"`
	Done       int        `json:"done"`
	Created    int        `json:"created"`
	Updated    int        `json:"updated"`
	Rejected   int        `json:"rejected"`
	Error      string     `json:"error,omitempty"`
	Ready      bool       `json:"ready"` // an export's file can be downloaded
	CreatedAt  int64      `json:"created_at"`
	FinishedAt int64      `json:"finished_at,omitempty"`
	Params     *JobParams `json:"params,omitempty"`
	file       string
	cursor     string
	written    int64
	by         int64
}

// JobParams are what a job was asked to do.
type JobParams struct {
	// Imports: the target of each column ("" skips it), whether a row
	// whose client or organisation exists changes it, whether new clients
	// are invited (mailed a password) or only kept.
	Mapping        []string `json:"mapping,omitempty"`
	UpdateExisting bool     `json:"update_existing,omitempty"`
	Invite         bool     `json:"invite,omitempty"`
	// Exports: csv or json, and the tickets: a status ("open", "closed",
	// an id, "" all) and changed since (YYYY-MM-DD, "" ever).
	Format string `json:"format,omitempty"`
	Status string `json:"status,omitempty"`
	Since  string `json:"since,omitempty"`
}

// ImportTarget is a field a column may fill.
type ImportTarget struct {
	ID    string `json:"id"`
	Label string `json:"label"`
}

// ImportPreview is an uploaded table before it is applied: its columns,
// its first rows, and the field each column seems to be.
type ImportPreview struct {
	Job     *Job           `json:"job"`
	Columns []string       `json:"columns"`
	Sample  [][]string     `json:"sample"`
	Mapping []string       `json:"mapping"`
	Targets []ImportTarget `json:"targets"`
}

const jobCols = "id, kind, state, name, params, file, total, done, created, updated, rejected, cursor, written, error, COALESCE(created_by, 0), created_at, COALESCE(finished_at, 0)"

func scanJob(row interface{ Scan(...any) error }) (*Job, error) {
	j := &Job{}
	var params string
	if err := row.Scan(&j.ID, &j.Kind, &j.State, &j.Name, &params, &j.file, &j.Total, &j.Done, &j.Created, &j.Updated, &j.Rejected,
		&j.cursor, &j.written, &j.Error, &j.by, &j.CreatedAt, &j.FinishedAt); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	j.Params = &JobParams{}
	_ = json.Unmarshal([]byte(params), j.Params)
	j.Ready = j.Kind == JobExportTickets && j.State == "done" && j.file != ""
	return j, nil
}

// Jobs lists the latest 50 jobs, newest first (admins only).
func (p *Portal) Jobs(ctx context.Context, actor *User) ([]*Job, error) {
	if actor.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	rows, err := p.q.Query(ctx, "SELECT "+jobCols+" FROM jobs ORDER BY id DESC LIMIT 50")
	if err != nil {
		return nil, fmt.Errorf("store: jobs: %w", err)
	}
	return collect(rows, scanJob)
}

// Job is one job (admins only).
func (p *Portal) Job(ctx context.Context, actor *User, id int64) (*Job, error) {
	if actor.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	return scanJob(p.q.QueryRow(ctx, "SELECT "+jobCols+" FROM jobs WHERE id = ?", id))
}

func importKind(kind string) (string, bool) {
	switch kind {
	case "clients", JobImportClients:
		return JobImportClients, true
	case "organizations", "orgs", JobImportOrgs:
		return JobImportOrgs, true
	}
	return "", false
}

// importTargets are the fields a kind's columns may fill.
func (p *Portal) importTargets(ctx context.Context, kind string) ([]ImportTarget, error) {
	var out []ImportTarget
	target := TargetClient
	if kind == JobImportClients {
		out = []ImportTarget{{"name", "Name"}, {"surname", "Surname"}, {"email", "Email"}, {"organization", "Organisation"}, {"external_id", "External id"}}
	} else {
		target = TargetOrg
		out = []ImportTarget{{"name", "Name"}, {"tax_id", "INN / VAT id"}, {"kpp", "KPP"}, {"domains", "Domains"}, {"notes", "Notes"}, {"external_id", "External id"}}
	}
	defs, err := p.RecordFields(ctx, target, false)
	if err != nil {
		return nil, err
	}
	for _, d := range defs {
		out = append(out, ImportTarget{d.Name, d.Label})
	}
	return out, nil
}

// headerNames are the headings a column is recognised by, per target.
var headerNames = map[string][]string{
	"name":         {"name", "first name", "firstname", "имя", "название", "наименование", "company", "компания"},
	"surname":      {"surname", "last name", "lastname", "фамилия"},
	"email":        {"email", "e-mail", "mail", "почта", "электронная почта", "адрес почты", "email address"},
	"organization": {"organization", "organisation", "company", "организация", "компания"},
	"external_id":  {"external id", "external_id", "externalid", "id", "crm id", "внешний id", "внешний идентификатор", "код"},
	"tax_id":       {"inn", "инн", "tax id", "vat", "vat id", "tax_id"},
	"kpp":          {"kpp", "кпп"},
	"domains":      {"domains", "domain", "домены", "домен", "сайт", "website"},
	"notes":        {"notes", "note", "заметки", "примечание", "комментарий"},
}

// guessMapping matches columns to targets by their headings.
func guessMapping(header []string, targets []ImportTarget) []string {
	out := make([]string, len(header))
	used := map[string]bool{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		for _, t := range targets {
			if used[t.ID] {
				continue
			}
			if slices.Contains(headerNames[t.ID], h) || strings.EqualFold(t.Label, h) {
				out[i], used[t.ID] = t.ID, true
				break
			}
		}
	}
	return out
}

// StartImport keeps an uploaded table of clients or organisations and
// previews it (admins only); nothing is imported until RunImport.
func (p *Portal) StartImport(ctx context.Context, actor *User, kind, name string, r io.Reader) (*ImportPreview, error) {
	if actor.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	if err := p.writable(); err != nil {
		return nil, err
	}
	jk, ok := importKind(kind)
	if !ok {
		return nil, &FieldErrors{Fields: map[string]string{"kind": "Choose clients or organizations."}}
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxImportBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxImportBytes {
		return nil, &FieldErrors{Fields: map[string]string{"file": fmt.Sprintf("At most %s: split the table.", HumanBytes(MaxImportBytes))}}
	}
	rows, err := tabular.Read(name, bytes.NewReader(data), MaxImportRows+1)
	switch {
	case errors.Is(err, tabular.ErrTooLarge):
		return nil, &FieldErrors{Fields: map[string]string{"file": fmt.Sprintf("At most %d rows: split the table.", MaxImportRows)}}
	case err != nil:
		return nil, &FieldErrors{Fields: map[string]string{"file": "Not a table: send a CSV or XLSX file."}}
	case len(rows) < 2 || len(rows[0]) == 0:
		return nil, &FieldErrors{Fields: map[string]string{"file": "The table has no rows under its heading."}}
	}
	file := path.Join("jobs", newFilePath())
	if err := p.Scratch.MkdirAll(path.Dir(file), 0o750); err != nil {
		return nil, err
	}
	if err := writeFile(p, file, data); err != nil {
		return nil, err
	}
	now := p.Now().Unix()
	res, err := p.q.Exec(ctx, "INSERT INTO jobs (kind, state, name, file, total, created_by, created_at) VALUES (?, 'preview', ?, ?, ?, ?, ?)",
		jk, truncate(CleanName(name), 200), file, len(rows)-1, actor.ID, now)
	if err != nil {
		_ = p.Scratch.Remove(file)
		return nil, fmt.Errorf("store: import: %w", err)
	}
	id, _ := res.LastInsertId()
	return p.ImportPreview(ctx, actor, id)
}

func writeFile(p *Portal, name string, data []byte) error {
	f, err := p.Scratch.Create(name)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// readJobTable reads an import's stored table.
func (p *Portal) readJobTable(j *Job) ([][]string, error) {
	f, err := p.Scratch.Open(j.file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return tabular.Read(j.Name, f, MaxImportRows+1)
}

// ImportPreview is an uploaded table's columns, first ten rows and the
// suggested (or chosen) field of each column.
func (p *Portal) ImportPreview(ctx context.Context, actor *User, id int64) (*ImportPreview, error) {
	j, err := p.Job(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	if j.Kind == JobExportTickets {
		return nil, ErrNotFound
	}
	rows, err := p.readJobTable(j)
	if err != nil {
		return nil, fmt.Errorf("store: import %d: %w", id, err)
	}
	pv := &ImportPreview{Job: j, Columns: rows[0], Sample: rows[1:min(len(rows), 11)]}
	if pv.Targets, err = p.importTargets(ctx, j.Kind); err != nil {
		return nil, err
	}
	pv.Mapping = j.Params.Mapping
	if len(pv.Mapping) == 0 {
		pv.Mapping = guessMapping(rows[0], pv.Targets)
	}
	return pv, nil
}

// RunImport starts an import with its columns' fields (admins only).
func (p *Portal) RunImport(ctx context.Context, actor *User, id int64, in JobParams) (*Job, error) {
	j, err := p.Job(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	if j.Kind == JobExportTickets {
		return nil, ErrNotFound
	}
	if j.State != "preview" {
		return nil, &FieldErrors{Message: "This import has started already."}
	}
	targets, err := p.importTargets(ctx, j.Kind)
	if err != nil {
		return nil, err
	}
	rows, err := p.readJobTable(j)
	if err != nil {
		return nil, err
	}
	if len(in.Mapping) > len(rows[0]) {
		return nil, &FieldErrors{Fields: map[string]string{"mapping": "More fields than the table has columns."}}
	}
	seen := map[string]bool{}
	for i, m := range in.Mapping {
		if m == "" {
			continue
		}
		if !slices.ContainsFunc(targets, func(t ImportTarget) bool { return t.ID == m }) {
			return nil, &FieldErrors{Fields: map[string]string{"mapping": fmt.Sprintf("Column %d: no field %q.", i+1, m)}}
		}
		if seen[m] {
			return nil, &FieldErrors{Fields: map[string]string{"mapping": fmt.Sprintf("Two columns go to %q: choose one.", m)}}
		}
		seen[m] = true
	}
	switch {
	case j.Kind == JobImportClients && !seen["email"]:
		return nil, &FieldErrors{Fields: map[string]string{"mapping": "Choose the column with the clients' email addresses."}}
	case j.Kind == JobImportOrgs && !seen["name"]:
		return nil, &FieldErrors{Fields: map[string]string{"mapping": "Choose the column with the organisations' names."}}
	}
	params := JobParams{Mapping: in.Mapping, UpdateExisting: in.UpdateExisting, Invite: in.Invite && j.Kind == JobImportClients}
	b, _ := json.Marshal(params)
	if _, err := p.q.Exec(ctx, "UPDATE jobs SET state = 'queued', params = ? WHERE id = ? AND state = 'preview'", string(b), id); err != nil {
		return nil, fmt.Errorf("store: import %d: %w", id, err)
	}
	p.kickOutbox()
	return p.Job(ctx, actor, id)
}

// StartExport queues an export of tickets with their messages (admins
// only): format csv or json; the tickets of a status, changed since a day.
func (p *Portal) StartExport(ctx context.Context, actor *User, in JobParams) (*Job, error) {
	if actor.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	errs := map[string]string{}
	if in.Format != "csv" && in.Format != "json" {
		errs["format"] = "Choose csv or json."
	}
	if in.Since != "" {
		if _, err := time.Parse("2006-01-02", in.Since); err != nil {
			errs["since"] = "Enter a date as YYYY-MM-DD."
		}
	}
	if in.Status != "" && in.Status != "open" && in.Status != "closed" {
		if _, err := p.FindStatus(ctx, in.Status); err != nil {
			errs["status"] = "Unknown status."
		}
	}
	if len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	b, _ := json.Marshal(JobParams{Format: in.Format, Status: in.Status, Since: in.Since})
	var total int
	_ = p.q.QueryRow(ctx, "SELECT COUNT(*) FROM tickets").Scan(&total)
	res, err := p.q.Exec(ctx, "INSERT INTO jobs (kind, state, name, params, total, created_by, created_at) VALUES (?, 'queued', ?, ?, ?, ?, ?)",
		JobExportTickets, fmt.Sprintf("tickets-%s.%s", p.Now().Format("2006-01-02"), in.Format), string(b), total, actor.ID, p.Now().Unix())
	if err != nil {
		return nil, fmt.Errorf("store: export: %w", err)
	}
	id, _ := res.LastInsertId()
	p.kickOutbox()
	return p.Job(ctx, actor, id)
}

// JobFile opens a finished export (admins only).
func (p *Portal) JobFile(ctx context.Context, actor *User, id int64) (*Job, io.ReadCloser, error) {
	j, err := p.Job(ctx, actor, id)
	if err != nil {
		return nil, nil, err
	}
	if !j.Ready {
		return nil, nil, ErrNotFound
	}
	f, err := p.Scratch.Open(j.file)
	if err != nil {
		return nil, nil, ErrNotFound
	}
	return j, f, nil
}

// WriteRejected writes an import's refused rows as CSV: their row number,
// why, and the row as it was (admins only).
func (p *Portal) WriteRejected(ctx context.Context, actor *User, id int64, w io.Writer) error {
	j, err := p.Job(ctx, actor, id)
	if err != nil {
		return err
	}
	if j.Kind == JobExportTickets {
		return ErrNotFound
	}
	rows, err := p.q.Query(ctx, "SELECT row, error, cells FROM job_rejects WHERE job_id = ? ORDER BY row", id)
	if err != nil {
		return err
	}
	defer rows.Close()
	cw := tabular.NewWriter(w)
	if err := cw.Write("row", "error"); err != nil {
		return err
	}
	for rows.Next() {
		var n int
		var why, cells string
		if err := rows.Scan(&n, &why, &cells); err != nil {
			return err
		}
		var c []string
		_ = json.Unmarshal([]byte(cells), &c)
		if err := cw.Write(append([]string{strconv.Itoa(n), why}, c...)...); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return cw.Flush()
}

// RunJobs does one chunk of the oldest job waiting, and forgets the files
// of jobs older than a week. more says whether work is left.
func (p *Portal) RunJobs(ctx context.Context) (more bool, err error) {
	if p.Plan().State != StateActive {
		return false, nil
	}
	p.workMu.Lock() // the worker's round is one at a time already; this keeps a test's round from racing it
	defer p.workMu.Unlock()
	if now := p.Now(); now.Sub(p.jobsSwept) > time.Hour { // not a query every round
		p.jobsSwept = now
		p.forgetOldJobs(ctx)
	}
	j, err := scanJob(p.q.QueryRow(ctx, "SELECT "+jobCols+" FROM jobs WHERE state IN ('queued', 'running') ORDER BY id LIMIT 1"))
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	actor, err := p.UserByID(ctx, j.by)
	if err != nil || actor.Role != RoleAdmin || !actor.Active {
		return true, p.failJob(ctx, j.ID, "the admin who started it can no longer")
	}
	switch j.Kind {
	case JobExportTickets:
		err = p.exportChunk(ctx, actor, j)
	default:
		err = p.importChunk(ctx, actor, j)
	}
	if err != nil {
		return true, p.failJob(ctx, j.ID, err.Error())
	}
	return true, nil
}

func (p *Portal) failJob(ctx context.Context, id int64, why string) error {
	_, err := p.q.Exec(ctx, "UPDATE jobs SET state = 'failed', error = ?, finished_at = ? WHERE id = ?", truncate(why, 300), p.Now().Unix(), id)
	return err
}

func (p *Portal) forgetOldJobs(ctx context.Context) {
	rows, err := p.q.Query(ctx, "SELECT id, file FROM jobs WHERE file <> '' AND created_at < ? AND state NOT IN ('queued', 'running')", p.Now().Add(-jobFilesKeep).Unix())
	if err != nil {
		return
	}
	var ids []int64
	var files []string
	for rows.Next() {
		var id int64
		var f string
		if rows.Scan(&id, &f) == nil {
			ids, files = append(ids, id), append(files, f)
		}
	}
	rows.Close()
	for i, id := range ids {
		_ = p.Scratch.Remove(files[i])
		_, _ = p.q.Exec(ctx, "UPDATE jobs SET file = '' WHERE id = ?", id)
	}
}

// importChunk applies the next rows of an import, each on its own: a row
// refused is recorded with why, and the others go on.
func (p *Portal) importChunk(ctx context.Context, actor *User, j *Job) error {
	rows, err := p.readJobTable(j)
	if err != nil {
		return fmt.Errorf("the uploaded table cannot be read: %w", err)
	}
	targets, err := p.importTargets(ctx, j.Kind)
	if err != nil {
		return err
	}
	isField := map[string]bool{}
	for _, t := range targets {
		if strings.HasPrefix(t.ID, "cf") {
			isField[t.ID] = true
		}
	}
	end := min(j.Done+importChunk, len(rows)-1)
	created, updated, rejected := 0, 0, 0
	for n := j.Done + 1; n <= end; n++ {
		row := rows[n]
		if len(row) == 0 {
			continue // an empty line
		}
		vals := map[string]string{}
		fields := map[string]any{}
		for i, t := range j.Params.Mapping {
			if t == "" || i >= len(row) {
				continue
			}
			if isField[t] {
				fields[t] = row[i]
			} else {
				vals[t] = row[i]
			}
		}
		var made bool
		if j.Kind == JobImportClients {
			made, err = p.importClient(ctx, actor, vals, fields, j.Params)
		} else {
			made, err = p.importOrg(ctx, actor, vals, fields, j.Params)
		}
		if err != nil {
			why := rowError(err, p.Setting(ctx, "lang", "en"))
			if why == "" {
				return err // not the row's fault: the job stops, and says why
			}
			cells, _ := json.Marshal(row)
			if _, err := p.q.Exec(ctx, "INSERT OR REPLACE INTO job_rejects (job_id, row, error, cells) VALUES (?, ?, ?, ?)", j.ID, n+1, why, string(cells)); err != nil {
				return err
			}
			rejected++
			continue
		}
		if made {
			created++
		} else {
			updated++
		}
	}
	state, finished := "running", any(nil)
	if end >= len(rows)-1 {
		state, finished = "done", p.Now().Unix()
	}
	_, err = p.q.Exec(ctx, "UPDATE jobs SET state = ?, done = ?, total = ?, created = created + ?, updated = updated + ?, rejected = rejected + ?, finished_at = ? WHERE id = ?",
		state, end, len(rows)-1, created, updated, rejected, finished, j.ID)
	return err
}

// rowError is why a row was refused, in lang, or "" for an error that is
// not the row's (a full disk, a closed database).
func rowError(err error, lang string) string {
	var fe *FieldErrors
	if errors.As(err, &fe) {
		if len(fe.Fields) == 0 {
			return i18n.Msg(lang, fe.Error())
		}
		keys := make([]string, 0, len(fe.Fields))
		for k := range fe.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, k+": "+i18n.Msg(lang, fe.Fields[k]))
		}
		return strings.Join(parts, "; ")
	}
	var rej rowRefused
	if errors.As(err, &rej) {
		field, msg, _ := strings.Cut(string(rej), ": ")
		return field + ": " + i18n.Msg(lang, msg)
	}
	return ""
}

// rowRefused is why a row is refused: "field: message".
type rowRefused string

func (r rowRefused) Error() string { return string(r) }

// importClient makes or changes one client from a row; made says which.
func (p *Portal) importClient(ctx context.Context, actor *User, vals map[string]string, fields map[string]any, o *JobParams) (bool, error) {
	in := NewPerson{Name: vals["name"], Surname: vals["surname"], Email: vals["email"], Role: RoleClient}
	if in.Name == "" && in.Email != "" {
		in.Name, _, _ = strings.Cut(in.Email, "@") // a table of addresses alone
	}
	errs := in.validate()
	ch := UserChange{Fields: fields}
	if v, ok := vals["external_id"]; ok && v != "" {
		ch.ExternalID = &v
	}
	var orgID int64
	if name := Line(vals["organization"]); name != "" {
		id, err := p.findOrg(ctx, name)
		if errors.Is(err, ErrNotFound) && len(errs) == 0 {
			o, err := p.SaveOrganization(ctx, actor, 0, OrgInput{Name: &name})
			if err != nil {
				return false, rowRefused("organization: " + rowError(err, "en"))
			}
			id = o.ID
		} else if err != nil && !errors.Is(err, ErrNotFound) {
			return false, err
		}
		orgID = id
		s := strconv.FormatInt(id, 10)
		ch.Organization = &s
	}
	if len(errs) > 0 {
		return false, &FieldErrors{Fields: errs}
	}
	existing, err := p.UserByEmail(ctx, in.Email)
	switch {
	case err == nil && existing.IsStaff():
		return false, rowRefused("email: this address is a member of staff's")
	case err == nil && !o.UpdateExisting:
		return false, rowRefused("email: a client with this address exists (tick “change existing” to update them)")
	case err == nil:
		if vals["name"] != "" {
			ch.Name = &in.Name
		}
		if vals["surname"] != "" {
			ch.Surname = &in.Surname
		}
		_, err := p.ChangeUser(ctx, actor, existing.ID, ch)
		return false, err
	case !errors.Is(err, ErrNotFound):
		return false, err
	}
	// A new client: checked whole first, then kept with their record in
	// one transaction.
	probe := &User{Role: RoleClient, fields: "{}"}
	rec, errs := p.userRecord(ctx, probe, ch)
	if len(errs) > 0 {
		return false, &FieldErrors{Fields: errs}
	}
	_ = orgID
	err = p.Tx(ctx, func(tp *Portal) error {
		var u *User
		if o.Invite {
			var err error
			if u, err = tp.addPerson(ctx, actor, in, "invitation"); err != nil {
				return err
			}
		} else {
			u = &User{Email: in.Email, Name: in.Name, Surname: in.Surname, Role: RoleClient, Lang: tp.Setting(ctx, "lang", "en")}
			if err := tp.InsertUser(ctx, u, "!"); err != nil {
				return err
			}
		}
		_, err := tp.q.Exec(ctx, "UPDATE users SET org_id = COALESCE(?, org_id), external_id = ?, fields = ? WHERE id = ?", rec.org, rec.externalID, rec.fields, u.ID)
		if sqlitedb.IsUniqueViolation(err) {
			return rowRefused("external_id: another person has this external id")
		}
		return err
	})
	if errors.Is(err, ErrEmailTaken) {
		return false, rowRefused("email: a client with this address exists")
	}
	return err == nil, err
}

// importOrg makes or changes one organisation from a row.
func (p *Portal) importOrg(ctx context.Context, actor *User, vals map[string]string, fields map[string]any, o *JobParams) (bool, error) {
	in := OrgInput{Fields: fields}
	set := func(k string, dst **string) {
		if v, ok := vals[k]; ok {
			*dst = &v
		}
	}
	set("name", &in.Name)
	set("tax_id", &in.TaxID)
	set("kpp", &in.KPP)
	set("notes", &in.Notes)
	set("external_id", &in.ExternalID)
	if v, ok := vals["domains"]; ok {
		d := []string{v}
		in.Domains = &d
	}
	var id int64
	if in.Name != nil && strings.TrimSpace(*in.Name) != "" {
		err := p.q.QueryRow(ctx, "SELECT id FROM organizations WHERE name = ?", Line(*in.Name)).Scan(&id)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return false, err
		}
	}
	if id != 0 && !o.UpdateExisting {
		return false, rowRefused("name: an organisation with this name exists (tick “change existing” to update it)")
	}
	_, err := p.SaveOrganization(ctx, actor, id, in)
	return id == 0 && err == nil, err
}

// exportChunk writes the next tickets of an export, with their messages,
// in the order they changed (an incremental read: a ticket changed during
// the export comes again at its end).
func (p *Portal) exportChunk(ctx context.Context, actor *User, j *Job) error {
	o := j.Params
	if j.file == "" {
		j.file = path.Join("jobs", newFilePath())
		if err := p.Scratch.MkdirAll(path.Dir(j.file), 0o750); err != nil {
			return err
		}
		if _, err := p.q.Exec(ctx, "UPDATE jobs SET file = ?, state = 'running' WHERE id = ?", j.file, j.ID); err != nil {
			return err
		}
	}
	f, err := p.Scratch.OpenFile(j.file, os.O_CREATE|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	defer f.Close()
	// What a chunk cut short wrote is written again.
	if err := f.Truncate(j.written); err != nil {
		return err
	}
	if _, err := f.Seek(j.written, io.SeekStart); err != nil {
		return err
	}
	since := "0"
	if o.Since != "" {
		d, _ := time.Parse("2006-01-02", o.Since) // midnight UTC: a day early rather than late
		since = strconv.FormatInt(d.Unix(), 10)
	}
	list, err := p.ListTickets(ctx, actor.unlimited(), TicketFilter{Status: o.Status, Sync: Sync{Since: since, Cursor: j.cursor}})
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	first := j.written == 0
	if first {
		if o.Format == "json" {
			buf.WriteString(`{"exported_at":` + strconv.FormatInt(p.Now().Unix(), 10) + `,"tickets":[`)
		} else {
			cw := tabular.NewWriter(&buf)
			_ = cw.Write("ticket", "subject", "status", "priority", "client", "client_email", "organization", "assignee", "group", "source", "external_id",
				"created_at", "updated_at", "closed_at", "tags", "entry", "kind", "author", "date", "text", "files")
			_ = cw.Flush()
		}
	}
	orgs := map[int64]string{}
	for i, t := range list.Tickets {
		tl, err := p.Timeline(ctx, actor.unlimited(), t.Number)
		if err != nil {
			return err
		}
		client, _ := p.UserByID(ctx, t.Client.ID)
		email, orgName := "", ""
		if client != nil {
			email = client.Email
			if client.Org != 0 {
				if _, ok := orgs[client.Org]; !ok {
					var n string
					_ = p.q.QueryRow(ctx, "SELECT name FROM organizations WHERE id = ?", client.Org).Scan(&n)
					orgs[client.Org] = n
				}
				orgName = orgs[client.Org]
			}
		}
		if o.Format == "json" {
			if !(first && i == 0) {
				buf.WriteByte(',')
			}
			b, _ := json.Marshal(exportedTicket{Ticket: t, ClientEmail: email, Organization: orgName, Messages: tl})
			buf.Write(b)
			continue
		}
		if err := writeTicketCSV(&buf, t, email, orgName, tl); err != nil {
			return err
		}
	}
	done := !list.HasMore
	if done && o.Format == "json" {
		buf.WriteString("]}\n")
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	state, finished := "running", any(nil)
	if done {
		state, finished = "done", p.Now().Unix()
	}
	_, err = p.q.Exec(ctx, "UPDATE jobs SET state = ?, done = done + ?, total = max(total, done + ?), cursor = ?, written = ?, finished_at = ? WHERE id = ?",
		state, len(list.Tickets), len(list.Tickets), list.NextCursor, j.written+int64(buf.Len()), finished, j.ID)
	return err
}

// exportedTicket is a ticket in a JSON export: as the API shows it to an
// admin, with its client's address and organisation and every entry.
type exportedTicket struct {
	*Ticket
	ClientEmail  string   `json:"client_email"`
	Organization string   `json:"organization,omitempty"`
	Messages     []*Entry `json:"messages"`
}

func writeTicketCSV(w io.Writer, t *Ticket, email, org string, tl []*Entry) error {
	cw := tabular.NewWriter(w)
	day := func(u int64) string {
		if u == 0 {
			return ""
		}
		return time.Unix(u, 0).UTC().Format(time.RFC3339)
	}
	assignee, group := "", ""
	if t.Assignee != nil {
		assignee = t.Assignee.Name
	}
	if t.Group != nil {
		group = t.Group.Name
	}
	var tags []string
	for _, tg := range t.Tags {
		tags = append(tags, tg.Name)
	}
	head := []string{strconv.FormatInt(t.Number, 10), t.Subject, t.Status.Name, t.Priority, t.Client.Name, email, org, assignee, group, t.Source, t.ExternalID,
		day(t.CreatedAt), day(t.UpdatedAt), day(t.ClosedAt), strings.Join(tags, ", ")}
	if err := cw.Write(append(slices.Clone(head), "0", "description", t.Client.Name, day(t.CreatedAt), t.Description, "")...); err != nil {
		return err
	}
	for _, e := range tl {
		author := ""
		if e.Author != nil {
			author = e.Author.Name
		}
		var files []string
		for _, a := range e.Attachments {
			files = append(files, a.Name)
		}
		if err := cw.Write(append(slices.Clone(head), strconv.FormatInt(e.ID, 10), e.Kind, author, day(e.CreatedAt), e.Body, strings.Join(files, ", "))...); err != nil {
			return err
		}
	}
	return cw.Flush()
}
