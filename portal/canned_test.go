package portal_test

import (
	"fmt"
	"strings"
	"testing"

	"portaldesk/portal"
)

// TestCannedReplies: shared replies are the admin's, personal ones their
// owner's; each sees shared and own, the most used first; placeholders are
// filled for the ticket (a client's name arrives as text, never markup);
// clients have none of it.
func TestCannedReplies(t *testing.T) {
	w := newWorld(t)
	if r := w.api(t, w.op, "POST", "/canned-replies", map[string]any{"title": "Hi", "body": "x", "shared": true}); r.Status != 422 || !strings.Contains(r.Body, `"shared"`) {
		t.Errorf("an operator's shared reply: %d %s", r.Status, r.Body)
	}
	if r := w.api(t, w.op, "POST", "/canned-replies", map[string]any{"title": "", "body": ""}); r.Status != 422 || !strings.Contains(r.Body, `"title"`) || !strings.Contains(r.Body, `"body"`) {
		t.Errorf("an empty reply: %d %s", r.Status, r.Body)
	}
	shared := w.api(t, w.admin, "POST", "/canned-replies", map[string]any{"title": "Greeting", "folder": "Start", "shared": true,
		"body": "Hello, {client.first_name}! Ticket #{ticket.number} ({ticket.subject}) is with {operator.name}."}).JSON(t)["id"]
	own := w.api(t, w.op, "POST", "/canned-replies", map[string]any{"title": "Restart", "body": "Please restart the printer."}).JSON(t)["id"]
	w.api(t, w.admin, "POST", "/canned-replies", map[string]any{"title": "Admin's own", "body": "Mine."})
	list := w.api(t, w.op, "GET", "/canned-replies", nil).Body
	if !strings.Contains(list, "Greeting") || !strings.Contains(list, "Restart") || strings.Contains(list, "Admin's own") {
		t.Errorf("the operator's replies: %s", list)
	}
	if r := w.api(t, w.op, "PATCH", fmt.Sprintf("/canned-replies/%v", shared), map[string]any{"title": "Mine now"}); r.Status != 403 {
		t.Errorf("an operator changed a shared reply: %d", r.Status)
	}
	if r := w.api(t, w.ca, "GET", "/canned-replies", nil); r.Status != 403 {
		t.Errorf("a client lists canned replies: %d", r.Status)
	}
	// Replies per language: a ticket's reply box offers its client's.
	if r := w.api(t, w.op, "POST", "/canned-replies", map[string]any{"title": "Bad", "body": "x", "lang": "de"}); r.Status != 422 || !strings.Contains(r.Body, `"lang"`) {
		t.Errorf("a reply in an unknown language: %d %s", r.Status, r.Body)
	}
	w.api(t, w.op, "POST", "/canned-replies", map[string]any{"title": "Приветствие", "body": "Здравствуйте, {client.first_name}!", "lang": "ru"})
	w.api(t, w.op, "POST", "/canned-replies", map[string]any{"title": "Welcome", "body": "Hello, {client.first_name}!", "lang": "en"})
	forTicket := func() string {
		return w.api(t, w.op, "GET", fmt.Sprintf("/canned-replies?ticket=%d", w.ticket), nil).Body
	}
	if l := forTicket(); !strings.Contains(l, "Welcome") || strings.Contains(l, "Приветствие") || !strings.Contains(l, "Restart") {
		t.Errorf("for an English-reading client: %s", l)
	}
	w.e.Portal(t, "alpha", func(p *portal.Portal) {
		u, _ := p.UserByEmail(t.Context(), "ca@alpha.test")
		if err := p.SetLang(t.Context(), u, "ru"); err != nil {
			t.Fatal(err)
		}
	})
	if l := forTicket(); strings.Contains(l, "Welcome") || !strings.Contains(l, "Приветствие") || !strings.Contains(l, "Restart") {
		t.Errorf("for a Russian-reading client: %s", l)
	}
	if r := w.api(t, w.cb, "GET", fmt.Sprintf("/canned-replies?ticket=%d", w.ticket), nil); r.Status != 403 {
		t.Errorf("a client asks for canned replies: %d", r.Status)
	}
	// Carol's name, made hostile, arrives as text.
	w.api(t, w.admin, "PATCH", fmt.Sprintf("/users/%d", userID(t, w, "ca@alpha.test")), map[string]any{"name": "<b>Carol</b>"})
	r := w.api(t, w.op, "POST", fmt.Sprintf("/canned-replies/%v/use?ticket=%d", shared, w.ticket), nil)
	want := fmt.Sprintf("Hello, <b>Carol</b>! Ticket #%d (Printer jams) is with Oleg.", w.ticket)
	if r.Status != 200 || r.JSON(t)["text"] != want {
		t.Errorf("filled: %d %s", r.Status, r.Body)
	}
	// Used once: first in the list now; searching narrows it.
	w.api(t, w.op, "POST", fmt.Sprintf("/canned-replies/%v/use?ticket=%d", own, w.ticket), nil)
	w.api(t, w.op, "POST", fmt.Sprintf("/canned-replies/%v/use?ticket=%d", own, w.ticket), nil)
	replies := w.api(t, w.op, "GET", "/canned-replies", nil).JSON(t)["replies"].([]any)
	if replies[0].(map[string]any)["title"] != "Restart" {
		t.Errorf("the most used is not first: %v", replies)
	}
	if s := w.api(t, w.op, "GET", "/canned-replies?q=hello", nil).Body; !strings.Contains(s, "Greeting") || strings.Contains(s, "Restart") {
		t.Errorf("search: %s", s)
	}
	// The ticket page shows the message as text: the name is escaped there.
	w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/messages", w.ticket), map[string]any{"body": want})
}

func userID(t *testing.T, w *world, email string) int64 {
	for _, u := range w.api(t, w.admin, "GET", "/users?q="+email, nil).JSON(t)["users"].([]any) {
		if m := u.(map[string]any); m["email"] == email {
			return int64(m["id"].(float64))
		}
	}
	t.Fatalf("no user %s", email)
	return 0
}
