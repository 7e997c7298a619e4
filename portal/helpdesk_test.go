package portal_test

import (
	"context"
	"fmt"
	"math/rand"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
	"portaldesk/portal/twofactor"
	"portaldesk/provisioner"
)

// world is two portals: alpha (a paid tariff) with an admin, an operator and
// two clients, and beta with its own admin.
type world struct {
	e                            *pdtest.Env
	admin, op, ca, cb, betaAdmin string // tokens
	ticket                       int64  // client A's ticket
}

func newWorld(t *testing.T) *world {
	return worldOn(t, pdtest.New(t, provisioner.Config{}))
}

// worldOn is newWorld on a service started with a configuration of the test's own.
func worldOn(t *testing.T, e *pdtest.Env) *world {
	e.Create(t, "alpha")
	e.SetPlan(t, "alpha", "business", 5, 0, 0)
	e.Create(t, "beta")
	e.AddUser(t, "alpha", "op@alpha.test", "Oleg", portal.RoleOperator)
	e.AddUser(t, "alpha", "ca@alpha.test", "Carol", portal.RoleClient)
	e.AddUser(t, "alpha", "cb@alpha.test", "Boris", portal.RoleClient)
	w := &world{e: e,
		admin: e.Login(t, "alpha", "admin@alpha.test"), op: e.Login(t, "alpha", "op@alpha.test"),
		ca: e.Login(t, "alpha", "ca@alpha.test"), cb: e.Login(t, "alpha", "cb@alpha.test"),
		betaAdmin: e.Login(t, "beta", "admin@beta.test")}
	r := e.API(t, w.ca, "POST", "alpha", "/tickets", map[string]any{"fields": map[string]any{"subject": "Printer jams", "description": "Every morning."}})
	if r.Status != 201 {
		t.Fatalf("create ticket: %d %s", r.Status, r.Body)
	}
	w.ticket = int64(r.JSON(t)["number"].(float64))
	return w
}

func (w *world) api(t *testing.T, tok, method, path string, body any) pdtest.Resp {
	t.Helper()
	return w.e.API(t, tok, method, "alpha", path, body)
}

