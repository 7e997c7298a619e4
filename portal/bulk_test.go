package portal_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"portaldesk/cmd/server/pdtest"
)

// TestBulkChanges: operators change many tickets at once from the table or
// the API; each ticket gets its own timeline event; a bad ticket or value
// changes none of them; clients may not.
func TestBulkChanges(t *testing.T) {
	w := newWorld(t)
	nums := []int64{w.ticket}
	for i := 0; i < 3; i++ {
		r := w.api(t, w.cb, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": fmt.Sprintf("Scanner %d", i), "description": "Broken."}})
		nums = append(nums, int64(r.JSON(t)["number"].(float64)))
	}
	state := func(n int64) (string, any) {
		tk := w.api(t, w.op, "GET", fmt.Sprintf("/tickets/%d", n), nil).JSON(t)
		return tk["status"].(map[string]any)["name"].(string), tk["assignee"]
	}

	// Through the table: the operator takes the first three.
	op := w.e.SignIn(t, "alpha", "op@alpha.test")
	form := url.Values{"t": {fmt.Sprint(nums[0]), fmt.Sprint(nums[1]), fmt.Sprint(nums[2])}, "assignee": {"me"}, "back": {"status=open"}}
	r := pdtest.Do(t, op, "POST", w.e.URL+"/alpha/tickets/bulk", form)
	if loc := r.Header.Get("Location"); r.Status != 303 || !strings.Contains(loc, "status=open") {
		t.Fatalf("bulk take: %d %s %.300s", r.Status, loc, r.Body)
	} else if r = pdtest.Do(t, op, "GET", w.e.URL+loc, nil); !strings.Contains(r.Body, "Tickets changed: 3.") || !strings.Contains(r.Body, `value="open" selected`) {
		t.Fatalf("the table after a bulk change: %.300s", r.Body)
	}
	for _, n := range nums[:3] {
		if st, a := state(n); a == nil || st != "In progress" {
			t.Errorf("#%d after the bulk take: %s, %v", n, st, a)
		}
		if msgs := w.api(t, w.op, "GET", fmt.Sprintf("/tickets/%d/messages", n), nil).Body; !strings.Contains(msgs, "took the ticket") {
			t.Errorf("#%d has no timeline event", n)
		}
	}
	if _, a := state(nums[3]); a != nil {
		t.Error("an unticked ticket was assigned")
	}

	// A ticket that does not exist: 422 at the field, the boxes stay ticked, nothing changed.
	form = url.Values{"t": {fmt.Sprint(nums[3]), "999"}, "close": {"1"}}
	r = pdtest.Do(t, op, "POST", w.e.URL+"/alpha/tickets/bulk", form)
	if r.Status != 422 || !strings.Contains(r.Body, "There is no ticket #999.") || !strings.Contains(r.Body, fmt.Sprintf(`value="%d" form="bulk" aria-label="#%d" checked`, nums[3], nums[3])) {
		t.Fatalf("bulk with a missing ticket: %d %.2000s", r.Status, r.Body)
	}
	if st, _ := state(nums[3]); st != "New" {
		t.Errorf("a failed bulk change changed #%d to %s", nums[3], st)
	}
	// Nothing to change.
	if r := pdtest.Do(t, op, "POST", w.e.URL+"/alpha/tickets/bulk", url.Values{"t": {"1"}}); r.Status != 422 || !strings.Contains(r.Body, "Choose a status, a priority or an assignee.") {
		t.Errorf("bulk without a change: %d", r.Status)
	}

	// Through the API: close all four.
	all := w.api(t, w.op, "POST", "/tickets/bulk", map[string]any{"tickets": nums, "status": "Closed"})
	if all.Status != 200 || all.JSON(t)["changed"].(float64) != 4 {
		t.Fatalf("API bulk: %d %s", all.Status, all.Body)
	}
	if r := w.api(t, w.op, "POST", "/tickets/bulk", map[string]any{"tickets": nums, "priority": "enormous"}); r.Status != 422 {
		t.Errorf("API bulk with a bad priority: %d", r.Status)
	}
	if r := w.api(t, w.ca, "POST", "/tickets/bulk", map[string]any{"tickets": nums[:1], "status": "New"}); r.Status != 403 {
		t.Errorf("a client's bulk change: %d", r.Status)
	}
	if st, _ := state(nums[0]); st != "Closed" {
		t.Errorf("after the API bulk close: %s", st)
	}
	// The Russian table says it in Russian.
	if r := pdtest.Do(t, op, "GET", w.e.URL+"/alpha/tickets?lang=ru", nil); !strings.Contains(r.Body, "Закрыть выбранные") || !strings.Contains(r.Body, "4 заявки") {
		t.Errorf("the Russian table: %.3000s", r.Body)
	}
}
