package portal_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"maps"
	"math/rand"
	"strings"
	"testing"
	"time"
	"unicode"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
	"portaldesk/provisioner"
)

func TestCostArithmetic(t *testing.T) {
	for _, c := range []struct {
		s, unit string
		milli   int64
		ok      bool
	}{{"1.5", "hour", 1500, true}, {"1:30", "hour", 1500, true}, {"90m", "hour", 1500, true}, {"0,25", "hour", 250, true}, {"2h", "hour", 2000, true},
		{"2", "piece", 2000, true}, {"0.001", "piece", 1, true}, {"0.0001", "piece", 0, false}, {"1/3", "hour", 0, false}, {"-1", "hour", 0, false},
		{"0", "piece", 0, false}, {"1:75", "hour", 0, false}, {"abc", "piece", 0, false}} {
		got, ok := portal.ParseQuantity(c.s, c.unit)
		if ok != c.ok || got != c.milli {
			t.Errorf("ParseQuantity(%q, %s) = %d, %v; want %d, %v", c.s, c.unit, got, ok, c.milli, c.ok)
		}
	}
	for _, c := range []struct{ price, milli, want int64 }{{1500_00, 1500, 2250_00}, {333, 333, 111}, {1, 500, 1}, {1, 499, 0}, {999_99, 2000, 1999_98}} {
		if got := portal.Cost(c.price, c.milli); got != c.want {
			t.Errorf("Cost(%d, %d) = %d, want %d", c.price, c.milli, got, c.want)
		}
	}
	if portal.FormatQuantity(1500) != "1.5" || portal.FormatQuantity(2000) != "2" || portal.FormatQuantity(1) != "0.001" {
		t.Error("FormatQuantity")
	}
}

// insightWorld is a business-tariff portal on a settable clock with two
// operators, two clients and a price list.
type insightWorld struct {
	*world
	clk *clock
	op2 string
}

func newInsightWorld(t *testing.T) *insightWorld {
	clk := &clock{t: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)}
	e := pdtest.New(t, provisioner.Config{})
	e.Svc.SetClock(clk.Now)
	e.Create(t, "alpha")
	e.SetPlan(t, "alpha", "business", 5, 0, 0)
	e.AddUser(t, "alpha", "op@alpha.test", "Oleg", portal.RoleOperator)
	e.AddUser(t, "alpha", "op2@alpha.test", "Pavel", portal.RoleOperator)
	e.AddUser(t, "alpha", "ca@alpha.test", "Carol", portal.RoleClient)
	e.AddUser(t, "alpha", "cb@alpha.test", "Boris", portal.RoleClient)
	w := &world{e: e, admin: e.Login(t, "alpha", "admin@alpha.test"), op: e.Login(t, "alpha", "op@alpha.test"),
		ca: e.Login(t, "alpha", "ca@alpha.test"), cb: e.Login(t, "alpha", "cb@alpha.test")}
	for _, wt := range []map[string]any{{"name": "Consultation", "unit": "hour", "price": 1500_00}, {"name": "Cartridge", "unit": "piece", "price": 450_50}} {
		if r := w.api(t, w.admin, "POST", "/work-types", wt); r.Status != 201 {
			t.Fatalf("work type: %d %s", r.Status, r.Body)
		}
	}
	return &insightWorld{world: w, clk: clk, op2: e.Login(t, "alpha", "op2@alpha.test")}
}

func (w *insightWorld) ticket(t *testing.T, client string) int64 {
	r := w.api(t, client, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "S", "description": "D"}})
	if r.Status != 201 {
		t.Fatal(r.Status, r.Body)
	}
	return int64(r.JSON(t)["number"].(float64))
}

func (w *insightWorld) log(t *testing.T, tok string, n int64, body map[string]any) {
	t.Helper()
	if r := w.api(t, tok, "POST", fmt.Sprintf("/tickets/%d/work", n), body); r.Status != 201 {
		t.Fatalf("log work: %d %s", r.Status, r.Body)
	}
}

