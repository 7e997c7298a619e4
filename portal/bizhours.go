package portal

import (
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Business hours: when the business works, for the SLA clocks. A week of
// opening hours in the business's time zone, holidays, and the weekend
// days that are worked instead (the Russian production calendar moves
// working days every year). Until the admin sets them, every hour counts.

// BusinessHours is the portal's working time as the admin sets it.
type BusinessHours struct {
	TimeZone string            `json:"time_zone"` // IANA, like Europe/Moscow
	Week     map[string][]Span `json:"week"`      // mon … sun: the day's opening hours
	Holidays []string          `json:"holidays"`  // days off (YYYY-MM-DD), working days included
	Workdays []string          `json:"workdays"`  // weekend days worked (YYYY-MM-DD), with the hours of the first working weekday
}

// Span is one stretch of opening hours in a day, "09:00" to "18:00".
type Span struct {
	From string `json:"from"`
	To   string `json:"to"`
}

var weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"} // time.Weekday order

// calendar is BusinessHours ready for arithmetic: spans in minutes of the
// day; nil when every hour counts.
type calendar struct {
	loc      *time.Location
	week     [7][][2]int
	workday  [][2]int
	holidays map[string]bool
	workdays map[string]bool
}

func parseClock(s string) (int, bool) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || (hh == 24 && mm != 0) {
		return 0, false
	}
	return hh*60 + mm, true
}

// compile checks the hours and makes their calendar; errs are keyed by
// field ("time_zone", "week.mon", "holidays", "workdays").
func (b BusinessHours) compile() (*calendar, map[string]string) {
	errs := map[string]string{}
	c := &calendar{holidays: map[string]bool{}, workdays: map[string]bool{}}
	var err error
	if c.loc, err = time.LoadLocation(cmp.Or(b.TimeZone, "UTC")); err != nil {
		errs["time_zone"] = "Choose a time zone like Europe/Moscow."
	}
	open := false
	for i, d := range weekdays {
		var spans [][2]int
		for _, s := range b.Week[d] {
			from, ok1 := parseClock(s.From)
			to, ok2 := parseClock(s.To)
			if !ok1 || !ok2 || from >= to {
				errs["week."+d] = "Enter hours like 09:00–18:00, the end after the start."
				break
			}
			if len(spans) > 0 && from < spans[len(spans)-1][1] {
				errs["week."+d] = "The day's hours overlap or are out of order."
				break
			}
			spans = append(spans, [2]int{from, to})
		}
		c.week[i] = spans
		open = open || len(spans) > 0
		if c.workday == nil && i >= 1 && i <= 5 && len(spans) > 0 {
			c.workday = spans
		}
	}
	if !open {
		errs["week"] = "Open on at least one day."
	}
	for key, list := range map[string][]string{"holidays": b.Holidays, "workdays": b.Workdays} {
		if len(list) > 400 {
			errs[key] = "At most 400 days."
		}
		for _, d := range list {
			if _, err := time.Parse(time.DateOnly, strings.TrimSpace(d)); err != nil {
				errs[key] = fmt.Sprintf("%q is not a date like 2026-01-07.", d)
				break
			}
			if key == "holidays" {
				c.holidays[strings.TrimSpace(d)] = true
			} else {
				c.workdays[strings.TrimSpace(d)] = true
			}
		}
	}
	if c.workday == nil {
		c.workday = [][2]int{{9 * 60, 18 * 60}}
	}
	return c, errs
}

// spans are the opening hours of the day that day's date is in.
func (c *calendar) spans(day time.Time) [][2]int {
	key := day.Format(time.DateOnly)
	switch {
	case c.holidays[key]:
		return nil
	case c.workdays[key]:
		return c.workday
	}
	return c.week[day.Weekday()]
}

// calendarHorizon bounds how far the arithmetic looks for working time.
const calendarHorizon = 3 * 366

// add is the moment d of working time after start (start itself when d is
// zero or less).
func (c *calendar) add(start time.Time, d time.Duration) time.Time {
	if c == nil {
		return start.Add(d)
	}
	if d <= 0 {
		return start
	}
	t := start.In(c.loc)
	y, m, dd := t.Date()
	for i := 0; i < calendarHorizon; i++ {
		day := time.Date(y, m, dd+i, 0, 0, 0, 0, c.loc)
		for _, s := range c.spans(day) {
			from := time.Date(day.Year(), day.Month(), day.Day(), 0, s[0], 0, 0, c.loc)
			to := time.Date(day.Year(), day.Month(), day.Day(), 0, s[1], 0, 0, c.loc)
			if !to.After(t) {
				continue
			}
			if from.Before(t) {
				from = t
			}
			if left := to.Sub(from); d <= left {
				return from.Add(d)
			} else {
				d -= left
			}
		}
	}
	return start.Add(calendarHorizon * 24 * time.Hour)
}

