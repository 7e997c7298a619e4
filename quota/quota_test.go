package quota_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
	"portaldesk/provisioner"
	"portaldesk/provisioner/catalog"
	"portaldesk/quota"
)

func TestMain(m *testing.M) {
	portal.BcryptCost = bcrypt.MinCost
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type billWorld struct {
	e     *pdtest.Env
	clk   *clock
	jobs  *quota.Jobs
	admin string
	id    int64
}

func newBillWorld(t *testing.T) *billWorld {
	clk := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	e := pdtest.New(t, provisioner.Config{Billing: provisioner.BillingConfig{FirstPaymentBonus: 50,
		Vendor: portal.Vendor{Name: "ООО «Портал»", TaxID: "7701234567 / 770101001", Bank: "р/с 40702810900000000001 в АО «Банк», БИК 044525000"}}})
	e.Svc.SetClock(clk.Now)
	e.Create(t, "acme")
	rec, _ := e.Svc.Catalog().PortalBySlug(context.Background(), "acme")
	return &billWorld{e: e, clk: clk, jobs: quota.New(e.Svc), admin: e.Login(t, "acme", "admin@acme.test"), id: rec.ID}
}

func (w *billWorld) api(t *testing.T, method, path string, body any) pdtest.Resp {
	t.Helper()
	return w.e.API(t, w.admin, method, "acme", path, body)
}

// pay tops up amount (minor units) and has ops confirm the invoice.
func (w *billWorld) pay(t *testing.T, amount int64) {
	t.Helper()
	r := w.api(t, "POST", "/subscription/topup", map[string]any{"amount": amount})
	if r.Status != 201 {
		t.Fatalf("topup: %d %s", r.Status, r.Body)
	}
	if _, _, err := w.e.Svc.ConfirmInvoice(context.Background(), r.JSON(t)["invoice"].(string), "ops"); err != nil {
		t.Fatal(err)
	}
}

func (w *billWorld) balance(t *testing.T) int64 {
	return int64(w.api(t, "GET", "/subscription", nil).JSON(t)["balance"].(float64))
}

func TestDailyPrice(t *testing.T) {
	for _, c := range []struct {
		price int64
		ops   int
		want  int64
	}{{85000, 1, 2795}, {85000, 2, 5590}, {0, 5, 0}, {129000, 3, 12724}, {1, 1, 1}} {
		if got := catalog.DailyPrice(c.price, c.ops); got != c.want {
			t.Errorf("DailyPrice(%d, %d) = %d, want %d", c.price, c.ops, got, c.want)
		}
	}
}

func TestSubscriptionAPIAndBonuses(t *testing.T) {
	w := newBillWorld(t)
	sub := w.api(t, "GET", "/subscription", nil).JSON(t)
	for _, k := range []string{"tariff", "operators", "paid_until", "balance"} {
		if _, ok := sub[k]; !ok {
			t.Fatalf("no %q in %v", k, sub)
		}
	}
	if sub["tariff"] != "free" || sub["balance"].(float64) != 0 {
		t.Fatalf("new portal: %v", sub)
	}
	tariffs := w.api(t, "GET", "/tariffs", nil).JSON(t)["tariffs"].([]any)
	if len(tariffs) < 4 || tariffs[1].(map[string]any)["price"].(float64) != 85000 {
		t.Fatalf("tariffs: %v", tariffs)
	}
	// A paid tariff needs money first.
	if r := w.api(t, "PATCH", "/subscription", map[string]any{"tariff": "start", "operators": 2}); r.Status != 402 {
		t.Fatalf("paid tariff without money: %d %s", r.Status, r.Body)
	}
	if r := w.api(t, "POST", "/subscription/topup", map[string]any{"amount": 5}); r.Status != 422 {
		t.Fatalf("tiny top-up: %d", r.Status)
	}
	if r := w.api(t, "POST", "/subscription/topup", map[string]any{"amount": 1000, "promo": "NOPE"}); r.Status != 422 || !strings.Contains(r.Body, "promo") {
		t.Fatalf("unknown promo: %d %s", r.Status, r.Body)
	}
	w.pay(t, 10000_00)
	if b := w.balance(t); b != 15000_00 {
		t.Fatalf("after the first payment with a 50%% bonus: %d", b)
	}
	// A promo code within its window adds its own bonus; the first-payment bonus is once.
	ctx := context.Background()
	w.e.Svc.AddPromo(ctx, "SPRING", 10, w.clk.Now().Add(-time.Hour), w.clk.Now().Add(24*time.Hour))
	r := w.api(t, "POST", "/subscription/topup", map[string]any{"amount": 1000_00, "promo": "spring"})
	inv := r.JSON(t)["invoice"].(string)
	w.e.Svc.ConfirmInvoice(ctx, inv, "ops")
	if b := w.balance(t); b != 15000_00+1000_00+100_00 {
		t.Fatalf("after a promo payment: %d", b)
	}
	if _, _, err := w.e.Svc.ConfirmInvoice(ctx, inv, "ops"); err == nil {
		t.Fatal("an invoice was paid twice")
	}
	w.clk.Add(48 * time.Hour)
	if r := w.api(t, "POST", "/subscription/topup", map[string]any{"amount": 1000_00, "promo": "SPRING"}); r.Status != 422 {
		t.Fatalf("expired promo: %d", r.Status)
	}
	// Change the plan: charged today, recorded.
	if r := w.api(t, "PATCH", "/subscription", map[string]any{"tariff": "start", "operators": 2}); r.Status != 200 {
		t.Fatalf("change: %d %s", r.Status, r.Body)
	}
	txns := w.api(t, "GET", "/transactions", nil).JSON(t)["transactions"].([]any)
	kinds := []string{}
	for _, x := range txns {
		m := x.(map[string]any)
		for _, k := range []string{"kind", "amount", "balance_after", "created_at"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("transaction without %s: %v", k, m)
			}
		}
		kinds = append(kinds, m["kind"].(string))
	}
	if got := strings.Join(kinds, ","); got != "charge,operators,tariff,bonus,payment,bonus,payment" {
		t.Fatalf("ledger: %s", got)
	}
	if txns[0].(map[string]any)["amount"].(float64) != -5590 {
		t.Fatalf("charge: %v", txns[0])
	}
	// The invoice is a printable page.
	c := w.e.SignIn(t, "acme", "admin@acme.test")
	if p := pdtest.Do(t, c, "GET", w.e.URL+"/acme/admin/invoices/"+inv, nil); p.Status != 200 || !strings.Contains(p.Body, "1,000.00 RUB") || !strings.Contains(p.Body, "Acme Ltd") {
		t.Fatalf("invoice page: %d", p.Status)
	}
	if p := pdtest.Do(t, c, "GET", w.e.URL+"/acme/admin/invoices/"+inv, nil); !strings.Contains(p.Body, "7701234567 / 770101001") || !strings.Contains(p.Body, "БИК 044525000") || !strings.Contains(p.Body, "Paid") {
		t.Fatalf("the invoice lacks the vendor's details or its state: %s", p.Body)
	}
	open := w.api(t, "POST", "/subscription/topup", map[string]any{"amount": 500_00}).JSON(t)["invoice"].(string)
	p := pdtest.Do(t, c, "GET", w.e.URL+"/acme/admin/subscription", nil)
	if p.Status != 200 || !strings.Contains(p.Body, "PD-") {
		t.Fatalf("subscription page: %d", p.Status)
	}
	// The page lists the invoices with their state and compares the tariffs in a table.
	for _, want := range []string{`/acme/admin/invoices/` + inv, `/acme/admin/invoices/` + open, "Awaiting payment", `<table class="compare">`, "Enterprise", "Price per operator a month"} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("the subscription page lacks %q", want)
		}
	}
	if list := w.api(t, "GET", "/invoices", nil).JSON(t)["invoices"].([]any); len(list) != 3 || list[0].(map[string]any)["state"] != "open" || list[1].(map[string]any)["state"] != "paid" {
		t.Errorf("invoices: %v", list)
	}
	// Storage is measured when the page opens, not only by the hourly sweep.
	if sub := w.api(t, "GET", "/subscription", nil).JSON(t); sub["db_bytes"].(float64) == 0 {
		t.Errorf("storage not measured on opening: %v", sub)
	}
	// In Russian: states and dates as Russian writes them.
	ru := pdtest.Do(t, c, "GET", w.e.URL+"/acme/admin/subscription?lang=ru", nil).Body
	for _, want := range []string{"Ждёт оплаты", "Оплачен", "Цена за оператора в месяц", "01.03.2026"} {
		if !strings.Contains(ru, want) {
			t.Errorf("the Russian subscription page lacks %q", want)
		}
	}
}

