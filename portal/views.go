package portal

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Following and saved views. Staff follow a ticket to hear of everything
// on it (notes too) by mail and find it in "Following"; a saved view is a
// named set of the table's filters, a person's own or shared, listed with
// how many tickets it holds now.

// Follow makes actor follow ticket number (on) or stop (off). Staff only.
func (p *Portal) Follow(ctx context.Context, actor *User, number int64, on bool) error {
	if !actor.IsStaff() {
		return ErrForbidden
	}
	if _, err := p.Ticket(ctx, actor, number); err != nil {
		return err
	}
	var err error
	if on {
		_, err = p.q.Exec(ctx, "INSERT OR IGNORE INTO followers (ticket_id, user_id) VALUES (?, ?)", number, actor.ID)
	} else {
		_, err = p.q.Exec(ctx, "DELETE FROM followers WHERE ticket_id = ? AND user_id = ?", number, actor.ID)
	}
	return err
}

// Follows reports whether actor follows ticket number.
func (p *Portal) Follows(ctx context.Context, actor *User, number int64) bool {
	var one int
	return p.q.QueryRow(ctx, "SELECT 1 FROM followers WHERE ticket_id = ? AND user_id = ?", number, actor.ID).Scan(&one) == nil
}

// followersOf are the staff following ticket t who may see it, but the
// author.
func (p *Portal) followersOf(ctx context.Context, t *Ticket, author int64) ([]*User, error) {
	rows, err := p.q.Query(ctx, "SELECT user_id FROM followers WHERE ticket_id = ? AND user_id <> ?", t.Number, author)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	var out []*User
	for _, id := range ids {
		u, err := p.UserByID(ctx, id)
		if err == nil && u.Active && u.IsStaff() && u.MaySee(t) {
			out = append(out, u)
		}
	}
	return out, nil
}

// MarkUnread takes actor's read mark off a ticket: it is new to them again.
func (p *Portal) MarkUnread(ctx context.Context, actor *User, number int64) error {
	if !actor.IsStaff() {
		return ErrForbidden
	}
	if _, err := p.Ticket(ctx, actor, number); err != nil {
		return err
	}
	_, err := p.q.Exec(ctx, "DELETE FROM reads WHERE user_id = ? AND ticket_id = ?", actor.ID, number)
	return err
}

// View is a saved set of the table's filters.
type View struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Filters string `json:"filters"` // the table's query string: status=open&assignee=me
	Shared  bool   `json:"shared"`
	Group   int64  `json:"group,omitempty"` // shared with this group only
	Builtin string `json:"builtin,omitempty"`
	Count   int    `json:"count"`
	// Key names the view in one's order: the built-in name, or the id.
	Key string `json:"key"`
}

// builtinViews are everyone's, before their own.
var builtinViews = []View{
	{Builtin: "mine", Name: "My open", Filters: "status=open&assignee=me"},
	{Builtin: "unassigned", Name: "Unassigned", Filters: "status=open&assignee=none"},
	{Builtin: "waiting", Name: "Waiting for client"}, // the workflow's waiting status, when it has one
	{Builtin: "unread", Name: "Unread", Filters: "unread=1"},
	{Builtin: "following", Name: "Following", Filters: "following=1"},
	{Builtin: "breaching", Name: "Breaching SLA", Filters: "status=open&sla=late"},
}

// FilterFromQuery reads the table's filters from a query string.
func FilterFromQuery(q url.Values) TicketFilter {
	page, _ := strconv.Atoi(q.Get("page"))
	client, _ := strconv.ParseInt(q.Get("client"), 10, 64)
	action, _ := strconv.ParseInt(q.Get("action"), 10, 64)
	actionBy, _ := strconv.ParseInt(q.Get("action_by"), 10, 64)
	form, _ := strconv.ParseInt(q.Get("form"), 10, 64)
	org, _ := strconv.ParseInt(q.Get("organization"), 10, 64)
	return TicketFilter{Org: org, Form: form, Action: action, ActionBy: actionBy, ActionField: q.Get("action_field"), Status: q.Get("status"),
		Assignee: q.Get("assignee"), Client: client, Group: q.Get("group"), Tag: q.Get("tag"), Priority: q.Get("priority"),
		Query: q.Get("q"), Unread: q.Get("unread") == "1", Following: q.Get("following") == "1", SLA: q.Get("sla"),
		Sort: q.Get("sort"), Asc: q.Get("order") == "asc", Page: page, ExternalID: q.Get("external_id"),
		Sync: Sync{Since: q.Get("updated_since"), Cursor: q.Get("cursor")}}
}

