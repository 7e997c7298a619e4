package portal_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
)

// TestPersonExportAndErase: an admin exports a client's data — their
// profile, their ticket's conversation and files as they see them, with
// no internal note or file — and erases them: they can no longer sign
// in, their name and address are gone from the people, the mail log and
// the audit log, and their ticket stays with its messages, written by a
// deleted user. Only admins may; nobody erases themself.
func TestPersonExportAndErase(t *testing.T) {
	w := newWorld(t)
	e := w.e
	tp := fmt.Sprintf("/tickets/%d", w.ticket)
	pdtest.Do(t, nil, "POST", e.URL+"/alpha/login", url.Values{"email": {"ca@alpha.test"}, "password": {"a-wrong-guess"}})
	w.api(t, w.ca, "POST", tp+"/messages", map[string]any{"body": "My printer is an HP 1020"})
	w.api(t, w.op, "POST", tp+"/messages", map[string]any{"body": "Try a new cartridge"})
	w.api(t, w.op, "POST", tp+"/messages", map[string]any{"body": "Secret: client is difficult", "internal": true})
	w.api(t, w.ca, "POST", tp+"/attachments", pdtest.Multipart{Files: map[string][]pdtest.File{"file": {{Name: "photo.txt", Data: []byte("the jam")}}}})
	note := w.api(t, w.op, "GET", tp+"/messages", nil).JSON(t)["messages"].([]any)
	var noteID any
	for _, m := range note {
		if m.(map[string]any)["kind"] == "note" {
			noteID = m.(map[string]any)["id"]
		}
	}
	w.api(t, w.op, "POST", fmt.Sprintf("%s/attachments?message=%v", tp, noteID), pdtest.Multipart{Files: map[string][]pdtest.File{"file": {{Name: "internal.txt", Data: []byte("staff only")}}}})
	var ca any
	for _, u := range w.api(t, w.admin, "GET", "/users?role=client", nil).JSON(t)["users"].([]any) {
		if u.(map[string]any)["email"] == "ca@alpha.test" {
			ca = u.(map[string]any)["id"]
		}
	}
	admin := e.SignIn(t, "alpha", "admin@alpha.test")
	r := pdtest.Do(t, admin, "GET", fmt.Sprintf("%s/alpha/people/%v/export", e.URL, ca), nil)
	if r.Status != 200 || r.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("export: %d", r.Status)
	}
	z, err := zip.NewReader(bytes.NewReader([]byte(r.Body)), int64(len(r.Body)))
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	names := map[string]bool{}
	for _, f := range z.File {
		names[f.Name] = true
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		all.WriteString(f.Name + "\n" + string(b) + "\n")
	}
	text := all.String()
	for _, want := range []string{"profile.json", "ca@alpha.test", fmt.Sprintf("tickets/%d.json", w.ticket), "My printer is an HP 1020", "Try a new cartridge", "photo.txt", "the jam"} {
		if !strings.Contains(text, want) {
			t.Errorf("the export lacks %q", want)
		}
	}
	for _, bad := range []string{"Secret: client is difficult", "internal.txt", "staff only"} {
		if strings.Contains(text, bad) {
			t.Errorf("the export holds %q", bad)
		}
	}
	if r := w.api(t, w.op, "GET", fmt.Sprintf("/users/%v/export", ca), nil); r.Status != 403 {
		t.Fatalf("an operator exports: %d", r.Status)
	}
	if r := pdtest.Do(t, admin, "POST", e.URL+"/alpha/people/1/erase", nil); r.Status != 422 {
		t.Fatalf("an admin erases themself: %d", r.Status)
	}
	if r := pdtest.Do(t, admin, "POST", fmt.Sprintf("%s/alpha/people/%v/erase", e.URL, ca), nil); r.Status != 303 {
		t.Fatalf("erase: %d %s", r.Status, r.Body)
	}
	if r := w.api(t, w.ca, "GET", "/me", nil); r.Status != 401 {
		t.Fatalf("the erased client's token: %d", r.Status)
	}
	for _, path := range []string{"/users", "/outbox", "/audit"} {
		if b := w.api(t, w.admin, "GET", path, nil).Body; strings.Contains(b, "ca@alpha.test") || strings.Contains(b, "Carol") {
			t.Errorf("%s still names the client: %s", path, b)
		}
	}
	if r := pdtest.Do(t, nil, "POST", e.URL+"/alpha/api/v1/login", map[string]string{"email": "ca@alpha.test", "password": pdtest.Password}); r.Status != 401 {
		t.Fatalf("the erased client signs in: %d", r.Status)
	}
	msgs := w.api(t, w.op, "GET", tp+"/messages", nil).Body
	if !strings.Contains(msgs, "My printer is an HP 1020") || !strings.Contains(msgs, "Deleted user") {
		t.Fatalf("the ticket's conversation after the erasure: %s", msgs)
	}
	log := w.api(t, w.admin, "GET", "/audit", nil).Body
	if !strings.Contains(log, `"person_erased"`) || !strings.Contains(log, `"person_exported"`) {
		t.Fatal("the export and the erasure are not in the audit log")
	}
}

