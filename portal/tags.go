package portal

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"portaldesk/portal/sqlitedb"
)

// Tags are words on tickets ("refund", "vip"), each with a colour; staff
// and triggers put them on and take them off, and the table filters by
// them. A tag staff name that does not exist yet is made.

// Tag is one tag.
type Tag struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Color string `json:"color"`
}

// MaxTagsPerTicket bounds the tags of one ticket.
const MaxTagsPerTicket = 20

// Tags lists the portal's tags by name.
func (p *Portal) Tags(ctx context.Context) ([]Tag, error) {
	ts, err := p.ref.tags.get(p.DB, func() ([]Tag, error) {
		rows, err := p.q.Query(ctx, "SELECT id, name, color FROM tags ORDER BY name COLLATE NOCASE")
		if err != nil {
			return nil, fmt.Errorf("store: tags: %w", err)
		}
		defer rows.Close()
		out := []Tag{}
		for rows.Next() {
			var t Tag
			if err := rows.Scan(&t.ID, &t.Name, &t.Color); err != nil {
				return nil, err
			}
			out = append(out, t)
		}
		return out, rows.Err()
	})
	return slices.Clone(ts), err
}

// tagsByIDs turns a list of tag ids ("3,7", as a ticket's row carries
// them) into its tags.
func (p *Portal) tagsByIDs(ctx context.Context, ids string) []Tag {
	if ids == "" {
		return nil
	}
	all, _ := p.Tags(ctx)
	var out []Tag
	for _, id := range parseIDs(ids) {
		if i := slices.IndexFunc(all, func(t Tag) bool { return t.ID == id }); i >= 0 {
			out = append(out, all[i])
		}
	}
	slices.SortFunc(out, func(a, b Tag) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	return out
}

// cleanTag checks a tag's name: one to 40 characters, no commas.
func cleanTag(name string) (string, string) {
	name = strings.Join(strings.Fields(Line(name)), " ")
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return "", "Enter a tag."
	case n > 40:
		return "", "A tag has at most 40 characters."
	case strings.ContainsAny(name, ",;"):
		return "", "A tag has no commas."
	}
	return name, ""
}

// SaveTag makes (id 0) or renames and recolours a tag. Admins only.
func (p *Portal) SaveTag(ctx context.Context, actor *User, id int64, name, color string) (*Tag, error) {
	if actor.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	errs := map[string]string{}
	clean, msg := cleanTag(name)
	if msg != "" {
		errs["name"] = msg
	}
	if color == "" {
		color = "#6b7280"
	}
	if !ValidColor(color) {
		errs["color"] = "Choose a colour like #2563eb."
	}
	if len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	var err error
	if id == 0 {
		var res interface{ LastInsertId() (int64, error) }
		res, err = p.q.Exec(ctx, "INSERT INTO tags (name, color) VALUES (?, ?)", clean, color)
		if err == nil {
			id, _ = res.LastInsertId()
		}
	} else {
		var res interface{ RowsAffected() (int64, error) }
		res, err = p.q.Exec(ctx, "UPDATE tags SET name = ?, color = ? WHERE id = ?", clean, color, id)
		if err == nil {
			if n, _ := res.RowsAffected(); n == 0 {
				return nil, ErrNotFound
			}
		}
	}
	if sqlitedb.IsUniqueViolation(err) {
		return nil, &FieldErrors{Fields: map[string]string{"name": "This tag exists already."}}
	}
	if err != nil {
		return nil, fmt.Errorf("store: save tag: %w", err)
	}
	return &Tag{ID: id, Name: clean, Color: color}, nil
}

// DeleteTag takes a tag off every ticket and removes it. Admins only.
func (p *Portal) DeleteTag(ctx context.Context, actor *User, id int64) error {
	if actor.Role != RoleAdmin {
		return ErrForbidden
	}
	res, err := p.q.Exec(ctx, "DELETE FROM tags WHERE id = ?", id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// setTags makes names ticket number's tags (made when new), inside the
// caller's transaction, and returns the lines of history: who added and
// removed what (by: a person's name, or a trigger's).
func (p *Portal) setTags(ctx context.Context, number int64, names []string, by string) ([]string, error) {
	var want []string
	for _, n := range names {
		clean, msg := cleanTag(n)
		if msg != "" {
			return nil, &FieldErrors{Fields: map[string]string{"tags": fmt.Sprintf("%q: %s", n, msg)}}
		}
		if !slices.ContainsFunc(want, func(w string) bool { return strings.EqualFold(w, clean) }) {
			want = append(want, clean)
		}
	}
	if len(want) > MaxTagsPerTicket {
		return nil, &FieldErrors{Fields: map[string]string{"tags": fmt.Sprintf("At most %d tags on a ticket.", MaxTagsPerTicket)}}
	}
	var cur string
	if err := p.q.QueryRow(ctx, "SELECT COALESCE(group_concat(tag_id), '') FROM ticket_tags WHERE ticket_id = ?", number).Scan(&cur); err != nil {
		return nil, err
	}
	have := p.tagsByIDs(ctx, cur)
	var events []string
	for _, h := range have {
		if !slices.ContainsFunc(want, func(w string) bool { return strings.EqualFold(w, h.Name) }) {
			if _, err := p.q.Exec(ctx, "DELETE FROM ticket_tags WHERE ticket_id = ? AND tag_id = ?", number, h.ID); err != nil {
				return nil, err
			}
			events = append(events, fmt.Sprintf("%s removed the tag %s", by, h.Name))
		}
	}
	for _, w := range want {
		if slices.ContainsFunc(have, func(h Tag) bool { return strings.EqualFold(w, h.Name) }) {
			continue
		}
		if _, err := p.q.Exec(ctx, "INSERT OR IGNORE INTO tags (name) VALUES (?)", w); err != nil {
			return nil, err
		}
		if _, err := p.q.Exec(ctx, "INSERT OR IGNORE INTO ticket_tags (ticket_id, tag_id) SELECT ?, id FROM tags WHERE name = ? COLLATE NOCASE", number, w); err != nil {
			return nil, err
		}
		events = append(events, fmt.Sprintf("%s added the tag %s", by, w))
	}
	return events, nil
}

// tagFilter is the condition of the table's tag filter.
func tagFilter(name string) (string, []any) {
	return "t.id IN (SELECT tt.ticket_id FROM ticket_tags tt JOIN tags tg ON tg.id = tt.tag_id WHERE tg.name = ? COLLATE NOCASE)", []any{strings.TrimSpace(name)}
}
