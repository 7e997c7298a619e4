// Package e2e drives the whole product in real Chromium (chromedp) against
// a real service on loopback: the journey of a new business, a phone-sized
// run of the client's part, and the page-load timings of the ticket page.
package e2e_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/emersion/go-smtp"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
	"portaldesk/provisioner"
)

// chromium finds the browser; without one the test fails with the command
// that installs it (never a silent skip).
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("Chromium is not installed: run `apt-get update && apt-get install -y chromium` (the README's test command does)")
	return ""
}

// artefacts is where screenshots go: PORTALDESK_ARTIFACTS, else a folder
// under the system's temporary directory that outlives the test.
func artefacts(t *testing.T) string {
	dir := os.Getenv("PORTALDESK_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "portaldesk-e2e")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string
	name string
}

// run performs actions; on failure it saves a screenshot and stops the test.
func (b *browser) run(step string, actions ...chromedp.Action) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		b.shot("failed-" + step)
		var text, loc string
		tctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
		defer cancel()
		_ = chromedp.Run(tctx, chromedp.Location(&loc), chromedp.Text("main", &text))
		b.t.Fatalf("%s: %s: %v (at %s: %.300s)", b.name, step, err, loc, text)
	}
}

func (b *browser) shot(name string) {
	var png []byte
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)); err == nil {
		f := filepath.Join(b.dir, b.name+"-"+name+".png")
		if os.WriteFile(f, png, 0o644) == nil {
			b.t.Logf("screenshot: %s", f)
		}
	}
}