// TestPeoplePage: staff and clients apart; clients found by a part of the
// name or address and paged; an admin sends someone a link to set a new
// password.
func TestPeoplePage(t *testing.T) {
	w := newWorld(t)
	for i := 0; i < 55; i++ {
		w.e.AddUser(t, "alpha", fmt.Sprintf("c%02d@shop.test", i), fmt.Sprintf("Client%02d", i), portal.RoleClient)
	}
	admin := w.e.SignIn(t, "alpha", "admin@alpha.test")
	page := pdtest.Do(t, admin, "GET", w.e.URL+"/alpha/people", nil).Body
	staff, clients := strings.Index(page, "<h2>Staff</h2>"), strings.Index(page, "<h2>Clients</h2>")
	if staff < 0 || clients < staff || strings.Index(page, "op@alpha.test") > clients || !strings.Contains(page, "/alpha/people?page=2") {
		t.Fatal("staff and clients are not apart, or the clients are not paged")
	}
	found := pdtest.Do(t, admin, "GET", w.e.URL+"/alpha/people?find=client07", nil).Body
	if !strings.Contains(found, "c07@shop.test") || strings.Contains(found, "c08@shop.test") {
		t.Fatal("the search does not find exactly the client")
	}
	var id int64
	w.e.Portal(t, "alpha", func(p *portal.Portal) {
		u, _ := p.UserByEmail(context.Background(), "c07@shop.test")
		id = u.ID
	})
	if r := pdtest.Do(t, admin, "POST", fmt.Sprintf("%s/alpha/people/%d/password-link", w.e.URL, id), nil); r.Status != 303 {
		t.Fatalf("password link: %d", r.Status)
	}
	mails := strings.Join(w.e.Mails(t, "alpha"), "\n")
	if !strings.Contains(mails, "c07@shop.test") || !strings.Contains(mails, "/alpha/reset?token=") {
		t.Fatal("no link was mailed")
	}
	if r := w.api(t, w.op, "GET", "/users", nil); r.Status == 200 && strings.Contains(pdtest.Do(t, w.e.SignIn(t, "alpha", "op@alpha.test"), "GET", w.e.URL+"/alpha/people", nil).Body, "password-link") {
		t.Fatal("an operator is offered admin actions")
	}
}

