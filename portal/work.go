package portal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"portaldesk/portal/sqlitedb"
)

// Units of work.
const (
	UnitHour  = "hour"
	UnitPiece = "piece"
)

// WorkType is a line of the price list.
type WorkType struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Unit   string `json:"unit"`
	Price  int64  `json:"price"` // minor units per unit
	Active bool   `json:"active"`
}

// ErrNoTiming is returned when the tariff does not include labour timing.
var ErrNoTiming = errors.New("labour-cost timing is not included in this portal's tariff")

// WorkTypes lists the price list: all of it, or the active types.
func (p *Portal) WorkTypes(ctx context.Context, all bool) ([]WorkType, error) {
	if all {
		return p.loadWorkTypes(ctx, true)
	}
	types, err := p.ref.workTypes.get(p.DB, func() ([]WorkType, error) { return p.loadWorkTypes(ctx, false) })
	return slices.Clone(types), err
}

func (p *Portal) loadWorkTypes(ctx context.Context, all bool) ([]WorkType, error) {
	q := "SELECT id, name, unit, price, active FROM work_types"
	if !all {
		q += " WHERE active = 1"
	}
	rows, err := p.q.Query(ctx, q+" ORDER BY name")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []WorkType
	for rows.Next() {
		var w WorkType
		if err := rows.Scan(&w.ID, &w.Name, &w.Unit, &w.Price, &w.Active); err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// WorkTypeInput is a new or changed line of the price list; a nil Active keeps it as it is.
type WorkTypeInput struct {
	Name   string `json:"name"`
	Unit   string `json:"unit"`
	Price  int64  `json:"price"`
	Active *bool  `json:"active"`
}

// SaveWorkType adds (id 0) or changes a line of the price list (admins).
func (p *Portal) SaveWorkType(ctx context.Context, actor *User, id int64, w WorkTypeInput) (*WorkType, error) {
	if actor.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	if !p.Plan().Timing {
		return nil, ErrNoTiming
	}
	w.Name = Line(w.Name)
	errs := map[string]string{}
	if n := utf8.RuneCountInString(w.Name); n == 0 || n > 100 {
		errs["name"] = "Name the work (at most 100 characters)."
	}
	if w.Unit != UnitHour && w.Unit != UnitPiece {
		errs["unit"] = "Choose hour or piece."
	}
	if w.Price < 0 || w.Price > 100_000_000_00 {
		errs["price"] = "Enter a price of zero or more."
	}
	if len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	var err error
	if id == 0 {
		var res sql.Result
		res, err = p.q.Exec(ctx, "INSERT INTO work_types (name, unit, price, active) VALUES (?, ?, ?, 1)", w.Name, w.Unit, w.Price)
		if err == nil {
			id, _ = res.LastInsertId()
		}
	} else {
		var res sql.Result
		res, err = p.q.Exec(ctx, "UPDATE work_types SET name = ?, unit = ?, price = ?, active = COALESCE(?, active) WHERE id = ?", w.Name, w.Unit, w.Price, w.Active, id)
		if err == nil {
			if n, _ := res.RowsAffected(); n == 0 {
				return nil, ErrNotFound
			}
		}
	}
	if sqlitedb.IsUniqueViolation(err) {
		return nil, &FieldErrors{Fields: map[string]string{"name": "This work type exists."}}
	}
	if err != nil {
		return nil, err
	}
	return p.workType(ctx, id)
}

func (p *Portal) workType(ctx context.Context, id int64) (*WorkType, error) {
	var w WorkType
	err := p.q.QueryRow(ctx, "SELECT id, name, unit, price, active FROM work_types WHERE id = ?", id).Scan(&w.ID, &w.Name, &w.Unit, &w.Price, &w.Active)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &w, err
}

// ParseQuantity reads an amount of work into thousandths of the unit:
// "2", "1.5", "0,25", and for hours also "1:30" or "90m".
func ParseQuantity(s, unit string) (int64, bool) {
	s = strings.TrimSpace(strings.Replace(s, ",", ".", 1))
	if unit == UnitHour {
		if h, m, ok := strings.Cut(s, ":"); ok {
			hh, err1 := strconv.ParseInt(h, 10, 64)
			mm, err2 := strconv.ParseInt(m, 10, 64)
			if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm >= 60 {
				return 0, false
			}
			return hh*1000 + mm*1000/60, hh*1000+mm*1000/60 > 0
		}
		if m, ok := strings.CutSuffix(s, "m"); ok {
			mm, err := strconv.ParseInt(strings.TrimSpace(m), 10, 64)
			return mm * 1000 / 60, err == nil && mm > 0
		}
		s = strings.TrimSuffix(s, "h")
	}
	r, ok := new(big.Rat).SetString(strings.TrimSpace(s))
	if !ok || strings.ContainsAny(s, "/eE") || r.Sign() <= 0 {
		return 0, false
	}
	milli := new(big.Rat).Mul(r, big.NewRat(1000, 1))
	if !milli.IsInt() || milli.Num().BitLen() > 40 {
		return 0, false
	}
	return milli.Num().Int64(), true
}

// Cost is price × quantity in thousandths, rounded half up to a minor unit.
func Cost(price, quantityMilli int64) int64 {
	return (price*quantityMilli + 500) / 1000
}

// WorkEntry is work logged on a ticket.
type WorkEntry struct {
	ID        int64   `json:"id"`
	Ticket    int64   `json:"ticket"`
	Operator  Person  `json:"operator"`
	Client    *Person `json:"client,omitempty"`
	WorkType  string  `json:"work_type"`
	Unit      string  `json:"unit"`
	Quantity  string  `json:"quantity"`
	Price     int64   `json:"price"`
	Cost      int64   `json:"cost"`
	Date      string  `json:"date"`
	Comment   string  `json:"comment"`
	Visible   bool    `json:"visible"`
	CreatedAt int64   `json:"created_at"`
}

// NewWork is what an operator logs.
type NewWork struct {
	WorkType string `json:"work_type"` // id or name
	Quantity string `json:"quantity"`
	Date     string `json:"date"` // YYYY-MM-DD, today when empty
	Comment  string `json:"comment"`
	Visible  bool   `json:"visible"`
}

// FormatQuantity shows thousandths of a unit: 1500 → "1.5".
func FormatQuantity(milli int64) string {
	s := strconv.FormatInt(milli/1000, 10)
	if frac := milli % 1000; frac != 0 {
		s += "." + strings.TrimRight(fmt.Sprintf("%03d", frac), "0")
	}
	return s
}

// LogWork records work on a ticket (staff; a tariff feature).
func (p *Portal) LogWork(ctx context.Context, actor *User, number int64, in NewWork) (*WorkEntry, error) {
	if !actor.IsStaff() {
		if _, err := p.Ticket(ctx, actor, number); err != nil {
			return nil, err
		}
		return nil, ErrForbidden
	}
	if !p.Plan().Timing {
		return nil, ErrNoTiming
	}
	if err := p.writable(); err != nil {
		return nil, err
	}
	t, err := p.Ticket(ctx, actor, number)
	if err != nil {
		return nil, err
	}
	errs := map[string]string{}
	var wt *WorkType
	types, err := p.WorkTypes(ctx, false)
	if err != nil {
		return nil, err
	}
	for i := range types {
		if strconv.FormatInt(types[i].ID, 10) == strings.TrimSpace(in.WorkType) || strings.EqualFold(types[i].Name, strings.TrimSpace(in.WorkType)) {
			wt = &types[i]
		}
	}
	if wt == nil {
		errs["work_type"] = "Choose a type of work from the price list."
	}
	var qty int64
	if wt != nil {
		var ok bool
		if qty, ok = ParseQuantity(in.Quantity, wt.Unit); !ok {
			if wt.Unit == UnitHour {
				errs["quantity"] = "Enter hours, like 1.5 or 1:30."
			} else {
				errs["quantity"] = "Enter a number of pieces, like 2."
			}
		}
	}
	day := p.Now().UTC()
	if strings.TrimSpace(in.Date) != "" {
		d, err := time.Parse(time.DateOnly, strings.TrimSpace(in.Date))
		if err != nil || d.After(p.Now().Add(24*time.Hour)) {
			errs["date"] = "Enter the date of the work, not in the future, as YYYY-MM-DD."
		}
		day = d
	}
	in.Comment = Text(in.Comment)
	if utf8.RuneCountInString(in.Comment) > 1000 {
		errs["comment"] = "At most 1000 characters."
	}
	if len(errs) > 0 {
		return nil, &FieldErrors{Fields: errs}
	}
	cost := Cost(wt.Price, qty)
	var id int64
	err = p.Tx(ctx, func(tp *Portal) error {
		res, err := tp.q.Exec(ctx, `INSERT INTO work_entries (ticket_id, operator_id, client_id, work_type_id, quantity, price, cost, day, comment, visible, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, number, actor.ID, t.Client.ID, wt.ID, qty, wt.Price, cost, day.Unix()/86400, strings.TrimSpace(in.Comment), in.Visible, p.Now().Unix())
		if err != nil {
			return err
		}
		id, _ = res.LastInsertId()
		if _, err := tp.q.Exec(ctx, "UPDATE tickets SET work = work + 1 WHERE id = ?", number); err != nil {
			return err
		}
		if err := tp.workMonth(ctx, 1, "w.id = ?", id); err != nil {
			return err
		}
		return tp.emitTicket(ctx, HookWork, number, func(h *HookTicket) {
			h.Work = &WorkEntry{ID: id, Ticket: number, Operator: Person{ID: actor.ID, Name: actor.FullName()}, WorkType: wt.Name, Unit: wt.Unit,
				Quantity: FormatQuantity(qty), Price: wt.Price, Cost: cost, Date: day.Format(time.DateOnly), Comment: strings.TrimSpace(in.Comment), Visible: in.Visible, CreatedAt: p.Now().Unix()}
		})
	})
	if err != nil {
		return nil, err
	}
	return &WorkEntry{ID: id, Ticket: number, Operator: Person{ID: actor.ID, Name: actor.FullName()}, WorkType: wt.Name, Unit: wt.Unit,
		Quantity: FormatQuantity(qty), Price: wt.Price, Cost: cost, Date: day.Format(time.DateOnly), Comment: strings.TrimSpace(in.Comment), Visible: in.Visible, CreatedAt: p.Now().Unix()}, nil
}

// TicketWork is the work on a ticket that actor may see, with totals.
type TicketWork struct {
	Entries      []WorkEntry `json:"entries"`
	VisibleTotal int64       `json:"visible_total"`
	Total        int64       `json:"total,omitempty"` // all work, for staff
}

const workSelect = `SELECT w.id, w.ticket_id, u.id, u.name || CASE WHEN u.surname <> '' THEN ' ' || u.surname ELSE '' END, wt.name, wt.unit, w.quantity, w.price, w.cost, w.day, w.comment, w.visible, w.created_at
	FROM work_entries w JOIN users u ON u.id = w.operator_id JOIN work_types wt ON wt.id = w.work_type_id`

func scanWork(rows *sql.Rows) (WorkEntry, error) {
	var e WorkEntry
	var qty, day int64
	err := rows.Scan(&e.ID, &e.Ticket, &e.Operator.ID, &e.Operator.Name, &e.WorkType, &e.Unit, &qty, &e.Price, &e.Cost, &day, &e.Comment, &e.Visible, &e.CreatedAt)
	e.Quantity = FormatQuantity(qty)
	e.Date = time.Unix(day*86400, 0).UTC().Format(time.DateOnly)
	return e, err
}

// WorkOn lists a ticket's work: everything for staff, only what was marked
// visible for its client.
func (p *Portal) WorkOn(ctx context.Context, actor *User, number int64) (*TicketWork, error) {
	if _, err := p.Ticket(ctx, actor, number); err != nil {
		return nil, err
	}
	return p.workOn(ctx, actor, number)
}

// workOn is WorkOn once the caller has checked that actor may see the ticket.
func (p *Portal) workOn(ctx context.Context, actor *User, number int64) (*TicketWork, error) {
	q := workSelect + " WHERE w.ticket_id = ?"
	if !actor.IsStaff() {
		q += " AND w.visible = 1"
	}
	rows, err := p.q.Query(ctx, q+" ORDER BY w.day, w.id", number)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	tw := &TicketWork{Entries: []WorkEntry{}}
	for rows.Next() {
		e, err := scanWork(rows)
		if err != nil {
			return nil, err
		}
		tw.Entries = append(tw.Entries, e)
		if e.Visible {
			tw.VisibleTotal += e.Cost
		}
		if actor.IsStaff() {
			tw.Total += e.Cost
		}
	}
	return tw, rows.Err()
}