func TestLedgerUnderConcurrency(t *testing.T) {
	w := newBillWorld(t)
	w.pay(t, 1000_00) // 1500.00 with the bonus
	w.api(t, "PATCH", "/subscription", map[string]any{"tariff": "start", "operators": 1})
	start := w.balance(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	var invs []string
	for i := 0; i < 20; i++ {
		r := w.api(t, "POST", "/subscription/topup", map[string]any{"amount": 100_00})
		invs = append(invs, r.JSON(t)["invoice"].(string))
	}
	errs := make(chan error, 100)
	for i := 0; i < 20; i++ {
		wg.Add(3)
		go func(inv string) { defer wg.Done(); _, _, err := w.e.Svc.ConfirmInvoice(ctx, inv, "ops"); errs <- err }(invs[i])
		go func() { defer wg.Done(); _, err := w.e.Svc.Adjust(ctx, "acme", -7_00, "test", "ops"); errs <- err }()
		go func() {
			defer wg.Done()
			rec, _ := w.e.Svc.Catalog().PortalBySlug(ctx, "acme")
			_, _, err := w.e.Svc.ChargeThrough(ctx, rec, catalog.Day(w.clk.Now()))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got, want := w.balance(t), start+20*100_00-20*7_00; got != want {
		t.Fatalf("balance %d, want %d", got, want)
	}
	// The ledger adds up line by line.
	txns := w.api(t, "GET", "/transactions", nil).JSON(t)["transactions"].([]any)
	var sum int64
	for i := len(txns) - 1; i >= 0; i-- {
		m := txns[i].(map[string]any)
		sum += int64(m["amount"].(float64))
		if int64(m["balance_after"].(float64)) != sum {
			t.Fatalf("line %d: balance_after %v, running sum %d", i, m["balance_after"], sum)
		}
	}
}

func TestBillingIsIdempotentAndCatchesUp(t *testing.T) {
	w := newBillWorld(t)
	w.pay(t, 2000_00) // 3000.00
	w.api(t, "PATCH", "/subscription", map[string]any{"tariff": "start", "operators": 2})
	ctx := context.Background()
	charges := func() int {
		n := 0
		for _, x := range w.api(t, "GET", "/transactions", nil).JSON(t)["transactions"].([]any) {
			if x.(map[string]any)["kind"] == "charge" {
				n++
			}
		}
		return n
	}
	if charges() != 1 {
		t.Fatalf("moving to a paid tariff charges today: %d", charges())
	}
	for i := 0; i < 2; i++ {
		if _, err := w.jobs.Run(ctx, "billing", w.clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if charges() != 1 {
		t.Fatalf("two runs on the same day: %d charges", charges())
	}
	// The service was down for five days.
	w.clk.Add(5 * 24 * time.Hour)
	c, err := w.jobs.Run(ctx, "billing", w.clk.Now())
	if err != nil || c["charges"] != 5 {
		t.Fatalf("catch-up: %v %v", c, err)
	}
	w.jobs.Run(ctx, "billing", w.clk.Now())
	if charges() != 6 || w.balance(t) != 3000_00-6*5590 {
		t.Fatalf("after catch-up: %d charges, balance %d", charges(), w.balance(t))
	}
	runs, _ := w.e.Svc.Catalog().RecentRuns(ctx, 10)
	if len(runs) != 4 || runs[0].Job != "billing" || runs[0].Outcome != "ok" {
		t.Fatalf("job runs: %+v", runs)
	}
}

func TestExpiryDowngradesAndPaymentRestores(t *testing.T) {
	w := newBillWorld(t)
	ctx := context.Background()
	w.e.AddUser(t, "acme", "op@acme.test", "Oleg", portal.RoleOperator)
	w.e.AddUser(t, "acme", "cli@acme.test", "Carol", portal.RoleClient)
	w.pay(t, 100_00) // 150.00: the first day (55.89) and one more
	if r := w.api(t, "PATCH", "/subscription", map[string]any{"tariff": "enterprise", "operators": 5}); r.Status != 402 {
		t.Fatalf("enterprise for 5 costs 327.12 a day, more than the balance: %d %s", r.Status, r.Body)
	}
	w.api(t, "PATCH", "/subscription", map[string]any{"tariff": "start", "operators": 2})
	op := w.e.Login(t, "acme", "op@acme.test")
	cli := w.e.Login(t, "acme", "cli@acme.test")
	n := w.e.API(t, cli, "POST", "acme", "/tickets", map[string]any{"fields": map[string]any{"subject": "Kept", "description": "forever"}}).JSON(t)["number"]
	// Reminders come before the end, in the admin's language.
	w.api(t, "PUT", "/profile", map[string]any{"lang": "ru"})
	if c, _ := w.jobs.Run(ctx, "expiry", w.clk.Now()); c["reminders"] != 1 {
		t.Fatalf("reminder: %v", c)
	}
	if c, _ := w.jobs.Run(ctx, "expiry", w.clk.Now()); c["reminders"] != 1 {
		t.Fatalf("reminder again: %v", c)
	}
	reminders := 0
	for _, m := range w.e.Mails(t, "acme") {
		if p := pdtest.Parse(t, m); strings.HasPrefix(p.Subject, "Подписка закончится через 1 день") {
			reminders++
			if !strings.Contains(p.Text, "Здравствуйте") || !strings.Contains(p.Text, "ещё 1 день") {
				t.Fatalf("the reminder: %s", p.Text)
			}
		}
	}
	if reminders != 1 {
		t.Fatalf("reminder mails: %d", reminders)
	}
	w.api(t, "PUT", "/profile", map[string]any{"lang": "en"})
	w.clk.Add(3 * 24 * time.Hour)
	c, _ := w.jobs.Run(ctx, "billing", w.clk.Now())
	if c["expired"] != 1 {
		t.Fatalf("no expiry: %v", c)
	}
	sub := w.api(t, "GET", "/subscription", nil).JSON(t)
	if sub["tariff"] != "free" || sub["operators"].(float64) != 1 {
		t.Fatalf("after expiry: %v", sub)
	}
	// The second operator is out (not deleted); clients and data stay.
	if r := w.e.API(t, op, "GET", "acme", "/me", nil); r.Status != 401 {
		t.Fatalf("second operator after expiry: %d", r.Status)
	}
	if r := w.e.API(t, cli, "GET", "acme", fmt.Sprintf("/tickets/%v", n), nil); r.Status != 200 {
		t.Fatalf("client after expiry: %d", r.Status)
	}
	if r := w.e.API(t, cli, "POST", "acme", "/tickets", map[string]any{"fields": map[string]any{"subject": "Still", "description": "works"}}); r.Status != 201 {
		t.Fatalf("client creates after expiry: %d", r.Status)
	}
	// Paying brings everything back.
	w.pay(t, 3000_00)
	if r := w.api(t, "PATCH", "/subscription", map[string]any{"tariff": "start", "operators": 2}); r.Status != 200 {
		t.Fatalf("renew: %d %s", r.Status, r.Body)
	}
	w.e.Login(t, "acme", "op@acme.test")
}

func TestQuotaHitMidTransactionLeavesTheDatabaseConsistent(t *testing.T) {
	w := newBillWorld(t)
	ctx := context.Background()
	if err := w.e.Svc.SetLimits(ctx, "acme", 1, 0); err != nil {
		t.Fatal(err)
	}
	w.e.Svc.Registry().WaitClosed()
	big := strings.Repeat("lorem ipsum dolor sit amet ", 700)
	created := 0
	var last pdtest.Resp
	for i := 0; i < 200; i++ {
		last = w.api(t, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": fmt.Sprint("T", i), "description": big}})
		if last.Status != 201 {
			break
		}
		created++
	}
	if last.Status != 507 || last.JSON(t)["error"].(map[string]any)["code"] != "quota_exceeded" {
		t.Fatalf("over the database quota: %d %s", last.Status, last.Body)
	}
	w.e.Portal(t, "acme", func(p *portal.Portal) {
		var n int
		var ok string
		p.DB.Readers().QueryRow("SELECT COUNT(*) FROM tickets").Scan(&n)
		p.DB.Readers().QueryRow("PRAGMA integrity_check").Scan(&ok)
		if n != created || ok != "ok" {
			t.Fatalf("%d tickets (want %d), integrity %q", n, created, ok)
		}
	})
	// Reads still work.
	if r := w.api(t, "GET", "/tickets", nil); r.Status != 200 {
		t.Fatalf("reading over quota: %d", r.Status)
	}
}

func TestOverQuotaGoesReadOnlyAndRecovers(t *testing.T) {
	w := newBillWorld(t)
	ctx := context.Background()
	w.e.Svc.SetLimits(ctx, "acme", 0, 2)
	n := w.api(t, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "Files", "description": "here"}}).JSON(t)["number"]
	w.api(t, "PUT", "/settings", map[string]any{"max_files": 10, "max_file_mb": 1})
	for i := 0; i < 2; i++ {
		r := w.api(t, "POST", fmt.Sprintf("/tickets/%v/attachments", n), pdtest.Multipart{Files: map[string][]pdtest.File{"file": {{Name: "f.bin", Data: make([]byte, 900<<10)}}}})
		if r.Status != 201 {
			t.Fatalf("upload %d: %d %s", i, r.Status, r.Body)
		}
	}
	if c, _ := w.jobs.Run(ctx, "usage", w.clk.Now()); c["reconciled"] != 1 || c["mismatch"] != 0 {
		t.Fatalf("usage: %v", c)
	}
	if c, _ := w.jobs.Run(ctx, "enforce", w.clk.Now()); c["level_80"] != 1 {
		t.Fatalf("80%%: %v", c)
	}
	page := pdtest.Do(t, w.e.SignIn(t, "acme", "admin@acme.test"), "GET", w.e.URL+"/acme/tickets", nil)
	if !strings.Contains(page.Body, "over 80% of its storage quota") {
		t.Fatal("no 80% banner for the admin")
	}
	// Ops lower the quota below the usage: read-only.
	w.e.Svc.SetLimits(ctx, "acme", 0, 1)
	w.jobs.Run(ctx, "usage", w.clk.Now())
	if c, _ := w.jobs.Run(ctx, "enforce", w.clk.Now()); c["readonly"] != 1 {
		t.Fatalf("100%%: %v", c)
	}
	if r := w.api(t, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "More", "description": "data"}}); r.Status != 507 {
		t.Fatalf("write while read-only: %d", r.Status)
	}
	if r := w.api(t, "GET", fmt.Sprintf("/tickets/%v", n), nil); r.Status != 200 {
		t.Fatalf("read while read-only: %d", r.Status)
	}
	mails := strings.Join(w.e.Mails(t, "acme"), "\n")
	if !strings.Contains(mails, "Storage quota: 80% used") || !strings.Contains(mails, "Storage quota: 100% used") {
		t.Fatal("the admins were not warned at 80% and 100%")
	}
	// A larger quota: back by itself.
	w.e.Svc.SetLimits(ctx, "acme", 0, 100)
	w.jobs.Run(ctx, "usage", w.clk.Now())
	if c, _ := w.jobs.Run(ctx, "enforce", w.clk.Now()); c["recovered"] != 1 {
		t.Fatalf("recovery: %v", c)
	}
	if r := w.api(t, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "More", "description": "data"}}); r.Status != 201 {
		t.Fatalf("write after recovery: %d", r.Status)
	}
}

