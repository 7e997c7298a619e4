package portal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Period is a span of whole days, [From, To], in UTC.
type Period struct {
	From, To time.Time
	By       string // day or week
}

// ParsePeriod reads from, to (YYYY-MM-DD) and by; the default is the last 30 days by day.
func ParsePeriod(from, to, by string, now time.Time) (Period, map[string]string) {
	errs := map[string]string{}
	today := now.UTC().Truncate(24 * time.Hour)
	p := Period{From: today.AddDate(0, 0, -29), To: today, By: "day"}
	if from != "" {
		t, err := time.Parse(time.DateOnly, from)
		if err != nil {
			errs["from"] = "Enter a date as YYYY-MM-DD."
		}
		p.From = t
	}
	if to != "" {
		t, err := time.Parse(time.DateOnly, to)
		if err != nil {
			errs["to"] = "Enter a date as YYYY-MM-DD."
		}
		p.To = t
	}
	switch by {
	case "", "day":
	case "week", "month":
		p.By = by
	default:
		errs["by"] = "Use day, week or month."
	}
	if len(errs) == 0 && p.To.Before(p.From) {
		errs["to"] = "The end is before the start."
	}
	if len(errs) == 0 && p.To.Sub(p.From) > 3*366*24*time.Hour {
		errs["from"] = "At most three years at a time."
	}
	return p, errs
}

func (pr Period) start() int64 { return pr.From.Unix() }
func (pr Period) end() int64   { return pr.To.Add(24 * time.Hour).Unix() } // exclusive

// Point is one bucket of the ticket dynamics.
type Point struct {
	Start    string `json:"start"`
	Created  int    `json:"created"`
	Resolved int    `json:"resolved"`
	Open     int    `json:"open"` // at the end of the bucket
}

// OperatorStats is one operator's numbers in a period.
type OperatorStats struct {
	ID                int64   `json:"id"`
	Name              string  `json:"name"`
	Taken             int     `json:"taken"`
	Resolved          int     `json:"resolved"`
	MedianFirstReplyS int64   `json:"median_first_response_s"`
	MedianResolutionS int64   `json:"median_resolution_s"`
	Ratings           int     `json:"ratings"`
	AverageRating     float64 `json:"average_rating"`
}

// StatusCount is how many tickets are in a status now.
type StatusCount struct {
	Name   string `json:"name"`
	Color  string `json:"color"`
	Closed bool   `json:"closed"`
	Count  int    `json:"count"`
}

// AgeBucket is a slice of the open backlog by age.
type AgeBucket struct {
	Label string `json:"label"`
	Count int    `json:"count"`
}

// Stats is the statistics page.
type Stats struct {
	From          string          `json:"from"`
	To            string          `json:"to"`
	By            string          `json:"by"`
	Dynamics      []Point         `json:"dynamics"`
	Operators     []OperatorStats `json:"operators"`
	Statuses      []StatusCount   `json:"statuses"`
	Backlog       []AgeBucket     `json:"backlog"`
	OldestOpenS   int64           `json:"oldest_open_s"`
	Ratings       int             `json:"ratings"`
	AverageRating float64         `json:"average_rating"`
	// SLA is how the tickets created in the period under an SLA policy
	// kept its targets: by policy, group and assignee.
	SLA []SLACompliance `json:"sla"`
	// AnsweredByKB counts the articles clients opened while writing a
	// ticket that no ticket followed within the hour.
	AnsweredByKB int `json:"answered_by_kb"`
}

// SLACompliance is one row of SLA compliance.
type SLACompliance struct {
	By       string  `json:"by"` // policy, group or operator
	Name     string  `json:"name"`
	Tickets  int     `json:"tickets"`
	Breached int     `json:"breached"`
	Met      float64 `json:"met_percent"`
}

func bucketOf(t int64, pr Period) int {
	d := int((t - pr.start()) / 86400)
	if pr.By != "day" {
		return d / 7
	}
	return d
}