func TestWorkIsVisibleToClientsOnlyWhenMarked(t *testing.T) {
	w := newInsightWorld(t)
	n := w.ticket(t, w.ca)
	w.log(t, w.op, n, map[string]any{"work_type": "Consultation", "quantity": "1:30", "visible": true, "comment": "Remote session"})
	w.log(t, w.op, n, map[string]any{"work_type": "Cartridge", "quantity": 2, "comment": "INTERNAL-COST"})
	staff := w.api(t, w.op, "GET", fmt.Sprintf("/tickets/%d/work", n), nil).JSON(t)
	if len(staff["entries"].([]any)) != 2 || staff["total"].(float64) != 2250_00+901_00 || staff["visible_total"].(float64) != 2250_00 {
		t.Fatalf("staff view: %v", staff)
	}
	client := w.api(t, w.ca, "GET", fmt.Sprintf("/tickets/%d/work", n), nil)
	if strings.Contains(client.Body, "INTERNAL-COST") || strings.Contains(client.Body, `"total"`) || client.JSON(t)["visible_total"].(float64) != 2250_00 {
		t.Fatalf("client view: %s", client.Body)
	}
	page := pdtest.Do(t, w.e.SignIn(t, "alpha", "ca@alpha.test"), "GET", fmt.Sprintf("%s/alpha/tickets/%d", w.e.URL, n), nil)
	if !strings.Contains(page.Body, "Remote session") || strings.Contains(page.Body, "INTERNAL-COST") || !strings.Contains(page.Body, "2,250.00") {
		t.Fatal("the client's ticket page shows the wrong work")
	}
	if r := w.api(t, w.cb, "GET", fmt.Sprintf("/tickets/%d/work", n), nil); r.Status != 404 {
		t.Fatalf("another client: %d", r.Status)
	}
	if r := w.api(t, w.ca, "POST", fmt.Sprintf("/tickets/%d/work", n), map[string]any{"work_type": "Consultation", "quantity": 1}); r.Status != 403 {
		t.Fatalf("a client logs work: %d", r.Status)
	}
	if r := w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/work", n), map[string]any{"work_type": "Nope", "quantity": "x"}); r.Status != 422 {
		t.Fatalf("bad work: %d", r.Status)
	}
	// A price change keeps the old cost.
	w.api(t, w.admin, "PATCH", "/work-types/1", map[string]any{"name": "Consultation", "unit": "hour", "price": 9999_00})
	if got := w.api(t, w.op, "GET", fmt.Sprintf("/tickets/%d/work", n), nil).JSON(t)["total"].(float64); got != 2250_00+901_00 {
		t.Fatalf("total after a price change: %v", got)
	}
	// Timing is a tariff feature.
	w.e.SetPlan(t, "alpha", "start", 5, 0, 0)
	if r := w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/work", n), map[string]any{"work_type": "Cartridge", "quantity": 1}); r.Status != 403 {
		t.Fatalf("timing on Start: %d", r.Status)
	}
	if r := w.api(t, w.op, "GET", "/reports/labour", nil); r.Status != 403 {
		t.Fatalf("report on Start: %d", r.Status)
	}
}

