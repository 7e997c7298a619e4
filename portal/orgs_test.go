package portal_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
)

// fieldErr fails unless r is a 422 naming field.
func fieldErr(t *testing.T, what string, r pdtest.Resp, field string) {
	t.Helper()
	if r.Status != 422 {
		t.Fatalf("%s: %d %s, want 422 at %s", what, r.Status, r.Body, field)
	}
	fields, _ := r.JSON(t)["error"].(map[string]any)["fields"].(map[string]any)
	if _, ok := fields[field]; !ok {
		t.Fatalf("%s: the error is not at %s: %s", what, field, r.Body)
	}
}

// TestOrganizations: organisations with checked details, joined by their
// clients' domains; fields kept on clients and organisations, shown to
// staff beside the ticket and never to the client; external ids on
// tickets, clients and organisations, found through the API; another
// portal sees none of it.
func TestOrganizations(t *testing.T) {
	w := newWorld(t)
	e := w.e
	// Fields: admins define them; typed like the questionnaire.
	if r := w.api(t, w.op, "POST", "/record-fields", map[string]any{"target": "client", "label": "Plan", "type": "text"}); r.Status != 403 {
		t.Fatalf("an operator defined a field: %d", r.Status)
	}
	fieldErr(t, "unknown type", w.api(t, w.admin, "POST", "/record-fields", map[string]any{"target": "client", "label": "Plan", "type": "colour"}), "type")
	fieldErr(t, "unknown target", w.api(t, w.admin, "POST", "/record-fields", map[string]any{"target": "tickets", "label": "Plan", "type": "text"}), "target")
	plan := w.api(t, w.admin, "POST", "/record-fields", map[string]any{"target": "client", "label": "Plan", "type": "select", "options": []string{"Gold", "Silver"}}).JSON(t)
	manager := w.api(t, w.admin, "POST", "/record-fields", map[string]any{"target": "org", "label": "Account manager", "type": "text"}).JSON(t)
	planName, managerName := plan["name"].(string), manager["name"].(string)

	// An organisation's details are checked, each at its field, and a
	// refusal keeps nothing.
	for _, c := range []struct{ field, value string }{{"tax_id", "7707083894"}, {"tax_id", "12-34"}, {"kpp", "77360100"}, {"name", ""}} {
		body := map[string]any{"name": "Horns and Hooves", c.field: c.value}
		fieldErr(t, c.field+"="+c.value, w.api(t, w.op, "POST", "/organizations", body), c.field)
	}
	fieldErr(t, "a public mail domain", w.api(t, w.op, "POST", "/organizations", map[string]any{"name": "H", "domains": []string{"gmail.com"}}), "domains")
	fieldErr(t, "not a domain", w.api(t, w.op, "POST", "/organizations", map[string]any{"name": "H", "domains": []string{"not a domain"}}), "domains")
	fieldErr(t, "an unknown field", w.api(t, w.op, "POST", "/organizations", map[string]any{"name": "H", "fields": map[string]any{"cf999": "x"}}), "cf999")
	if n := len(w.api(t, w.op, "GET", "/organizations", nil).JSON(t)["organizations"].([]any)); n != 0 {
		t.Fatalf("refused organisations were kept: %d", n)
	}
	if r := w.api(t, w.ca, "POST", "/organizations", map[string]any{"name": "Mine"}); r.Status != 403 {
		t.Fatalf("a client made an organisation: %d", r.Status)
	}

	// Made by an operator: its clients (not its staff) join by domain.
	r := w.api(t, w.op, "POST", "/organizations", map[string]any{"name": "Alpha Clients", "tax_id": "7707083893", "kpp": "773601001",
		"domains": []string{"@Alpha.test"}, "external_id": "crm-org-1", "fields": map[string]any{managerName: "Olga"}})
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	org := r.JSON(t)
	orgID := int64(org["id"].(float64))
	if org["joined"].(float64) != 2 || org["people"].(float64) != 2 || org["domains"].([]any)[0] != "alpha.test" {
		t.Fatalf("the clients at its domain did not join it: %s", r.Body)
	}
	fieldErr(t, "a domain taken", w.api(t, w.op, "POST", "/organizations", map[string]any{"name": "Other", "domains": []string{"alpha.test"}}), "domains")
	fieldErr(t, "a name taken", w.api(t, w.op, "POST", "/organizations", map[string]any{"name": "alpha clients"}), "name")
	fieldErr(t, "an external id taken", w.api(t, w.op, "POST", "/organizations", map[string]any{"name": "Other", "external_id": "crm-org-1"}), "external_id")
	if got := w.api(t, w.admin, "GET", "/organizations?external_id=crm-org-1", nil).JSON(t)["organizations"].([]any); len(got) != 1 {
		t.Fatalf("found by external id: %d", len(got))
	}
	// A client who registers later from the domain joins by themselves.
	newc := w.api(t, w.op, "POST", "/users", map[string]any{"name": "Dora", "surname": "D", "email": "dora@alpha.test", "role": "client"}).JSON(t)
	if newc["organization"] != float64(orgID) {
		t.Fatalf("a new client at the domain did not join: %v", newc)
	}
	members := w.api(t, w.op, "GET", fmt.Sprintf("/users?organization=%d", orgID), nil).JSON(t)["users"].([]any)
	if len(members) != 3 {
		t.Fatalf("the organisation's people: %d", len(members))
	}

	// The record kept about a client: operators may change it, not the
	// person; values are checked like the questionnaire's.
	var ca int64
	e.Portal(t, "alpha", func(p *portal.Portal) {
		u, _ := p.UserByEmail(t.Context(), "ca@alpha.test")
		ca = u.ID
	})
	caPath := fmt.Sprintf("/users/%d", ca)
	fieldErr(t, "an option not offered", w.api(t, w.op, "PATCH", caPath, map[string]any{"fields": map[string]any{planName: "Platinum"}}), planName)
	if r := w.api(t, w.op, "PATCH", caPath, map[string]any{"name": "Caroline"}); r.Status != 403 {
		t.Fatalf("an operator renamed a client: %d", r.Status)
	}
	if r := w.api(t, w.op, "PATCH", caPath, map[string]any{"fields": map[string]any{planName: "Gold"}, "external_id": "crm-c-1"}); r.Status != 200 {
		t.Fatalf("the client's record: %d %s", r.Status, r.Body)
	}
	fieldErr(t, "an external id taken", w.api(t, w.admin, "PATCH", fmt.Sprintf("/users/%v", newc["id"]), map[string]any{"external_id": "crm-c-1"}), "external_id")
	if got := w.api(t, w.op, "GET", "/users?external_id=crm-c-1", nil).JSON(t)["users"].([]any); len(got) != 1 || got[0].(map[string]any)["id"] != float64(ca) {
		t.Fatalf("found by external id: %v", got)
	}
	var admin int64
	e.Portal(t, "alpha", func(p *portal.Portal) {
		u, _ := p.UserByEmail(t.Context(), "admin@alpha.test")
		admin = u.ID
	})
	if r := w.api(t, w.op, "PATCH", fmt.Sprintf("/users/%d", admin), map[string]any{"external_id": "x"}); r.Status != 403 {
		t.Fatalf("an operator changed an admin's record: %d", r.Status)
	}

	// External ids on tickets: staff give them, integrations find by them.
	tk := w.api(t, w.op, "POST", "/tickets", map[string]any{"client": ca, "external_id": "crm-t-1", "fields": map[string]any{"subject": "Printer", "description": "It jams."}})
	if tk.Status != 201 || tk.JSON(t)["external_id"] != "crm-t-1" {
		t.Fatalf("a ticket with an external id: %d %s", tk.Status, tk.Body)
	}
	number := int64(tk.JSON(t)["number"].(float64))
	fieldErr(t, "a ticket's external id taken", w.api(t, w.op, "POST", "/tickets", map[string]any{"client": ca, "external_id": "crm-t-1", "fields": map[string]any{"subject": "Again", "description": "x"}}), "external_id")
	fieldErr(t, "a client's external id", w.api(t, w.ca, "POST", "/tickets", map[string]any{"external_id": "mine", "fields": map[string]any{"subject": "Hi", "description": "x"}}), "external_id")
	if got := w.api(t, w.admin, "GET", "/tickets?external_id=crm-t-1", nil).JSON(t)["tickets"].([]any); len(got) != 1 {
		t.Fatalf("found by external id: %d", len(got))
	}
	e.Portal(t, "alpha", func(p *portal.Portal) { // an old activity, to see that the change leaves it
		if _, err := p.DB.Writer().ExecContext(t.Context(), "UPDATE tickets SET last_activity_at = 1000 WHERE id = ?", number); err != nil {
			t.Fatal(err)
		}
	})
	before := float64(1000)
	if r := w.api(t, w.admin, "PATCH", fmt.Sprintf("/tickets/%d", number), map[string]any{"external_id": "crm-t-2"}); r.Status != 200 || r.JSON(t)["external_id"] != "crm-t-2" {
		t.Fatalf("changing the external id: %d %s", r.Status, r.Body)
	}
	after := w.api(t, w.admin, "GET", fmt.Sprintf("/tickets/%d", number), nil).JSON(t)
	if after["last_activity_at"] != before {
		t.Fatal("an integration's id counted as activity on the ticket")
	}
	fieldErr(t, "another ticket's external id", w.api(t, w.admin, "PATCH", fmt.Sprintf("/tickets/%d", w.ticket), map[string]any{"external_id": "crm-t-2"}), "external_id")

	// Invited with their record: organisation and external id at once; a
	// taken external id refuses the invitation whole.
	inv := w.api(t, w.op, "POST", "/users", map[string]any{"name": "Ella", "surname": "E", "email": "ella@other.test", "role": "client", "organization": "Alpha Clients", "external_id": "crm-c-7"})
	if inv.Status != 201 || inv.JSON(t)["organization"] != float64(orgID) || inv.JSON(t)["external_id"] != "crm-c-7" {
		t.Fatalf("an invitation with a record: %d %s", inv.Status, inv.Body)
	}
	fieldErr(t, "an invitation with a taken external id", w.api(t, w.op, "POST", "/users", map[string]any{"name": "Fay", "email": "fay@other.test", "role": "client", "external_id": "crm-c-7"}), "external_id")
	if strings.Contains(w.api(t, w.op, "GET", "/users?role=client", nil).Body, "fay@other.test") {
		t.Fatal("a refused invitation kept the person")
	}

	// The organisation's tickets.
	list := w.api(t, w.op, "GET", fmt.Sprintf("/tickets?organization=%d", orgID), nil).JSON(t)["tickets"].([]any)
	if len(list) != 2 {
		t.Fatalf("the organisation's tickets: %d", len(list))
	}

	// Staff see the record beside the ticket; the client sees none of it.
	op := e.SignIn(t, "alpha", "op@alpha.test")
	page := pdtest.Do(t, op, "GET", e.URL+fmt.Sprintf("/alpha/tickets/%d", number), nil).Body
	for _, want := range []string{"Alpha Clients", "Gold", "Olga", "Account manager"} {
		if !strings.Contains(page, want) {
			t.Errorf("the ticket page lacks %q beside the client", want)
		}
	}
	client := e.SignIn(t, "alpha", "ca@alpha.test")
	mine := pdtest.Do(t, client, "GET", e.URL+fmt.Sprintf("/alpha/tickets/%d", number), nil).Body
	for _, never := range []string{"Gold", "Olga", "crm-t-2", "crm-c-1", "Alpha Clients"} {
		if strings.Contains(mine, never) {
			t.Errorf("the client's page shows %q", never)
		}
	}
	for _, path := range []string{"/me", fmt.Sprintf("/tickets/%d", number), "/tickets"} {
		if body := w.api(t, w.ca, "GET", path, nil).Body; strings.Contains(body, "Gold") || strings.Contains(body, "crm-") {
			t.Errorf("the client reads what staff keep in %s: %s", path, body)
		}
	}
	for _, path := range []string{"/organizations", fmt.Sprintf("/organizations/%d", orgID), fmt.Sprintf("/users?organization=%d", orgID)} {
		if r := w.api(t, w.ca, "GET", path, nil); r.Status != 403 {
			t.Errorf("a client reads %s: %d", path, r.Status)
		}
	}

	// The pages: a refused change keeps nothing and says where.
	res := pdtest.Do(t, op, "POST", e.URL+fmt.Sprintf("/alpha/orgs/%d", orgID), url.Values{"name": {"Renamed"}, "tax_id": {"123"}, "domains": {"alpha.test"}})
	if res.Status != 422 || !strings.Contains(res.Body, "VAT") || w.api(t, w.op, "GET", fmt.Sprintf("/organizations/%d", orgID), nil).JSON(t)["name"] != "Alpha Clients" {
		t.Fatalf("a refused page change: %d", res.Status)
	}
	res = pdtest.Do(t, op, "POST", e.URL+fmt.Sprintf("/alpha/people/%d/record", ca), url.Values{"organization": {"No Such Co"}, "external_id": {"crm-c-1"}, planName: {"Gold"}})
	if res.Status != 422 || !strings.Contains(res.Body, "No such organisation") {
		t.Fatalf("a refused record: %d", res.Status)
	}
	res = pdtest.Do(t, op, "POST", e.URL+fmt.Sprintf("/alpha/people/%d/record", ca), url.Values{"organization": {""}, "external_id": {"crm-c-1"}, planName: {"Silver"}})
	if res.Status != 303 {
		t.Fatalf("a record saved from the page: %d", res.Status)
	}
	if u := w.api(t, w.op, "GET", "/users?external_id=crm-c-1", nil).JSON(t)["users"].([]any)[0].(map[string]any); u["organization"] != nil || u["fields"].(map[string]any)[planName] != "Silver" {
		t.Fatalf("the record: %v", u)
	}

	// Another portal sees none of it.
	if got := e.API(t, w.betaAdmin, "GET", "beta", "/organizations", nil).JSON(t)["organizations"].([]any); len(got) != 0 {
		t.Fatal("beta lists alpha's organisations")
	}
	if r := e.API(t, w.betaAdmin, "GET", "beta", fmt.Sprintf("/organizations/%d", orgID), nil); r.Status != 404 {
		t.Fatalf("beta reads alpha's organisation: %d", r.Status)
	}

	// Deleted, its people stay, in none.
	if r := w.api(t, w.op, "DELETE", fmt.Sprintf("/organizations/%d", orgID), nil); r.Status != 204 {
		t.Fatalf("delete: %d", r.Status)
	}
	if u := w.api(t, w.op, "GET", fmt.Sprintf("/users?external_id=%s", "crm-c-1"), nil).JSON(t)["users"].([]any); len(u) != 1 {
		t.Fatal("a client went with the organisation")
	}
	if got := w.api(t, w.op, "GET", fmt.Sprintf("/users?organization=%d", orgID), nil).JSON(t)["users"].([]any); len(got) != 0 {
		t.Fatalf("people still in a deleted organisation: %d", len(got))
	}
}
