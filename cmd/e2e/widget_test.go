package e2e_test

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
	"portaldesk/provisioner"
)

// TestWidgetInChromium: the website widget on a business's page served
// from another origin on loopback, under that page's own strict
// Content-Security-Policy, at a phone's width: the visitor searches the
// help, opens the request form, is told at the field what is missing,
// sends it, and the operators' table has the ticket. A site the admin has
// not listed gets no widget at all.
func TestWidgetInChromium(t *testing.T) {
	exe := chromium(t)
	e := pdtest.New(t, provisioner.Config{})
	e.Create(t, "alpha")
	admin := e.Login(t, "alpha", "admin@alpha.test")

	// The business's own website, on two other origins: one listed, one not.
	site := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		origin := "http://" + ln.Addr().String()
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Its own policy: scripts and requests only from itself and the
			// portal, no inline style or script at all.
			w.Header().Set("Content-Security-Policy", fmt.Sprintf("default-src 'self'; script-src 'self' %[1]s; connect-src 'self' %[1]s; style-src 'self'; img-src 'self'", e.URL))
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!doctype html><html lang="ru"><head><meta name="viewport" content="width=device-width, initial-scale=1"><title>Ромашка</title></head>
<body><h1>Магазин «Ромашка»</h1><p>Доставка по всей России.</p><script src="%s/alpha/widget.js" data-lang="ru" async></script></body></html>`, e.URL)
		})}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		return origin
	}
	shop, other := site(), site()
	if r := e.API(t, admin, "PUT", "alpha", "/widget/settings", map[string]any{"enabled": true, "sites": []string{shop}, "label": "Помощь"}); r.Status != 200 {
		t.Fatalf("widget settings: %d %s", r.Status, r.Body)
	}
	if r := e.API(t, admin, "POST", "alpha", "/kb/articles", map[string]any{"title": "Сроки доставки", "body": "Доставка занимает от 2 до 5 дней.", "published": true}); r.Status != 201 {
		t.Fatalf("article: %d %s", r.Status, r.Body)
	}

	b := newBrowser(t, exe, e.URL, artefacts(t), "visitor")
	in := func(sel string) string {
		return `document.querySelector("#portaldesk-widget").shadowRoot.querySelector(` + "`" + sel + "`" + `)`
	}
	b.run("the shop at a phone's width", chromedp.EmulateViewport(375, 740), visit(shop+"/"),
		chromedp.WaitVisible(in(".btn"), chromedp.ByJSPath))
	var label string
	b.run("open the widget", chromedp.Text(in(".btn"), &label, chromedp.ByJSPath), chromedp.Click(in(".btn"), chromedp.ByJSPath),
		chromedp.WaitVisible(in(".panel.open"), chromedp.ByJSPath))
	if label != "Помощь" {
		t.Errorf("the button says %q", label)
	}
	var fits bool
	b.run("the panel fits", chromedp.Evaluate(`(() => { const r = `+in(".panel")+`.getBoundingClientRect(); return r.left >= 0 && r.right <= innerWidth && document.documentElement.scrollWidth <= innerWidth })()`, &fits))
	if !fits {
		t.Error("the widget's panel does not fit a 375 px phone")
	}
	b.shot("widget-phone")

	var found string
	b.run("search the help", chromedp.SendKeys(in("input[name=q]"), "доставка", chromedp.ByJSPath), chromedp.Click(in(".search .go"), chromedp.ByJSPath),
		chromedp.WaitVisible(in(".search li a"), chromedp.ByJSPath), chromedp.Text(in(".search ul"), &found, chromedp.ByJSPath))
	if !strings.Contains(found, "Сроки доставки") {
		t.Errorf("the search found %q", found)
	}

	// The subject left out: the field says so, nothing is made.
	var subjectErr string
	b.run("a request without its subject", chromedp.SendKeys(in("#pd-name"), "Нина Петрова", chromedp.ByJSPath),
		chromedp.SendKeys(in("#pd-email"), "nina@visitor.test", chromedp.ByJSPath),
		chromedp.SendKeys(in("#pd-description"), "Заказ 1234 не пришёл.", chromedp.ByJSPath),
		chromedp.Click(in("form:not(.search) .go"), chromedp.ByJSPath),
		chromedp.WaitVisible(in("#pd-subject[aria-invalid=true]"), chromedp.ByJSPath),
		chromedp.Text(in("#pd-subject-err"), &subjectErr, chromedp.ByJSPath))
	if subjectErr == "" || !strings.ContainsAny(subjectErr, "абвгдеёжзийклмнопрстуфхцчшщыьэюя") {
		t.Errorf("the subject's error: %q", subjectErr)
	}
	var thanks string
	b.run("send the request", chromedp.SendKeys(in("#pd-subject"), "Где мой заказ?", chromedp.ByJSPath),
		chromedp.Click(in("form:not(.search) .go"), chromedp.ByJSPath),
		chromedp.WaitVisible(in(".ok"), chromedp.ByJSPath), chromedp.Text(in(".ok"), &thanks, chromedp.ByJSPath))
	if !strings.Contains(thanks, "принято") {
		t.Errorf("the widget's thanks: %q", thanks)
	}
	b.shot("widget-sent")
	list := e.API(t, admin, "GET", "alpha", "/tickets", nil).Body
	if !strings.Contains(list, "Где мой заказ?") || !strings.Contains(list, `"source":"widget"`) {
		t.Errorf("the table lacks the widget's ticket: %s", list)
	}
	e.Portal(t, "alpha", func(p *portal.Portal) {
		if u, err := p.UserByEmail(t.Context(), "nina@visitor.test"); err != nil || u.Role != portal.RoleClient {
			t.Errorf("the visitor is not a client: %v %v", u, err)
		}
	})

	// A site the admin did not list: the script loads, asks, and draws nothing.
	var asked, drawn bool
	b.run("an unlisted site", visit(other+"/"), chromedp.Poll(`performance.getEntriesByType("resource").some(e => e.name.endsWith("/api/v1/widget"))`, &asked),
		chromedp.Sleep(300*time.Millisecond), chromedp.Evaluate(`!!document.querySelector("#portaldesk-widget")`, &drawn))
	if !asked || drawn {
		t.Errorf("an unlisted site: asked %v, drawn %v", asked, drawn)
	}
}
