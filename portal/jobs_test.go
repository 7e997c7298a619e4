package portal_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
)

// work runs alpha's worker round: jobs, mail, chats.
func work(t *testing.T, w *world) {
	t.Helper()
	if err := w.e.Svc.Mailer().Deliver(context.Background(), "alpha"); err != nil {
		t.Fatal(err)
	}
}

func upload(t *testing.T, w *world, tok, kind, name string, data []byte) pdtest.Resp {
	t.Helper()
	return pdtest.Do(t, nil, "POST", w.e.URL+"/alpha/api/v1/imports", pdtest.Multipart{Fields: map[string]string{"kind": kind},
		Files: map[string][]pdtest.File{"file": {{Name: name, Data: data}}}}, "Authorization", "Bearer "+tok)
}

// TestImport: clients from XLSX — previewed with their columns guessed,
// a mapping without addresses or with a column twice refused, then
// applied in the background: good rows kept with their organisation
// (made when new), external id and field, bad ones refused each with why
// (a bad address, staff's address, a client who exists, an option not
// offered, an external id taken) and downloadable; nobody mailed unless
// asked. Organisations from CSV in Windows-1251 with semicolons: a bad INN
// refused, an existing one changed when asked. Operators and clients may
// not; another portal sees nothing.
func TestImport(t *testing.T) {
	w := newWorld(t)
	w.api(t, w.admin, "POST", "/record-fields", map[string]any{"target": "client", "label": "Тариф", "type": "select", "options": []string{"Gold", "Silver"}})
	x := excelize.NewFile()
	for i, row := range [][]any{
		{"Имя", "Фамилия", "Почта", "Организация", "CRM id", "Тариф"},
		{"Анна", "Смирнова", "anna@shop.test", "ООО «Рога и копыта»", "crm-1", "Gold"},
		{"Борис", "", "not-an-address", "", "", ""},
		{"Oleg", "", "op@alpha.test", "", "", ""},
		{"Carol", "", "ca@alpha.test", "", "", "Silver"},
		{"Вера", "Павлова", "vera@shop.test", "", "", "Platinum"},
		{"Глеб", "Орлов", "gleb@shop.test", "", "crm-1", ""},
		{},
		{"Дина", "Юрьева", "dina@shop.test", "ООО «Рога и копыта»", "crm-2", "Silver"},
	} {
		_ = x.SetSheetRow("Sheet1", fmt.Sprintf("A%d", i+1), &row)
	}
	var buf bytes.Buffer
	if err := x.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if r := upload(t, w, w.op, "clients", "clients.xlsx", buf.Bytes()); r.Status != 403 {
		t.Fatalf("an operator imported: %d", r.Status)
	}
	fieldErr(t, "not a table", upload(t, w, w.admin, "clients", "x.csv", []byte{0, 1, 2, 3}), "file")
	fieldErr(t, "no kind", upload(t, w, w.admin, "tickets", "clients.xlsx", buf.Bytes()), "kind")
	r := upload(t, w, w.admin, "clients", "clients.xlsx", buf.Bytes())
	if r.Status != 201 {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	pv := r.JSON(t)
	id := int64(pv["job"].(map[string]any)["id"].(float64))
	mapping := pv["mapping"].([]any)
	want := []string{"name", "surname", "email", "organization", "external_id"}
	for i, m := range want {
		if mapping[i] != m {
			t.Fatalf("the guessed mapping: %v", mapping)
		}
	}
	if !strings.HasPrefix(mapping[5].(string), "cf") || pv["job"].(map[string]any)["total"] != float64(8) || len(pv["sample"].([]any)) != 8 {
		t.Fatalf("the preview: %v", pv)
	}
	fieldErr(t, "no addresses", w.api(t, w.admin, "POST", fmt.Sprintf("/imports/%d/start", id), map[string]any{"mapping": []string{"name"}}), "mapping")
	fieldErr(t, "a column twice", w.api(t, w.admin, "POST", fmt.Sprintf("/imports/%d/start", id), map[string]any{"mapping": []string{"name", "name", "email"}}), "mapping")
	if j := w.api(t, w.admin, "GET", fmt.Sprintf("/jobs/%d", id), nil).JSON(t); j["state"] != "preview" {
		t.Fatalf("a refused start changed the job: %v", j)
	}
	mails := len(w.e.Mails(t, "alpha"))
	if r := w.api(t, w.admin, "POST", fmt.Sprintf("/imports/%d/start", id), map[string]any{"mapping": mapping}); r.Status != 202 {
		t.Fatalf("start: %d %s", r.Status, r.Body)
	}
	work(t, w)
	j := w.api(t, w.admin, "GET", fmt.Sprintf("/jobs/%d", id), nil).JSON(t)
	if j["state"] != "done" || j["created"] != float64(2) || j["rejected"] != float64(5) || j["done"] != float64(8) {
		t.Fatalf("the job: %v", j)
	}
	rej := pdtest.Do(t, nil, "GET", w.e.URL+fmt.Sprintf("/alpha/api/v1/jobs/%d/rejected", id), nil, "Authorization", "Bearer "+w.admin)
	cr := csv.NewReader(strings.NewReader(rej.Body))
	cr.FieldsPerRecord = -1 // each row as long as it was
	recs, err := cr.ReadAll()
	if err != nil || len(recs) != 6 {
		t.Fatalf("the refused rows: %v %q", err, rej.Body)
	}
	for i, c := range []struct{ row, why string }{{"3", "email"}, {"4", "staff"}, {"5", "exists"}, {"6", "cf"}, {"7", "external"}} {
		if recs[i+1][0] != c.row || !strings.Contains(recs[i+1][1], c.why) {
			t.Errorf("refused row %d: %q", i, recs[i+1])
		}
	}
	anna := w.api(t, w.admin, "GET", "/users?external_id=crm-1", nil).JSON(t)["users"].([]any)
	if len(anna) != 1 || anna[0].(map[string]any)["email"] != "anna@shop.test" || anna[0].(map[string]any)["organization"] == nil ||
		!strings.Contains(fmt.Sprint(anna[0].(map[string]any)["fields"]), "Gold") {
		t.Fatalf("the imported client: %v", anna)
	}
	orgs := w.api(t, w.admin, "GET", "/organizations?find=Рога", nil).JSON(t)["organizations"].([]any)
	if len(orgs) != 1 || orgs[0].(map[string]any)["people"] != float64(2) {
		t.Fatalf("the organisation made by the import: %v", orgs)
	}
	if got := len(w.e.Mails(t, "alpha")); got != mails {
		t.Fatalf("the import mailed %d people", got-mails)
	}

	// Organisations from CSV as Russian Excel saves it.
	table, _ := charmap.Windows1251.NewEncoder().String("Название;ИНН;КПП;Домены\n" +
		"ООО «Рога и копыта»;7707083893;773601001;roga.test\n" +
		"ИП Сидоров;1234567890;;\n" +
		"АО «Север»;;;sever.test, north.test\n")
	r = upload(t, w, w.admin, "organizations", "orgs.csv", []byte(table))
	if r.Status != 201 {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	id = int64(r.JSON(t)["job"].(map[string]any)["id"].(float64))
	w.api(t, w.admin, "POST", fmt.Sprintf("/imports/%d/start", id), map[string]any{"mapping": r.JSON(t)["mapping"], "update_existing": true})
	work(t, w)
	j = w.api(t, w.admin, "GET", fmt.Sprintf("/jobs/%d", id), nil).JSON(t)
	if j["created"] != float64(1) || j["updated"] != float64(1) || j["rejected"] != float64(1) {
		t.Fatalf("the organisations' job: %v", j)
	}
	roga := w.api(t, w.admin, "GET", "/organizations?find=Рога", nil).JSON(t)["organizations"].([]any)[0].(map[string]any)
	if roga["tax_id"] != "7707083893" || roga["domains"].([]any)[0] != "roga.test" {
		t.Fatalf("the organisation changed: %v", roga)
	}
	// The page: upload, preview, columns chosen, applied.
	admin := w.e.SignIn(t, "alpha", "admin@alpha.test")
	page := w.e.URL + "/alpha/admin/data"
	if r := pdtest.Do(t, admin, "POST", page+"/import", pdtest.Multipart{Fields: map[string]string{"kind": "clients"},
		Files: map[string][]pdtest.File{"file": {{Name: "x.csv", Data: []byte("just a heading\n")}}}}); r.Status != 422 || !strings.Contains(r.Body, "no rows") {
		t.Fatalf("a page upload of nothing: %d", r.Status)
	}
	r = pdtest.Do(t, admin, "POST", page+"/import", pdtest.Multipart{Fields: map[string]string{"kind": "clients"},
		Files: map[string][]pdtest.File{"file": {{Name: "x.csv", Data: []byte("who;where\nЕва;eva@shop.test\n")}}}})
	loc := r.Header.Get("Location")
	if r.Status != 303 || !strings.Contains(loc, "import=") {
		t.Fatalf("a page upload: %d %s", r.Status, loc)
	}
	if body := pdtest.Do(t, admin, "GET", w.e.URL+loc, nil).Body; !strings.Contains(body, `name="col1"`) || !strings.Contains(body, "eva@shop.test") {
		t.Fatal("the preview does not show the table and its columns")
	}
	jid := loc[strings.Index(loc, "import=")+7 : strings.Index(loc, "#")]
	if r := pdtest.Do(t, admin, "POST", page+"/import/"+jid, url.Values{"col0": {"name"}}); r.Status != 422 {
		t.Fatalf("a page mapping without addresses: %d", r.Status)
	}
	if r := pdtest.Do(t, admin, "POST", page+"/import/"+jid, url.Values{"col0": {"name"}, "col1": {"email"}}); r.Status != 303 {
		t.Fatalf("the page's start: %d", r.Status)
	}
	work(t, w)
	if u := w.api(t, w.admin, "GET", "/users?role=client", nil).Body; !strings.Contains(u, "eva@shop.test") {
		t.Fatal("the page's import did not happen")
	}
	if r := w.api(t, w.ca, "GET", "/jobs", nil); r.Status != 403 {
		t.Fatalf("a client lists jobs: %d", r.Status)
	}
	if r := w.e.API(t, w.betaAdmin, "GET", "beta", fmt.Sprintf("/jobs/%d", id), nil); r.Status != 404 {
		t.Fatalf("beta reads alpha's job: %d", r.Status)
	}
}

// TestExport: tickets with their messages and notes as CSV (a row per
// entry, formulas defused) and as JSON, written a chunk at a time; a
// chunk cut short (the service stopped mid-write) is written again, not
// twice; only admins may.
func TestExport(t *testing.T) {
	w := newWorld(t)
	w.e.Svc.Mailer().Stop() // the test runs the worker's rounds itself, one chunk at a time
	for i := range 450 {
		subject := fmt.Sprintf("Ticket %d", i)
		if i == 7 {
			subject = `=HYPERLINK("http://evil","x")`
		}
		w.api(t, w.op, "POST", "/tickets", map[string]any{"client": 0, "fields": map[string]any{"subject": subject, "description": "text"}})
	}
	w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/messages", w.ticket), map[string]any{"body": "A reply"})
	w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/messages", w.ticket), map[string]any{"body": "INTERNAL note", "internal": true})
	if r := w.api(t, w.op, "POST", "/exports", map[string]any{"format": "csv"}); r.Status != 403 {
		t.Fatalf("an operator exported: %d", r.Status)
	}
	fieldErr(t, "a bad format", w.api(t, w.admin, "POST", "/exports", map[string]any{"format": "xml"}), "format")
	fieldErr(t, "a bad day", w.api(t, w.admin, "POST", "/exports", map[string]any{"format": "csv", "since": "yesterday"}), "since")
	j := w.api(t, w.admin, "POST", "/exports", map[string]any{"format": "csv"}).JSON(t)
	id := int64(j["id"].(float64))
	// One chunk, then garbage after it, as if the service died writing
	// the next: the next chunk starts where the last one ended.
	w.e.Portal(t, "alpha", func(p *portal.Portal) {
		if _, err := p.RunJobs(context.Background()); err != nil {
			t.Fatal(err)
		}
		var file string
		_ = p.DB.Writer().QueryRowContext(context.Background(), "SELECT file FROM jobs WHERE id = ?", id).Scan(&file)
		f, err := p.Scratch.OpenFile(file, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte("GARBAGE,half a row"))
		f.Close()
	})
	if j := w.api(t, w.admin, "GET", fmt.Sprintf("/jobs/%d", id), nil).JSON(t); j["state"] != "running" || j["done"] != float64(100) {
		t.Fatalf("after one chunk: %v", j)
	}
	work(t, w)
	j = w.api(t, w.admin, "GET", fmt.Sprintf("/jobs/%d", id), nil).JSON(t)
	if j["state"] != "done" || j["ready"] != true || j["done"] != float64(451) {
		t.Fatalf("the export: %v", j)
	}
	file := pdtest.Do(t, nil, "GET", w.e.URL+fmt.Sprintf("/alpha/api/v1/jobs/%d/file", id), nil, "Authorization", "Bearer "+w.admin)
	recs, err := csv.NewReader(strings.NewReader(file.Body)).ReadAll()
	if err != nil {
		t.Fatalf("the CSV: %v", err)
	}
	if strings.Contains(file.Body, "GARBAGE") || len(recs) != 1+451+2 || recs[0][0] != "ticket" {
		t.Fatalf("the CSV has %d rows", len(recs))
	}
	if !strings.Contains(file.Body, `'=HYPERLINK`) || !strings.Contains(file.Body, "INTERNAL note") {
		t.Fatal("a formula was not defused, or the note is missing")
	}
	j = w.api(t, w.admin, "POST", "/exports", map[string]any{"format": "json", "status": "open"}).JSON(t)
	work(t, w)
	file = pdtest.Do(t, nil, "GET", w.e.URL+fmt.Sprintf("/alpha/api/v1/jobs/%v/file", j["id"]), nil, "Authorization", "Bearer "+w.admin)
	var out struct {
		Tickets []struct {
			Number   int64 `json:"number"`
			Messages []struct {
				Kind string `json:"kind"`
				Body string `json:"body"`
			} `json:"messages"`
		} `json:"tickets"`
	}
	if err := json.Unmarshal([]byte(file.Body), &out); err != nil || len(out.Tickets) != 451 {
		t.Fatalf("the JSON: %v, %d tickets", err, len(out.Tickets))
	}
	if r := w.api(t, w.op, "GET", fmt.Sprintf("/jobs/%v/file", j["id"]), nil); r.Status != 403 {
		t.Fatalf("an operator downloaded an export: %d", r.Status)
	}
}