func TestLabourReportTotals(t *testing.T) {
	w := newInsightWorld(t)
	a, b := w.ticket(t, w.ca), w.ticket(t, w.cb)
	// Hand-computed: Consultation 1500.00/h, Cartridge 450.50/piece.
	w.log(t, w.op, a, map[string]any{"work_type": "Consultation", "quantity": "2", "date": "2026-05-01"})     // 3000.00
	w.log(t, w.op, a, map[string]any{"work_type": "Cartridge", "quantity": "3", "date": "2026-05-02"})        // 1351.50
	w.log(t, w.op2, b, map[string]any{"work_type": "Consultation", "quantity": "0:20", "date": "2026-05-02"}) // 0.333 h → 499.50
	w.log(t, w.op2, b, map[string]any{"work_type": "Cartridge", "quantity": "1", "date": "2026-04-20"})       // outside the period
	r := w.api(t, w.admin, "GET", "/reports/labour?from=2026-05-01&to=2026-05-04", nil)
	if r.Status != 200 {
		t.Fatal(r.Status, r.Body)
	}
	rep := r.JSON(t)
	if rep["total"].(float64) != 3000_00+1351_50+499_50 || rep["entries_count"].(float64) != 3 {
		t.Fatalf("total %v, entries %v", rep["total"], rep["entries_count"])
	}
	sums := func(key string) map[string]float64 {
		m := map[string]float64{}
		for _, x := range rep[key].([]any) {
			row := x.(map[string]any)
			m[row["key"].(string)] = row["cost"].(float64)
		}
		return m
	}
	if got := sums("by_operator"); got["Oleg"] != 4351_50 || got["Pavel"] != 499_50 {
		t.Errorf("by operator: %v", got)
	}
	if got := sums("by_client"); got["Carol"] != 4351_50 || got["Boris"] != 499_50 {
		t.Errorf("by client: %v", got)
	}
	if got := sums("by_work_type"); got["Consultation"] != 3499_50 || got["Cartridge"] != 1351_50 {
		t.Errorf("by work type: %v", got)
	}
	if got := sums("by_period"); got["2026-05-01"] != 3000_00 || got["2026-05-02"] != 1851_00 {
		t.Errorf("by day: %v", got)
	}
	// Drill-down and CSV agree.
	if r := w.api(t, w.admin, "GET", "/reports/labour?from=2026-05-01&to=2026-05-04&operator=3", nil).JSON(t); r["total"].(float64) != 499_50 {
		t.Errorf("drill-down to Pavel: %v", r["total"])
	}
	c := w.api(t, w.admin, "GET", "/reports/labour?from=2026-05-01&to=2026-05-04&format=csv&table=operators", nil)
	rows, err := csv.NewReader(strings.NewReader(c.Body)).ReadAll()
	if err != nil || len(rows) != 3 || rows[1][0] != "Oleg" || rows[1][3] != "4351.50" {
		t.Fatalf("csv: %v %v", rows, err)
	}
	// A period with a whole month reads that month from the monthly totals: the same sums.
	whole := w.api(t, w.admin, "GET", "/reports/labour?from=2026-04-01&to=2026-05-04&by=month", nil).JSON(t)
	if whole["total"].(float64) != 3000_00+1351_50+499_50+450_50 || whole["entries_count"].(float64) != 4 {
		t.Fatalf("with April: %v %v", whole["total"], whole["entries_count"])
	}
	per := map[string]float64{}
	for _, x := range whole["by_period"].([]any) {
		per[x.(map[string]any)["key"].(string)] = x.(map[string]any)["cost"].(float64)
	}
	if per["2026-04"] != 450_50 || per["2026-05"] != 4851_00 {
		t.Fatalf("by month: %v", per)
	}
	for _, x := range whole["by_operator"].([]any) {
		if r := x.(map[string]any); r["key"] == "Pavel" && (r["cost"].(float64) != 950_00 || r["quantity"] != "0.333 hour, 1 piece") {
			t.Fatalf("Pavel with April: %v", r)
		}
	}
	// Deleting a ticket takes its work out of the totals too.
	w.api(t, w.admin, "DELETE", fmt.Sprintf("/tickets/%d", b), nil)
	if got := w.api(t, w.admin, "GET", "/reports/labour?from=2026-04-01&to=2026-05-04", nil).JSON(t)["total"].(float64); got != 3000_00+1351_50 {
		t.Fatalf("after deleting a ticket: %v", got)
	}
	if r := w.api(t, w.ca, "GET", "/reports/labour", nil); r.Status != 403 {
		t.Fatalf("a client reads the report: %d", r.Status)
	}
}

