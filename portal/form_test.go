package portal_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
)

func TestFieldValidation(t *testing.T) {
	cases := []struct {
		typ      string
		required bool
		options  []string
		in, want string
		bad      bool
	}{
		{typ: "text", in: "  hello ", want: "hello"},
		{typ: "text", required: true, in: "   ", bad: true},
		{typ: "text", in: "", want: ""},
		{typ: "textarea", in: "line 1\n  line 2\n", want: "line 1\n  line 2"},
		{typ: "date", in: "2026-02-28", want: "2026-02-28"},
		{typ: "date", in: "2026-02-30", bad: true},
		{typ: "date", in: "28.02.2026", bad: true},
		{typ: "integer", in: "42", want: "42"},
		{typ: "integer", in: "-7", want: "-7"},
		{typ: "integer", in: "9223372036854775807", want: "9223372036854775807"},
		{typ: "integer", in: "9223372036854775808", bad: true},
		{typ: "integer", in: "4.2", bad: true},
		{typ: "integer", in: "forty", bad: true},
		{typ: "decimal", in: "12.50", want: "12.5"},
		{typ: "decimal", in: "12,5", want: "12.5"},
		{typ: "decimal", in: "-0.001", want: "-0.001"},
		{typ: "decimal", in: "1e9", bad: true},
		{typ: "decimal", in: "1/3", bad: true},
		{typ: "decimal", in: "abc", bad: true},
		{typ: "checkbox", in: "on", want: "yes"},
		{typ: "checkbox", in: "", want: "no"},
		{typ: "checkbox", required: true, in: "", bad: true},
		{typ: "checkbox", in: "maybe", bad: true},
		{typ: "select", options: []string{"Red", "Green"}, in: "Green", want: "Green"},
		{typ: "select", options: []string{"Red", "Green"}, in: "Blue", bad: true},
		{typ: "select", options: []string{"Red"}, required: true, in: "", bad: true},
		{typ: "email", in: "a@b.co", want: "a@b.co"},
		{typ: "email", in: "a@", bad: true},
		{typ: "email", in: "Bob <a@b.co>", bad: true},
		{typ: "phone", in: "+7 (495) 123-45-67", want: "+7 (495) 123-45-67"},
		{typ: "phone", in: "call me", bad: true},
		{typ: "url", in: "https://example.com/x", want: "https://example.com/x"},
		{typ: "url", in: "javascript:alert(1)", bad: true},
		{typ: "url", in: "example.com", bad: true},
	}
	for _, c := range cases {
		f := &portal.Field{Type: c.typ, Required: c.required, Options: c.options}
		got, msg := f.Normalize(c.in)
		if c.bad != (msg != "") {
			t.Errorf("%s %q: message %q, want bad=%v", c.typ, c.in, msg, c.bad)
			continue
		}
		if !c.bad && got != c.want {
			t.Errorf("%s %q = %q, want %q", c.typ, c.in, got, c.want)
		}
	}
}

