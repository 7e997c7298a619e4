package portal_test

import (
	"fmt"
	"strings"
	"testing"

	"portaldesk/cmd/server/pdtest"
)

// TestSeveralForms: each form asks its own fields and keeps them on its
// tickets, sends them to its group with its priority, and the table
// filters by form; bad forms answer at their fields.
func TestSeveralForms(t *testing.T) {
	w := newWorld(t)
	w.e.SetPlan(t, "alpha", "business", 5, 0, 0)
	put := w.api(t, w.admin, "PUT", "/form", map[string]any{"fields": []any{
		map[string]any{"name": "subject", "label": "Subject", "type": "text", "required": true},
		map[string]any{"name": "description", "label": "Description", "type": "textarea", "required": true},
		map[string]any{"name": "serial", "label": "Serial number", "type": "text", "required": true},
		map[string]any{"name": "budget", "label": "Budget", "type": "integer"},
	}})
	if put.Status != 200 {
		t.Fatalf("questionnaire: %d %s", put.Status, put.Body)
	}
	ids, names := map[string]any{}, map[string]string{}
	for _, f := range w.api(t, w.admin, "GET", "/form", nil).JSON(t)["fields"].([]any) {
		m := f.(map[string]any)
		ids[m["label"].(string)], names[m["label"].(string)] = m["id"], m["name"].(string)
	}
	ids["serial"], ids["budget"] = ids["Serial number"], ids["Budget"]
	serial, budget := names["Serial number"], names["Budget"]
	sales := w.api(t, w.admin, "POST", "/groups", map[string]any{"name": "Sales"}).JSON(t)["id"]
	for _, c := range []struct {
		body  map[string]any
		field string
	}{{map[string]any{"name": ""}, "name"}, {map[string]any{"name": "X", "fields": []any{99999}}, "fields"}, {map[string]any{"name": "X", "priority": "asap"}, "priority"}} {
		if r := w.api(t, w.admin, "POST", "/forms", c.body); r.Status != 422 || !strings.Contains(r.Body, `"`+c.field+`"`) {
			t.Errorf("form %v: %d %s", c.body, r.Status, r.Body)
		}
	}
	warranty := w.api(t, w.admin, "POST", "/forms", map[string]any{"name": "Warranty claim", "fields": []any{ids["serial"]}, "priority": "high", "preamble": "Keep your receipt at hand."})
	if warranty.Status != 201 || warranty.JSON(t)["slug"] != "warranty-claim" {
		t.Fatalf("form: %d %s", warranty.Status, warranty.Body)
	}
	w.api(t, w.admin, "POST", "/forms", map[string]any{"name": "Sales question", "slug": "sales", "fields": []any{ids["budget"]}, "group": sales})

	// The warranty form asks a serial, not a budget; the sales form the other way.
	if r := w.api(t, w.ca, "POST", "/tickets", map[string]any{"form": "warranty-claim", "fields": map[string]any{"subject": "Broken", "description": "…"}}); r.Status != 422 || !strings.Contains(r.Body, `"`+serial+`"`) {
		t.Errorf("the warranty form without a serial: %d %s", r.Status, r.Body)
	}
	r := w.api(t, w.ca, "POST", "/tickets", map[string]any{"form": "warranty-claim", "fields": map[string]any{"subject": "Broken", "description": "…", serial: "SN-1", budget: "5"}})
	if r.Status != 201 {
		t.Fatalf("warranty ticket: %d %s", r.Status, r.Body)
	}
	wt := r.JSON(t)
	if wt["priority"] != "high" || wt["form"].(map[string]any)["name"] != "Warranty claim" || strings.Contains(r.Body, "Budget") || !strings.Contains(r.Body, "SN-1") {
		t.Errorf("the warranty ticket: %s", r.Body)
	}
	r = w.api(t, w.ca, "POST", "/tickets", map[string]any{"form": "sales", "fields": map[string]any{"subject": "Price?", "description": "…", budget: "5000"}})
	st := r.JSON(t)
	if r.Status != 201 || st["group"].(map[string]any)["name"] != "Sales" || strings.Contains(r.Body, "Serial") || !strings.Contains(r.Body, "5000") {
		t.Errorf("the sales ticket: %d %s", r.Status, r.Body)
	}
	if r := w.api(t, w.ca, "POST", "/tickets", map[string]any{"form": "nope", "fields": map[string]any{"subject": "x", "description": "y"}}); r.Status != 422 || !strings.Contains(r.Body, `"form"`) {
		t.Errorf("an unknown form: %d %s", r.Status, r.Body)
	}
	if l := w.api(t, w.op, "GET", fmt.Sprintf("/tickets?form=%v", warranty.JSON(t)["id"]), nil).JSON(t); l["total"] != float64(1) {
		t.Errorf("the table by form: %v", l["total"])
	}
	// The page: the chooser, the form's preamble and fields, and a ticket
	// sent through it.
	carol := w.e.SignIn(t, "alpha", "ca@alpha.test")
	page := pdtest.Do(t, carol, "GET", w.e.URL+"/alpha/tickets/new?form=warranty-claim", nil).Body
	if !strings.Contains(page, "Keep your receipt at hand.") || !strings.Contains(page, `name="`+serial+`"`) || strings.Contains(page, `name="`+budget+`"`) || !strings.Contains(page, "Sales question") {
		t.Error("the warranty form's page")
	}
	resp := pdtest.Do(t, carol, "POST", w.e.URL+"/alpha/tickets?form=warranty-claim", pdtest.Multipart{Fields: map[string]string{"subject": "Cracked", "description": "Screen", serial: "SN-2"}})
	if resp.Status != 303 {
		t.Errorf("sent through the page: %d", resp.Status)
	}
}