func TestRatingsOnlyByTheClientAfterClosure(t *testing.T) {
	w := newInsightWorld(t)
	n := w.ticket(t, w.ca)
	path := fmt.Sprintf("/tickets/%d/rating", n)
	if r := w.api(t, w.ca, "POST", path, map[string]any{"score": 5}); r.Status != 422 {
		t.Fatalf("rating an open ticket: %d", r.Status)
	}
	w.api(t, w.op, "PATCH", fmt.Sprintf("/tickets/%d", n), map[string]any{"assignee": "me", "status": "Closed"})
	if r := w.api(t, w.op, "POST", path, map[string]any{"score": 5}); r.Status != 403 {
		t.Fatalf("an operator rates: %d", r.Status)
	}
	if r := w.api(t, w.cb, "POST", path, map[string]any{"score": 1}); r.Status != 404 {
		t.Fatalf("another client rates: %d", r.Status)
	}
	if r := w.api(t, w.ca, "POST", path, map[string]any{"score": 6}); r.Status != 422 {
		t.Fatalf("score 6: %d", r.Status)
	}
	if r := w.api(t, w.ca, "POST", path, map[string]any{"score": 4, "comment": "Quick"}); r.Status != 200 {
		t.Fatalf("rate: %d %s", r.Status, r.Body)
	}
	w.clk.Add(6 * 24 * time.Hour)
	if r := w.api(t, w.ca, "POST", path, map[string]any{"score": 5, "comment": "Even better"}); r.Status != 200 {
		t.Fatalf("change within 7 days: %d", r.Status)
	}
	w.clk.Add(2 * 24 * time.Hour)
	if r := w.api(t, w.ca, "POST", path, map[string]any{"score": 1}); r.Status != 422 {
		t.Fatalf("change after 7 days: %d", r.Status)
	}
	if got := w.api(t, w.op, "GET", path, nil).JSON(t)["rating"].(map[string]any); got["score"].(float64) != 5 {
		t.Fatalf("the operator sees %v", got)
	}
	page := pdtest.Do(t, w.e.SignIn(t, "alpha", "op@alpha.test"), "GET", w.e.URL+"/alpha"+fmt.Sprintf("/tickets/%d", n), nil)
	if !strings.Contains(page.Body, "5 of 5") || !strings.Contains(page.Body, "Even better") {
		t.Fatal("the rating is not on the ticket page")
	}
	st := w.api(t, w.admin, "GET", "/stats?from=2026-05-01&to=2026-05-31", nil).JSON(t)
	if st["ratings"].(float64) != 1 || st["average_rating"].(float64) != 5 {
		t.Fatalf("stats ratings: %v %v", st["ratings"], st["average_rating"])
	}
}