// TestFormChangeIsWholeOrNothing: a form change with one invalid part —
// through the API (preamble, a renamed field, an added field, then a bad
// one) or through the designer's pages — answers 422 at the part it
// concerns and leaves the whole form as it was.
func TestFormChangeIsWholeOrNothing(t *testing.T) {
	w := newWorld(t)
	e := w.e
	r := w.api(t, w.admin, "PUT", "/form", map[string]any{"preamble": "Before", "fields": []map[string]any{
		{"id": 1}, {"id": 2}, {"label": "Serial number", "type": "text"}}})
	if r.Status != 200 {
		t.Fatalf("set-up: %d %s", r.Status, r.Body)
	}
	before := w.api(t, w.admin, "GET", "/form?all=1", nil).Body
	serial := int64(0)
	for _, f := range w.api(t, w.admin, "GET", "/form?all=1", nil).JSON(t)["fields"].([]any) {
		if f.(map[string]any)["label"] == "Serial number" {
			serial = int64(f.(map[string]any)["id"].(float64))
		}
	}
	r = w.api(t, w.admin, "PUT", "/form", map[string]any{"preamble": "After", "fields": []map[string]any{
		{"id": serial, "label": "Serial"},
		{"id": 1}, {"id": 2},
		{"label": "Purchase date", "type": "date"},
		{"label": "Colour", "type": "select"}, // a select list needs options
	}})
	if r.Status != 422 || !strings.Contains(r.Body, `"fields.4.options"`) {
		t.Fatalf("an invalid part: %d %s", r.Status, r.Body)
	}
	if after := w.api(t, w.admin, "GET", "/form?all=1", nil).Body; after != before {
		t.Fatalf("a refused change left part of itself:\nbefore %s\nafter  %s", before, after)
	}
	for _, bad := range []map[string]any{
		{"fields": []map[string]any{{"id": 999}}},                // no such field
		{"fields": []map[string]any{{"id": 1}, {"id": 1}}},       // listed twice
		{"preamble": strings.Repeat("x", 5001), "fields": nil},   // too long
		{"fields": []map[string]any{{"label": "", "type": "x"}}}, // no label, no type
	} {
		if r := w.api(t, w.admin, "PUT", "/form", bad); r.Status != 422 {
			t.Errorf("%v: %d %s", bad, r.Status, r.Body)
		}
		if after := w.api(t, w.admin, "GET", "/form?all=1", nil).Body; after != before {
			t.Fatalf("%v changed the form", bad)
		}
	}

	// The designer's pages: an edit with an empty label comes back with the
	// error at its field and changes nothing.
	admin := e.SignIn(t, "alpha", "admin@alpha.test")
	page := pdtest.Do(t, admin, "POST", fmt.Sprintf("%s/alpha/admin/form/fields/%d", e.URL, serial), url.Values{"label": {""}, "type": {"date"}, "help": {"changed"}})
	if page.Status != 422 || !strings.Contains(page.Body, "Give the field a label.") {
		t.Fatalf("designer edit with an error: %d", page.Status)
	}
	page = pdtest.Do(t, admin, "POST", e.URL+"/alpha/admin/form/fields", url.Values{"label": {"Colour"}, "type": {"select"}})
	if page.Status != 422 {
		t.Fatalf("designer add with an error: %d", page.Status)
	}
	if after := w.api(t, w.admin, "GET", "/form?all=1", nil).Body; after != before {
		t.Fatalf("the designer's refused edits changed the form:\nbefore %s\nafter  %s", before, after)
	}
}

// TestPhoneAndDecimalFitThePortal: a Russian portal shows Russian phone
// numbers as the example, whatever language the client reads in, and a
// decimal answer may be written with a comma.
func TestPhoneAndDecimalFitThePortal(t *testing.T) {
	w := newWorld(t)
	if r := w.api(t, w.admin, "PATCH", "/settings", map[string]any{"lang": "ru"}); r.Status != 200 {
		t.Fatalf("settings: %d %s", r.Status, r.Body)
	}
	if r := w.api(t, w.admin, "PUT", "/form", map[string]any{"fields": []map[string]any{
		{"id": 1}, {"id": 2}, {"label": "Phone", "type": "phone"}, {"label": "Weight", "type": "decimal"}}}); r.Status != 200 {
		t.Fatalf("form: %d %s", r.Status, r.Body)
	}
	var phone, weight string
	for _, f := range w.api(t, w.admin, "GET", "/form", nil).JSON(t)["fields"].([]any) {
		switch m := f.(map[string]any); m["label"] {
		case "Phone":
			phone = m["name"].(string)
		case "Weight":
			weight = m["name"].(string)
		}
	}
	page := pdtest.Do(t, w.e.SignIn(t, "alpha", "cb@alpha.test"), "GET", w.e.URL+"/alpha/tickets/new?lang=en", nil).Body
	if !strings.Contains(page, `placeholder="&#43;7 912 345-67-89"`) || !strings.Contains(page, fmt.Sprintf(`name="%s" type="text" value="" inputmode="decimal"`, weight)) {
		t.Errorf("the form's phone example or decimal input: %s", page)
	}
	r := w.api(t, w.cb, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "Parcel", "description": "Heavy.", phone: "call me", weight: "12,5"}})
	if r.Status != 422 || !strings.Contains(r.Body, "+7 912 345-67-89") {
		t.Errorf("a bad phone on a Russian portal: %d %s", r.Status, r.Body)
	}
	r = w.api(t, w.cb, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "Parcel", "description": "Heavy.", phone: "+7 912 000-11-22", weight: "12,5"}})
	if r.Status != 201 || !strings.Contains(r.Body, `"value":"12.5"`) {
		t.Errorf("a decimal with a comma: %d %s", r.Status, r.Body)
	}
}
