package portal

import (
	"testing"
	"time"
)

// TestBusinessHoursArithmetic: working time added and measured across
// evenings, lunch breaks, weekends, holidays, a moved working day, a
// change of clocks, and a time zone, each answer worked out by hand.
func TestBusinessHoursArithmetic(t *testing.T) {
	nine := []Span{{"09:00", "18:00"}}
	week := func(spans []Span) map[string][]Span {
		return map[string][]Span{"mon": spans, "tue": spans, "wed": spans, "thu": spans, "fri": spans}
	}
	moscow := BusinessHours{TimeZone: "Europe/Moscow", Week: week(nine),
		Holidays: []string{"2026-12-31", "2027-01-01"}, Workdays: []string{"2027-01-02"}}
	lunch := BusinessHours{TimeZone: "Europe/Moscow", Week: week([]Span{{"09:00", "13:00"}, {"14:00", "18:00"}})}
	berlin := BusinessHours{TimeZone: "Europe/Berlin", Week: week(nine)}
	msk := time.FixedZone("MSK", 3*3600)
	at := func(loc *time.Location, s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cest := time.FixedZone("CEST", 2*3600)
	cet := time.FixedZone("CET", 3600)
	for _, c := range []struct {
		name  string
		hours *BusinessHours
		start time.Time
		add   time.Duration
		want  time.Time
	}{
		{"within a day", &moscow, at(msk, "2026-11-30 10:00"), 4 * time.Hour, at(msk, "2026-11-30 14:00")},
		{"over the night", &moscow, at(msk, "2026-11-30 17:00"), 2 * time.Hour, at(msk, "2026-12-01 10:00")},
		{"before opening", &moscow, at(msk, "2026-12-01 07:00"), 30 * time.Minute, at(msk, "2026-12-01 09:30")},
		{"over the weekend", &moscow, at(msk, "2026-12-04 17:30"), time.Hour, at(msk, "2026-12-07 09:30")},
		{"from a Saturday", &moscow, at(msk, "2026-12-05 12:00"), time.Hour, at(msk, "2026-12-07 10:00")},
		{"holidays, then a worked Saturday", &moscow, at(msk, "2026-12-30 17:00"), 2 * time.Hour, at(msk, "2027-01-02 10:00")},
		{"a whole working week", &moscow, at(msk, "2026-11-30 09:00"), 45 * time.Hour, at(msk, "2026-12-04 18:00")},
		{"over lunch", &lunch, at(msk, "2026-11-30 12:30"), time.Hour, at(msk, "2026-11-30 14:30")},
		{"starting at lunch", &lunch, at(msk, "2026-11-30 13:20"), 10 * time.Minute, at(msk, "2026-11-30 14:10")},
		{"over the change to summer time", &berlin, at(cet, "2026-03-27 17:00"), 2 * time.Hour, at(cest, "2026-03-30 10:00")},
		{"the same moment seen from UTC", &berlin, at(time.UTC, "2026-03-27 16:00"), 2 * time.Hour, at(time.UTC, "2026-03-30 08:00")},
		{"every hour counts", nil, at(msk, "2026-12-05 23:00"), 90 * time.Minute, at(msk, "2026-12-06 00:30")},
	} {
		var cal *calendar
		if c.hours != nil {
			var errs map[string]string
			if cal, errs = c.hours.compile(); len(errs) > 0 {
				t.Fatalf("%s: %v", c.name, errs)
			}
		}
		if got := cal.add(c.start, c.add); !got.Equal(c.want) {
			t.Errorf("%s: %s + %s = %s, want %s", c.name, c.start, c.add, got, c.want)
		}
		if got := cal.between(c.start, c.want); got != c.add {
			t.Errorf("%s: between = %s, want %s", c.name, got, c.add)
		}
	}
	for _, bad := range []struct {
		b     BusinessHours
		field string
	}{
		{BusinessHours{TimeZone: "Mars/Olympus", Week: week(nine)}, "time_zone"},
		{BusinessHours{Week: map[string][]Span{"mon": {{"18:00", "09:00"}}}}, "week.mon"},
		{BusinessHours{Week: map[string][]Span{"mon": {{"09:00", "13:00"}, {"12:00", "18:00"}}}}, "week.mon"},
		{BusinessHours{}, "week"},
		{BusinessHours{Week: week(nine), Holidays: []string{"31.12.2026"}}, "holidays"},
	} {
		if _, errs := bad.b.compile(); errs[bad.field] == "" {
			t.Errorf("%+v: no error at %s (%v)", bad.b, bad.field, errs)
		}
	}
}