func TestStatistics(t *testing.T) {
	w := newInsightWorld(t)
	// Day 1: two tickets; the operator answers one after 30 min and closes it after 2 h.
	a, b := w.ticket(t, w.ca), w.ticket(t, w.cb)
	w.api(t, w.op, "PATCH", fmt.Sprintf("/tickets/%d", a), map[string]any{"assignee": "me"})
	w.clk.Add(30 * time.Minute)
	w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/messages", a), map[string]any{"body": "On it"})
	w.clk.Add(90 * time.Minute)
	w.api(t, w.op, "PATCH", fmt.Sprintf("/tickets/%d", a), map[string]any{"status": "Resolved"})
	// Day 3: one more; b is still open.
	w.clk.Add(48 * time.Hour)
	w.ticket(t, w.ca)
	_ = b
	r := w.api(t, w.admin, "GET", "/stats?from=2026-05-04&to=2026-05-06&by=day", nil)
	if r.Status != 200 {
		t.Fatal(r.Status, r.Body)
	}
	st := r.JSON(t)
	dyn := st["dynamics"].([]any)
	want := [][3]float64{{2, 1, 1}, {0, 0, 1}, {1, 0, 2}}
	for i, p := range dyn {
		m := p.(map[string]any)
		if got := [3]float64{m["created"].(float64), m["resolved"].(float64), m["open"].(float64)}; got != want[i] {
			t.Errorf("day %d: %v, want %v", i, got, want[i])
		}
	}
	for _, x := range st["operators"].([]any) {
		o := x.(map[string]any)
		if o["name"] == "Oleg" && (o["taken"].(float64) != 1 || o["resolved"].(float64) != 1 || o["median_first_response_s"].(float64) != 1800 || o["median_resolution_s"].(float64) != 7200) {
			t.Errorf("Oleg: %v", o)
		}
	}
	if r := w.api(t, w.op, "GET", "/stats", nil); r.Status != 403 {
		t.Fatalf("an operator reads statistics: %d", r.Status)
	}
	if r := w.api(t, w.admin, "GET", "/stats?from=2026-05-09&to=2026-05-01", nil); r.Status != 422 {
		t.Fatalf("backwards period: %d", r.Status)
	}
	c := w.api(t, w.admin, "GET", "/stats?from=2026-05-04&to=2026-05-06&format=csv", nil)
	if !strings.HasPrefix(c.Body, "day,created,resolved,open\n2026-05-04,2,1,1") {
		t.Fatalf("csv: %q", c.Body)
	}
	page := pdtest.Do(t, w.e.SignIn(t, "alpha", "admin@alpha.test"), "GET", w.e.URL+"/alpha/stats?from=2026-05-04&to=2026-05-06", nil)
	if !strings.Contains(page.Body, "<svg") || !strings.Contains(page.Body, "Oleg") {
		t.Fatal("no chart on the statistics page")
	}
	_ = context.Background()
}

