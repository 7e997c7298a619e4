package portal

import (
	"context"
	"strings"
	"unicode/utf8"

	"portaldesk/portal/sqlitedb"
	"portaldesk/templates"
)

// StatusInput is what the admin sends for a new or changed status.
type StatusInput struct {
	Name     *string `json:"name"`
	Color    *string `json:"color"`
	Closed   *bool   `json:"closed"`
	Initial  *bool   `json:"initial"`
	Position *int    `json:"position"`
}

func (in *StatusInput) apply(st *Status) map[string]string {
	errs := map[string]string{}
	if in.Name != nil {
		st.Name = Line(*in.Name)
	}
	if in.Color != nil {
		st.Color = strings.TrimSpace(*in.Color)
	}
	if in.Closed != nil {
		st.Closed = *in.Closed
	}
	if in.Initial != nil {
		st.Initial = *in.Initial
	}
	switch n := utf8.RuneCountInString(st.Name); {
	case n == 0:
		errs["name"] = "Name the status."
	case n > 60:
		errs["name"] = "At most 60 characters."
	}
	if !ValidColor(st.Color) {
		errs["color"] = "Choose a colour like #2563eb."
	}
	if st.Initial && st.Closed {
		errs["initial"] = "New tickets cannot start in a closed status."
	}
	return errs
}

// SaveStatus adds (id 0) or changes a status (admins only). Exactly one
// status is where new tickets start.
func (p *Portal) SaveStatus(ctx context.Context, actor *User, id int64, in StatusInput) (*Status, error) {
	if actor.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	st := &Status{Color: "#6b7280"}
	if id != 0 {
		var err error
		if st, err = p.StatusByID(ctx, id); err != nil {
			return nil, err
		}
	}
	errs := in.apply(st)
	if other, err := p.FindStatus(ctx, st.Name); err == nil && other.ID != st.ID && strings.EqualFold(other.Name, st.Name) {
		errs["name"] = "A status with this name exists."
	}
	if len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	err := p.Tx(ctx, func(tp *Portal) error {
		if st.Initial {
			if _, err := tp.q.Exec(ctx, "UPDATE statuses SET initial = 0"); err != nil {
				return err
			}
		}
		if id == 0 {
			res, err := tp.q.Exec(ctx, "INSERT INTO statuses (name, color, position, closed, initial) VALUES (?, ?, (SELECT COALESCE(MAX(position), 0) + 1 FROM statuses), ?, ?)",
				st.Name, st.Color, st.Closed, st.Initial)
			if err != nil {
				return err
			}
			st.ID, _ = res.LastInsertId()
		} else if _, err := tp.q.Exec(ctx, "UPDATE statuses SET name = ?, color = ?, closed = ?, initial = ? WHERE id = ?", st.Name, st.Color, st.Closed, st.Initial, id); err != nil {
			return err
		}
		if in.Position != nil {
			if err := tp.reorder(ctx, "statuses", st.ID, *in.Position); err != nil {
				return err
			}
		}
		var initial int
		if err := tp.q.QueryRow(ctx, "SELECT COUNT(*) FROM statuses WHERE initial = 1").Scan(&initial); err != nil {
			return err
		}
		if initial == 0 {
			_, err := tp.q.Exec(ctx, "UPDATE statuses SET initial = 1 WHERE id = (SELECT id FROM statuses WHERE closed = 0 ORDER BY position LIMIT 1)")
			return err
		}
		return nil
	})
	if sqlitedb.IsUniqueViolation(err) {
		return nil, &FieldErrors{Fields: map[string]string{"name": "A status with this name exists."}}
	}
	if err != nil {
		return nil, err
	}
	return p.StatusByID(ctx, st.ID)
}

// StatusByID is one of the portal's statuses (ErrNotFound when there is none).
func (p *Portal) StatusByID(ctx context.Context, id int64) (*Status, error) {
	sts, err := p.Statuses(ctx)
	if err != nil {
		return nil, err
	}
	for i := range sts {
		if sts[i].ID == id {
			return &sts[i], nil
		}
	}
	return nil, ErrNotFound
}

// reorder puts row id of table at position pos (1-based) and renumbers the rest.
func (p *Portal) reorder(ctx context.Context, table string, id int64, pos int) error {
	rows, err := p.q.Query(ctx, "SELECT id FROM "+table+" ORDER BY position, id")
	if err != nil {
		return err
	}
	var ids []int64
	for rows.Next() {
		var x int64
		if err := rows.Scan(&x); err != nil {
			rows.Close()
			return err
		}
		if x != id {
			ids = append(ids, x)
		}
	}
	rows.Close()
	pos = min(max(pos, 1), len(ids)+1)
	ids = append(ids[:pos-1], append([]int64{id}, ids[pos-1:]...)...)
	for i, x := range ids {
		if _, err := p.q.Exec(ctx, "UPDATE "+table+" SET position = ? WHERE id = ?", i+1, x); err != nil {
			return err
		}
	}
	return nil
}

// ValidColor reports whether c is a hex colour like #2563eb (the rule the
// pages hold to when they write colours into their style).
func ValidColor(c string) bool { return templates.ValidColor(c) }