// TestPeopleEditInviteAndLimits: an admin corrects a person's name and
// address (the old address is told), an invitation that was never used is
// sent again with a new password, and staff the tariff keeps out are marked.
func TestPeopleEditInviteAndLimits(t *testing.T) {
	w := newWorld(t)
	admin := w.e.SignIn(t, "alpha", "admin@alpha.test")
	idOf := func(email string) (id int64) {
		w.e.Portal(t, "alpha", func(p *portal.Portal) {
			u, err := p.UserByEmail(context.Background(), email)
			if err != nil {
				t.Fatal(err)
			}
			id = u.ID
		})
		return id
	}
	carol := idOf("ca@alpha.test")
	edit := func(v url.Values) pdtest.Resp {
		return pdtest.Do(t, admin, "POST", fmt.Sprintf("%s/alpha/people/%d", w.e.URL, carol), v)
	}
	// A bad address: the error at the row's field, its form open, nothing changed.
	r := edit(url.Values{"edit_name": {"Caroline"}, "edit_surname": {"Ng"}, "edit_email": {"not an address"}})
	if r.Status != 422 || !strings.Contains(r.Body, fmt.Sprintf(`id="edit_email-%d"`, carol)) || !strings.Contains(r.Body, `<details class="edit" open>`) || !strings.Contains(r.Body, `value="not an address"`) {
		t.Fatalf("bad address: %d %.3000s", r.Status, r.Body)
	}
	if r := edit(url.Values{"edit_name": {"Caroline"}, "edit_email": {"cb@alpha.test"}}); r.Status != 422 || !strings.Contains(r.Body, "A user with this email already exists.") {
		t.Fatalf("someone else's address: %d", r.Status)
	}
	if u := w.api(t, w.admin, "GET", "/users", nil).Body; !strings.Contains(u, "ca@alpha.test") || strings.Contains(u, "Caroline") {
		t.Fatal("a refused edit changed the person")
	}
	w.e.Mails(t, "alpha") // what was mailed until now
	if r := edit(url.Values{"edit_name": {"Caroline"}, "edit_surname": {"Ng"}, "edit_email": {"caroline@alpha.test"}}); r.Status != 303 {
		t.Fatalf("edit: %d %s", r.Status, r.Body)
	}
	all := w.e.Mails(t, "alpha")
	unfold := strings.NewReplacer("=\r\n", "", "=\n", "") // quoted-printable's soft breaks
	if last := unfold.Replace(all[len(all)-1]); !strings.Contains(last, "<ca@alpha.test>") || !strings.Contains(last, "caroline@alpha.test") {
		t.Errorf("the old address was not told of the change: %s", last)
	}
	if c := pdtest.Do(t, pdtest.Browser(), "POST", w.e.URL+"/alpha/login", url.Values{"email": {"caroline@alpha.test"}, "password": {pdtest.Password}}); c.Status != 303 {
		t.Errorf("the new address does not sign in: %d", c.Status)
	}

	// An invitation never used is sent again, with a password that works.
	if r := pdtest.Do(t, admin, "POST", w.e.URL+"/alpha/people", url.Values{"name": {"Dora"}, "email": {"dora@alpha.test"}, "role": {"client"}}); r.Status != 303 {
		t.Fatalf("invite: %d", r.Status)
	}
	w.e.Mails(t, "alpha")
	page := pdtest.Do(t, admin, "GET", w.e.URL+"/alpha/people?find=dora", nil).Body
	if !strings.Contains(page, "invited, not signed in yet") || !strings.Contains(page, "Send the invitation again") {
		t.Fatal("an unused invitation is not shown as such")
	}
	op := w.e.SignIn(t, "alpha", "op@alpha.test") // operators may resend a client's
	if r := pdtest.Do(t, op, "POST", fmt.Sprintf("%s/alpha/people/%d/invite", w.e.URL, idOf("dora@alpha.test")), nil); r.Status != 303 {
		t.Fatalf("resend: %d %s", r.Status, r.Body)
	}
	all = w.e.Mails(t, "alpha")
	mails := unfold.Replace(all[len(all)-1])
	m := regexp.MustCompile(`Password: (\S+)`).FindStringSubmatch(mails)
	if m == nil || !strings.Contains(mails, "dora@alpha.test") {
		t.Fatalf("no new invitation mailed: %s", mails)
	}
	if c := pdtest.Do(t, pdtest.Browser(), "POST", w.e.URL+"/alpha/login", url.Values{"email": {"dora@alpha.test"}, "password": {m[1]}}); c.Status != 303 {
		t.Errorf("the new invitation's password does not sign in: %d", c.Status)
	}
	// Someone who has signed in gets a password link instead.
	if r := w.api(t, w.op, "POST", fmt.Sprintf("/users/%d/invite", idOf("cb@alpha.test")), nil); r.Status != 422 {
		t.Errorf("resending to someone who signed in: %d", r.Status)
	}

	// The tariff down to one operator: Oleg is locked out, and the page says so.
	w.e.SetPlan(t, "alpha", "business", 1, 0, 0)
	page = pdtest.Do(t, admin, "GET", w.e.URL+"/alpha/people", nil).Body
	row := page[strings.Index(page, "op@alpha.test"):]
	if !strings.Contains(row[:strings.Index(row, "</tr>")], "locked by the tariff") {
		t.Errorf("the locked operator is not marked: %.500s", row)
	}
}