// TestConcurrentStateChangesNeverOverwriteEachOther races ops suspending a portal
// against the quota job turning it read-only, many times over. Whatever
// the order, the portal ends suspended — the job's change starts from
// "active" and is refused once ops have moved it — and the job says so.
// A transition that starts from a state the portal left is refused, not
// applied.
func TestConcurrentStateChangesNeverOverwriteEachOther(t *testing.T) {
	w := newBillWorld(t)
	ctx := context.Background()
	cat := w.e.Svc.Catalog()
	if err := w.e.Svc.SetLimits(ctx, "acme", 0, 1); err != nil {
		t.Fatal(err)
	}
	if err := cat.RecordUsage(ctx, w.id, 1<<20, 2<<20, w.clk.Now(), nil); err != nil {
		t.Fatal(err)
	}
	state := func() string {
		rec, err := cat.PortalBySlug(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		return rec.State
	}

	// The job read "active"; ops suspend; the job's write comes too late.
	if err := w.e.Svc.Suspend(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if err := cat.MarkReadOnly(ctx, w.id, "quota"); !errors.Is(err, catalog.ErrStateChanged) {
		t.Fatalf("read-only over a suspension: %v", err)
	}
	if err := cat.Recover(ctx, w.id, "quota"); !errors.Is(err, catalog.ErrStateChanged) {
		t.Fatalf("recovery of a suspended portal: %v", err)
	}
	if s := state(); s != portal.StateSuspended {
		t.Fatalf("state %s, want suspended", s)
	}

	changed := 0
	for i := 0; i < 40; i++ {
		if err := w.e.Svc.Resume(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var counts quota.Counts
		var jobErr, opsErr error
		wg.Add(2)
		go func() { defer wg.Done(); counts, jobErr = w.jobs.Enforce(ctx, w.clk.Now()) }()
		go func() { defer wg.Done(); opsErr = w.e.Svc.Suspend(ctx, "acme") }()
		wg.Wait()
		if jobErr != nil || opsErr != nil {
			t.Fatalf("round %d: job %v, ops %v", i, jobErr, opsErr)
		}
		if s := state(); s != portal.StateSuspended {
			t.Fatalf("round %d: the portal ended %s: the quota job overwrote the suspension", i, s)
		}
		// It turned the portal read-only before the suspension, was refused
		// after it, or read the list after it and left the portal alone.
		if counts["readonly"]+counts["state_changed"] > 1 {
			t.Fatalf("round %d: the job reports %v", i, counts)
		}
		changed += counts["state_changed"]
	}
	t.Logf("the job found the state changed under it in %d of 40 rounds", changed)
}

// TestConcurrentWritesAtTheQuotaAnswer507: many clients write at once as
// the database quota fills; every answer is 201 or 507 quota_exceeded —
// none is a 500 because a write that needed more pages than were left was
// taken for a full disk.
func TestConcurrentWritesAtTheQuotaAnswer507(t *testing.T) {
	w := newBillWorld(t)
	ctx := context.Background()
	if err := w.e.Svc.SetLimits(ctx, "acme", 1, 0); err != nil {
		t.Fatal(err)
	}
	w.e.Svc.Registry().WaitClosed()
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				// Sizes vary, so some writes need many pages when few are left.
				desc := strings.Repeat("lorem ipsum dolor sit amet ", 50+((g*31+i*17)%40)*16)
				r := w.api(t, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": fmt.Sprint("T", g, i), "description": desc}})
				mu.Lock()
				codes[r.Status]++
				mu.Unlock()
				if r.Status == 507 && r.JSON(t)["error"].(map[string]any)["code"] != "quota_exceeded" {
					t.Errorf("507 with %s", r.Body)
				}
				if r.Status != 201 {
					return
				}
			}
		}(g)
	}
	wg.Wait()
	if codes[201] == 0 || codes[507] != 8 || len(codes) != 2 {
		t.Fatalf("answers %v: want only 201s, then 507 for each client", codes)
	}
}