// TestDerivedDataMatchesARebuild: the search documents, the monthly work
// totals and each ticket's count of work entries, kept by the code that writes tickets, messages and work
// (index.go), equal what a rebuild from the rows gives, after every kind of
// write: tickets, messages, notes, events, work, a deleted ticket, and the
// demo seed.
func TestDerivedDataMatchesARebuild(t *testing.T) {
	w := newInsightWorld(t)
	a, b, c := w.ticket(t, w.ca), w.ticket(t, w.cb), w.ticket(t, w.ca)
	for i, n := range []int64{a, b, c, a} {
		w.api(t, w.ca, "POST", fmt.Sprintf("/tickets/%d/messages", n), map[string]any{"body": fmt.Sprintf("client says %d", i)})
		w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/messages", n), map[string]any{"body": fmt.Sprintf("private %d", i), "internal": true})
		w.api(t, w.op, "PATCH", fmt.Sprintf("/tickets/%d", n), map[string]any{"assignee": "me"})
	}
	w.log(t, w.op, a, map[string]any{"work_type": "Consultation", "quantity": "2", "date": "2026-05-01", "visible": true})
	w.log(t, w.op2, b, map[string]any{"work_type": "Cartridge", "quantity": "3", "date": "2026-04-02"})
	w.log(t, w.op, b, map[string]any{"work_type": "Consultation", "quantity": "0:20", "date": "2026-05-02"})
	w.log(t, w.op2, c, map[string]any{"work_type": "Cartridge", "quantity": "1", "date": "2026-05-02", "visible": true})
	if r := w.api(t, w.admin, "DELETE", fmt.Sprintf("/tickets/%d", b), nil); r.Status >= 300 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	ctx := context.Background()
	check := func(p *portal.Portal, when string) {
		t.Helper()
		// The documents a rebuild writes, by rowid.
		want := map[int64]string{}
		rows, err := p.DB.Writer().QueryContext(ctx, `SELECT t.id * 2, t.subject || ' ' || t.description || COALESCE(' ' || (SELECT group_concat(body, ' ') FROM messages WHERE ticket_id = t.id AND kind = 'message'), '') ||
				COALESCE(' ' || (SELECT group_concat(value, ' ') FROM ticket_values WHERE ticket_id = t.id), '') FROM tickets t
				UNION ALL SELECT ticket_id * 2 + 1, group_concat(body, ' ') FROM messages WHERE kind = 'note' GROUP BY ticket_id`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int64
			var body string
			rows.Scan(&id, &body)
			want[id] = body
		}
		rows.Close()
		// The index is contentless: ask it, word by word, which documents hold each.
		words := map[string]map[int64]bool{}
		for id, body := range want {
			for _, w := range strings.FieldsFunc(strings.ToLower(body), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
				if words[w] == nil {
					words[w] = map[int64]bool{}
				}
				words[w][id] = true
			}
		}
		for w, docs := range words {
			got := map[int64]bool{}
			rows, err := p.DB.Writer().QueryContext(ctx, `SELECT rowid FROM search WHERE search MATCH ?`, `"`+w+`"`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var id int64
				rows.Scan(&id)
				got[id] = true
			}
			rows.Close()
			if !maps.Equal(got, docs) {
				t.Errorf("%s: %q is in documents %v, a rebuild has it in %v", when, w, got, docs)
			}
		}
		var n int
		p.DB.Writer().QueryRowContext(ctx, "SELECT COUNT(*) FROM search_docsize").Scan(&n)
		if n != len(want) {
			t.Errorf("%s: %d search documents, a rebuild has %d", when, n, len(want))
		}
		var bad int
		err = p.DB.Writer().QueryRowContext(ctx, `SELECT COUNT(*) FROM (
				SELECT month, dim, key, entries, hours, pieces, cost, visible FROM work_month WHERE entries <> 0
				EXCEPT SELECT CAST(strftime('%Y%m', w.day * 86400, 'unixepoch') AS INTEGER), d.dim, CASE d.dim WHEN 'operator' THEN w.operator_id WHEN 'client' THEN w.client_id WHEN 'type' THEN w.work_type_id ELSE w.day END,
					COUNT(*), SUM(CASE WHEN wt.unit = 'hour' THEN w.quantity ELSE 0 END), SUM(CASE WHEN wt.unit = 'piece' THEN w.quantity ELSE 0 END),
					SUM(w.cost), SUM(CASE WHEN w.visible THEN w.cost ELSE 0 END)
				FROM work_entries w JOIN work_types wt ON wt.id = w.work_type_id,
					(SELECT 'operator' AS dim UNION ALL SELECT 'client' UNION ALL SELECT 'type' UNION ALL SELECT 'all') d
				GROUP BY 1, 2, 3)`).Scan(&bad)
		if err != nil || bad != 0 {
			t.Errorf("%s: work_month differs from a rebuild in %d rows (%v)", when, bad, err)
		}
		var wrongCounts int
		p.DB.Writer().QueryRowContext(ctx, "SELECT COUNT(*) FROM tickets t WHERE work <> (SELECT COUNT(*) FROM work_entries WHERE ticket_id = t.id)").Scan(&wrongCounts)
		if wrongCounts != 0 {
			t.Errorf("%s: %d tickets count their work entries wrong", when, wrongCounts)
		}
		var months, entries int
		p.DB.Writer().QueryRowContext(ctx, "SELECT COALESCE(SUM(entries), 0) FROM work_month WHERE dim = 'all'").Scan(&months)
		p.DB.Writer().QueryRowContext(ctx, "SELECT COUNT(*) FROM work_entries").Scan(&entries)
		if months != entries {
			t.Errorf("%s: the monthly totals count %d entries, there are %d", when, months, entries)
		}
	}
	w.e.Portal(t, "alpha", func(p *portal.Portal) { check(p, "after the API") })
	w.e.Create(t, "seeded")
	w.e.Portal(t, "seeded", func(p *portal.Portal) {
		if err := portal.Seed(ctx, p, portal.SeedOptions{Tickets: 30, Messages: 90, Clients: 3, Operators: 2, Work: 50, Rand: rand.New(rand.NewSource(1))}, "seed-password"); err != nil {
			t.Fatal(err)
		}
		check(p, "after the seed")
	})
}
