package portal

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Field types of the questionnaire.
const (
	FieldText     = "text"
	FieldTextarea = "textarea"
	FieldDate     = "date"
	FieldInteger  = "integer"
	FieldDecimal  = "decimal"
	FieldCheckbox = "checkbox"
	FieldSelect   = "select"
	FieldEmail    = "email"
	FieldPhone    = "phone"
	FieldURL      = "url"
)

// FieldTypes lists the types the designer offers, with their labels.
var FieldTypes = []struct{ ID, Label string }{
	{FieldText, "Single-line text"}, {FieldTextarea, "Multi-line text"}, {FieldDate, "Date"},
	{FieldInteger, "Whole number"}, {FieldDecimal, "Decimal number"}, {FieldCheckbox, "Checkbox"},
	{FieldSelect, "Select list"}, {FieldEmail, "Email"}, {FieldPhone, "Phone"}, {FieldURL, "Web address"},
}

func knownFieldType(t string) bool {
	for _, ft := range FieldTypes {
		if ft.ID == t {
			return true
		}
	}
	return false
}

// Field is one question of the portal's questionnaire.
type Field struct {
	ID       int64    `json:"id"`
	Name     string   `json:"name"`
	Label    string   `json:"label"`
	Help     string   `json:"help"`
	Type     string   `json:"type"`
	Required bool     `json:"required"`
	Options  []string `json:"options,omitempty"`
	Position int      `json:"position"`
	Active   bool     `json:"active"`
	Builtin  bool     `json:"builtin"`
}

// InputType is the HTML input type for the field.
func (f *Field) InputType() string {
	switch f.Type {
	case FieldDate:
		return "date"
	case FieldInteger:
		return "number"
	case FieldDecimal:
		return "text" // "12,5" as well as "12.5": a number input refuses the comma in some browsers
	case FieldEmail:
		return "email"
	case FieldPhone:
		return "tel"
	case FieldURL:
		return "url"
	}
	return "text"
}

// Limits on what a form value may hold.
const (
	maxTextRunes     = 500
	maxTextareaRunes = 20000
)

var phoneRe = regexp.MustCompile(`^\+?[0-9 ()\-.]{5,25}$`)

// msgPhone is Normalize's answer to a bad phone number; CreateTicket puts
// the portal's own country's example in it.
const msgPhone = "Enter a phone number."

// PhoneExample is a phone number as the portal's clients write one: a
// Russian portal's are Russian numbers, whoever reads the page.
func PhoneExample(portalLang string) string {
	if portalLang == "ru" {
		return "+7 912 345-67-89"
	}
	return "+1 555 123 4567"
}

// Normalize checks one answer against the field and returns the value to store.
// It returns a message for the user when the value is not acceptable.
func (f *Field) Normalize(raw string) (string, string) {
	raw = Text(raw)
	v := strings.TrimSpace(raw)
	if f.Type != FieldTextarea {
		v = Line(raw) // one line: a line break in a subject or a phone is a space
	}
	if f.Type == FieldCheckbox {
		switch strings.ToLower(v) {
		case "1", "true", "on", "yes":
			return "yes", ""
		case "", "0", "false", "off", "no":
			if f.Required {
				return "", "Please tick this box."
			}
			return "no", ""
		}
		return "", "Tick the box or leave it empty."
	}
	if v == "" {
		if f.Required {
			return "", "This field is required."
		}
		return "", ""
	}
	switch f.Type {
	case FieldText, FieldPhone, FieldEmail, FieldURL:
		if utf8.RuneCountInString(v) > maxTextRunes {
			return "", fmt.Sprintf("At most %d characters.", maxTextRunes)
		}
	case FieldTextarea:
		v = strings.TrimRight(raw, " \t\r\n")
		if utf8.RuneCountInString(v) > maxTextareaRunes {
			return "", fmt.Sprintf("At most %d characters.", maxTextareaRunes)
		}
	}
	switch f.Type {
	case FieldDate:
		d, err := time.Parse("2006-01-02", v)
		if err != nil || d.Year() < 1000 {
			return "", "Enter a date as YYYY-MM-DD."
		}
	case FieldInteger:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return "", "This number is too large."
			}
			return "", "Enter a whole number, like 42."
		}
		v = strconv.FormatInt(n, 10)
	case FieldDecimal:
		v = strings.Replace(v, ",", ".", 1)
		r, ok := new(big.Rat).SetString(v)
		if !ok || strings.ContainsAny(v, "/eE") || len(v) > 40 {
			return "", "Enter a number, like 12.5."
		}
		v = strings.TrimRight(strings.TrimRight(r.FloatString(10), "0"), ".")
	case FieldSelect:
		for _, o := range f.Options {
			if o == v {
				return v, ""
			}
		}
		return "", "Choose one of the options."
	case FieldEmail:
		if msg := ValidateEmail(v); msg != "" {
			return "", msg
		}
	case FieldPhone:
		if !phoneRe.MatchString(v) {
			return "", msgPhone
		}
	case FieldURL:
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", "Enter a web address starting with http:// or https://."
		}
	}
	return v, ""
}

