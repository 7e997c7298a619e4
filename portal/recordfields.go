package portal

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
)

// Record fields are questions kept about clients and organisations —
// a contract number, a manager, a plan — typed like the questionnaire's
// (Field.Normalize checks their values). Staff fill them in; they show on
// the ticket page beside the client.
const (
	TargetClient = "client"
	TargetOrg    = "org"
)

// RecordField is one such question; Field's Required and Builtin are
// never set for it.
type RecordField struct {
	Field
	Target string `json:"target"`
}

// RecordFieldValue is a field with one record's value, in the fields' order.
type RecordFieldValue struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

const maxRecordFields = 50

// RecordFields lists target's fields in order; retired ones only when all.
func (p *Portal) RecordFields(ctx context.Context, target string, all bool) ([]*RecordField, error) {
	every, err := p.ref.recordFields.get(p.DB, func() ([]*RecordField, error) {
		rows, err := p.q.Query(ctx, "SELECT target, id, name, label, help, type, 0, options, position, active, 0 FROM record_fields ORDER BY target, position, id")
		if err != nil {
			return nil, fmt.Errorf("store: record fields: %w", err)
		}
		defer rows.Close()
		var out []*RecordField
		for rows.Next() {
			var target string
			f, err := scanField(&prefixScanner{row: rows, first: &target})
			if err != nil {
				return nil, fmt.Errorf("store: record fields: %w", err)
			}
			out = append(out, &RecordField{Field: *f, Target: target})
		}
		return out, rows.Err()
	})
	if err != nil {
		return nil, err
	}
	var out []*RecordField
	for _, f := range every {
		if f.Target == target && (all || f.Active) {
			c := *f
			out = append(out, &c)
		}
	}
	return out, nil
}

// prefixScanner scans a row whose first column is not scanField's.
type prefixScanner struct {
	row   interface{ Scan(...any) error }
	first any
}

func (s *prefixScanner) Scan(dest ...any) error {
	return s.row.Scan(append([]any{s.first}, dest...)...)
}

// RecordFieldInput makes a field (Target: client or org) or changes one
// (Target is then ignored).
type RecordFieldInput struct {
	Target string `json:"target"`
	FieldInput
}

// SaveRecordField adds a question about clients or organisations (id 0)
// or changes one (admins only).
func (p *Portal) SaveRecordField(ctx context.Context, actor *User, id int64, in RecordFieldInput) (*RecordField, error) {
	if id != 0 {
		return p.updateRecordField(ctx, actor, id, in.FieldInput)
	}
	return p.addRecordField(ctx, actor, in.Target, in.FieldInput)
}

func (p *Portal) addRecordField(ctx context.Context, actor *User, target string, in FieldInput) (*RecordField, error) {
	if actor.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	if target != TargetClient && target != TargetOrg {
		return nil, &FieldErrors{Fields: map[string]string{"target": "Choose client or org."}}
	}
	in.Required = nil
	f := &Field{Type: FieldText, Active: true}
	if errs := in.validate(f); len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	var id int64
	err := p.Tx(ctx, func(tp *Portal) error {
		var n int
		if err := tp.q.QueryRow(ctx, "SELECT COUNT(*) FROM record_fields WHERE target = ?", target).Scan(&n); err != nil {
			return err
		}
		if n >= maxRecordFields {
			return &FieldErrors{Message: fmt.Sprintf("At most %d fields each for clients and organisations.", maxRecordFields)}
		}
		res, err := tp.q.Exec(ctx, `INSERT INTO record_fields (target, label, help, type, options, position, active)
			VALUES (?, ?, ?, ?, ?, (SELECT COALESCE(MAX(position), 0) + 1 FROM record_fields WHERE target = ?), 1)`,
			target, f.Label, f.Help, f.Type, optionsJSON(f.Options), target)
		if err != nil {
			return err
		}
		id, _ = res.LastInsertId()
		// Names stay when labels change: what an integration writes to.
		_, err = tp.q.Exec(ctx, "UPDATE record_fields SET name = ? WHERE id = ?", "cf"+strconv.FormatInt(id, 10), id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: add record field: %w", err)
	}
	return p.recordField(ctx, id)
}

func (p *Portal) recordField(ctx context.Context, id int64) (*RecordField, error) {
	for _, t := range []string{TargetClient, TargetOrg} {
		fs, err := p.RecordFields(ctx, t, true)
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			if f.ID == id {
				return f, nil
			}
		}
	}
	return nil, ErrNotFound
}

// updateRecordField changes a question; retiring it hides its values,
// which stay.
func (p *Portal) updateRecordField(ctx context.Context, actor *User, id int64, in FieldInput) (*RecordField, error) {
	if actor.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	f, err := p.recordField(ctx, id)
	if err != nil {
		return nil, err
	}
	in.Required, in.Position = nil, nil
	if errs := in.validate(&f.Field); len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	if _, err := p.q.Exec(ctx, "UPDATE record_fields SET label = ?, help = ?, type = ?, options = ?, active = ? WHERE id = ?",
		f.Label, f.Help, f.Type, optionsJSON(f.Options), f.Active, id); err != nil {
		return nil, fmt.Errorf("store: update record field %d: %w", id, err)
	}
	return p.recordField(ctx, id)
}

// DeleteRecordField removes a question and, with it, its values' meaning
// (the values stay in the records, unseen, until overwritten).
func (p *Portal) DeleteRecordField(ctx context.Context, actor *User, id int64) error {
	if actor.Role != RoleAdmin {
		return ErrForbidden
	}
	res, err := p.q.Exec(ctx, "DELETE FROM record_fields WHERE id = ?", id)
	if err != nil {
		return fmt.Errorf("store: delete record field %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// applyRecordFields checks in (values by a field's name; absent names
// stay) against defs and writes them into cur, the record's values;
// errors go to errs under the field's name. An unknown name is an error.
func applyRecordFields(defs []*RecordField, cur map[string]string, in map[string]any, errs map[string]string) {
	for name, raw := range in {
		var def *RecordField
		for _, d := range defs {
			if d.Name == name {
				def = d
			}
		}
		if def == nil {
			errs[name] = "No such field."
			continue
		}
		v, msg := def.Normalize(AnswerString(raw))
		switch {
		case msg != "":
			errs[name] = msg
		case v == "" || (def.Type == FieldCheckbox && v == "no"):
			delete(cur, name)
		default:
			cur[name] = v
		}
	}
}

// AnswerString is a JSON value as a field's raw answer: true is "yes",
// false and null empty, numbers as written.
func AnswerString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "yes"
		}
		return ""
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// recordValues are a record's values of defs, in order, the empty left out.
func recordValues(defs []*RecordField, vals map[string]string) []RecordFieldValue {
	var out []RecordFieldValue
	for _, d := range defs {
		if v := vals[d.Name]; v != "" {
			out = append(out, RecordFieldValue{Name: d.Name, Label: d.Label, Type: d.Type, Value: v})
		}
	}
	return out
}