func TestRoleMatrix(t *testing.T) {
	w := newWorld(t)
	e := w.e
	// An internal note with a file, and a ticket to delete.
	note := w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/messages", w.ticket), map[string]any{"body": "Client is on the old firmware", "internal": true})
	if note.Status != 201 {
		t.Fatalf("note: %d %s", note.Status, note.Body)
	}
	noteID := int64(note.JSON(t)["id"].(float64))
	att := w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/attachments", w.ticket), pdtest.Multipart{
		Fields: map[string]string{"message": fmt.Sprint(noteID)}, Files: map[string][]pdtest.File{"file": {{Name: "log.txt", Data: []byte("internal log")}}}})
	if att.Status != 201 {
		t.Fatalf("note attachment: %d %s", att.Status, att.Body)
	}
	noteFile := int64(att.JSON(t)["id"].(float64))
	pub := w.api(t, w.ca, "POST", fmt.Sprintf("/tickets/%d/attachments", w.ticket), pdtest.Multipart{Files: map[string][]pdtest.File{"file": {{Name: "photo.txt", Data: []byte("client file")}}}})
	if pub.Status != 201 {
		t.Fatalf("client attachment: %d %s", pub.Status, pub.Body)
	}
	pubFile := int64(pub.JSON(t)["id"].(float64))

	actors := []string{"admin", "operator", "client A", "client B", "anonymous", "beta admin"}
	toks := map[string]string{"admin": w.admin, "operator": w.op, "client A": w.ca, "client B": w.cb, "anonymous": "", "beta admin": w.betaAdmin}
	n := w.ticket
	type row struct {
		method, path string
		body         func() any
		want         []int // in the order of actors
	}
	rows := []row{
		{"GET", fmt.Sprintf("/tickets/%d", n), nil, []int{200, 200, 200, 404, 401, 401}},
		{"GET", fmt.Sprintf("/tickets/%d/messages", n), nil, []int{200, 200, 200, 404, 401, 401}},
		{"POST", fmt.Sprintf("/tickets/%d/messages", n), func() any { return map[string]any{"body": "hi"} }, []int{201, 201, 201, 404, 401, 401}},
		{"POST", fmt.Sprintf("/tickets/%d/messages", n), func() any { return map[string]any{"body": "psst", "internal": true} }, []int{201, 201, 403, 404, 401, 401}},
		{"PATCH", fmt.Sprintf("/tickets/%d", n), func() any { return map[string]any{"priority": "high"} }, []int{200, 200, 403, 404, 401, 401}},
		{"GET", "/tickets/999", nil, []int{404, 404, 404, 404, 401, 401}},
		{"GET", "/tickets", nil, []int{200, 200, 200, 200, 401, 401}},
		{"GET", fmt.Sprintf("/attachments/%d", pubFile), nil, []int{200, 200, 200, 404, 401, 401}},
		{"GET", fmt.Sprintf("/attachments/%d", noteFile), nil, []int{200, 200, 404, 404, 401, 401}},
		{"GET", "/users", nil, []int{200, 200, 403, 403, 401, 401}},
		{"POST", "/users", func() any {
			return map[string]any{"name": "X", "email": fmt.Sprintf("x%d@x.test", len(pdtest.Password)), "role": "client"}
		}, []int{201, 422, 403, 403, 401, 401}},
		{"PATCH", "/users/2", func() any { return map[string]any{"active": true} }, []int{200, 403, 403, 403, 401, 401}},
		{"GET", "/form", nil, []int{200, 200, 200, 200, 401, 401}},
		{"PUT", "/form", func() any { return map[string]any{"preamble": "Hello"} }, []int{200, 403, 403, 403, 401, 401}},
		{"GET", "/settings", nil, []int{200, 403, 403, 403, 401, 401}},
		{"GET", "/outbox", nil, []int{200, 403, 403, 403, 401, 401}},
		{"GET", "/me", nil, []int{200, 200, 200, 200, 401, 401}},
	}
	for _, rw := range rows {
		for i, a := range actors {
			var body any
			if rw.body != nil {
				body = rw.body()
			}
			r := w.api(t, toks[a], rw.method, rw.path, body)
			if r.Status != rw.want[i] {
				t.Errorf("%s %s as %s: %d, want %d (%s)", rw.method, rw.path, a, r.Status, rw.want[i], strings.TrimSpace(r.Body))
			}
		}
	}
	// Deleting: only admins; others cannot even learn it exists (client B) or are refused.
	del := w.api(t, w.ca, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "To delete", "description": "x"}})
	dn := int64(del.JSON(t)["number"].(float64))
	for a, want := range map[string]int{"operator": 403, "client A": 403, "client B": 404, "anonymous": 401, "beta admin": 401} {
		if r := w.api(t, toks[a], "DELETE", fmt.Sprintf("/tickets/%d", dn), nil); r.Status != want {
			t.Errorf("DELETE as %s: %d, want %d", a, r.Status, want)
		}
	}
	if r := w.api(t, w.admin, "DELETE", fmt.Sprintf("/tickets/%d", dn), nil); r.Status != 204 {
		t.Errorf("DELETE as admin: %d", r.Status)
	}

	// The HTML routes, with browser sessions.
	browsers := map[string]*http.Client{
		"admin": e.SignIn(t, "alpha", "admin@alpha.test"), "operator": e.SignIn(t, "alpha", "op@alpha.test"),
		"client A": e.SignIn(t, "alpha", "ca@alpha.test"), "client B": e.SignIn(t, "alpha", "cb@alpha.test"),
		"anonymous": pdtest.Browser(), "beta admin": e.SignIn(t, "beta", "admin@beta.test"),
	}
	pages := []struct {
		path string
		want []int
	}{
		{fmt.Sprintf("/tickets/%d", n), []int{200, 200, 200, 404, 303, 303}},
		{"/tickets", []int{200, 200, 200, 200, 303, 303}},
		{"/tickets/new", []int{200, 200, 200, 200, 303, 303}},
		{"/people", []int{200, 200, 403, 403, 303, 303}},
		{"/admin/form", []int{200, 403, 403, 403, 303, 303}},
		{"/admin/settings", []int{200, 403, 403, 403, 303, 303}},
		{"/profile", []int{200, 200, 200, 200, 303, 303}},
		{fmt.Sprintf("/attachments/%d", noteFile), []int{200, 200, 404, 404, 303, 303}},
	}
	for _, pg := range pages {
		for i, a := range actors {
			r := pdtest.Do(t, browsers[a], "GET", e.URL+"/alpha"+pg.path, nil)
			if r.Status != pg.want[i] {
				t.Errorf("GET %s as %s: %d, want %d", pg.path, a, r.Status, pg.want[i])
			}
		}
	}
	posts := []struct {
		path string
		form url.Values
		want []int
	}{
		{fmt.Sprintf("/tickets/%d/update", n), url.Values{"status": {"In progress"}}, []int{303, 303, 403, 403, 401, 401}},
		{fmt.Sprintf("/tickets/%d/messages", n), url.Values{"body": {"from the browser"}}, []int{303, 303, 303, 404, 401, 401}},
		{"/admin/form/preamble", url.Values{"preamble": {"Hi"}}, []int{303, 403, 403, 403, 401, 401}},
	}
	for _, pg := range posts {
		for i, a := range actors {
			r := pdtest.Do(t, browsers[a], "POST", e.URL+"/alpha"+pg.path, pg.form)
			if r.Status != pg.want[i] {
				t.Errorf("POST %s as %s: %d, want %d", pg.path, a, r.Status, pg.want[i])
			}
		}
	}
}