const fieldCols = "id, name, label, help, type, required, options, position, active, builtin"

func scanField(row interface{ Scan(...any) error }) (*Field, error) {
	f := &Field{}
	var opts string
	if err := row.Scan(&f.ID, &f.Name, &f.Label, &f.Help, &f.Type, &f.Required, &opts, &f.Position, &f.Active, &f.Builtin); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	_ = json.Unmarshal([]byte(opts), &f.Options)
	return f, nil
}

// Fields returns the questionnaire in order; retired fields only when all is set.
// On a tariff without the designer only the builtin fields are in force.
func (p *Portal) Fields(ctx context.Context, all bool) ([]*Field, error) {
	rows, err := p.q.Query(ctx, "SELECT "+fieldCols+" FROM fields ORDER BY position, id")
	if err != nil {
		return nil, fmt.Errorf("store: fields: %w", err)
	}
	defer rows.Close()
	designer := p.Plan().Designer
	var out []*Field
	for rows.Next() {
		f, err := scanField(rows)
		if err != nil {
			return nil, fmt.Errorf("store: fields: %w", err)
		}
		if all || (f.Active && (f.Builtin || designer)) {
			out = append(out, f)
		}
	}
	return out, rows.Err()
}

// FieldInput is what the designer sends for a new or changed field.
type FieldInput struct {
	Label    *string  `json:"label"`
	Help     *string  `json:"help"`
	Type     *string  `json:"type"`
	Required *bool    `json:"required"`
	Options  []string `json:"options"`
	Active   *bool    `json:"active"`
	Position *int     `json:"position"`
}

// ErrNoDesigner is returned when the tariff does not include the questionnaire designer.
var ErrNoDesigner = errors.New("the questionnaire designer is not included in this portal's tariff")

func (in *FieldInput) validate(f *Field) map[string]string {
	errs := map[string]string{}
	if in.Label != nil {
		f.Label = Line(*in.Label)
	}
	if in.Help != nil {
		f.Help = strings.TrimSpace(Text(*in.Help))
	}
	if in.Type != nil && !f.Builtin {
		f.Type = *in.Type
	}
	if in.Required != nil {
		f.Required = *in.Required
	}
	if in.Active != nil && !f.Builtin {
		f.Active = *in.Active
	}
	if in.Options != nil {
		f.Options = nil
		seen := map[string]bool{}
		for _, o := range in.Options {
			o = Line(o)
			if o != "" && !seen[o] {
				seen[o] = true
				f.Options = append(f.Options, o)
			}
		}
	}
	switch n := utf8.RuneCountInString(f.Label); {
	case n == 0:
		errs["label"] = "Give the field a label."
	case n > 200:
		errs["label"] = "At most 200 characters."
	}
	if utf8.RuneCountInString(f.Help) > 1000 {
		errs["help"] = "At most 1000 characters."
	}
	if !knownFieldType(f.Type) {
		errs["type"] = "Choose a field type."
	}
	if f.Type == FieldSelect && len(f.Options) == 0 {
		errs["options"] = "A select list needs at least one option."
	}
	if f.Type != FieldSelect {
		f.Options = nil
	}
	return errs
}

func optionsJSON(o []string) string {
	if o == nil {
		o = []string{}
	}
	b, _ := json.Marshal(o)
	return string(b)
}