// Views are the views actor sees — the built-in ones they have not hidden,
// shared ones (everyone's, or their groups'), their own — each with the
// number of tickets it holds now (counts: false leaves them 0).
func (p *Portal) Views(ctx context.Context, actor *User, counts bool) ([]View, error) {
	if !actor.IsStaff() {
		return nil, ErrForbidden
	}
	hidden := p.Setting(ctx, "views_hidden_"+strconv.FormatInt(actor.ID, 10), "")
	var out []View
	for _, v := range builtinViews {
		if v.Builtin == "breaching" && !p.UsesSLA(ctx) {
			continue
		}
		if v.Builtin == "waiting" {
			w := p.Workflow(ctx).WaitingStatus
			if w == 0 {
				continue
			}
			v.Filters = "status=" + strconv.FormatInt(w, 10)
		}
		if !strings.Contains(","+hidden+",", ","+v.Builtin+",") {
			out = append(out, v)
		}
	}
	rows, err := p.q.Query(ctx, `SELECT id, name, filters, owner_id IS NULL, COALESCE(group_id, 0) FROM views
		WHERE owner_id = ? OR (owner_id IS NULL AND (group_id IS NULL OR group_id IN (SELECT group_id FROM group_members WHERE user_id = ?)))
		ORDER BY owner_id IS NOT NULL, position, id`, actor.ID, actor.ID)
	if err != nil {
		return nil, fmt.Errorf("store: views: %w", err)
	}
	for rows.Next() {
		var v View
		if err := rows.Scan(&v.ID, &v.Name, &v.Filters, &v.Shared, &v.Group); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, v)
	}
	rows.Close()
	for i := range out {
		out[i].Key = cmp.Or(out[i].Builtin, strconv.FormatInt(out[i].ID, 10))
	}
	// One's own order first (dragged into place), the rest after, as they come.
	if order := strings.Split(p.Setting(ctx, "views_order_"+strconv.FormatInt(actor.ID, 10), ""), ","); len(order) > 0 {
		slices.SortStableFunc(out, func(a, b View) int {
			ia, ib := slices.Index(order, a.Key), slices.Index(order, b.Key)
			if ia < 0 {
				ia = len(order)
			}
			if ib < 0 {
				ib = len(order)
			}
			return ia - ib
		})
	}
	if counts {
		for i := range out {
			q, _ := url.ParseQuery(out[i].Filters)
			f := FilterFromQuery(q)
			f.Page = 1
			if n, err := p.countTickets(ctx, actor, f); err == nil {
				out[i].Count = n
			}
		}
	}
	return out, nil
}

// ViewInput makes or changes a view; nil leaves a part.
type ViewInput struct {
	Name    *string `json:"name"`
	Filters *string `json:"filters"` // a query string
	Shared  *bool   `json:"shared"`  // admins share with everyone …
	Group   *int64  `json:"group"`   // … or with a group
}