func TestInternalNotesNeverReachTheClient(t *testing.T) {
	w := newWorld(t)
	e := w.e
	n := w.ticket
	path := fmt.Sprintf("/tickets/%d", n)
	if r := w.api(t, w.op, "PATCH", path, map[string]any{"assignee": "me"}); r.Status != 200 {
		t.Fatal(r.Status, r.Body)
	}
	note := w.api(t, w.op, "POST", path+"/messages", map[string]any{"body": "SECRETNOTE the client is difficult", "internal": true})
	noteID := int64(note.JSON(t)["id"].(float64))
	w.api(t, w.op, "POST", path+"/attachments?message="+fmt.Sprint(noteID), pdtest.Multipart{Files: map[string][]pdtest.File{"file": {{Name: "secretfile.txt", Data: []byte("SECRETBYTES")}}}})
	if r := w.api(t, w.op, "POST", path+"/messages", map[string]any{"body": "Please restart the printer."}); r.Status != 201 {
		t.Fatal(r.Status)
	}
	leak := regexp.MustCompile(`SECRETNOTE|secretfile|SECRETBYTES|Internal note`)
	check := func(what, body string) {
		t.Helper()
		if leak.MatchString(body) {
			t.Errorf("%s shows the internal note to the client: %s", what, leak.FindString(body))
		}
	}
	// The staff do see it.
	if r := w.api(t, w.op, "GET", path+"/messages", nil); !strings.Contains(r.Body, "SECRETNOTE") || !strings.Contains(r.Body, "secretfile") {
		t.Fatal("the operator does not see the note")
	}
	// API
	r := w.api(t, w.ca, "GET", path+"/messages", nil)
	if !strings.Contains(r.Body, "Please restart") {
		t.Fatal("the client does not see the reply")
	}
	check("messages API", r.Body)
	check("ticket API", w.api(t, w.ca, "GET", path, nil).Body)
	check("tickets API", w.api(t, w.ca, "GET", "/tickets", nil).Body)
	if r := w.api(t, w.ca, "GET", "/tickets?q=SECRETNOTE", nil); strings.Contains(r.Body, fmt.Sprintf(`"number":%d`, n)) {
		t.Error("the client finds the ticket by the note's words")
	}
	if r := w.api(t, w.op, "GET", "/tickets?q=SECRETNOTE", nil); !strings.Contains(r.Body, fmt.Sprintf(`"number":%d`, n)) {
		t.Error("the operator cannot find the ticket by the note's words")
	}
	// HTML
	c := e.SignIn(t, "alpha", "ca@alpha.test")
	page := pdtest.Do(t, c, "GET", e.URL+"/alpha"+path, nil)
	if page.Status != 200 || !strings.Contains(page.Body, "Please restart") {
		t.Fatalf("ticket page: %d", page.Status)
	}
	check("ticket page", page.Body)
	check("tickets page", pdtest.Do(t, c, "GET", e.URL+"/alpha/tickets", nil).Body)
	// Mail
	mails := e.Mails(t, "alpha")
	sawReply := false
	for _, m := range mails {
		if strings.Contains(m, "To: \"Carol\" <ca@alpha.test>") || strings.Contains(m, "<ca@alpha.test>") {
			check("mail to the client", m)
			sawReply = sawReply || strings.Contains(m, "Please restart")
		}
	}
	if !sawReply {
		t.Errorf("the client got no mail about the reply (%d mails)", len(mails))
	}
}

func TestFormChangesKeepOldTickets(t *testing.T) {
	w := newWorld(t)
	form := map[string]any{"fields": []map[string]any{
		{"id": 1}, {"id": 2},
		{"label": "Order number", "type": "integer", "required": true},
		{"label": "Product", "type": "select", "options": []string{"Printer", "Scanner"}},
	}}
	r := w.api(t, w.admin, "PUT", "/form", form)
	if r.Status != 200 {
		t.Fatalf("put form: %d %s", r.Status, r.Body)
	}
	fields := r.JSON(t)["fields"].([]any)
	if len(fields) != 4 {
		t.Fatalf("%d fields", len(fields))
	}
	order := fields[2].(map[string]any)
	orderName := order["name"].(string)
	// Validation of every custom field, keyed by name or id.
	r = w.api(t, w.ca, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "S", "description": "D", orderName: "12x", "4": "Toaster"}})
	if r.Status != 422 {
		t.Fatalf("invalid answers: %d", r.Status)
	}
	errs := r.JSON(t)["error"].(map[string]any)["fields"].(map[string]any)
	if errs[orderName] == nil || errs["f4"] == nil {
		t.Fatalf("errors %v", errs)
	}
	r = w.api(t, w.ca, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "S", "description": "D", orderName: 42, "f4": "Printer"}})
	if r.Status != 201 {
		t.Fatalf("valid answers: %d %s", r.Status, r.Body)
	}
	old := int64(r.JSON(t)["number"].(float64))
	// Rename, then retire the order number.
	form["fields"] = []map[string]any{{"id": 1}, {"id": 2}, {"id": order["id"], "label": "Order #", "type": "integer"}}
	if r := w.api(t, w.admin, "PUT", "/form", form); r.Status != 200 {
		t.Fatalf("rename: %d %s", r.Status, r.Body)
	}
	form["fields"] = []map[string]any{{"id": 1}, {"id": 2}}
	if r := w.api(t, w.admin, "PUT", "/form", form); r.Status != 200 {
		t.Fatalf("retire: %d %s", r.Status, r.Body)
	}
	got := w.api(t, w.ca, "GET", fmt.Sprintf("/tickets/%d", old), nil).Body
	if !strings.Contains(got, `"label":"Order number","type":"integer","value":"42"`) || !strings.Contains(got, `"label":"Product","type":"select","value":"Printer"`) {
		t.Fatalf("the old ticket lost its answers: %s", got)
	}
	page := pdtest.Do(t, w.e.SignIn(t, "alpha", "ca@alpha.test"), "GET", fmt.Sprintf("%s/alpha/tickets/%d", w.e.URL, old), nil)
	if !strings.Contains(page.Body, "Order number") || !strings.Contains(page.Body, "42") {
		t.Fatal("the old ticket's page lost its answers")
	}
	// New tickets no longer need the retired field.
	if r := w.api(t, w.ca, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "S2", "description": "D2"}}); r.Status != 201 {
		t.Fatalf("after retiring: %d %s", r.Status, r.Body)
	}
}

func TestDesignerIsATariffFeature(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{})
	e.Create(t, "free")
	tok := e.Login(t, "free", "admin@free.test")
	r := e.API(t, tok, "PUT", "free", "/form", map[string]any{"fields": []map[string]any{{"id": 1}, {"id": 2}, {"label": "Extra", "type": "text"}}})
	if r.Status != 403 || r.JSON(t)["error"].(map[string]any)["code"] != "not_in_tariff" {
		t.Fatalf("designer on free: %d %s", r.Status, r.Body)
	}
	c := e.SignIn(t, "free", "admin@free.test")
	page := pdtest.Do(t, c, "GET", e.URL+"/free/admin/form", nil)
	if !strings.Contains(page.Body, "designer comes with the paid tariffs") || strings.Contains(page.Body, "Add a field") {
		t.Fatal("the designer page does not say it is locked")
	}
	// The preamble is for everyone.
	if r := e.API(t, tok, "PUT", "free", "/form", map[string]any{"preamble": "We answer within a day."}); r.Status != 200 {
		t.Fatalf("preamble on free: %d %s", r.Status, r.Body)
	}
	if p := pdtest.Do(t, c, "GET", e.URL+"/free/tickets/new", nil); !strings.Contains(p.Body, "We answer within a day.") {
		t.Fatal("no preamble on the form")
	}
}