func median(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// Statistics computes the admin's statistics for a period (admins only).
func (p *Portal) Statistics(ctx context.Context, actor *User, pr Period) (*Stats, error) {
	if actor.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	st := &Stats{From: pr.From.Format(time.DateOnly), To: pr.To.Format(time.DateOnly), By: pr.By}
	days := int(pr.To.Sub(pr.From).Hours()/24) + 1
	if pr.By == "month" {
		pr.By = "week" // the chart counts weeks at most
		st.By = "week"
	}
	n := days
	if pr.By == "week" {
		n = (days + 6) / 7
	}
	st.Dynamics = make([]Point, n)
	for i := range st.Dynamics {
		step := 1
		if pr.By == "week" {
			step = 7
		}
		st.Dynamics[i].Start = pr.From.AddDate(0, 0, i*step).Format(time.DateOnly)
	}
	var openBefore int
	if err := p.q.QueryRow(ctx, "SELECT COUNT(*) FROM tickets WHERE created_at < ? AND (closed_at IS NULL OR closed_at >= ?)", pr.start(), pr.start()).Scan(&openBefore); err != nil {
		return nil, err
	}
	rows, err := p.q.Query(ctx, "SELECT created_at FROM tickets WHERE created_at >= ? AND created_at < ?", pr.start(), pr.end())
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var t int64
		rows.Scan(&t)
		st.Dynamics[bucketOf(t, pr)].Created++
	}
	rows.Close()
	rows, err = p.q.Query(ctx, "SELECT closed_at FROM tickets WHERE closed_at >= ? AND closed_at < ?", pr.start(), pr.end())
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var t int64
		rows.Scan(&t)
		st.Dynamics[bucketOf(t, pr)].Resolved++
	}
	rows.Close()
	open := openBefore
	for i := range st.Dynamics {
		open += st.Dynamics[i].Created - st.Dynamics[i].Resolved
		st.Dynamics[i].Open = max(open, 0)
	}
	// Per operator: tickets created in the period that they hold, resolved in it, and times.
	type acc struct {
		OperatorStats
		first, res []int64
		sum        int
	}
	ops := map[int64]*acc{}
	staff, err := p.staff(ctx)
	if err != nil {
		return nil, err
	}
	for _, u := range staff {
		ops[u.ID] = &acc{OperatorStats: OperatorStats{ID: u.ID, Name: u.FullName()}}
	}
	rows, err = p.q.Query(ctx, `SELECT assignee_id, created_at, COALESCE(first_response_at, 0), COALESCE(closed_at, 0) FROM tickets
		WHERE assignee_id IS NOT NULL AND ((created_at >= ? AND created_at < ?) OR (closed_at >= ? AND closed_at < ?))`, pr.start(), pr.end(), pr.start(), pr.end())
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var a, created, first, closed int64
		if err := rows.Scan(&a, &created, &first, &closed); err != nil {
			rows.Close()
			return nil, err
		}
		o := ops[a]
		if o == nil {
			continue
		}
		if created >= pr.start() && created < pr.end() {
			o.Taken++
			if first > 0 {
				o.first = append(o.first, first-created)
			}
		}
		if closed >= pr.start() && closed < pr.end() {
			o.Resolved++
			o.res = append(o.res, closed-created)
		}
	}
	rows.Close()
	rows, err = p.q.Query(ctx, `SELECT t.assignee_id, r.score FROM ratings r JOIN tickets t ON t.id = r.ticket_id WHERE r.updated_at >= ? AND r.updated_at < ?`, pr.start(), pr.end())
	if err != nil {
		return nil, err
	}
	var ratingSum int
	for rows.Next() {
		var a sql.NullInt64
		var score int
		rows.Scan(&a, &score)
		st.Ratings++
		ratingSum += score
		if o := ops[a.Int64]; a.Valid && o != nil {
			o.Ratings++
			o.sum += score
		}
	}
	rows.Close()
	if st.Ratings > 0 {
		st.AverageRating = float64(ratingSum) / float64(st.Ratings)
	}
	for _, u := range staff {
		o := ops[u.ID]
		o.MedianFirstReplyS, o.MedianResolutionS = median(o.first), median(o.res)
		if o.Ratings > 0 {
			o.AverageRating = float64(o.sum) / float64(o.Ratings)
		}
		st.Operators = append(st.Operators, o.OperatorStats)
	}
	// Statuses now, and the age of the open backlog.
	rows, err = p.q.Query(ctx, "SELECT s.name, s.color, s.closed, COUNT(t.id) FROM statuses s LEFT JOIN tickets t ON t.status_id = s.id GROUP BY s.id ORDER BY s.position")
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var c StatusCount
		rows.Scan(&c.Name, &c.Color, &c.Closed, &c.Count)
		st.Statuses = append(st.Statuses, c)
	}
	rows.Close()
	st.Backlog = []AgeBucket{{Label: "under a day"}, {Label: "1–3 days"}, {Label: "3–7 days"}, {Label: "1–4 weeks"}, {Label: "over 4 weeks"}}
	now := p.Now().Unix()
	rows, err = p.q.Query(ctx, "SELECT created_at FROM tickets WHERE status_id IN (SELECT id FROM statuses WHERE closed = 0)")
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var c int64
		rows.Scan(&c)
		age := now - c
		st.OldestOpenS = max(st.OldestOpenS, age)
		switch d := age / 86400; {
		case d < 1:
			st.Backlog[0].Count++
		case d < 3:
			st.Backlog[1].Count++
		case d < 7:
			st.Backlog[2].Count++
		case d < 28:
			st.Backlog[3].Count++
		default:
			st.Backlog[4].Count++
		}
	}
	rows.Close()
	if st.SLA, err = p.slaCompliance(ctx, pr); err != nil {
		return nil, err
	}
	st.AnsweredByKB = p.Deflected(ctx, pr.start(), pr.end())
	return st, nil
}