// AddField adds a question at the end of the form.
func (p *Portal) AddField(ctx context.Context, in FieldInput) (*Field, error) {
	if !p.Plan().Designer {
		return nil, ErrNoDesigner
	}
	f := &Field{Type: FieldText, Active: true}
	if errs := in.validate(f); len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	err := p.Tx(ctx, func(tp *Portal) error {
		res, err := tp.q.Exec(ctx, `INSERT INTO fields (name, label, help, type, required, options, position, active)
			VALUES ('', ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(position), 0) + 1 FROM fields), 1)`,
			f.Label, f.Help, f.Type, f.Required, optionsJSON(f.Options))
		if err != nil {
			return err
		}
		f.ID, _ = res.LastInsertId()
		f.Name = "f" + strconv.FormatInt(f.ID, 10)
		_, err = tp.q.Exec(ctx, "UPDATE fields SET name = ? WHERE id = ?", f.Name, f.ID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: add field: %w", err)
	}
	return p.Field(ctx, f.ID)
}

// Field loads one question.
func (p *Portal) Field(ctx context.Context, id int64) (*Field, error) {
	return scanField(p.q.QueryRow(ctx, "SELECT "+fieldCols+" FROM fields WHERE id = ?", id))
}

// UpdateField changes a question; old tickets keep the label they were asked with.
func (p *Portal) UpdateField(ctx context.Context, id int64, in FieldInput) (*Field, error) {
	if !p.Plan().Designer {
		return nil, ErrNoDesigner
	}
	f, err := p.Field(ctx, id)
	if err != nil {
		return nil, err
	}
	if errs := in.validate(f); len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	err = p.Tx(ctx, func(tp *Portal) error {
		if _, err := tp.q.Exec(ctx, "UPDATE fields SET label = ?, help = ?, type = ?, required = ?, options = ?, active = ? WHERE id = ?",
			f.Label, f.Help, f.Type, f.Required, optionsJSON(f.Options), f.Active, id); err != nil {
			return err
		}
		if in.Position != nil {
			return tp.reorder(ctx, "fields", id, *in.Position)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: update field %d: %w", id, err)
	}
	return p.Field(ctx, id)
}

// FieldErrors is a validation failure with messages per field.
type FieldErrors struct {
	Message string
	Fields  map[string]string
}

// Error is the message for the whole form.
func (e *FieldErrors) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return "please correct the highlighted fields"
}

// FieldEdit is one field of a whole-form change: ID 0 adds a field.
type FieldEdit struct {
	ID int64 `json:"id"`
	FieldInput
}

// FormEdit replaces the questionnaire at once. Fields, when not nil, are
// the form in its new order: fields with an id are changed, fields without
// one are added, and custom fields left out are retired — never deleted,
// so old tickets keep their answers. Preamble, when not nil, replaces the
// text above the form.
type FormEdit struct {
	Preamble *string     `json:"preamble"`
	Fields   []FieldEdit `json:"fields"`
}

// SaveForm applies a whole-form change (admins only). Every part is
// checked before anything is written, and everything is written in one
// transaction: a change with any invalid part (its errors keyed
// fields.N.name, N its place in Fields) changes nothing.
func (p *Portal) SaveForm(ctx context.Context, actor *User, in FormEdit) error {
	if actor.Role != RoleAdmin {
		return ErrForbidden
	}
	errs := map[string]string{}
	var preamble string
	if in.Preamble != nil {
		if preamble = strings.TrimSpace(Text(*in.Preamble)); utf8.RuneCountInString(preamble) > 5000 {
			errs["preamble"] = "At most 5000 characters."
		}
	}
	var all []*Field
	if in.Fields != nil {
		if !p.Plan().Designer {
			return ErrNoDesigner
		}
		var err error
		if all, err = p.Fields(ctx, true); err != nil {
			return err
		}
	}
	byID := map[int64]*Field{}
	for _, f := range all {
		byID[f.ID] = f
	}
	edited := make([]*Field, len(in.Fields))
	seen := map[int64]bool{}
	for i, fe := range in.Fields {
		f := &Field{Type: FieldText, Active: true}
		if fe.ID != 0 {
			old := byID[fe.ID]
			if old == nil || seen[fe.ID] {
				errs[fmt.Sprintf("fields.%d.id", i)] = "No such field, or it is listed twice."
				continue
			}
			seen[fe.ID] = true
			c := *old
			f = &c
		}
		for k, v := range fe.validate(f) {
			errs[fmt.Sprintf("fields.%d.%s", i, k)] = v
		}
		edited[i] = f
	}
	if len(errs) > 0 {
		return &FieldErrors{Fields: errs}
	}
	err := p.Tx(ctx, func(tp *Portal) error {
		if in.Preamble != nil {
			if err := tp.SetSetting(ctx, "preamble", preamble); err != nil {
				return err
			}
		}
		if in.Fields == nil {
			return nil
		}
		pos := 0
		for _, f := range edited {
			pos++
			if f.ID == 0 {
				res, err := tp.q.Exec(ctx, `INSERT INTO fields (name, label, help, type, required, options, position, active) VALUES ('', ?, ?, ?, ?, ?, ?, ?)`,
					f.Label, f.Help, f.Type, f.Required, optionsJSON(f.Options), pos, f.Active)
				if err != nil {
					return err
				}
				id, _ := res.LastInsertId()
				if _, err := tp.q.Exec(ctx, "UPDATE fields SET name = ? WHERE id = ?", "f"+strconv.FormatInt(id, 10), id); err != nil {
					return err
				}
				continue
			}
			if _, err := tp.q.Exec(ctx, "UPDATE fields SET label = ?, help = ?, type = ?, required = ?, options = ?, active = ?, position = ? WHERE id = ?",
				f.Label, f.Help, f.Type, f.Required, optionsJSON(f.Options), f.Active, pos, f.ID); err != nil {
				return err
			}
		}
		// Fields left out follow, in their old order; custom ones retire.
		for _, f := range all {
			if seen[f.ID] {
				continue
			}
			pos++
			if _, err := tp.q.Exec(ctx, "UPDATE fields SET position = ?, active = CASE WHEN builtin THEN active ELSE 0 END WHERE id = ?", pos, f.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: save form: %w", err)
	}
	return nil
}