func TestValidationErrorKeepsTypedValues(t *testing.T) {
	w := newWorld(t)
	w.api(t, w.admin, "PUT", "/form", map[string]any{"fields": []map[string]any{{"id": 1}, {"id": 2}, {"label": "Visit date", "type": "date", "required": true}}})
	c := w.e.SignIn(t, "alpha", "ca@alpha.test")
	r := pdtest.Do(t, c, "POST", w.e.URL+"/alpha/tickets", pdtest.Multipart{Fields: map[string]string{"subject": "Broken <b>screen</b>", "description": "It flickers", "f3": "tomorrow"}})
	if r.Status != 422 {
		t.Fatalf("status %d", r.Status)
	}
	for _, want := range []string{`value="Broken &lt;b&gt;screen&lt;/b&gt;"`, ">It flickers</textarea>", `value="tomorrow"`, "Enter a date as YYYY-MM-DD."} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("the form lost %q", want)
		}
	}
}

func TestAttachmentLimitsAndQuota(t *testing.T) {
	w := newWorld(t)
	e := w.e
	if r := w.api(t, w.admin, "PUT", "/settings", map[string]any{"max_files": 2, "max_file_mb": 0.1}); r.Status != 200 {
		t.Fatalf("settings: %d %s", r.Status, r.Body)
	}
	path := fmt.Sprintf("/tickets/%d/attachments", w.ticket)
	up := func(size int) pdtest.Resp {
		return w.api(t, w.ca, "POST", path, pdtest.Multipart{Files: map[string][]pdtest.File{"file": {{Name: "../../etc/passwd", Data: []byte(strings.Repeat("x", size))}}}})
	}
	countFiles := func() int {
		n := 0
		filepath.Walk(filepath.Join(e.Dir, "portals", "alpha", "files"), func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() {
				n++
			}
			return nil
		})
		return n
	}
	if r := up(200 << 10); r.Status != 413 || r.JSON(t)["error"].(map[string]any)["code"] != "file_too_large" {
		t.Fatalf("too large: %d %s", r.Status, r.Body)
	}
	if countFiles() != 0 {
		t.Fatal("a refused file was kept")
	}
	r := up(1000)
	if r.Status != 201 || r.JSON(t)["name"] != "passwd" {
		t.Fatalf("first: %d %s", r.Status, r.Body)
	}
	if r := up(1000); r.Status != 201 {
		t.Fatalf("second: %d", r.Status)
	}
	if r := up(1000); r.Status != 422 || r.JSON(t)["error"].(map[string]any)["code"] != "too_many_files" {
		t.Fatalf("third: %d %s", r.Status, r.Body)
	}
	if countFiles() != 2 {
		t.Fatalf("%d files on disk, want 2", countFiles())
	}
	// The tariff's disk quota: 1 MB, of which 2000 bytes are used.
	e.SetPlan(t, "alpha", "business", 5, 0, 1)
	w.api(t, w.admin, "PUT", "/settings", map[string]any{"max_files": 50, "max_file_mb": 1})
	r2 := w.api(t, w.ca, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "Big", "description": "files"}})
	n2 := int64(r2.JSON(t)["number"].(float64))
	big := func() pdtest.Resp {
		return w.api(t, w.ca, "POST", fmt.Sprintf("/tickets/%d/attachments", n2), pdtest.Multipart{Files: map[string][]pdtest.File{"file": {{Name: "big.bin", Data: make([]byte, 600<<10)}}}})
	}
	if r := big(); r.Status != 201 {
		t.Fatalf("within quota: %d %s", r.Status, r.Body)
	}
	if r := big(); r.Status != 507 || r.JSON(t)["error"].(map[string]any)["code"] != "quota_exceeded" {
		t.Fatalf("over quota: %d %s", r.Status, r.Body)
	}
	if countFiles() != 3 {
		t.Fatalf("%d files on disk, want 3", countFiles())
	}
	// Deleting the ticket frees its bytes.
	if r := w.api(t, w.admin, "DELETE", fmt.Sprintf("/tickets/%d", n2), nil); r.Status != 204 {
		t.Fatal(r.Status)
	}
	if countFiles() != 2 {
		t.Fatalf("%d files after delete, want 2", countFiles())
	}
	if r := big(); r.Status != 404 {
		t.Fatalf("upload to a deleted ticket: %d", r.Status)
	}
}

func TestAttachmentsAreServedSafely(t *testing.T) {
	w := newWorld(t)
	html := []byte("<html><script>alert(1)</script></html>")
	r := w.api(t, w.ca, "POST", fmt.Sprintf("/tickets/%d/attachments", w.ticket), pdtest.Multipart{Files: map[string][]pdtest.File{"file": {{Name: "page.html", Data: html}}}})
	id := int64(r.JSON(t)["id"].(float64))
	got := w.api(t, w.ca, "GET", fmt.Sprintf("/attachments/%d?inline=1", id), nil)
	if got.Body != string(html) || got.Header.Get("Content-Type") == "text/html" || !strings.HasPrefix(got.Header.Get("Content-Disposition"), "attachment") ||
		got.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("served as %v", got.Header)
	}
}