// newPage waits until the page that was marked is replaced by one whose
// DOMContentLoaded has run (its deferred scripts with it). It does not wait
// for the load event: a slow image or icon under a loaded machine held
// readyState short of "complete" past a step's deadline.
var newPage = chromedp.ActionFunc(func(ctx context.Context) error {
	for {
		var done bool
		// Each look has a second of its own: an evaluation sent while the
		// old document's context goes away can wait for it forever.
		lctx, cancel := context.WithTimeout(ctx, time.Second)
		err := chromedp.Evaluate(`(() => { if (window.__pdOld) return false; const n = performance.getEntriesByType("navigation")[0]; return n ? n.domContentLoadedEventEnd > 0 : document.readyState === "complete" })()`, &done).Do(lctx)
		cancel()
		if err == nil && done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
})

// visit opens a URL and waits for its page to load. It does not use
// chromedp.Navigate, whose wait for the load event can miss that event on a
// slow machine (chromedp issues 355, 1091) and then hang to the deadline.
func visit(url string) chromedp.Action {
	return chromedp.Tasks{
		chromedp.Evaluate(`window.__pdOld = true`, nil),
		chromedp.ActionFunc(func(ctx context.Context) error {
			var here string
			if err := chromedp.Location(&here).Do(ctx); err == nil && here == url {
				// Going to where the page already is leaves chromedp's
				// view of the document stale: leave first.
				if err := chromedp.Run(ctx, chromedp.Navigate("about:blank"), chromedp.Evaluate(`window.__pdOld = true`, nil)); err != nil {
					return err
				}
			}
			_, _, errText, _, err := page.Navigate(url).Do(ctx)
			if err == nil && errText != "" {
				err = fmt.Errorf("navigating to %s: %s", url, errText)
			}
			return err
		}),
		newPage,
	}
}

// submit sends the form holding sel and waits for the page that answers.
func submit(sel string) chromedp.Action {
	return chromedp.Tasks{
		chromedp.Evaluate(`window.__pdOld = true`, nil),
		chromedp.Submit(sel),
		newPage,
	}
}

// click clicks a button that sends a form, and waits for the answer.
func click(sel string, opts ...chromedp.QueryOption) chromedp.Action {
	return chromedp.Tasks{
		chromedp.Evaluate(`window.__pdOld = true`, nil),
		chromedp.Click(sel, opts...),
		newPage,
	}
}

func (b *browser) html() string {
	b.t.Helper()
	var s string
	b.run("read page", chromedp.OuterHTML("html", &s))
	return s
}

func (b *browser) login(slug, email, password string) {
	b.t.Helper()
	b.run("sign-in page", visit(b.base+"/"+slug+"/login"), chromedp.WaitVisible("#password"))
	b.run("sign in", chromedp.SendKeys("#email", email), chromedp.SendKeys("#password", password), submit("#password"))
	b.run("signed in", chromedp.WaitVisible(`a[href="/`+slug+`/profile"]`))
}

// dismissTour steps through the first-login tour and presses "Don't show again".
func (b *browser) dismissTour() {
	b.t.Helper()
	b.run("tour", chromedp.WaitVisible("#tour"), chromedp.Click("[data-tour-next]"),
		click(`#tour button[type=submit]`), chromedp.WaitNotPresent("#tour"))
}

var passwordRe = regexp.MustCompile(`(?m)^Password: (\S+)`)

// mailedPassword reads the password in the newest mail to email.
func mailedPassword(t *testing.T, e *pdtest.Env, slug, email string) string {
	t.Helper()
	mails := e.Mails(t, slug)
	for i := len(mails) - 1; i >= 0; i-- {
		m := strings.ReplaceAll(strings.ReplaceAll(mails[i], "=\r\n", ""), "\r\n", "\n")
		if strings.Contains(m, email) {
			if p := passwordRe.FindStringSubmatch(m); p != nil {
				return p[1]
			}
		}
	}
	t.Fatalf("no mail with a password for %s among %d", email, len(mails))
	return ""
}

// mailedLink reads the first link matching pattern in slug's mail.
func mailedLink(t *testing.T, e *pdtest.Env, slug, pattern string) string {
	t.Helper()
	re := regexp.MustCompile(`http://[^\s/]+` + pattern)
	for _, m := range e.Mails(t, slug) {
		m = strings.ReplaceAll(strings.ReplaceAll(m, "=\r\n", ""), "\r\n", "\n")
		if l := re.FindString(strings.ReplaceAll(m, "=3D", "=")); l != "" {
			return l
		}
	}
	t.Fatalf("no link like %s in %s's mail", pattern, slug)
	return ""
}

// newBrowser starts a Chromium of its own (its own profile and cookies),
// closed when the test ends.
func newBrowser(t *testing.T, exe, base, dir, name string) *browser {
	// The profile is removed by hand, after the browser: its helper
	// processes may still be writing there as it exits, which t.TempDir's
	// own removal takes for a failure.
	profile, err := os.MkdirTemp("", "portaldesk-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true), chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(profile))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		for i := 0; i < 20 && os.RemoveAll(profile) != nil; i++ {
			time.Sleep(50 * time.Millisecond)
		}
	})
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx, base: base, dir: dir, name: name}
}

