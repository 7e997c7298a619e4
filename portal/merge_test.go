package portal_test

import (
	"fmt"
	"strings"
	"testing"

	"portaldesk/cmd/server/pdtest"
)

// TestMergeAndSplit: merging keeps every message, note, file, labour entry,
// tag and person in copy — now on the ticket merged into — leaves the
// merged ticket closed as a link, lets its client (another) keep reading,
// and refuses a merge into itself, an unknown ticket or a merged one;
// splitting makes a client's message a ticket with its files.
func TestMergeAndSplit(t *testing.T) {
	w := newWorld(t)
	w.e.SetPlan(t, "alpha", "business", 5, 0, 0)
	api := func(tok, method, path string, body any) pdtest.Resp {
		t.Helper()
		return w.api(t, tok, method, path, body)
	}
	into := w.ticket // Carol's
	src := int64(api(w.cb, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "Printer again", "description": "Same printer, other floor."}}).JSON(t)["number"].(float64))
	sp := fmt.Sprintf("/tickets/%d", src)
	api(w.cb, "POST", sp+"/messages", map[string]any{"body": "Photo attached."})
	api(w.cb, "POST", sp+"/attachments", pdtest.Multipart{Files: map[string][]pdtest.File{"file": {{Name: "floor2.txt", Data: []byte("jam")}}}})
	api(w.op, "POST", sp+"/messages", map[string]any{"body": "Same model as #1", "internal": true})
	api(w.op, "PATCH", sp, map[string]any{"tags": []string{"hardware"}})
	api(w.admin, "POST", "/work-types", map[string]any{"name": "Visit", "unit": "piece", "price": 150000})
	wt := api(w.admin, "GET", "/work-types", nil).JSON(t)["work_types"].([]any)[0].(map[string]any)["id"]
	if r := api(w.op, "POST", sp+"/work", map[string]any{"work_type": wt, "quantity": "1"}); r.Status != 201 {
		t.Fatalf("work: %d %s", r.Status, r.Body)
	}

	for _, c := range []struct {
		into any
		want string
	}{{src, "itself"}, {9999, "No such ticket"}} {
		if r := api(w.op, "POST", sp+"/merge", map[string]any{"into": c.into}); r.Status != 422 || !strings.Contains(r.Body, c.want) {
			t.Errorf("merge into %v: %d %s", c.into, r.Status, r.Body)
		}
	}
	if r := api(w.cb, "POST", sp+"/merge", map[string]any{"into": into}); r.Status != 403 {
		t.Errorf("a client merged: %d", r.Status)
	}
	r := api(w.op, "POST", sp+"/merge", map[string]any{"into": into})
	if r.Status != 200 {
		t.Fatalf("merge: %d %s", r.Status, r.Body)
	}
	tk := r.JSON(t)
	if tk["files"] != float64(1) || !strings.Contains(r.Body, `"hardware"`) || !strings.Contains(r.Body, "cb@alpha.test") {
		t.Errorf("the ticket merged into: %s", r.Body)
	}
	c := conversation(t, w, into)
	for _, want := range []string{"Same printer, other floor.", "Photo attached.", "Same model as #1", fmt.Sprintf("merged #%d (Printer again) into this ticket", src)} {
		if !strings.Contains(c, want) {
			t.Errorf("the conversation lacks %q", want)
		}
	}
	if work := api(w.op, "GET", fmt.Sprintf("/tickets/%d/work", into), nil).Body; !strings.Contains(work, "Visit") {
		t.Errorf("the labour did not move: %s", work)
	}
	old := api(w.op, "GET", sp, nil).JSON(t)
	if old["merged_into"] != float64(into) || old["status"].(map[string]any)["closed"] != true || old["messages"] != float64(0) {
		t.Errorf("the merged ticket: %v", old)
	}
	// Boris, whose ticket it was, keeps reading — now in copy of Carol's —
	// and never sees the note.
	if b := api(w.cb, "GET", fmt.Sprintf("/tickets/%d/messages", into), nil); b.Status != 200 || strings.Contains(b.Body, "Same model") || !strings.Contains(b.Body, "Photo attached.") {
		t.Errorf("Boris reads the merged conversation: %d %s", b.Status, b.Body)
	}
	if r := api(w.op, "POST", sp+"/merge", map[string]any{"into": into}); r.Status != 422 {
		t.Errorf("merged twice: %d", r.Status)
	}
	if list := api(w.op, "GET", "/tickets?q=floor", nil).Body; !strings.Contains(list, fmt.Sprintf(`"number":%d`, into)) {
		t.Errorf("search does not find the moved words in #%d: %s", into, list)
	}

	// Split Boris's photo message off into a ticket of its own.
	var msgID any
	for _, m := range api(w.op, "GET", fmt.Sprintf("/tickets/%d/messages", into), nil).JSON(t)["messages"].([]any) {
		if mm := m.(map[string]any); mm["body"] == "Photo attached." {
			msgID = mm["id"]
		}
	}
	if r := api(w.op, "POST", fmt.Sprintf("/tickets/%d/split", into), map[string]any{"message": 99999}); r.Status != 422 || !strings.Contains(r.Body, `"message"`) {
		t.Errorf("split no message: %d %s", r.Status, r.Body)
	}
	r = api(w.op, "POST", fmt.Sprintf("/tickets/%d/split", into), map[string]any{"message": msgID, "subject": "Second floor"})
	if r.Status != 201 {
		t.Fatalf("split: %d %s", r.Status, r.Body)
	}
	fresh := r.JSON(t)
	if fresh["subject"] != "Second floor" || fresh["description"] != "Photo attached." || fresh["client"].(map[string]any)["name"] != "Boris" {
		t.Errorf("the split ticket: %v", fresh)
	}
	if c := conversation(t, w, into); strings.Contains(c, `"body":"Photo attached."`) {
		t.Error("the split message stayed behind")
	}
}