func TestRegistrationAndInvitations(t *testing.T) {
	w := newWorld(t)
	e := w.e
	c := pdtest.Browser()
	r := pdtest.Do(t, c, "POST", e.URL+"/alpha/register", url.Values{"name": {"Дарья"}, "surname": {"Иванова"}, "email": {"dasha@example.com"}})
	if r.Status != 200 || !strings.Contains(r.Body, "Check your mail at dasha@example.com") {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	var pw string
	for _, m := range e.Mails(t, "alpha") {
		if strings.Contains(m, "dasha@example.com") {
			if m := regexp.MustCompile(`Password: (\S+)`).FindStringSubmatch(m); m != nil {
				pw = m[1]
			}
		}
	}
	if pw == "" {
		t.Fatal("no password in the registration mail")
	}
	if r := pdtest.Do(t, nil, "POST", e.URL+"/alpha/api/v1/login", map[string]string{"email": "dasha@example.com", "password": pw}); r.Status != 200 {
		t.Fatalf("login with the mailed password: %d", r.Status)
	}
	// The same email again, on the form and on the API: answered exactly
	// as a new one (the page differs only in the address as typed), and
	// the owner is told by mail, with a way back in.
	again := pdtest.Do(t, pdtest.Browser(), "POST", e.URL+"/alpha/register", url.Values{"name": {"X"}, "surname": {"Y"}, "email": {"DASHA@example.com"}})
	mask := func(s string) string {
		return regexp.MustCompile(`(value|nonce)="[^"]*"|(?i)dasha@example\.com`).ReplaceAllString(s, "")
	}
	fresh := pdtest.Do(t, pdtest.Browser(), "POST", e.URL+"/alpha/register", url.Values{"name": {"X"}, "surname": {"Y"}, "email": {"dasha@example.com"}})
	if again.Status != 200 || mask(again.Body) != mask(fresh.Body) {
		t.Fatalf("a registered address is answered differently: %d", again.Status)
	}
	newAddr := w.api(t, "", "POST", "/register", map[string]string{"name": "New", "surname": "Person", "email": "new@example.com"})
	oldAddr := w.api(t, "", "POST", "/register", map[string]string{"name": "New", "surname": "Person", "email": "ca@alpha.test"})
	if newAddr.Status != 202 || oldAddr.Status != 202 || newAddr.Body != oldAddr.Body {
		t.Fatalf("the API tells them apart: %d %s / %d %s", newAddr.Status, newAddr.Body, oldAddr.Status, oldAddr.Body)
	}
	told := 0
	for _, m := range e.Mails(t, "alpha") {
		if strings.Contains(m, "tried to register at Alpha Ltd with this address") {
			told++
			if strings.Contains(m, "Password:") || !strings.Contains(m, e.URL+"/alpha/forgot") {
				t.Fatalf("the owner's mail: %s", m)
			}
		}
	}
	if told != 3 { // dasha twice, Carol once
		t.Fatalf("%d owners told, want 3", told)
	}
	if r := pdtest.Do(t, nil, "POST", e.URL+"/alpha/api/v1/login", map[string]string{"email": "dasha@example.com", "password": pw}); r.Status != 200 {
		t.Fatalf("the first password no longer works: %d", r.Status)
	}
	if r := w.api(t, "", "POST", "/register", map[string]string{"name": "", "surname": "", "email": "x"}); r.Status != 422 || len(r.JSON(t)["error"].(map[string]any)["fields"].(map[string]any)) != 3 {
		t.Fatalf("empty registration: %d %s", r.Status, r.Body)
	}
	// Operators are limited by the tariff: 5 seats, 2 used.
	for i := 0; i < 3; i++ {
		if r := w.api(t, w.admin, "POST", "/users", map[string]string{"name": "Op", "email": fmt.Sprintf("op%d@alpha.test", i), "role": "operator"}); r.Status != 201 {
			t.Fatalf("invite %d: %d %s", i, r.Status, r.Body)
		}
	}
	r = w.api(t, w.admin, "POST", "/users", map[string]string{"name": "Op", "email": "op9@alpha.test", "role": "operator"})
	if r.Status != 409 || r.JSON(t)["error"].(map[string]any)["code"] != "operator_limit" {
		t.Fatalf("over the limit: %d %s", r.Status, r.Body)
	}
	mails := strings.Join(e.Mails(t, "alpha"), "\n")
	if !strings.Contains(mails, "invited you to Alpha Ltd as an operator") || !strings.Contains(mails, e.URL+"/alpha/login") {
		t.Fatal("no invitation mail with the portal's address")
	}
	// Deactivating an operator signs them out everywhere.
	users := w.api(t, w.admin, "GET", "/users?role=operator", nil).JSON(t)["users"].([]any)
	opID := users[0].(map[string]any)["id"]
	if r := w.api(t, w.admin, "PATCH", fmt.Sprintf("/users/%v", opID), map[string]any{"active": false}); r.Status != 200 {
		t.Fatal(r.Status)
	}
	if r := w.api(t, w.op, "GET", "/me", nil); r.Status != 401 {
		t.Fatalf("deactivated operator: %d", r.Status)
	}
}

func TestTicketsTable(t *testing.T) {
	w := newWorld(t)
	for i := 0; i < 3; i++ {
		w.api(t, w.cb, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": fmt.Sprintf("Scanner issue %d", i), "description": "paper"}, "priority": "urgent"})
	}
	w.api(t, w.op, "PATCH", fmt.Sprintf("/tickets/%d", w.ticket), map[string]any{"assignee": "me", "status": "In progress"})
	count := func(tok, q string) int {
		r := w.api(t, tok, "GET", "/tickets?"+q, nil)
		if r.Status != 200 {
			t.Fatalf("%s: %d %s", q, r.Status, r.Body)
		}
		return len(r.JSON(t)["tickets"].([]any))
	}
	for q, want := range map[string]int{"": 4, "assignee=me": 1, "assignee=none": 3, "status=In+progress": 1, "status=open": 4, "status=closed": 0,
		"priority=urgent": 3, "q=scanner": 3, "q=printer": 1, "q=pap": 3, "q=%22%29%28*": 4, "q=printer%22+OR": 0, "q=%22printer%22": 1} {
		if got := count(w.op, q); got != want {
			t.Errorf("operator %q: %d, want %d", q, got, want)
		}
	}
	if got := count(w.ca, ""); got != 1 {
		t.Errorf("client A sees %d tickets", got)
	}
	if got := count(w.cb, "q=printer"); got != 0 {
		t.Errorf("client B finds client A's ticket")
	}
	// Unread: new activity since the operator last looked.
	list := w.api(t, w.admin, "GET", "/tickets", nil).JSON(t)["tickets"].([]any)
	if list[0].(map[string]any)["unread"] != true {
		t.Error("the admin's unseen ticket is not unread")
	}
	if r := w.api(t, w.op, "GET", "/tickets?assignee=bogus", nil); r.Status != 422 {
		t.Errorf("bad filter: %d", r.Status)
	}
	// The timeline records the change.
	msgs := w.api(t, w.ca, "GET", fmt.Sprintf("/tickets/%d/messages", w.ticket), nil).Body
	if !strings.Contains(msgs, "took the ticket") || !strings.Contains(msgs, "from New to In progress") {
		t.Errorf("timeline: %s", msgs)
	}
	// The client sees who works on it.
	page := pdtest.Do(t, w.e.SignIn(t, "alpha", "ca@alpha.test"), "GET", w.e.URL+"/alpha/tickets", nil).Body
	if !strings.Contains(page, "Oleg") || !strings.Contains(page, "In progress") {
		t.Error("the client's list does not show the operator and status")
	}
}

func TestEveryPageRenders(t *testing.T) {
	w := newWorld(t)
	e := w.e
	admin := e.SignIn(t, "alpha", "admin@alpha.test")
	seen := map[string]bool{}
	get := func(c *http.Client, path, page string) {
		t.Helper()
		r := pdtest.Do(t, c, "GET", e.URL+path, nil)
		if r.Status >= 500 || !strings.Contains(r.Body, "</html>") {
			t.Errorf("%s: %d", path, r.Status)
		}
		seen[page] = true
	}
	get(nil, "/", "landing")
	get(nil, "/nosuch-page/", "error")
	get(nil, "/alpha/login", "login")
	get(nil, "/alpha/register", "register")
	get(admin, "/alpha/tickets", "tickets")
	get(admin, "/alpha/tickets/new", "ticket_new")
	get(admin, fmt.Sprintf("/alpha/tickets/%d", w.ticket), "ticket")
	get(admin, "/alpha/people", "people")
	get(admin, "/alpha/profile", "profile")
	get(admin, "/alpha/admin/form", "admin_form")
	get(admin, "/alpha/admin/settings", "admin_settings")
	get(admin, "/alpha/admin/audit", "audit")
	get(admin, "/alpha/admin/mail", "admin_mail")
	get(admin, "/alpha/admin/mail/templates/message/ru", "admin_template")
	get(admin, "/alpha/admin/subscription", "admin_subscription")
	get(admin, "/alpha/admin/domain", "admin_domain")
	get(admin, "/alpha/help/api", "api_reference")
	get(admin, "/alpha/spam", "spam")
	inv := w.api(t, w.admin, "POST", "/subscription/topup", map[string]any{"amount": 100000}).JSON(t)["invoice"]
	get(admin, fmt.Sprintf("/alpha/admin/invoices/%v", inv), "invoice")
	get(admin, "/alpha/stats?by=week", "stats")
	get(admin, "/alpha/admin/work-types", "admin_work_types")
	w.api(t, w.admin, "POST", "/groups", map[string]any{"name": "Service", "assignment": "round_robin"})
	get(admin, "/alpha/admin/groups", "admin_groups")
	w.api(t, w.admin, "POST", "/sla-policies", map[string]any{"name": "Standard", "first_response_minutes": 240})
	get(admin, "/alpha/admin/sla", "admin_sla")
	w.api(t, w.admin, "POST", "/triggers", map[string]any{"name": "Tag all", "event": "create", "conditions": []any{map[string]any{"field": "subject", "op": "contains", "value": "x"}}, "actions": []any{map[string]any{"type": "add_tag", "value": "seen"}}})
	get(admin, "/alpha/admin/automation", "admin_automation")
	w.api(t, w.admin, "POST", "/actions", map[string]any{"name": "Check", "fields": []any{map[string]any{"name": "serial", "label": "Serial", "type": "select", "options": []string{"A", "B"}}}})
	get(admin, "/alpha/admin/actions", "admin_actions")
	w.api(t, w.admin, "POST", "/kb/articles", map[string]any{"title": "Paper jams", "body": "Open **tray 2**.", "published": true})
	get(nil, "/alpha/help", "help")
	get(nil, "/alpha/help/paper-jams", "help")
	get(admin, "/alpha/kb", "kb")
	get(admin, "/alpha/kb/new", "kb_edit")
	w.api(t, w.admin, "POST", "/canned-replies", map[string]any{"title": "Hi", "body": "Hello, {client.first_name}!", "shared": true})
	get(admin, "/alpha/canned", "canned")
	w.api(t, w.admin, "POST", "/forms", map[string]any{"name": "Warranty claim"})
	get(admin, "/alpha/admin/forms", "admin_forms")
	get(admin, "/alpha/tickets/new?form=warranty-claim", "ticket_new")
	w.api(t, w.admin, "PUT", "/widget/settings", map[string]any{"enabled": true})
	get(admin, "/alpha/admin/widget", "admin_widget")
	get(admin, "/alpha/admin/webhooks", "admin_webhooks")
	w.api(t, w.admin, "POST", "/record-fields", map[string]any{"target": "client", "label": "Plan", "type": "select", "options": []string{"Gold", "Silver"}})
	w.api(t, w.admin, "POST", "/record-fields", map[string]any{"target": "org", "label": "Manager", "type": "text"})
	get(admin, "/alpha/admin/record-fields", "admin_record_fields")
	org := w.api(t, w.admin, "POST", "/organizations", map[string]any{"name": "Alpha Clients LLC", "domains": []string{"alpha.test"}, "fields": map[string]any{"cf2": "Olga"}}).JSON(t)
	get(admin, "/alpha/orgs", "orgs")
	get(admin, fmt.Sprintf("/alpha/orgs/%v", org["id"]), "org")
	ca := w.api(t, w.admin, "GET", "/users?external_id=&role=client", nil).JSON(t)["users"].([]any)[0].(map[string]any)
	w.api(t, w.admin, "PATCH", fmt.Sprintf("/users/%v", ca["id"]), map[string]any{"fields": map[string]any{"cf1": "Gold"}})
	get(admin, fmt.Sprintf("/alpha/people/%v", ca["id"]), "person")
	get(admin, "/alpha/admin/channels", "admin_channels")
	imp := pdtest.Do(t, nil, "POST", w.e.URL+"/alpha/api/v1/imports", pdtest.Multipart{Fields: map[string]string{"kind": "clients"},
		Files: map[string][]pdtest.File{"file": {{Name: "c.csv", Data: []byte("name,email\nAnn,ann@x.test\n")}}}}, "Authorization", "Bearer "+w.admin).JSON(t)
	get(admin, fmt.Sprintf("/alpha/admin/data?import=%v", imp["job"].(map[string]any)["id"]), "admin_data")
	get(nil, "/alpha/chat-link?t=1.2.3.x", "chat_link")
	get(admin, fmt.Sprintf("/alpha/tickets/%d", w.ticket), "ticket")
	get(admin, "/alpha/reports/labour?by=month", "report_labour")
	opsUser := e.AddOpsUser(t, "ops@vendor.test", "ops-password")
	get(nil, "/ops/login", "ops_login")
	opsc := pdtest.Browser()
	e.OpsSignIn(t, opsc, opsUser)
	get(opsc, "/ops", "ops")
	get(opsc, "/ops/portals/alpha", "ops_portal")
	// The second step of a sign-in, for an operator with two-step sign-in.
	e.Portal(t, "alpha", func(p *portal.Portal) {
		ctx := context.Background()
		u, _ := p.UserByEmail(ctx, "op@alpha.test")
		setup, err := p.StartTwoFactor(ctx, u)
		if err == nil {
			_, err = p.EnableTwoFactor(ctx, u, setup.Pending, twofactor.Code(setup.Secret, time.Now()), "")
		}
		if err != nil {
			t.Fatal(err)
		}
	})
	if r := pdtest.Do(t, nil, "POST", e.URL+"/alpha/login", url.Values{"email": {"op@alpha.test"}, "password": {pdtest.Password}}); r.Status != 200 || !strings.Contains(r.Body, `action="/alpha/login/code"`) {
		t.Errorf("the second step: %d", r.Status)
	}
	seen["login_code"] = true
	get(nil, "/alpha/forgot", "forgot")
	get(nil, "/alpha/reset?token=x", "reset")
	for _, name := range e.App.Tpl.Names() {
		if !seen[name] {
			t.Errorf("page template %q is not rendered by this test", name)
		}
	}
}

func TestAdminConfiguresStatuses(t *testing.T) {
	w := newWorld(t)
	r := w.api(t, w.admin, "POST", "/statuses", map[string]any{"name": "On hold", "color": "#aa00aa"})
	if r.Status != 201 {
		t.Fatalf("add: %d %s", r.Status, r.Body)
	}
	id := r.JSON(t)["id"]
	if r := w.api(t, w.op, "POST", "/statuses", map[string]any{"name": "Mine", "color": "#aa00aa"}); r.Status != 403 {
		t.Fatalf("operator adds a status: %d", r.Status)
	}
	if r := w.api(t, w.admin, "POST", "/statuses", map[string]any{"name": "on HOLD", "color": "red"}); r.Status != 422 ||
		len(r.JSON(t)["error"].(map[string]any)["fields"].(map[string]any)) != 2 {
		t.Fatalf("duplicate and bad colour: %d %s", r.Status, r.Body)
	}
	if r := w.api(t, w.admin, "PATCH", fmt.Sprintf("/statuses/%v", id), map[string]any{"position": 1, "initial": true}); r.Status != 200 {
		t.Fatalf("move: %d %s", r.Status, r.Body)
	}
	r = w.api(t, w.ca, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "S", "description": "D"}})
	if st := r.JSON(t)["status"].(map[string]any)["name"]; st != "On hold" {
		t.Fatalf("new tickets start in %v", st)
	}
	n := r.JSON(t)["number"]
	r = w.api(t, w.op, "PATCH", fmt.Sprintf("/tickets/%v", n), map[string]any{"status": "closed"})
	if r.Status != 200 || r.JSON(t)["closed_at"] == nil {
		t.Fatalf("close by name: %d %s", r.Status, r.Body)
	}
	if r := w.api(t, w.op, "PATCH", fmt.Sprintf("/tickets/%v", n), map[string]any{"status": "Nonexistent"}); r.Status != 422 {
		t.Fatalf("unknown status: %d", r.Status)
	}
}

