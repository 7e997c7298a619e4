package portal

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"portaldesk/portal/sqlitedb"
)

// Forms: a portal's several front doors ("Warranty claim", "Sales
// question", "Site A"). Each asks subject, description and its own choice
// of the questionnaire's fields, with its own preamble, and sends its
// tickets to its group with its priority. Without forms there is the one
// questionnaire, as before.

// Form is one front door.
type Form struct {
	ID       int64   `json:"id"`
	Name     string  `json:"name"`
	Slug     string  `json:"slug"` // /tickets/new?form=SLUG opens it
	Preamble string  `json:"preamble"`
	Fields   []int64 `json:"fields"` // the questionnaire's fields it asks besides subject and description
	Group    int64   `json:"group"`
	Priority string  `json:"priority"`
	Active   bool    `json:"active"`
}

// FormRef is a ticket's form as the ticket carries it.
type FormRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// Forms lists the forms in order (inactive ones only with all).
func (p *Portal) Forms(ctx context.Context, all bool) ([]Form, error) {
	q := "SELECT id, name, slug, preamble, fields, COALESCE(group_id, 0), priority, active FROM forms"
	if !all {
		q += " WHERE active = 1"
	}
	rows, err := p.q.Query(ctx, q+" ORDER BY position, id")
	if err != nil {
		return nil, fmt.Errorf("store: forms: %w", err)
	}
	defer rows.Close()
	out := []Form{}
	for rows.Next() {
		var f Form
		var fields string
		var prio int
		if err := rows.Scan(&f.ID, &f.Name, &f.Slug, &f.Preamble, &fields, &f.Group, &prio, &f.Active); err != nil {
			return nil, err
		}
		f.Fields, f.Priority = nonNilIDs(parseIDs(fields)), Priorities[prio]
		out = append(out, f)
	}
	return out, rows.Err()
}

// FindForm is an active form by id or slug.
func (p *Portal) FindForm(ctx context.Context, ref string) (*Form, error) {
	forms, err := p.Forms(ctx, false)
	if err != nil {
		return nil, err
	}
	ref = strings.TrimSpace(ref)
	for i := range forms {
		if strconv.FormatInt(forms[i].ID, 10) == ref || forms[i].Slug == ref {
			return &forms[i], nil
		}
	}
	return nil, ErrNotFound
}

// FormFields are the fields form asks, in the questionnaire's order: the
// builtin ones and those it chose.
func (p *Portal) FormFields(ctx context.Context, form *Form) ([]*Field, error) {
	fields, err := p.Fields(ctx, false)
	if err != nil || form == nil {
		return fields, err
	}
	return slices.DeleteFunc(fields, func(f *Field) bool { return !f.Builtin && !slices.Contains(form.Fields, f.ID) }), nil
}

// FormInput makes or changes a form; nil leaves a part.
type FormInput struct {
	Name     *string  `json:"name"`
	Slug     *string  `json:"slug"`
	Preamble *string  `json:"preamble"`
	Fields   *[]int64 `json:"fields"`
	Group    *int64   `json:"group"`
	Priority *string  `json:"priority"`
	Active   *bool    `json:"active"`
}

// SaveFrontDoor makes (id 0) or changes a form. Admins only.
func (p *Portal) SaveFrontDoor(ctx context.Context, actor *User, id int64, in FormInput) (*Form, error) {
	if actor.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	f := &Form{Priority: "normal", Active: true, Fields: []int64{}}
	if id != 0 {
		all, err := p.Forms(ctx, true)
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(all, func(x Form) bool { return x.ID == id })
		if i < 0 {
			return nil, ErrNotFound
		}
		f = &all[i]
	}
	errs := map[string]string{}
	if in.Name != nil {
		f.Name = Line(*in.Name)
	}
	if n := utf8.RuneCountInString(f.Name); n == 0 || n > 80 {
		errs["name"] = "Enter a name of at most 80 characters."
	}
	switch {
	case in.Slug != nil && strings.TrimSpace(*in.Slug) != "":
		f.Slug = slugOf(*in.Slug)
	case f.Slug == "":
		f.Slug = slugOf(f.Name)
	}
	if in.Preamble != nil {
		f.Preamble = strings.TrimSpace(Text(*in.Preamble))
		if utf8.RuneCountInString(f.Preamble) > 5000 {
			errs["preamble"] = "At most 5000 characters."
		}
	}
	if in.Fields != nil {
		all, err := p.Fields(ctx, true)
		if err != nil {
			return nil, err
		}
		f.Fields = []int64{}
		for _, fid := range *in.Fields {
			if !slices.ContainsFunc(all, func(x *Field) bool { return x.ID == fid && !x.Builtin }) {
				errs["fields"] = fmt.Sprintf("There is no field %d of the questionnaire to ask.", fid)
			} else if !slices.Contains(f.Fields, fid) {
				f.Fields = append(f.Fields, fid)
			}
		}
	}
	if in.Group != nil {
		f.Group = *in.Group
		if f.Group != 0 {
			if _, _, err := p.findGroup(ctx, strconv.FormatInt(f.Group, 10)); err != nil {
				errs["group"] = "Unknown group."
			}
		}
	}
	if in.Priority != nil {
		f.Priority = *in.Priority
	}
	prio, ok := PriorityID(f.Priority)
	if !ok {
		errs["priority"] = "Use low, normal, high or urgent."
	}
	if in.Active != nil {
		f.Active = *in.Active
	}
	if len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	var group any
	if f.Group != 0 {
		group = f.Group
	}
	var err error
	if id == 0 {
		var res interface{ LastInsertId() (int64, error) }
		res, err = p.q.Exec(ctx, "INSERT INTO forms (name, slug, preamble, fields, group_id, priority, active, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			f.Name, f.Slug, f.Preamble, formatIDs(f.Fields), group, prio, f.Active, p.Now().Unix())
		if err == nil {
			f.ID, _ = res.LastInsertId()
		}
	} else {
		_, err = p.q.Exec(ctx, "UPDATE forms SET name = ?, slug = ?, preamble = ?, fields = ?, group_id = ?, priority = ?, active = ? WHERE id = ?",
			f.Name, f.Slug, f.Preamble, formatIDs(f.Fields), group, prio, f.Active, id)
	}
	if sqlitedb.IsUniqueViolation(err) {
		return nil, &FieldErrors{Fields: map[string]string{"slug": "Another form has this address."}}
	}
	if err != nil {
		return nil, fmt.Errorf("store: save form: %w", err)
	}
	return f, nil
}
