package portal_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"portaldesk/cmd/server/pdtest"
)

// TestOpenAPIResponses checks the published document (OpenAPI 3.1, with
// libopenapi-validator) and then real answers of a broad sample of
// operations — successes and errors, as each role gets them — against it.
func TestOpenAPIResponses(t *testing.T) {
	w := newWorld(t)
	e := w.e
	raw := pdtest.Do(t, nil, "GET", e.URL+"/alpha/api/v1/openapi.json", nil)
	if raw.Status != 200 {
		t.Fatalf("openapi.json: %d", raw.Status)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(raw.Body), &doc); err != nil {
		t.Fatal(err)
	}
	doc["servers"] = []any{map[string]any{"url": e.URL + "/alpha/api/v1"}}
	b, _ := json.Marshal(doc)
	d, err := libopenapi.NewDocument(b)
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(d)
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, ve := range verrs {
			t.Errorf("the document: %s: %s", ve.Message, ve.Reason)
		}
		t.FailNow()
	}

	// A little of everything to answer about.
	w.api(t, w.admin, "POST", "/work-types", map[string]any{"name": "Diagnostics", "unit": "hour", "price": 150000})
	w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/messages", w.ticket), map[string]any{"body": "On it", "internal": true})
	w.api(t, w.op, "POST", fmt.Sprintf("/tickets/%d/work", w.ticket), map[string]any{"work_type": "Diagnostics", "quantity": "1.5"})
	w.api(t, w.op, "PATCH", fmt.Sprintf("/tickets/%d", w.ticket), map[string]any{"status": "Closed"})
	w.api(t, w.ca, "POST", fmt.Sprintf("/tickets/%d/rating", w.ticket), map[string]any{"score": 5, "comment": "Quick"})
	w.api(t, w.admin, "POST", "/subscription/topup", map[string]any{"amount": 100000})

	check := func(tok, method, path string, body any, want int) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			bb, _ := json.Marshal(body)
			rd = bytes.NewReader(bb)
		}
		req, _ := http.NewRequest(method, e.URL+"/alpha/api/v1"+path, rd)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Errorf("%s %s: %d, want %d: %.300s", method, path, resp.StatusCode, want, data)
			return
		}
		resp.Body = io.NopCloser(bytes.NewReader(data))
		req.Body = nil
		if ok, verrs := v.ValidateHttpResponse(req, resp); !ok {
			for _, ve := range verrs {
				var why []string
				for _, se := range ve.SchemaValidationErrors {
					why = append(why, se.FieldPath+": "+se.Reason)
				}
				t.Errorf("%s %s (%d): %s %s %s\n%.500s", method, path, resp.StatusCode, ve.Message, ve.Reason, strings.Join(why, "; "), data)
			}
		}
	}
	n := w.ticket
	for _, c := range []struct {
		tok, method, path string
		body              any
		want              int
	}{
		{"", "POST", "/login", map[string]any{"email": "admin@alpha.test", "password": pdtest.Password}, 200},
		{"", "POST", "/login", map[string]any{"email": "admin@alpha.test", "password": "wrong"}, 401},
		{w.admin, "GET", "/me", nil, 200},
		{"", "GET", "/me", nil, 401},
		{"", "POST", "/register", map[string]any{"name": "Zoe", "surname": "Ray", "email": "zoe@alpha.test"}, 202},
		{w.op, "GET", "/tickets", nil, 200},
		{w.op, "GET", "/tickets?q=printer&status=open", nil, 200},
		{w.op, "GET", "/tickets?assignee=bogus", nil, 422},
		{w.ca, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": "Scanner", "description": "Lines on every page."}, "priority": "high"}, 201},
		{w.ca, "POST", "/tickets", map[string]any{"fields": map[string]any{"subject": ""}}, 422},
		{w.op, "GET", fmt.Sprintf("/tickets/%d", n), nil, 200},
		{w.cb, "GET", fmt.Sprintf("/tickets/%d", n), nil, 404},
		{w.op, "PATCH", fmt.Sprintf("/tickets/%d", n), map[string]any{"priority": "urgent"}, 200},
		{w.op, "POST", "/tickets/bulk", map[string]any{"tickets": []int64{n}, "assignee": "me"}, 200},
		{w.ca, "POST", "/tickets/bulk", map[string]any{"tickets": []int64{n}, "assignee": "me"}, 403},
		{w.op, "GET", fmt.Sprintf("/tickets/%d/messages", n), nil, 200},
		{w.ca, "GET", fmt.Sprintf("/tickets/%d/messages", n), nil, 200},
		{w.op, "POST", fmt.Sprintf("/tickets/%d/messages", n), map[string]any{"body": "Done."}, 201},
		{w.op, "GET", fmt.Sprintf("/tickets/%d/work", n), nil, 200},
		{w.op, "GET", fmt.Sprintf("/tickets/%d/rating", n), nil, 200},
		{w.admin, "GET", "/users", nil, 200},
		{w.admin, "POST", "/users", map[string]any{"name": "Ira", "email": "ira@alpha.test", "role": "client"}, 201},
		{w.admin, "POST", "/users", map[string]any{"name": "Ira", "email": "ira@alpha.test", "role": "client"}, 422},
		{w.admin, "GET", "/form", nil, 200},
		{w.admin, "GET", "/statuses", nil, 200},
		{w.admin, "GET", "/workflow", nil, 200},
		{w.admin, "GET", "/settings", nil, 200},
		{w.op, "GET", "/settings", nil, 403},
		{w.admin, "GET", "/domain", nil, 200},
		{w.admin, "GET", "/profile", nil, 200},
		{w.admin, "GET", "/tokens", nil, 200},
		{w.admin, "POST", "/tokens", map[string]any{"name": "CRM"}, 201},
		{w.admin, "GET", "/outbox", nil, 200},
		{w.admin, "GET", "/mail/smtp", nil, 200},
		{w.admin, "GET", "/mail/templates", nil, 200},
		{w.admin, "GET", "/subscription", nil, 200},
		{w.admin, "GET", "/subscription/quote?tariff=business&operators=3", nil, 200},
		{w.admin, "GET", "/transactions", nil, 200},
		{w.admin, "GET", "/invoices", nil, 200},
		{w.admin, "GET", "/tariffs", nil, 200},
		{w.admin, "GET", "/work-types", nil, 200},
		{w.admin, "GET", "/reports/labour", nil, 200},
		{w.admin, "GET", "/stats", nil, 200},
		{w.admin, "GET", "/audit", nil, 200},
		{w.admin, "GET", "/tickets/99999", nil, 404},
	} {
		check(c.tok, c.method, c.path, c.body, c.want)
	}
}