// TestLongConversationOpensAtItsEnd: a ticket page shows the latest
// TimelineShown entries and links to the whole conversation, which the
// API always returns whole.
func TestLongConversationOpensAtItsEnd(t *testing.T) {
	w := newWorld(t)
	for i := 1; i <= portal.TimelineShown+5; i++ {
		if r := w.api(t, w.ca, "POST", fmt.Sprintf("/tickets/%d/messages", w.ticket), map[string]any{"body": fmt.Sprintf("note-%03d", i)}); r.Status != 201 {
			t.Fatal(r.Status, r.Body)
		}
	}
	op := w.e.SignIn(t, "alpha", "op@alpha.test")
	page := pdtest.Do(t, op, "GET", fmt.Sprintf("%s/alpha/tickets/%d", w.e.URL, w.ticket), nil).Body
	first, last := "note-001", fmt.Sprintf("note-%03d", portal.TimelineShown+5)
	if strings.Contains(page, first) || !strings.Contains(page, last) || !strings.Contains(page, "Show the whole conversation") {
		t.Fatalf("the page should open at the latest %d entries with a link to the rest", portal.TimelineShown)
	}
	if n := strings.Count(page, `class="msg`); n != portal.TimelineShown {
		t.Fatalf("%d entries shown", n)
	}
	if strings.Index(page, fmt.Sprintf("note-%03d", portal.TimelineShown)) > strings.Index(page, last) {
		t.Fatal("entries are not in order")
	}
	all := pdtest.Do(t, op, "GET", fmt.Sprintf("%s/alpha/tickets/%d?all=1", w.e.URL, w.ticket), nil).Body
	if !strings.Contains(all, first) || !strings.Contains(all, last) || strings.Contains(all, "Show the whole conversation") {
		t.Fatal("?all=1 should show the whole conversation")
	}
	if r := w.api(t, w.op, "GET", fmt.Sprintf("/tickets/%d/messages", w.ticket), nil); !strings.Contains(r.Body, first) || !strings.Contains(r.Body, last) {
		t.Fatal("the API returns the whole conversation")
	}
	short := w.api(t, w.cb, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "Short", "description": "One."}}).JSON(t)["number"]
	if page := pdtest.Do(t, op, "GET", fmt.Sprintf("%s/alpha/tickets/%v", w.e.URL, short), nil).Body; strings.Contains(page, "Show the whole conversation") {
		t.Fatal("a short conversation has nothing to show more of")
	}
}