func TestJourneyInChromium(t *testing.T) {
	exe := chromium(t)
	e := pdtest.New(t, provisioner.Config{MailDomain: "support.test"})
	dir := artefacts(t)
	// Each person has a browser of their own: their own cookies, as in life.
	person := func(name string) *browser { return newBrowser(t, exe, e.URL, dir, name) }
	admin, oper, client := person("admin"), person("operator"), person("client")

	// 1. A business signs up and lands in its portal, signed in.
	admin.run("signup", visit(e.URL+"/"),
		chromedp.WaitVisible("#slug"), chromedp.SendKeys("#slug", "bluelake"), chromedp.SendKeys("#company", "Blue Lake Dental"),
		chromedp.SendKeys("#admin_name", "Anna Admin"), chromedp.SendKeys("#admin_email", "anna@bluelake.test"),
		chromedp.SendKeys("#admin_password", "anna-lilac-harbour"), submit("#admin_password"),
		chromedp.WaitVisible(`a[href="/bluelake/profile"]`))
	admin.shot("portal-ready")
	admin.dismissTour()

	// 1b. Until she confirms her address the portal mails only her: she
	// follows the link from her mail.
	if !strings.Contains(admin.html(), "Confirm your address") {
		t.Fatal("no banner asks the admin to confirm her address")
	}
	link := mailedLink(t, e, "bluelake", `/bluelake/confirm\?token=[\w-]+`)
	admin.run("confirm the address", visit(link), chromedp.WaitVisible(".banner.ok"))
	if h := admin.html(); !strings.Contains(h, "Your address is confirmed") {
		t.Fatal("the confirmation is not acknowledged")
	}

	// 2. On the free tariff the designer is locked.
	admin.run("free designer", visit(e.URL+"/bluelake/admin/form"), chromedp.WaitVisible("h1"))
	if h := admin.html(); !strings.Contains(h, "comes with the paid tariffs") || strings.Contains(h, `id="label"`) {
		t.Fatal("the free tariff's designer is not locked")
	}
	e.SetPlan(t, "bluelake", "business", 3, 0, 0) // ops puts the portal on a paid tariff

	// 3. The admin adds two fields and a preamble.
	for _, f := range []struct{ label, typ, options string }{{"Order number", "integer", ""}, {"Clinic", "select", "Downtown\nRiverside"}} {
		acts := []chromedp.Action{visit(e.URL + "/bluelake/admin/form"), chromedp.WaitVisible("#label"),
			chromedp.SendKeys("#label", f.label), chromedp.SetValue("#type", f.typ)}
		if f.typ == "integer" {
			acts = append(acts, chromedp.Click(`form[action$="/admin/form/fields"] input[name=required]`))
		}
		if f.options != "" {
			acts = append(acts, chromedp.SendKeys("#options", f.options))
		}
		acts = append(acts, submit("#label"), chromedp.WaitVisible(fmt.Sprintf(`//strong[text()=%q]`, f.label), chromedp.BySearch))
		admin.run("add field "+f.label, acts...)
	}
	admin.run("preamble", chromedp.SendKeys("#preamble", "We answer within one working day."), submit("#preamble"),
		chromedp.WaitVisible(".banner.ok"))

	// 4. The admin invites an operator, who signs in with the mailed password.
	admin.run("invite", visit(e.URL+"/bluelake/people"), chromedp.WaitVisible("#email"),
		chromedp.SendKeys("#name", "Oleg"), chromedp.SendKeys("#surname", "Operator"), chromedp.SendKeys("#email", "oleg@bluelake.test"),
		chromedp.SetValue("#role", "operator"), submit("#email"), chromedp.WaitVisible(".banner.ok"))
	oper.login("bluelake", "oleg@bluelake.test", mailedPassword(t, e, "bluelake", "oleg@bluelake.test"))
	oper.dismissTour()

	// 5. A client registers with three fields and reads the password from the mail.
	client.run("register", visit(e.URL+"/bluelake/register"), chromedp.WaitVisible("#name"),
		chromedp.SendKeys("#name", "Carla"), chromedp.SendKeys("#surname", "Client"), chromedp.SendKeys("#email", "carla@example.test"),
		submit("#email"), chromedp.WaitVisible("main"))
	client.login("bluelake", "carla@example.test", mailedPassword(t, e, "bluelake", "carla@example.test"))
	client.dismissTour()

	// 6. A validation error keeps what the client typed.
	client.run("bad ticket", visit(e.URL+"/bluelake/tickets/new"), chromedp.WaitVisible("#subject"),
		chromedp.SendKeys("#subject", "Crown came off"), chromedp.SendKeys("#description", "Lower left molar."),
		submit("#subject"), chromedp.WaitVisible(".error-text"))
	var subject, desc string
	client.run("kept values", chromedp.Value("#subject", &subject), chromedp.Value("#description", &desc))
	if subject != "Crown came off" || desc != "Lower left molar." || !strings.Contains(client.html(), "We answer within one working day.") {
		t.Fatalf("typed values lost on a validation error: %q %q", subject, desc)
	}
	client.shot("validation-error")

	// 7. ... and a ticket with a file, which the operator's open table shows by itself.
	oper.run("table", visit(e.URL+"/bluelake/tickets"), chromedp.WaitVisible("h1"))
	file := filepath.Join(t.TempDir(), "x-ray.png")
	os.WriteFile(file, []byte("\x89PNG\r\n\x1a\nnot really an image"), 0o644)
	client.run("ticket", chromedp.SendKeys(`//label[contains(., "Order number")]/following::input[1]`, "1042", chromedp.BySearch),
		chromedp.SetUploadFiles("#files", []string{file}), submit("#subject"),
		chromedp.WaitVisible(`//h1[contains(., "Crown came off")]`, chromedp.BySearch))
	oper.run("live table", chromedp.WaitVisible(`//tbody[@id="rows"]//tr[contains(@class, "unread")]//a[contains(., "Crown came off")]`, chromedp.BySearch),
		chromedp.WaitVisible(`//span[@id="unread"]//span[contains(., "1 with news")]`, chromedp.BySearch))
	var ticketURL string
	client.run("ticket url", chromedp.Location(&ticketURL))
	ticketURL, _, _ = strings.Cut(ticketURL, "?")
	if h := client.html(); !strings.Contains(h, "x-ray.png") || !strings.Contains(h, "1042") {
		t.Fatal("the ticket lacks its file or its answers")
	}

	// 7b. The table filters as a filter changes: no button to press.
	var loc string
	oper.run("instant filter", visit(e.URL+"/bluelake/tickets"), chromedp.WaitVisible("#status"),
		chromedp.Evaluate(`(() => { const s = document.querySelector('#status'); s.value = 'open'; s.dispatchEvent(new Event('change', {bubbles: true})); })()`, nil),
		chromedp.WaitReady(`//select[@id="status"]/option[@value="open"][@selected]`, chromedp.BySearch), chromedp.Location(&loc))
	if !strings.Contains(loc, "status=open") {
		t.Fatalf("the filter did not apply: %s", loc)
	}

	// 8. The operator takes it, writes an internal note and a reply; the
	// client's open page shows the reply by itself and never the note.
	oper.run("take", visit(ticketURL), click(`//button[contains(., "Take it")]`, chromedp.BySearch),
		chromedp.WaitVisible(`//dd[contains(., "Oleg")]`, chromedp.BySearch))
	// A reply being written survives a reload.
	var draft string
	oper.run("draft", chromedp.SendKeys("#body", "Check the warranty first"), chromedp.Reload(), chromedp.WaitVisible("#body"),
		chromedp.Value("#body", &draft))
	if draft != "Check the warranty first" {
		t.Fatalf("the draft after a reload: %q", draft)
	}
	oper.run("note", chromedp.Click(`//label[contains(., "An internal note")]`, chromedp.BySearch),
		submit("#body"), chromedp.WaitVisible(`//article[contains(@class, "note")]`, chromedp.BySearch))
	oper.run("note chosen", chromedp.Click(`//label[contains(., "An internal note")]`, chromedp.BySearch))
	oper.shot("ticket-writing-a-note")
	oper.run("reply chosen", chromedp.Click(`//label[contains(., "A reply to the client")]`, chromedp.BySearch))
	oper.run("reply", chromedp.SendKeys("#body", "Please come in tomorrow at 10:00. The map: https://maps.bluelake.example/clinics/downtown/entrance-from-the-courtyard-next-to-the-pharmacy?floor=2&room=214"), submit("#body"),
		chromedp.WaitVisible(`//div[@class="body"][contains(., "tomorrow at 10:00")]`, chromedp.BySearch))
	client.run("live reply", chromedp.WaitVisible(`//div[@id="timeline"]//div[contains(., "tomorrow at 10:00")]`, chromedp.BySearch))
	if h := client.html(); strings.Contains(h, "warranty") || strings.Contains(h, "Internal note") {
		i := max(strings.Index(h, "warranty"), strings.Index(h, "Internal note"))
		t.Fatalf("the client sees the internal note: …%s…", h[max(0, i-300):min(len(h), i+100)])
	}
	client.run("reload", chromedp.Reload(), chromedp.WaitVisible("#timeline"))
	if h := client.html(); strings.Contains(h, "warranty") || !strings.Contains(h, "Oleg") {
		t.Fatal("after a reload: the note leaks, or the operator's name is missing")
	}
	client.shot("ticket-with-reply")

	// 9. The operator delegates to the admin and resolves; the client sees it live.
	oper.run("delegate", chromedp.Evaluate(`(() => { const s = document.querySelector('#assignee'); s.value = [...s.options].find(o => o.textContent.includes('Anna')).value; })()`, nil),
		submit("#assignee"), chromedp.WaitVisible(`//dd[contains(., "Anna")]`, chromedp.BySearch))
	oper.run("resolve", chromedp.Evaluate(`(() => { const s = document.querySelector('#status'); s.value = [...s.options].find(o => o.textContent.trim() === 'Resolved').value; })()`, nil),
		submit("#status"), chromedp.WaitVisible(`//dd//span[contains(., "Resolved")]`, chromedp.BySearch))
	client.run("live status", chromedp.WaitVisible(`//dl[@id="facts"]//span[contains(., "Resolved")]`, chromedp.BySearch))

	// 10. The client rates it.
	client.run("rate", chromedp.Reload(), chromedp.WaitVisible("#rating"), chromedp.Click(`input[name=score][value="5"]`),
		chromedp.SendKeys("#rcomment", "Quick and kind"), submit("#rcomment"),
		chromedp.WaitVisible(`//div[@id="rating"]//strong[contains(., "5")]`, chromedp.BySearch))
	admin.run("rating seen", visit(ticketURL), chromedp.WaitVisible(`//div[@id="rating"][contains(., "Quick and kind")]`, chromedp.BySearch))
	admin.run("settings", visit(e.URL+"/bluelake/admin/settings"), chromedp.WaitVisible(`img.qr`))
	admin.shot("settings")
	// Help → API reference: a page, not raw JSON.
	admin.run("api reference", chromedp.Click(`details.help-menu summary`), click(`//details[contains(@class,"help-menu")]//a[contains(., "API reference")]`, chromedp.BySearch),
		chromedp.WaitVisible(`#schema-Ticket`), chromedp.WaitVisible(`//article[@id="get_tickets"]//code[text()="/tickets"]`, chromedp.BySearch))
	admin.shot("api-reference")

	// 11. The client reads the portal in Russian.
	client.run("russian", click(`footer button[name=lang]`), chromedp.WaitVisible(`//a[contains(., "Мои заявки")]`, chromedp.BySearch))
	if h := client.html(); !strings.Contains(h, `lang="ru"`) || !strings.Contains(h, "Переписка") {
		t.Fatal("the ticket page is not in Russian after switching")
	}
	client.shot("russian")

	// 12. The client's part at phone width: nothing scrolls sideways.
	for _, p := range []string{"/bluelake/tickets", "/bluelake/tickets/new", strings.TrimPrefix(ticketURL, e.URL)} {
		var width int
		client.run("phone "+p, chromedp.EmulateViewport(375, 740), visit(e.URL+p), chromedp.WaitVisible("main"),
			chromedp.Evaluate(`document.documentElement.scrollWidth`, &width))
		if width > 375 {
			client.shot("phone-too-wide")
			t.Errorf("%s is %d px wide on a 375 px phone", p, width)
		}
	}
	client.shot("phone")

	// 12a. Someone writes by email: the mail is a ticket in the operators'
	// table, the operator answers in the portal, and the writer — sent a link
	// to set a password — reads the answer there.
	sendRaw := func(from, to, raw string) {
		c, err := smtp.Dial(e.SMTPAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.SendMail(from, []string{to}, strings.NewReader(strings.ReplaceAll(raw, "\n", "\r\n"))); err != nil {
			t.Fatalf("mail in: %v", err)
		}
	}
	sendRaw("pavel@mail.test", "bluelake@support.test", "From: Pavel Mail <pavel@mail.test>\nTo: bluelake@support.test\nSubject: Can I move my appointment?\nMessage-ID: <pavel-1@mail.test>\nContent-Type: text/plain; charset=utf-8\n\nCan I come on Friday instead of Thursday?\n")
	var inLog []portal.Inbound
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		e.Portal(t, "bluelake", func(p *portal.Portal) { inLog, _ = p.InboundLog(context.Background(), 1) })
		if len(inLog) > 0 && inLog[0].State != "new" {
			break
		}
	}
	if len(inLog) == 0 || inLog[0].State != "done" {
		t.Fatalf("the mail was not made a ticket: %+v", inLog)
	}
	oper.run("mail ticket", visit(e.URL+"/bluelake/tickets"), chromedp.WaitVisible(`//a[contains(., "Can I move my appointment?")]`, chromedp.BySearch),
		click(`//tbody[@id="rows"]//a[contains(., "Can I move my appointment?")]`, chromedp.BySearch), chromedp.WaitVisible("#body"),
		chromedp.SendKeys("#body", "Friday at 11:00 works, see you then."), submit("#body"),
		chromedp.WaitVisible(`//div[@id="timeline"]//div[contains(., "Friday at 11:00")]`, chromedp.BySearch))
	var setLink string
	for _, m := range e.Mails(t, "bluelake") {
		m = strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(m, "=\r\n", ""), "\r\n", "\n"), "=3D", "=")
		if strings.Contains(m, "pavel@mail.test") {
			if l := regexp.MustCompile(`http://[^\s/]+/bluelake/reset\?token=[\w-]+`).FindString(m); l != "" {
				setLink = l
			}
		}
	}
	if setLink == "" {
		t.Fatal("the writer got no link to set a password")
	}
	pavel := person("pavel")
	pavel.run("set a password", visit(setLink), chromedp.WaitVisible("#password"), chromedp.SendKeys("#password", "pavel-maple-river-81"),
		chromedp.SendKeys("#password2", "pavel-maple-river-81"), submit("#password"),
		chromedp.WaitVisible(`//a[contains(., "Can I move my appointment?")]`, chromedp.BySearch))
	pavel.run("read the answer", click(`//tbody[@id="rows"]//a[contains(., "Can I move my appointment?")]`, chromedp.BySearch),
		chromedp.WaitVisible(`//div[@id="timeline"]//div[contains(., "Friday at 11:00 works")]`, chromedp.BySearch))
	pavel.shot("answer-to-a-mail")

	// 12b. The operator changes several tickets at once from the table:
	// the bar appears when a box is ticked, and the change is confirmed.
	oper.run("bulk", visit(e.URL+"/bluelake/tickets"), chromedp.WaitVisible("#rows"),
		chromedp.Click(`#rows input[name=t]`), chromedp.WaitVisible("form[data-bulk]"),
		chromedp.SetValue(`form[data-bulk] select[name=priority]`, "high"), click(`//form[@data-bulk]//button[not(@name)]`, chromedp.BySearch),
		chromedp.WaitVisible(`//div[contains(@class, "banner")][contains(., "Tickets changed: 1.")]`, chromedp.BySearch))
	if h := oper.html(); !strings.Contains(h, `prio-high`) || !strings.Contains(h, `id="total">2 tickets`) {
		t.Fatal("the bulk change or the count is not on the table")
	}
	// 12c. The operator on a phone: the menu folds behind a button, the
	// ticket's status and assignee come before the conversation, the
	// client's card is there, and nothing scrolls sideways.
	var navShown, menuShown bool
	var sideTop, timelineTop, width int
	oper.run("phone menu", chromedp.EmulateViewport(375, 740), visit(e.URL+"/bluelake/tickets"), chromedp.WaitVisible("[data-menu]"),
		chromedp.Evaluate(`getComputedStyle(document.querySelector("#menu")).display !== "none"`, &navShown))
	if navShown {
		t.Error("the menu is not folded on a phone")
	}
	oper.run("phone menu opens", chromedp.Click("[data-menu]"), chromedp.WaitVisible(`#menu a[href$="/tickets"]`),
		chromedp.Evaluate(`document.querySelector("[data-menu]").getAttribute("aria-expanded") === "true"`, &menuShown))
	if !menuShown {
		t.Error("the menu button does not say it is open")
	}
	for _, p := range []string{"/bluelake/tickets", strings.TrimPrefix(ticketURL, e.URL)} {
		oper.run("phone width "+p, visit(e.URL+p), chromedp.Evaluate(`document.documentElement.scrollWidth`, &width))
		if width > 375 {
			oper.shot("phone-too-wide")
			t.Errorf("the operator's %s is %d px wide on a 375 px phone", p, width)
		}
	}
	oper.run("phone ticket", chromedp.Poll(`document.querySelector("#client") !== null`, nil),
		chromedp.Evaluate(`document.querySelector("#status").getBoundingClientRect().top|0`, &sideTop),
		chromedp.Evaluate(`document.querySelector("#timeline").getBoundingClientRect().top|0`, &timelineTop))
	if sideTop > timelineTop {
		t.Errorf("on a phone the status (at %d px) comes after the conversation (at %d px)", sideTop, timelineTop)
	}
	oper.shot("phone-ticket")
	// Back to the desktop: the emulation is cleared, not replaced by another.
	oper.run("desktop again", emulation.ClearDeviceMetricsOverride())

	// 12e. Two on one ticket: each sees the other there, and who is
	// writing; a reply sent while the other wrote is shown to them before
	// theirs goes, and what they wrote is kept.
	admin.run("admin on the ticket", visit(ticketURL), chromedp.WaitVisible("#reply"))
	oper.run("operator on the ticket", visit(ticketURL), chromedp.WaitVisible(`//p[@id="viewers"][contains(., "Anna")]`, chromedp.BySearch))
	admin.run("sees the operator", chromedp.WaitVisible(`//p[@id="viewers"][contains(., "Oleg")]`, chromedp.BySearch))
	oper.run("writes", chromedp.SendKeys("#body", "I will call the patient"))
	admin.run("sees him writing", chromedp.WaitVisible(`//p[@id="viewers"]//span[contains(@class, "writing")]`, chromedp.BySearch))
	admin.shot("another-operator-writing")
	admin.run("answers first", chromedp.SendKeys("#body", "Called already: all set."), submit("#body"),
		chromedp.WaitVisible(`//div[@class="body"][contains(., "Called already")]`, chromedp.BySearch))
	oper.run("sends after", submit("#body"),
		chromedp.WaitVisible(`//div[contains(@class, "banner")][contains(., "A new message arrived while you were writing")]`, chromedp.BySearch))
	var kept string
	oper.run("kept", chromedp.Value("#body", &kept))
	if kept != "I will call the patient" {
		t.Fatalf("the warned reply keeps %q", kept)
	}
	oper.shot("warned-of-a-newer-message")
	oper.run("sends again", submit("#body"), chromedp.WaitVisible(`//div[@class="body"][contains(., "I will call the patient")]`, chromedp.BySearch))

	// 12d. The admin's menu in Russian fits one line at 1,280 px.
	var navH, linkH float64
	admin.run("russian menu", visit(e.URL+"/bluelake/tickets"), click(`footer button[name=lang]`), chromedp.WaitVisible(`//a[contains(., "Заявки")]`, chromedp.BySearch),
		chromedp.Evaluate(`document.querySelector("header.top").getBoundingClientRect().height`, &navH),
		chromedp.Evaluate(`document.querySelector("header.top nav a").getBoundingClientRect().height`, &linkH))
	if navH > linkH*2+24 {
		admin.shot("russian-menu-wraps")
		t.Errorf("the admin's Russian menu wraps at 1,280 px: the header is %.0f px high, a link %.0f px", navH, linkH)
	}

	// 13. The ticket page's full load in the browser, navigation start to load event.
	var ms []float64
	for i := 0; i < 15; i++ {
		var d float64
		oper.run("timing", visit(ticketURL), chromedp.WaitVisible("#timeline"),
			chromedp.Poll(`performance.getEntriesByType("navigation")[0].loadEventEnd > 0`, nil),
			chromedp.Evaluate(`performance.getEntriesByType("navigation")[0].loadEventEnd`, &d))
		ms = append(ms, d)
	}
	sort.Float64s(ms)
	t.Logf("ticket page load in Chromium (navigation start to load event): median %.1f ms, max %.1f ms over %d loads", ms[len(ms)/2], ms[len(ms)-1], len(ms))
}
