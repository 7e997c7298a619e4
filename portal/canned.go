package portal

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Canned replies: prepared answers staff insert from the reply box —
// shared ones an admin keeps, and each person's own — with placeholders
// filled for the ticket at hand. The most used come first.

// CannedReply is one prepared answer.
type CannedReply struct {
	ID     int64  `json:"id"`
	Title  string `json:"title"`
	Body   string `json:"body"`
	Folder string `json:"folder"`
	Shared bool   `json:"shared"`
	Lang   string `json:"lang"` // "" every language, en or ru
	Uses   int    `json:"uses"`
}

// CannedInput makes or changes a canned reply; nil leaves a part.
type CannedInput struct {
	Title  *string `json:"title"`
	Body   *string `json:"body"`
	Folder *string `json:"folder"`
	Shared *bool   `json:"shared"` // admins only make shared ones
	Lang   *string `json:"lang"`   // "" every language, en or ru
}

// CannedReplies lists the replies actor may use (shared and their own),
// the most used first; q narrows by title, folder and text, lang (when
// given) to the replies for every language and those in lang.
func (p *Portal) CannedReplies(ctx context.Context, actor *User, q, lang string) ([]CannedReply, error) {
	if !actor.IsStaff() {
		return nil, ErrForbidden
	}
	query := "SELECT id, title, body, folder, owner_id IS NULL, uses, lang FROM canned_replies WHERE (owner_id IS NULL OR owner_id = ?)"
	args := []any{actor.ID}
	if lang != "" {
		query += " AND lang IN ('', ?)"
		args = append(args, lang)
	}
	for _, word := range strings.Fields(strings.ToLower(q)) {
		query += " AND (lower(title) LIKE ? ESCAPE '\\' OR lower(folder) LIKE ? ESCAPE '\\' OR lower(body) LIKE ? ESCAPE '\\')"
		like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(word) + "%"
		args = append(args, like, like, like)
	}
	rows, err := p.q.Query(ctx, query+" ORDER BY uses DESC, title COLLATE NOCASE LIMIT 50", args...)
	if err != nil {
		return nil, fmt.Errorf("store: canned replies: %w", err)
	}
	defer rows.Close()
	out := []CannedReply{}
	for rows.Next() {
		var c CannedReply
		if err := rows.Scan(&c.ID, &c.Title, &c.Body, &c.Folder, &c.Shared, &c.Uses, &c.Lang); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// cannedOf is one reply actor may use, and whether they may change it.
func (p *Portal) cannedOf(ctx context.Context, actor *User, id int64) (*CannedReply, bool, error) {
	var c CannedReply
	var owner int64
	err := p.q.QueryRow(ctx, "SELECT id, title, body, folder, owner_id IS NULL, uses, lang, COALESCE(owner_id, 0) FROM canned_replies WHERE id = ? AND (owner_id IS NULL OR owner_id = ?)",
		id, actor.ID).Scan(&c.ID, &c.Title, &c.Body, &c.Folder, &c.Shared, &c.Uses, &c.Lang, &owner)
	if err != nil {
		return nil, false, ErrNotFound
	}
	return &c, owner == actor.ID || (c.Shared && actor.Role == RoleAdmin), nil
}

// SaveCanned makes (id 0) or changes a canned reply. Staff make their
// own; admins also shared ones.
func (p *Portal) SaveCanned(ctx context.Context, actor *User, id int64, in CannedInput) (*CannedReply, error) {
	if !actor.IsStaff() {
		return nil, ErrForbidden
	}
	c := &CannedReply{}
	if id != 0 {
		cur, mine, err := p.cannedOf(ctx, actor, id)
		if err != nil {
			return nil, err
		}
		if !mine {
			return nil, ErrForbidden
		}
		c = cur
	}
	errs := map[string]string{}
	if in.Title != nil {
		c.Title = Line(*in.Title)
	}
	if n := utf8.RuneCountInString(c.Title); n == 0 || n > 120 {
		errs["title"] = "Enter a title of at most 120 characters."
	}
	if in.Body != nil {
		c.Body = strings.TrimSpace(Text(*in.Body))
	}
	if n := utf8.RuneCountInString(c.Body); n == 0 || n > maxTextareaRunes {
		errs["body"] = "Write the reply."
	}
	if in.Folder != nil {
		c.Folder = Line(*in.Folder)
	}
	if in.Lang != nil {
		c.Lang = strings.TrimSpace(*in.Lang)
		if c.Lang != "" && !slices.Contains(Languages, c.Lang) {
			errs["lang"] = "Choose en, ru or none (every language)."
		}
	}
	if in.Shared != nil && id == 0 {
		c.Shared = *in.Shared
	}
	if c.Shared && actor.Role != RoleAdmin {
		errs["shared"] = "Only admins keep shared replies."
	}
	if len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	now := p.Now().Unix()
	var owner any = actor.ID
	if c.Shared {
		owner = nil
	}
	if id == 0 {
		res, err := p.q.Exec(ctx, "INSERT INTO canned_replies (title, body, folder, lang, owner_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)", c.Title, c.Body, c.Folder, c.Lang, owner, now, now)
		if err != nil {
			return nil, err
		}
		c.ID, _ = res.LastInsertId()
		return c, nil
	}
	_, err := p.q.Exec(ctx, "UPDATE canned_replies SET title = ?, body = ?, folder = ?, lang = ?, updated_at = ? WHERE id = ?", c.Title, c.Body, c.Folder, c.Lang, now, id)
	return c, err
}

// DeleteCanned removes a canned reply its owner (or, shared, an admin) may change.
func (p *Portal) DeleteCanned(ctx context.Context, actor *User, id int64) error {
	if !actor.IsStaff() {
		return ErrForbidden
	}
	_, mine, err := p.cannedOf(ctx, actor, id)
	if err != nil {
		return err
	}
	if !mine {
		return ErrForbidden
	}
	_, err = p.q.Exec(ctx, "DELETE FROM canned_replies WHERE id = ?", id)
	return err
}

// TicketLang is the language a ticket's client reads (theirs, else the
// portal's), for staff choosing what to write them.
func (p *Portal) TicketLang(ctx context.Context, actor *User, number int64) (string, error) {
	t, err := p.Ticket(ctx, actor, number)
	if err != nil {
		return "", err
	}
	var lang string
	if err := p.q.QueryRow(ctx, "SELECT lang FROM users WHERE id = ?", t.Client.ID).Scan(&lang); err != nil {
		return "", err
	}
	if lang == "" {
		lang = p.Setting(ctx, "lang", "en")
	}
	return lang, nil
}

// UseCanned is a canned reply's text for ticket number, its placeholders
// filled — {client.first_name}, {client.name}, {ticket.number},
// {ticket.subject}, {operator.name}, {field.NAME} — and counts the use.
// The text is plain: it goes into the reply box as typed text would.
func (p *Portal) UseCanned(ctx context.Context, actor *User, id, number int64) (string, error) {
	c, _, err := p.cannedOf(ctx, actor, id)
	if err != nil {
		return "", err
	}
	t, err := p.Ticket(ctx, actor, number)
	if err != nil {
		return "", err
	}
	first, _, _ := strings.Cut(t.Client.Name, " ")
	pairs := []string{"{client.first_name}", first, "{client.name}", t.Client.Name, "{ticket.number}", strconv.FormatInt(t.Number, 10),
		"{ticket.subject}", t.Subject, "{operator.name}", actor.FullName()}
	rows, err := p.q.Query(ctx, "SELECT COALESCE(f.name, ''), v.value FROM ticket_values v LEFT JOIN fields f ON f.id = v.field_id WHERE v.ticket_id = ?", number)
	if err == nil {
		for rows.Next() {
			var k, v string
			if rows.Scan(&k, &v) == nil && k != "" {
				pairs = append(pairs, "{field."+k+"}", v)
			}
		}
		rows.Close()
	}
	if p.writable() == nil {
		_, _ = p.q.Exec(ctx, "UPDATE canned_replies SET uses = uses + 1 WHERE id = ?", id)
	}
	return strings.NewReplacer(pairs...).Replace(c.Body), nil
}