// A message on a portal the registry has just opened, which notifies the
// client (their mail preferences, the settings, the mail template), runs
// on the writer's one connection: no second connection, no second parse
// of the schema.
func TestAWriteOnAColdPortalTakesOneConnection(t *testing.T) {
	w := newWorld(t)
	reg := w.e.Svc.Registry()
	reg.Invalidate("alpha")
	reg.WaitClosed()
	if r := w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/messages", w.ticket), map[string]string{"body": "Try now."}); r.Status != 201 {
		t.Fatalf("reply: %d %s", r.Status, r.Body)
	}
	h := reg.Peek("alpha")
	if h == nil {
		t.Fatal("alpha is not open")
	}
	defer h.Release()
	if n := h.Portal.DB.Readers().Stats().OpenConnections; n != 0 {
		t.Errorf("the reply opened %d reader connections", n)
	}
	if mails := w.e.Mails(t, "alpha"); len(mails) == 0 || !strings.Contains(mails[len(mails)-1], "Try now.") {
		t.Error("the client was not mailed the reply")
	}
}

// TestTicketTotals checks the table's count against the rows of every page,
// for each kind of filter, with some tickets read and others not.
func TestTicketTotals(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{})
	e.Create(t, "count")
	e.Portal(t, "count", func(p *portal.Portal) {
		ctx := context.Background()
		if err := portal.Seed(ctx, p, portal.SeedOptions{Tickets: 230, Messages: 300, Clients: 20, Operators: 3, Rand: rand.New(rand.NewSource(7))}, pdtest.Password); err != nil {
			t.Fatal(err)
		}
		op, err := p.UserByEmail(ctx, "seed-operator-0@example.test")
		if err != nil {
			t.Fatal(err)
		}
		for n := int64(1); n <= 230; n += 3 { // the operator opens a third of them
			tk, err := p.Ticket(ctx, op, n)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.MarkRead(ctx, op, tk); err != nil {
				t.Fatal(err)
			}
		}
		filters := []portal.TicketFilter{{}, {Status: "open"}, {Status: "closed"}, {Assignee: "me"}, {Assignee: "none"}, {Priority: "urgent"},
			{Unread: true}, {Unread: true, Status: "open", Priority: "high"}, {Query: "printer"}, {Query: "printer", Sort: "priority"}, {Client: 5}}
		for _, f := range filters {
			rows, total := 0, -1
			for page := 1; ; page++ {
				f.Page = page
				l, err := p.ListTickets(ctx, op, f)
				if err != nil {
					t.Fatalf("%+v: %v", f, err)
				}
				rows += len(l.Tickets)
				if f.Query != "" {
					// A search counts as far as its page: "more than" while there is more.
					if l.TotalCapped != l.HasMore || l.Total != rows {
						t.Errorf("%+v: page %d says %d (more: %v) after %d rows", f, page, l.Total, l.TotalCapped, rows)
					}
					total = l.Total
				} else if page == 1 {
					total = l.Total
				} else if l.Total != total {
					t.Errorf("%+v: page %d counts %d, page 1 %d", f, page, l.Total, total)
				}
				if !l.HasMore {
					break
				}
			}
			if rows != total || rows == 0 && f.Status != "closed" {
				t.Errorf("%+v: total %d, rows on the pages %d", f, total, rows)
			}
		}
	})
}