// between is the working time from a to b.
func (c *calendar) between(a, b time.Time) time.Duration {
	if !b.After(a) {
		return 0
	}
	if c == nil {
		return b.Sub(a)
	}
	a, b = a.In(c.loc), b.In(c.loc)
	var sum time.Duration
	y, m, dd := a.Date()
	for i := 0; i < calendarHorizon; i++ {
		day := time.Date(y, m, dd+i, 0, 0, 0, 0, c.loc)
		if !day.Before(b) {
			break
		}
		for _, s := range c.spans(day) {
			from := time.Date(day.Year(), day.Month(), day.Day(), 0, s[0], 0, 0, c.loc)
			to := time.Date(day.Year(), day.Month(), day.Day(), 0, s[1], 0, 0, c.loc)
			if from.Before(a) {
				from = a
			}
			if to.After(b) {
				to = b
			}
			if to.After(from) {
				sum += to.Sub(from)
			}
		}
	}
	return sum
}

// BusinessHours reads the portal's working time (nil: every hour counts).
func (p *Portal) BusinessHours(ctx context.Context) *BusinessHours {
	raw := p.Setting(ctx, "business_hours", "")
	if raw == "" {
		return nil
	}
	var b BusinessHours
	if json.Unmarshal([]byte(raw), &b) != nil {
		return nil
	}
	return &b
}

// workCalendar is the portal's calendar for the arithmetic (nil: every
// hour counts).
func (p *Portal) workCalendar(ctx context.Context) *calendar {
	b := p.BusinessHours(ctx)
	if b == nil {
		return nil
	}
	c, errs := b.compile()
	if len(errs) > 0 {
		return nil
	}
	return c
}

// SaveBusinessHours sets the portal's working time (nil: every hour
// counts). Admins only. Days are kept sorted, each once.
func (p *Portal) SaveBusinessHours(ctx context.Context, actor *User, b *BusinessHours) error {
	if actor.Role != RoleAdmin {
		return ErrForbidden
	}
	save := func(raw string) error {
		// The open tickets' clocks follow the new hours at once.
		return p.Tx(ctx, func(tp *Portal) error {
			if err := tp.SetSetting(ctx, "business_hours", raw); err != nil {
				return err
			}
			return tp.slaReset(ctx)
		})
	}
	if b == nil {
		return save("")
	}
	if _, errs := b.compile(); len(errs) > 0 {
		return &FieldErrors{Fields: errs}
	}
	for _, l := range []*[]string{&b.Holidays, &b.Workdays} {
		for i := range *l {
			(*l)[i] = strings.TrimSpace((*l)[i])
		}
		slices.Sort(*l)
		*l = slices.Compact(*l)
	}
	raw, err := json.Marshal(b)
	if err != nil {
		return err
	}
	return save(string(raw))
}

// The Russian production calendar: each year's holidays and the weekend
// days worked instead, as the government's decree moves them.
//
//go:embed calendars/ru.json
var ruCalendarJSON []byte

// ProductionCalendar is a year of the bundled Russian production calendar.
type ProductionCalendar struct {
	Holidays []string `json:"holidays"`
	Workdays []string `json:"workdays"`
}

// ProductionYears lists the years the bundled calendar has.
func ProductionYears() []int {
	var all map[string]ProductionCalendar
	_ = json.Unmarshal(ruCalendarJSON, &all)
	var out []int
	for y := range all {
		if n, err := strconv.Atoi(y); err == nil {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// ImportProductionCalendar adds a year of the Russian production calendar
// to the portal's business hours (which must be set): its holidays and
// moved working days, beside the admin's own. Admins only.
func (p *Portal) ImportProductionCalendar(ctx context.Context, actor *User, year int) (*BusinessHours, error) {
	if actor.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	var all map[string]ProductionCalendar
	if err := json.Unmarshal(ruCalendarJSON, &all); err != nil {
		return nil, err
	}
	cal, ok := all[strconv.Itoa(year)]
	if !ok {
		return nil, &FieldErrors{Fields: map[string]string{"year": fmt.Sprintf("The bundled calendar has the years %v.", ProductionYears())}}
	}
	b := p.BusinessHours(ctx)
	if b == nil {
		return nil, &FieldErrors{Fields: map[string]string{"year": "Set the working hours first."}}
	}
	b.Holidays = append(b.Holidays, cal.Holidays...)
	b.Workdays = append(b.Workdays, cal.Workdays...)
	if err := p.SaveBusinessHours(ctx, actor, b); err != nil {
		return nil, err
	}
	return p.BusinessHours(ctx), nil
}