// SaveView makes (id 0) or changes a view: one's own, or (admins) a
// shared one.
func (p *Portal) SaveView(ctx context.Context, actor *User, id int64, in ViewInput) (*View, error) {
	if !actor.IsStaff() {
		return nil, ErrForbidden
	}
	v := &View{}
	if id != 0 {
		var owner int64
		err := p.q.QueryRow(ctx, "SELECT id, name, filters, owner_id IS NULL, COALESCE(group_id, 0), COALESCE(owner_id, 0) FROM views WHERE id = ?", id).
			Scan(&v.ID, &v.Name, &v.Filters, &v.Shared, &v.Group, &owner)
		if err != nil || (owner != actor.ID && !(v.Shared && actor.Role == RoleAdmin)) {
			return nil, ErrNotFound
		}
	}
	errs := map[string]string{}
	if in.Name != nil {
		v.Name = Line(*in.Name)
	}
	if n := utf8.RuneCountInString(v.Name); n == 0 || n > 60 {
		errs["name"] = "Enter a name of at most 60 characters."
	}
	if in.Filters != nil {
		q, err := url.ParseQuery(strings.TrimPrefix(strings.TrimSpace(*in.Filters), "?"))
		if err != nil {
			errs["filters"] = "Use the table's filters, like status=open&assignee=me."
		} else {
			q.Del("page")
			v.Filters = q.Encode()
			f := FilterFromQuery(q)
			if _, err := p.countTickets(ctx, actor, f); err != nil {
				errs["filters"] = "Use the table's filters, like status=open&assignee=me."
			}
		}
	}
	if in.Shared != nil {
		v.Shared = *in.Shared
	}
	if in.Group != nil {
		v.Group = *in.Group
		if v.Group != 0 {
			v.Shared = true
			if _, _, err := p.findGroup(ctx, strconv.FormatInt(v.Group, 10)); err != nil {
				errs["group"] = "Unknown group."
			}
		}
	}
	if v.Shared && actor.Role != RoleAdmin {
		errs["shared"] = "Only admins share views."
	}
	if len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	var owner, group any = actor.ID, nil
	if v.Shared {
		owner = nil
	}
	if v.Group != 0 {
		group = v.Group
	}
	if id == 0 {
		res, err := p.q.Exec(ctx, "INSERT INTO views (name, filters, owner_id, group_id, created_at) VALUES (?, ?, ?, ?, ?)", v.Name, v.Filters, owner, group, p.Now().Unix())
		if err != nil {
			return nil, err
		}
		v.ID, _ = res.LastInsertId()
		return v, nil
	}
	_, err := p.q.Exec(ctx, "UPDATE views SET name = ?, filters = ?, owner_id = ?, group_id = ? WHERE id = ?", v.Name, v.Filters, owner, group, id)
	return v, err
}

// DeleteView removes one's own view (admins: a shared one too).
func (p *Portal) DeleteView(ctx context.Context, actor *User, id int64) error {
	if !actor.IsStaff() {
		return ErrForbidden
	}
	q := "DELETE FROM views WHERE id = ? AND owner_id = ?"
	args := []any{id, actor.ID}
	if actor.Role == RoleAdmin {
		q, args = "DELETE FROM views WHERE id = ? AND (owner_id = ? OR owner_id IS NULL)", []any{id, actor.ID}
	}
	res, err := p.q.Exec(ctx, q, args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// OrderViews puts actor's views in the order of keys (built-in names and
// ids, as View.Key): those named first, the rest after as they come.
func (p *Portal) OrderViews(ctx context.Context, actor *User, keys []string) ([]View, error) {
	views, err := p.Views(ctx, actor, false)
	if err != nil {
		return nil, err
	}
	var order []string
	for _, k := range keys {
		k = strings.TrimSpace(k)
		if !slices.ContainsFunc(views, func(v View) bool { return v.Key == k }) {
			return nil, &FieldErrors{Fields: map[string]string{"order": fmt.Sprintf("No view %q here.", Line(k))}}
		}
		if !slices.Contains(order, k) {
			order = append(order, k)
		}
	}
	if err := p.SetSetting(ctx, "views_order_"+strconv.FormatInt(actor.ID, 10), strings.Join(order, ",")); err != nil {
		return nil, err
	}
	return p.Views(ctx, actor, false)
}

// HideView hides (or shows again) a built-in view for actor.
func (p *Portal) HideView(ctx context.Context, actor *User, builtin string, hide bool) error {
	if !actor.IsStaff() {
		return ErrForbidden
	}
	known := false
	for _, v := range builtinViews {
		known = known || v.Builtin == builtin
	}
	if !known {
		return &FieldErrors{Fields: map[string]string{"builtin": "Use mine, unassigned, waiting, unread, following or breaching."}}
	}
	key := "views_hidden_" + strconv.FormatInt(actor.ID, 10)
	var list []string
	for _, b := range strings.Split(p.Setting(ctx, key, ""), ",") {
		if b != "" && b != builtin {
			list = append(list, b)
		}
	}
	if hide {
		list = append(list, builtin)
	}
	return p.SetSetting(ctx, key, strings.Join(list, ","))
}
