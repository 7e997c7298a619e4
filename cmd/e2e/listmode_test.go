package e2e_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
	"portaldesk/provisioner"
)

// TestSplitViewInChromium: an operator who chose the list beside the
// ticket sees both side by side on a wide screen, the open ticket marked,
// and on a narrow one the ticket alone.
func TestSplitViewInChromium(t *testing.T) {
	exe := chromium(t)
	e := pdtest.New(t, provisioner.Config{})
	e.Create(t, "alpha")
	e.SetPlan(t, "alpha", "business", 5, 0, 0)
	e.AddUser(t, "alpha", "op@alpha.test", "Oleg", portal.RoleOperator)
	e.AddUser(t, "alpha", "ca@alpha.test", "Carol", portal.RoleClient)
	ca := e.Login(t, "alpha", "ca@alpha.test")
	var last float64
	for i := 1; i <= 3; i++ {
		r := e.API(t, ca, "POST", "alpha", "/tickets", map[string]any{"fields": map[string]any{"subject": fmt.Sprintf("Printer %d", i), "description": "Jams."}})
		last = r.JSON(t)["number"].(float64)
	}
	if r := e.API(t, e.Login(t, "alpha", "op@alpha.test"), "PUT", "alpha", "/me/list-mode", map[string]any{"mode": "split"}); r.Status != 200 {
		t.Fatalf("list mode: %d %s", r.Status, r.Body)
	}
	b := newBrowser(t, exe, e.URL, artefacts(t), "operator")
	b.login("alpha", "op@alpha.test", pdtest.Password)
	b.dismissTour()
	var side bool
	b.run("the list beside the ticket", chromedp.EmulateViewport(1280, 900), visit(fmt.Sprintf("%s/alpha/tickets/%.0f", e.URL, last)),
		chromedp.WaitVisible(`.split-list a[aria-current="page"]`),
		chromedp.Evaluate(`(() => { const l = document.querySelector(".split-list").getBoundingClientRect(), m = document.querySelector(".split-main").getBoundingClientRect(); return l.width > 150 && m.left >= l.right && m.width > 600 })()`, &side))
	if !side {
		t.Error("the list and the ticket are not side by side at 1280 px")
	}
	b.shot("split-view")
	// The views above the list are put in order by dragging, and it is kept.
	var moved bool
	b.run("drag a view", chromedp.EmulateViewport(1280, 900), visit(e.URL+"/alpha/tickets"), chromedp.WaitVisible(`nav.views a[data-key="unread"]`),
		chromedp.Evaluate(`(() => {
			const nav = document.querySelector("nav.views"), from = nav.querySelector('a[data-key="unread"]'), to = nav.querySelector('a[data-key="mine"]');
			const dt = new DataTransfer(), r = to.getBoundingClientRect(), at = {bubbles: true, cancelable: true, dataTransfer: dt, clientX: r.left + 1, clientY: r.top + 1};
			from.dispatchEvent(new DragEvent("dragstart", at));
			to.dispatchEvent(new DragEvent("dragover", at));
			from.dispatchEvent(new DragEvent("dragend", at));
			return nav.querySelector("a[data-key]").getAttribute("data-key") === "unread";
		})()`, &moved))
	if !moved {
		t.Error("the dragged view did not move")
	}
	op := e.Login(t, "alpha", "op@alpha.test")
	var first any
	for i := 0; i < 100 && first != "unread"; i++ {
		time.Sleep(20 * time.Millisecond)
		first = e.API(t, op, "GET", "alpha", "/views", nil).JSON(t)["views"].([]any)[0].(map[string]any)["key"]
	}
	if first != "unread" {
		t.Errorf("the order after the drag is not kept: first %v", first)
	}

	var hidden bool
	b.run("a narrow screen", chromedp.EmulateViewport(800, 900), visit(fmt.Sprintf("%s/alpha/tickets/%.0f", e.URL, last)), chromedp.WaitVisible("h1"),
		chromedp.Evaluate(`getComputedStyle(document.querySelector(".split-list")).display === "none"`, &hidden))
	if !hidden {
		t.Error("the list beside the ticket shows on a narrow screen")
	}
}