// slaCompliance counts the tickets created in the period under a policy,
// and those that passed a target, by policy, group and assignee.
func (p *Portal) slaCompliance(ctx context.Context, pr Period) ([]SLACompliance, error) {
	rows, err := p.q.Query(ctx, `SELECT COALESCE(sp.name, ''), COALESCE(g.name, ''), COALESCE(TRIM(a.name || ' ' || a.surname), ''), t.sla_breached <> ''
		FROM tickets t LEFT JOIN sla_policies sp ON sp.id = t.sla_policy_id LEFT JOIN groups g ON g.id = t.group_id LEFT JOIN users a ON a.id = t.assignee_id
		WHERE (t.sla_policy_id IS NOT NULL OR t.sla_breached <> '') AND t.created_at >= ? AND t.created_at < ?`, pr.start(), pr.end())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type key struct{ by, name string }
	count := map[key]*SLACompliance{}
	var order []key
	for rows.Next() {
		var policy, group, op string
		var late bool
		if err := rows.Scan(&policy, &group, &op, &late); err != nil {
			return nil, err
		}
		for _, k := range []key{{"policy", policy}, {"group", group}, {"operator", op}} {
			if k.name == "" {
				continue
			}
			c := count[k]
			if c == nil {
				c = &SLACompliance{By: k.by, Name: k.name}
				count[k] = c
				order = append(order, k)
			}
			c.Tickets++
			if late {
				c.Breached++
			}
		}
	}
	out := []SLACompliance{}
	for _, k := range order {
		c := count[k]
		c.Met = float64(c.Tickets-c.Breached) * 100 / float64(c.Tickets)
		out = append(out, *c)
	}
	slices.SortStableFunc(out, func(a, b SLACompliance) int {
		order := map[string]int{"policy": 0, "group": 1, "operator": 2}
		if d := order[a.By] - order[b.By]; d != 0 {
			return d
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, rows.Err()
}

// LabourFilter narrows the labour report.
type LabourFilter struct {
	Period
	Operator int64
	Client   int64
	WorkType int64
}

// LabourRow is one total of the report.
type LabourRow struct {
	Key      string `json:"key"`
	ID       int64  `json:"id,omitempty"`
	Entries  int    `json:"entries"`
	Quantity string `json:"quantity,omitempty"`
	Cost     int64  `json:"cost"`
}

// LabourReport totals work by operator, client, work type and period, with the entries.
type LabourReport struct {
	From       string      `json:"from"`
	To         string      `json:"to"`
	Total      int64       `json:"total"`
	Visible    int64       `json:"visible"`
	Count      int         `json:"entries_count"`
	ByOperator []LabourRow `json:"by_operator"`
	ByClient   []LabourRow `json:"by_client"`
	ByWorkType []LabourRow `json:"by_work_type"`
	ByPeriod   []LabourRow `json:"by_period"`
	Entries    []WorkEntry `json:"entries"`
}

type agg struct {
	n, hours, pieces, cost, visible int64
}

func (a *agg) add(b agg) {
	a.n += b.n
	a.hours += b.hours
	a.pieces += b.pieces
	a.cost += b.cost
	a.visible += b.visible
}

func (a *agg) quantity() string {
	switch {
	case a.pieces == 0:
		return FormatQuantity(a.hours) + " hour"
	case a.hours == 0:
		return FormatQuantity(a.pieces) + " piece"
	}
	return FormatQuantity(a.hours) + " hour, " + FormatQuantity(a.pieces) + " piece"
}

func aggAt(m map[int64]*agg, k int64) *agg {
	a := m[k]
	if a == nil {
		a = &agg{}
		m[k] = a
	}
	return a
}

// Labour is the labour-cost report (staff; a tariff feature). Whole months
// of an unfiltered report come from the monthly totals kept with each entry;
// the days at the edges, and filtered reports, are summed from the entries.
func (p *Portal) Labour(ctx context.Context, actor *User, f LabourFilter) (*LabourReport, error) {
	if !actor.IsStaff() {
		return nil, ErrForbidden
	}
	if !p.Plan().Timing {
		return nil, ErrNoTiming
	}
	fromDay, toDay := f.From.Unix()/86400, f.To.Unix()/86400
	where := []string{"w.day >= ?", "w.day <= ?"}
	args := []any{fromDay, toDay}
	filtered := f.Operator != 0 || f.Client != 0 || f.WorkType != 0
	if f.Operator != 0 {
		where, args = append(where, "w.operator_id = ?"), append(args, f.Operator)
	}
	if f.Client != 0 {
		where, args = append(where, "w.client_id = ?"), append(args, f.Client)
	}
	if f.WorkType != 0 {
		where, args = append(where, "w.work_type_id = ?"), append(args, f.WorkType)
	}
	if scope := actor.scopeSQL(); scope != "" {
		// A limited operator counts the work on the tickets they may see.
		where, filtered = append(where, "w.ticket_id IN (SELECT t.id FROM tickets t WHERE "+scope+")"), true
	}
	cond := strings.Join(where, " AND ")
	rep := &LabourReport{From: f.From.Format(time.DateOnly), To: f.To.Format(time.DateOnly), Entries: []WorkEntry{}}
	types, err := p.WorkTypes(ctx, true)
	if err != nil {
		return nil, err
	}
	units := map[int64]string{}
	for _, t := range types {
		units[t.ID] = t.Unit
	}
	byOp, byClient, byType, byDay := map[int64]*agg{}, map[int64]*agg{}, map[int64]*agg{}, map[int64]*agg{}
	raw := func(lo, hi int64) error {
		a := append([]any{lo, hi}, args[2:]...)
		rows, err := p.q.Query(ctx, "SELECT w.operator_id, w.client_id, w.work_type_id, w.day, w.quantity, w.cost, w.visible FROM work_entries w WHERE "+cond, a...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var op, client, wt, day, qty, cost int64
			var visible bool
			if err := rows.Scan(&op, &client, &wt, &day, &qty, &cost, &visible); err != nil {
				return err
			}
			e := agg{n: 1, cost: cost}
			if units[wt] == UnitPiece {
				e.pieces = qty
			} else {
				e.hours = qty
			}
			if visible {
				e.visible = cost
			}
			aggAt(byOp, op).add(e)
			aggAt(byClient, client).add(e)
			aggAt(byType, wt).add(e)
			aggAt(byDay, day).add(e)
		}
		return rows.Err()
	}
	// Whole months inside the period.
	first := time.Date(f.From.Year(), f.From.Month(), 1, 0, 0, 0, 0, time.UTC)
	if first.Before(f.From) {
		first = first.AddDate(0, 1, 0)
	}
	last := time.Date(f.To.Year(), f.To.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, 1, -1) // end of To's month
	if last.After(f.To) {
		last = time.Date(f.To.Year(), f.To.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
	}
	if filtered || !first.Before(last) {
		if err := raw(fromDay, toDay); err != nil {
			return nil, err
		}
	} else {
		if err := raw(fromDay, first.Unix()/86400-1); err != nil {
			return nil, err
		}
		if err := raw(last.Unix()/86400+1, toDay); err != nil {
			return nil, err
		}
		rows, err := p.q.Query(ctx, "SELECT dim, key, entries, hours, pieces, cost, visible FROM work_month WHERE month >= ? AND month <= ? AND entries > 0",
			first.Year()*100+int(first.Month()), last.Year()*100+int(last.Month()))
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var dim string
			var key int64
			var a agg
			if err := rows.Scan(&dim, &key, &a.n, &a.hours, &a.pieces, &a.cost, &a.visible); err != nil {
				rows.Close()
				return nil, err
			}
			switch dim {
			case "operator":
				aggAt(byOp, key).add(a)
			case "client":
				aggAt(byClient, key).add(a)
			case "type":
				aggAt(byType, key).add(a)
			case "all":
				aggAt(byDay, key).add(a)
			}
		}
		rows.Close()
	}
	periodOf := func(day int64) string {
		dt := time.Unix(day*86400, 0).UTC()
		switch {
		case f.By == "week":
			y, w := dt.ISOWeek()
			return fmt.Sprintf("%d-W%02d", y, w)
		case f.By == "day" && f.To.Sub(f.From) <= 62*24*time.Hour:
			return dt.Format(time.DateOnly)
		}
		return dt.Format("2006-01")
	}
	byPeriod := map[string]*agg{}
	for day, a := range byDay {
		rep.Count += int(a.n)
		rep.Total += a.cost
		rep.Visible += a.visible
		per := periodOf(day)
		if byPeriod[per] == nil {
			byPeriod[per] = &agg{}
		}
		byPeriod[per].add(*a)
	}
	names := map[int64]string{}
	people, err := p.Users(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, u := range people {
		names[u.ID] = u.FullName()
	}
	typeNames := map[int64]string{}
	for _, t := range types {
		typeNames[t.ID] = t.Name
	}
	toRows := func(m map[int64]*agg, nameOf map[int64]string) []LabourRow {
		out := make([]LabourRow, 0, len(m))
		for id, a := range m {
			out = append(out, LabourRow{Key: nameOf[id], ID: id, Entries: int(a.n), Cost: a.cost, Quantity: a.quantity()})
		}
		sort.Slice(out, func(x, y int) bool {
			return out[x].Cost > out[y].Cost || out[x].Cost == out[y].Cost && out[x].Key < out[y].Key
		})
		return out
	}
	rep.ByOperator, rep.ByClient, rep.ByWorkType = toRows(byOp, names), toRows(byClient, names), toRows(byType, typeNames)
	rep.ByPeriod = make([]LabourRow, 0, len(byPeriod))
	for k, a := range byPeriod {
		rep.ByPeriod = append(rep.ByPeriod, LabourRow{Key: k, Entries: int(a.n), Cost: a.cost, Quantity: a.quantity()})
	}
	sort.Slice(rep.ByPeriod, func(a, b int) bool { return rep.ByPeriod[a].Key < rep.ByPeriod[b].Key })
	// The newest entries, with names, for the drill-down.
	rows, err := p.q.Query(ctx, `SELECT w.id, w.ticket_id, w.operator_id, w.client_id, w.work_type_id, w.quantity, w.price, w.cost, w.day, w.comment, w.visible, w.created_at
		FROM work_entries w WHERE `+cond+" ORDER BY w.day DESC, w.id DESC LIMIT 500", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var e WorkEntry
		var client Person
		var wt, qty, day int64
		if err := rows.Scan(&e.ID, &e.Ticket, &e.Operator.ID, &client.ID, &wt, &qty, &e.Price, &e.Cost, &day, &e.Comment, &e.Visible, &e.CreatedAt); err != nil {
			return nil, err
		}
		e.Operator.Name, client.Name = names[e.Operator.ID], names[client.ID]
		e.Client, e.WorkType, e.Unit = &client, typeNames[wt], units[wt]
		e.Quantity = FormatQuantity(qty)
		e.Date = time.Unix(day*86400, 0).UTC().Format(time.DateOnly)
		rep.Entries = append(rep.Entries, e)
	}
	return rep, rows.Err()
}

// Rating is a client's judgement of a closed ticket.
type Rating struct {
	Score     int    `json:"score"`
	Comment   string `json:"comment"`
	FirstAt   int64  `json:"first_at"`
	UpdatedAt int64  `json:"updated_at"`
	Editable  bool   `json:"editable"`
}

// RatingWindow is how long a client may change their rating.
const RatingWindow = 7 * 24 * time.Hour

// TicketRating is the rating of a ticket, or nil.
func (p *Portal) TicketRating(ctx context.Context, actor *User, number int64) (*Rating, error) {
	if _, err := p.Ticket(ctx, actor, number); err != nil {
		return nil, err
	}
	return p.rating(ctx, number)
}

// rating is TicketRating once the caller has checked that the actor may see
// the ticket.
func (p *Portal) rating(ctx context.Context, number int64) (*Rating, error) {
	r := &Rating{}
	err := p.q.QueryRow(ctx, "SELECT score, comment, first_at, updated_at FROM ratings WHERE ticket_id = ?", number).Scan(&r.Score, &r.Comment, &r.FirstAt, &r.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	r.Editable = p.Now().Sub(time.Unix(r.FirstAt, 0)) < RatingWindow
	return r, err
}

// ErrRatingClosed is returned when the ticket cannot be rated (now).
var ErrRatingClosed = errors.New("cannot rate")

// Rate records the client's rating: only the ticket's own client, only once
// it is closed, and changeable for 7 days.
func (p *Portal) Rate(ctx context.Context, actor *User, number int64, score int, comment string) (*Rating, error) {
	t, err := p.Ticket(ctx, actor, number)
	if err != nil {
		return nil, err
	}
	if t.Client.ID != actor.ID {
		return nil, ErrForbidden
	}
	if !t.Status.Closed {
		return nil, &FieldErrors{Message: "A ticket can be rated once it is closed.", Fields: map[string]string{"score": "A ticket can be rated once it is closed."}}
	}
	errs := map[string]string{}
	if score < 1 || score > 5 {
		errs["score"] = "Choose from 1 to 5."
	}
	comment = strings.TrimSpace(Text(comment))
	if utf8.RuneCountInString(comment) > 2000 {
		errs["comment"] = "At most 2000 characters."
	}
	if len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	old, err := p.TicketRating(ctx, actor, number)
	if err != nil {
		return nil, err
	}
	now := p.Now().Unix()
	if old != nil && !old.Editable {
		return nil, &FieldErrors{Message: "The rating can be changed for 7 days only.", Fields: map[string]string{"score": "The rating can be changed for 7 days only."}}
	}
	err = p.Tx(ctx, func(tp *Portal) error {
		if _, err := tp.q.Exec(ctx, `INSERT INTO ratings (ticket_id, client_id, score, comment, first_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (ticket_id) DO UPDATE SET score = excluded.score, comment = excluded.comment, updated_at = excluded.updated_at`,
			number, actor.ID, score, comment, now, now); err != nil {
			return err
		}
		return tp.emit(ctx, HookRating, func() (any, error) {
			r, err := tp.TicketRating(ctx, actor, number)
			if err != nil {
				return nil, err
			}
			t, err := tp.Ticket(ctx, hookReader, number)
			return &HookTicket{Ticket: t, Rating: r}, err
		})
	})
	if err != nil {
		return nil, err
	}
	return p.TicketRating(ctx, actor, number)
}

// CommentText is the comment, for the rating form (nil-safe).
func (r *Rating) CommentText() string {
	if r == nil {
		return ""
	}
	return r.Comment
}
