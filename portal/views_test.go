package portal_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestViewsAndFollowing: views' counts equal the table's filtered totals;
// views are one's own or (admins) shared, with errors at their fields;
// built-in ones can be hidden; a follower hears of notes and messages by
// mail and finds the ticket in "Following"; marking unread puts a ticket
// back among the unread.
func TestViewsAndFollowing(t *testing.T) {
	w := newWorld(t)
	for i := 0; i < 3; i++ {
		w.api(t, w.ca, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": fmt.Sprintf("Q%d", i), "description": "…"}})
	}
	w.api(t, w.op, "PATCH", fmt.Sprintf("/tickets/%d", w.ticket), map[string]any{"assignee": "me"})
	if r := w.api(t, w.op, "POST", "/views", map[string]any{"name": "", "filters": "status=open"}); r.Status != 422 || !strings.Contains(r.Body, `"name"`) {
		t.Errorf("a view without a name: %d %s", r.Status, r.Body)
	}
	if r := w.api(t, w.op, "POST", "/views", map[string]any{"name": "Bad", "filters": "status=nonsense"}); r.Status != 422 || !strings.Contains(r.Body, `"filters"`) {
		t.Errorf("a view of bad filters: %d %s", r.Status, r.Body)
	}
	if r := w.api(t, w.op, "POST", "/views", map[string]any{"name": "All", "filters": "", "shared": true}); r.Status != 422 || !strings.Contains(r.Body, `"shared"`) {
		t.Errorf("an operator shared a view: %d %s", r.Status, r.Body)
	}
	if r := w.api(t, w.op, "POST", "/views", map[string]any{"name": "Urgent open", "filters": map[string]any{"status": "open", "priority": "normal"}}); r.Status != 201 {
		t.Fatalf("view: %d %s", r.Status, r.Body)
	}
	w.api(t, w.admin, "POST", "/views", map[string]any{"name": "Everything", "filters": "", "shared": true})
	views := w.api(t, w.op, "GET", "/views", nil).JSON(t)["views"].([]any)
	names := []string{}
	for _, x := range views {
		v := x.(map[string]any)
		names = append(names, v["name"].(string))
		table := w.api(t, w.op, "GET", "/tickets?"+v["filters"].(string), nil).JSON(t)["total"]
		if v["count"] != table {
			t.Errorf("view %q counts %v, the table %v", v["name"], v["count"], table)
		}
	}
	if got := strings.Join(names, ","); got != "My open,Unassigned,Waiting for client,Unread,Following,Everything,Urgent open" {
		t.Errorf("the operator's views: %s", got)
	}
	if admin := w.api(t, w.admin, "GET", "/views", nil).Body; strings.Contains(admin, "Urgent open") {
		t.Error("another's own view is listed")
	}
	if r := w.api(t, w.op, "PUT", "/views/hidden", map[string]any{"builtin": "unread", "hidden": true}); r.Status != 200 || strings.Contains(r.Body, `"Unread"`) {
		t.Errorf("hiding Unread: %d %s", r.Status, r.Body)
	}
	if r := w.api(t, w.op, "PUT", "/views/hidden", map[string]any{"builtin": "nope", "hidden": true}); r.Status != 422 {
		t.Errorf("hiding an unknown view: %d", r.Status)
	}

	// Following: the admin follows; Oleg's note reaches her, not Carol.
	n := w.ticket
	if r := w.api(t, w.admin, "POST", fmt.Sprintf("/tickets/%d/follow", n), nil); r.Status != 204 {
		t.Fatalf("follow: %d", r.Status)
	}
	if r := w.api(t, w.ca, "POST", fmt.Sprintf("/tickets/%d/follow", n), nil); r.Status != 403 {
		t.Errorf("a client followed: %d", r.Status)
	}
	w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/messages", n), map[string]any{"body": "Firmware 2.1 is broken", "internal": true})
	var toAdmin, toClient bool
	for _, m := range w.e.Mails(t, "alpha") {
		if strings.Contains(m, "Firmware 2.1") {
			toAdmin = toAdmin || strings.Contains(m, "admin@alpha.test")
			toClient = toClient || strings.Contains(m, "ca@alpha.test")
		}
	}
	if !toAdmin || toClient {
		t.Errorf("the note by mail: to the follower %v, to the client %v", toAdmin, toClient)
	}
	if l := w.api(t, w.admin, "GET", "/tickets?following=1", nil).JSON(t); l["total"] != float64(1) {
		t.Errorf("following: %v", l["total"])
	}
	// Unread again.
	w.api(t, w.admin, "GET", fmt.Sprintf("/tickets/%d", n), nil)
	before := w.api(t, w.op, "GET", "/tickets?unread=1", nil).JSON(t)["total"].(float64)
	if r := w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/unread", n), nil); r.Status != 204 {
		t.Fatalf("unread: %d", r.Status)
	}
	if after := w.api(t, w.op, "GET", "/tickets?unread=1", nil).JSON(t)["total"].(float64); after != before+1 {
		t.Errorf("unread %v → %v", before, after)
	}
}

// TestViewOrder: each person puts their views in an order of their own; a
// key that is not one of theirs changes nothing; views not named follow.
func TestViewOrder(t *testing.T) {
	w := newWorld(t)
	mine := w.api(t, w.op, "POST", "/views", map[string]any{"name": "Urgent", "filters": "priority=urgent"}).JSON(t)["id"]
	keys := func(tok string) []string {
		var out []string
		for _, v := range w.api(t, tok, "GET", "/views", nil).JSON(t)["views"].([]any) {
			out = append(out, v.(map[string]any)["key"].(string))
		}
		return out
	}
	before := keys(w.op)
	if !slices.Contains(before, "waiting") {
		t.Errorf("no built-in view of tickets waiting for the client: %v", before)
	}
	if r := w.api(t, w.op, "PUT", "/views/order", map[string]any{"order": []string{fmt.Sprint(mine), "nope"}}); r.Status != 422 || !strings.Contains(r.Body, `"order"`) {
		t.Errorf("an unknown key: %d %s", r.Status, r.Body)
	}
	if got := keys(w.op); strings.Join(got, ",") != strings.Join(before, ",") {
		t.Errorf("a refused order was kept: %v", got)
	}
	r := w.api(t, w.op, "PUT", "/views/order", map[string]any{"order": []string{fmt.Sprint(mine), "unread"}})
	if r.Status != 200 {
		t.Fatalf("order: %d %s", r.Status, r.Body)
	}
	got := keys(w.op)
	if len(got) != len(before) || got[0] != fmt.Sprint(mine) || got[1] != "unread" || got[2] != before[0] {
		t.Errorf("the order: %v (before %v)", got, before)
	}
	if a := keys(w.admin); a[0] != "mine" {
		t.Errorf("the admin's order changed with the operator's: %v", a)
	}
}
